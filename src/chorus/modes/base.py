"""What every mode gets: the client's options and the conversation, with the request's caller."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import field, replace
from typing import Literal

from chorus.calls import Caller
from chorus.config import ModeDefaults
from chorus.providers.catalog import ModelEntry
from chorus.records import record
from chorus.types import (
    Aggregation,
    Message,
    ModelRequest,
    OutputFormat,
    ToolChoice,
    ToolSpec,
)

Capability = Literal["tools", "vision", "json_schema"]
CAPABILITY_PARAMS: dict[Capability, str] = {"tools": "tools", "vision": "messages",
                                            "json_schema": "response_format"}
"""The request field that asks for each capability, named in a refusal."""


def lacks(entry: ModelEntry, needs: frozenset[Capability]) -> Capability | None:
    """The first capability in `needs` the model does not have."""
    return next((need for need in sorted(needs) if not getattr(entry, need)), None)


@record
class ExpertRole:
    name: str
    perspective: str


@record
class Sampling:
    """The client's sampling fields, passed to every model call of the request."""

    temperature: float | None = None
    max_tokens: int | None = None
    stop: tuple[str, ...] | None = None
    top_p: float | None = None
    seed: int | None = None
    presence_penalty: float | None = None
    frequency_penalty: float | None = None
    logprobs: bool | None = None
    top_logprobs: int | None = None
    user: str | None = None


@record
class ClientTools:
    """Tools the client runs itself: offered to the answering model, its calls returned."""

    tools: tuple[ToolSpec, ...]
    choice: ToolChoice | None = None
    parallel: bool | None = None


@record
class ModeOptions:
    """What the client asked for; None means the user's setting, then the server default."""

    model: str | None = None
    models: tuple[str, ...] | None = None
    aggregation: Aggregation | None = None
    personas: dict[str, str] = field(default_factory=dict)
    """Persona id per model id."""
    roles: tuple[ExpertRole, ...] | None = None
    cost_preference: float | None = None
    enable_tools: bool = True
    sampling: Sampling = Sampling()
    tools: ClientTools | None = None
    output: OutputFormat | None = None

    @property
    def max_tokens(self) -> int | None:
        return self.sampling.max_tokens


@record
class ModeContext:
    caller: Caller
    history: tuple[Message, ...]
    """Earlier turns (and system messages), before this turn's question."""
    asked: Message
    """This turn's question: the newest user message, images included."""
    options: ModeOptions
    defaults: ModeDefaults
    """Server defaults with the user's settings laid over them."""
    persona_prompts: Mapping[str, str] = field(default_factory=dict)
    """System prompt per persona id the request may use."""
    after: tuple[Message, ...] = ()
    """What followed the question in this turn: the client's tool calls and their results."""

    @property
    def question(self) -> str:
        return self.asked.content

    @property
    def conversation(self) -> tuple[Message, ...]:
        """Everything a model answering the question reads, in order."""
        return (*self.history, self.asked, *self.after)

    @property
    def needs(self) -> frozenset[Capability]:
        """What a model must be able to do to take part in this request."""
        needs: set[Capability] = set()
        if self.options.tools is not None:
            needs.add("tools")
        if any(m.images for m in self.conversation):
            needs.add("vision")
        if self.options.output is not None and self.options.output.kind == "json_schema":
            needs.add("json_schema")
        return frozenset(needs)

    def system_for(self, persona: str | None) -> tuple[Message, ...]:
        prompt = self.persona_prompts.get(persona or "")
        return (Message("system", prompt),) if prompt else ()

    def request(self, *messages: Message, output: bool = False, role: str | None = None
                ) -> ModelRequest:
        """A model call with the client's sampling options, and its output format if `output`
        (the calls whose answer becomes the client's answer, or a member's to combine).
        Streamed from the upstream only when the client takes the answer as a stream."""
        s = self.options.sampling
        return ModelRequest(
            messages=messages, temperature=s.temperature, max_tokens=s.max_tokens, stop=s.stop,
            stream=self.caller.upstream_stream, top_p=s.top_p, seed=s.seed,
            presence_penalty=s.presence_penalty, frequency_penalty=s.frequency_penalty,
            logprobs=s.logprobs, top_logprobs=s.top_logprobs, user=s.user,
            output=self.options.output if output else None, role=role)

    def answering(self, *messages: Message, role: str | None = None) -> ModelRequest:
        """The call whose answer is the client's: its output format and its tools."""
        request = self.request(*messages, output=True, role=role)
        tools = self.options.tools
        if tools is None:
            return request
        return replace(request, tools=tools.tools, tool_choice=tools.choice,
                       parallel_tool_calls=tools.parallel)

    def task(self, system: str | tuple[Message, ...], instruction: str, output: bool = False
             ) -> ModelRequest:
        """A call in a role: its system prompt, the conversation so far, then the task.

        The task is a user message carrying the question's images, so every role sees them."""
        head = system if isinstance(system, tuple) else (
            (Message("system", system),) if system else ())
        return self.request(*head, *self.history,
                            Message("user", instruction, images=self.asked.images),
                            output=output)

