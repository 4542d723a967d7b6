"""The modes: compositions of model calls that emit one event vocabulary."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field

from chorus.config import ModeDefaults
from chorus.providers.registry import Caller
from chorus.types import Aggregation, Message, ModeEvent, ModelRequest, ModeName


@dataclass(frozen=True, slots=True)
class ExpertRole:
    name: str
    perspective: str


@dataclass(frozen=True, slots=True)
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
    temperature: float | None = None
    max_tokens: int | None = None
    stop: tuple[str, ...] | None = None


@dataclass(slots=True)
class ModeContext:
    caller: Caller
    question: str
    history: tuple[Message, ...]
    options: ModeOptions
    defaults: ModeDefaults
    """Server defaults with the user's settings laid over them."""
    persona_prompts: dict[str, str] = field(default_factory=dict)
    """System prompt per persona id the request may use."""

    def system_for(self, persona: str | None) -> tuple[Message, ...]:
        prompt = self.persona_prompts.get(persona or "")
        return (Message("system", prompt),) if prompt else ()

    def request(self, *messages: Message) -> ModelRequest:
        """A model call with the client's sampling options."""
        return ModelRequest(messages=messages, temperature=self.options.temperature,
                            max_tokens=self.options.max_tokens, stop=self.options.stop)

    def task(self, system: str, instruction: str) -> ModelRequest:
        """A call in a role: its system prompt, the conversation so far, then the task."""
        head = (Message("system", system),) if system else ()
        return self.request(*head, *self.history, Message("user", instruction))


Mode = Callable[[ModeContext], AsyncIterator[ModeEvent]]
Check = Callable[[ModeContext], object]
"""Raises InvalidRequest when the request cannot run, before anything is stored."""


def mode_runner(name: ModeName) -> Mode:
    from chorus.modes import council, debate, ensemble, smart_chat

    runners: dict[ModeName, Mode] = {"smart_chat": smart_chat.run, "ensemble": ensemble.run,
                                     "debate": debate.run, "council": council.run}
    return runners[name]


def mode_check(name: ModeName) -> Check:
    from chorus.modes import council, debate, ensemble, smart_chat

    checks: dict[ModeName, Check] = {"smart_chat": smart_chat.plan, "ensemble": ensemble.plan,
                                     "debate": debate.plan, "council": council.plan}
    return checks[name]
