"""What a wire dialect is: pure translation between our request and a provider's HTTP format."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Protocol

from chorus.types import JSON, ModelRequest, TextDelta, Usage


@dataclass(slots=True)
class Answer:
    text: str
    usage: Usage | None
    finish_reason: str


class StreamParser(Protocol):
    def feed(self, event: str | None, data: str) -> Iterator[TextDelta]:
        """Take one SSE event; raise UpstreamError for an error event or a malformed one."""
        ...

    def finish(self) -> tuple[Usage | None, str]:
        """The stream closed: usage and finish reason, or UpstreamError if it was cut short."""
        ...


class WireDialect(Protocol):
    name: str

    def url(self, base_url: str, upstream: str, stream: bool) -> str: ...

    def headers(self, api_key: str | None) -> dict[str, str]: ...

    def body(self, upstream: str, request: ModelRequest) -> JSON: ...

    def parse_answer(self, data: JSON) -> Answer: ...

    def stream_parser(self) -> StreamParser: ...

    def error_message(self, data: JSON) -> str | None:
        """The provider's own message from an error body, if it has one."""
        ...
