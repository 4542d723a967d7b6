"""What a wire dialect is: pure translation between our request and a provider's HTTP format."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Protocol

import orjson

from chorus.errors import UpstreamError
from chorus.records import record
from chorus.types import JSON, ModelRequest, TextDelta, ToolCall, Usage


@dataclass(slots=True)
class Answer:
    text: str
    usage: Usage | None
    finish_reason: str
    tool_calls: list[ToolCall] = field(default_factory=list)
    logprobs: list[JSON] = field(default_factory=list)
    """OpenAI's `logprobs.content` entries, when the request asked for them."""


@record
class Refusal:
    """A request field a dialect cannot honour and that would change the answer: a 400."""

    param: str
    """The Chat Completions field, e.g. `seed`, or `messages` for an image it cannot take."""
    message: str


@record
class ErrorBody:
    """What a provider's error answer says, read by its dialect."""

    message: str | None
    credentials: bool = False
    """The provider rejected the server's own key (not the caller's)."""
    retry_after: float | None = None
    """A delay the body asks for, when the provider puts it there rather than in a header."""


def tool_arguments(raw: object) -> JSON:
    """A tool call's arguments; text that is not a JSON object is kept under `_raw`."""
    if isinstance(raw, dict):
        return raw
    try:
        parsed = orjson.loads(str(raw or "{}"))
    except orjson.JSONDecodeError:
        return {"_raw": str(raw)}
    return parsed if isinstance(parsed, dict) else {"_raw": str(raw)}


def json_object(raw: str | bytes, what: str) -> JSON:
    """An upstream payload that must be a JSON object; anything else is an upstream error."""
    try:
        parsed = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise UpstreamError(f"{what} is not JSON: {raw[:200]!r}") from exc
    if not isinstance(parsed, dict):
        raise UpstreamError(f"{what} is not a JSON object: {raw[:200]!r}")
    return parsed


def stream_json(data: str) -> JSON:
    """One SSE data payload; a payload that is not a JSON object is a malformed chunk."""
    return json_object(data, "a stream chunk (malformed)")


class StreamParser(Protocol):
    def feed(self, event: str | None, data: str) -> Iterator[TextDelta | ToolCall]:
        """Take one SSE event; raise UpstreamError for an error event or a malformed one.

        A tool call is yielded once whole (its arguments may come in many events)."""
        ...

    def finish(self) -> tuple[Usage | None, str]:
        """The stream closed: usage and finish reason, or UpstreamError if it was cut short."""
        ...


class WireDialect(Protocol):
    name: str

    def url(self, base_url: str, upstream: str, stream: bool) -> str: ...

    def headers(self, api_key: str | None) -> dict[str, str]: ...

    def body(self, upstream: str, request: ModelRequest) -> JSON: ...

    def unsupported(self, upstream: str, request: ModelRequest) -> Refusal | None:
        """The first field of `request` this dialect cannot honour, before anything is sent."""
        ...

    def parse_answer(self, data: JSON, request: ModelRequest | None = None) -> Answer:
        """A whole answer; `request` tells how structured output was asked for."""
        ...

    def stream_parser(self, request: ModelRequest | None = None) -> StreamParser: ...

    def read_error(self, status: int, data: JSON) -> ErrorBody:
        """The provider's own message (and hints) from an error body."""
        ...
