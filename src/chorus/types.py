"""The shared vocabulary: messages, requests, usage and the events modes emit. No I/O."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

from chorus.records import record

Role = Literal["system", "user", "assistant", "tool"]
"""`tool` carries a tool's result back to the model that called it."""
ModeName = Literal["smart_chat", "ensemble", "debate", "council"]
Aggregation = Literal["synthesis", "best_of_n", "consensus", "union"]
MODES: tuple[ModeName, ...] = ("smart_chat", "ensemble", "debate", "council")
AGGREGATIONS: tuple[Aggregation, ...] = ("synthesis", "best_of_n", "consensus", "union")

JSON = dict[str, Any]
"""Opaque JSON objects: mode details as stored and as sent to clients."""


@record
class ToolCall:
    """A model asks for a tool; also a chunk of a provider's stream."""

    id: str
    name: str
    arguments: JSON


@record
class ToolSpec:
    """A tool offered to models: each dialect writes it in its own format."""

    name: str
    description: str
    parameters: JSON
    """A JSON Schema object."""
    strict: bool | None = None
    """OpenAI's strict schema adherence for the arguments; None leaves it to the upstream."""


@record
class ToolChoice:
    """Whether and which tool the model must call: `auto`, `none`, `required`, or one tool."""

    kind: Literal["auto", "none", "required", "function"]
    name: str | None = None
    """The one tool with kind `function`."""


@record
class OutputFormat:
    """Structured output: any JSON object, or JSON valid against a schema."""

    kind: Literal["json_object", "json_schema"]
    schema: JSON | None = None
    """With kind `json_schema`: the JSON Schema the answer must satisfy."""
    name: str = "response"
    strict: bool | None = None
    description: str | None = None


@record
class ImagePart:
    """An image with a message: an `https:` URL, or its bytes as a `data:` URL.

    Chorus never fetches the URL: it goes to the provider as it is, or its dialect refuses it."""

    url: str
    detail: Literal["auto", "low", "high"] | None = None

    @property
    def inline(self) -> tuple[str, str] | None:
        """(media type, base64 data) of a `data:` URL; None for a URL to fetch."""
        if not self.url.startswith("data:"):
            return None
        head, _, data = self.url[5:].partition(",")
        return head.removesuffix(";base64") or "application/octet-stream", data


@record
class Message:
    role: Role
    content: str
    tool_calls: tuple[ToolCall, ...] = ()
    """On an assistant message: the tools it asked for."""
    tool_call_id: str | None = None
    """On a `tool` message: the call it answers."""
    name: str | None = None
    """On a `tool` message: the tool's name (Gemini matches results by name)."""
    images: tuple[ImagePart, ...] = ()
    """On a user message: images given with the text (the text comes first)."""


@dataclass(slots=True)
class Usage:
    prompt_tokens: int = 0
    completion_tokens: int = 0
    cost_usd: float = 0.0

    @property
    def total_tokens(self) -> int:
        return self.prompt_tokens + self.completion_tokens

    def add(self, other: Usage) -> None:
        self.prompt_tokens += other.prompt_tokens
        self.completion_tokens += other.completion_tokens
        self.cost_usd += other.cost_usd

    def as_json(self) -> JSON:
        return {
            "prompt_tokens": self.prompt_tokens,
            "completion_tokens": self.completion_tokens,
            "total_tokens": self.total_tokens,
            "cost_usd": round(self.cost_usd, 8),
        }


@record
class ModelRequest:
    """One call to one model, in our terms; a dialect translates it to the wire."""

    messages: tuple[Message, ...]
    temperature: float | None = None
    max_tokens: int | None = None
    stop: tuple[str, ...] | None = None
    stream: bool = True
    tools: tuple[ToolSpec, ...] = ()
    tool_choice: ToolChoice | None = None
    """None: the upstream's default (`auto` when tools are offered)."""
    parallel_tool_calls: bool | None = None
    output: OutputFormat | None = None
    """Structured output; the dialect asks for it in its native form."""
    top_p: float | None = None
    seed: int | None = None
    presence_penalty: float | None = None
    frequency_penalty: float | None = None
    logprobs: bool | None = None
    top_logprobs: int | None = None
    user: str | None = None
    """The end user's id, for the provider's abuse monitoring."""
    role: str | None = None
    """The part the call plays (`member`, `aggregator`, `judge`, `pro`, `con`, `synthesizer`,
    `answer`); providers do not send it, test doubles and logs read it."""


@record
class TextDelta:
    text: str
    logprobs: tuple[JSON, ...] = ()
    """OpenAI's `logprobs.content` entries for this text, when the request asked for them."""


@record
class StreamEnd:
    usage: Usage
    finish_reason: str = "stop"


Chunk = TextDelta | StreamEnd
"""What a model call yields to a mode: text as it comes, then one StreamEnd with the usage."""
ProviderChunk = TextDelta | ToolCall | StreamEnd
"""What a provider yields: text and, when tools were offered, whole tool calls; then the end."""


# ---- events a mode emits, framed by streaming.py -------------------------------------------


@record
class Slot:
    """Who is speaking: a model in a role (persona, debate side and round, council expert)."""

    model: str
    persona: str | None = None
    side: str | None = None
    round: int | None = None
    expert: str | None = None
    role: str | None = None
    """A step beyond the members: `aggregator`, `judge` or `synthesizer`."""

    def as_json(self) -> JSON:
        out: JSON = {"model": self.model}
        for key in ("persona", "side", "round", "expert", "role"):
            value = getattr(self, key)
            if value is not None:
                out[key] = value
        return out


@dataclass(slots=True)
class MemberResult:
    slot: Slot
    status: Literal["ok", "failed"]
    content: str = ""
    error: JSON | None = None
    latency_ms: int = 0
    usage: Usage = field(default_factory=Usage)
    finish_reason: str = "stop"
    """Why the model stopped: `length` when max_tokens cut its answer."""

    def as_json(self) -> JSON:
        return {
            **self.slot.as_json(),
            "status": self.status,
            "content": self.content,
            "error": self.error,
            "latency_ms": self.latency_ms,
            "usage": self.usage.as_json(),
        }


@record
class MemberStarted:
    slot: Slot


@record
class MemberDelta:
    slot: Slot
    text: str


@record
class MemberDone:
    """A member finished: `member.completed` or `member.failed` by its status."""

    result: MemberResult


@record
class Stage:
    name: str
    status: Literal["started", "completed"]
    round: int | None = None


@record
class AnswerDelta:
    """Text of the final answer (`message.delta`)."""

    text: str
    logprobs: tuple[JSON, ...] = ()


@dataclass(slots=True)
class Outcome:
    """The end of a mode: the answer to store and return."""

    content: str
    models_used: list[str]
    details: JSON
    usage: Usage
    finish_reason: str = "stop"
    """`length` when the answering model stopped at max_tokens; `tool_calls` when it called
    the client's tools."""
    tool_calls: tuple[ToolCall, ...] = ()
    """The client's tools the answering model called; the client runs them."""
    logprobs: tuple[JSON, ...] = ()


ModeEvent = MemberStarted | MemberDelta | MemberDone | Stage | AnswerDelta | Outcome


@dataclass(slots=True)
class CallRecord:
    """One upstream call, for usage accounting."""

    model: str
    provider: str
    usage: Usage
    latency_ms: int
    ok: bool
