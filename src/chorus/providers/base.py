"""The provider protocol: one async stream of chunks per model call."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Protocol

from chorus.providers.wire import Refusal
from chorus.types import ModelRequest, ProviderChunk, StreamEnd, TextDelta, Usage


class Provider(Protocol):
    def stream(self, model: str, request: ModelRequest) -> AsyncIterator[ProviderChunk]:
        """Yield text as the model writes it, then exactly one StreamEnd; raise UpstreamError.

        When the request offers tools, whole ToolCalls may come before the StreamEnd."""
        ...

    def unsupported(self, model: str, request: ModelRequest) -> Refusal | None:
        """The first request field this provider cannot honour for `model` (a 400), or None."""
        ...


@dataclass(slots=True)
class Completion:
    text: str
    usage: Usage
    finish_reason: str


async def collect(chunks: AsyncIterator[ProviderChunk]) -> Completion:
    """A non-streaming answer is the stream collected (its text: no tools were offered)."""
    parts: list[str] = []
    end = StreamEnd(Usage())
    async for chunk in chunks:
        if isinstance(chunk, TextDelta):
            parts.append(chunk.text)
        elif isinstance(chunk, StreamEnd):
            end = chunk
    return Completion("".join(parts), end.usage, end.finish_reason)
