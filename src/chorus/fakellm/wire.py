"""What each fake wire format provides to the server core."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from chorus.types import JSON, ToolCall


@dataclass(frozen=True, slots=True)
class Parsed:
    model: str
    messages: list[tuple[str, str]]
    """(role, text), the system prompt included as role `system`, tool results as `tool`."""
    stream: bool
    include_usage: bool = True
    tools: list[str] | None = None
    """Names of the tools the caller offered."""


@dataclass(frozen=True, slots=True)
class Route:
    """A path a wire format answers on; `stream` paths stream whatever the body says."""

    path: str
    stream: bool = False


class FakeWire(Protocol):
    routes: tuple[Route, ...]

    def parse(self, body: JSON, path_model: str | None, stream_path: bool) -> Parsed: ...

    def answer(self, model: str, text: str, usage: tuple[int, int]) -> JSON: ...

    def tool_answer(self, model: str, call: ToolCall, usage: tuple[int, int]) -> JSON: ...

    def start(self, model: str, usage: tuple[int, int]) -> list[bytes]: ...

    def delta(self, model: str, text: str) -> bytes: ...

    def end(self, model: str, usage: tuple[int, int], include_usage: bool) -> list[bytes]: ...

    def tool_frames(self, model: str, call: ToolCall, usage: tuple[int, int]) -> list[bytes]: ...

    def malformed(self) -> bytes: ...

    def error(self, status: int, message: str) -> JSON: ...
