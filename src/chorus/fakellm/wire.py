"""What each fake wire format provides to the server core."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

import orjson

from chorus.records import record
from chorus.types import JSON, ModelRequest, ToolCall

Calls = ToolCall | Sequence[ToolCall]
"""One tool call or several made together."""


def as_calls(calls: Calls) -> list[ToolCall]:
    return [calls] if isinstance(calls, ToolCall) else list(calls)


def arguments_json(raw: object) -> JSON:
    """Tool arguments sent as a JSON string (OpenAI) or an object (the others)."""
    if isinstance(raw, dict):
        return raw
    try:
        found = orjson.loads(str(raw or "{}"))
    except orjson.JSONDecodeError:
        return {}
    return found if isinstance(found, dict) else {}


@record
class Parsed:
    model: str
    messages: list[tuple[str, str]]
    """(role, text), the system prompt included as role `system`, tool results as `tool`."""
    stream: bool
    include_usage: bool = True
    tools: list[str] | None = None
    """Names of the tools the caller offered."""
    request: ModelRequest | None = None
    """The whole request read back into our terms: tools, choice, output, images, results."""


@record
class Route:
    """A path a wire format answers on; `stream` paths stream whatever the body says."""

    path: str
    stream: bool = False


class FakeWire(Protocol):
    routes: tuple[Route, ...]

    def parse(self, body: JSON, path_model: str | None, stream_path: bool) -> Parsed: ...

    def answer(self, model: str, text: str, usage: tuple[int, int],
               logprobs: Sequence[JSON] = ()) -> JSON: ...

    def tool_answer(self, model: str, calls: Calls, usage: tuple[int, int]) -> JSON: ...

    def start(self, model: str, usage: tuple[int, int]) -> list[bytes]: ...

    def delta(self, model: str, text: str, logprobs: Sequence[JSON] = ()) -> bytes: ...

    def end(self, model: str, usage: tuple[int, int], include_usage: bool) -> list[bytes]: ...

    def tool_frames(self, model: str, calls: Calls, usage: tuple[int, int]) -> list[bytes]: ...

    def malformed(self) -> bytes: ...

    def error(self, status: int, message: str) -> JSON: ...
