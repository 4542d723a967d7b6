"""Model calls made for one client request: fitted to the window, priced and recorded.

A Caller is built once per request with everything it applies to each call: the context fitter,
the server's web-search loop (when on), whether upstream calls stream, and the list every call
is recorded in (the request's usage sink, shared with the summary calls its fitter makes).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from dataclasses import replace

from chorus import tokens
from chorus.context import Fitter, fit_plain
from chorus.errors import UpstreamError
from chorus.providers.catalog import ModelEntry
from chorus.providers.registry import Registry
from chorus.tools import ToolLoop
from chorus.types import CallRecord, ModelRequest, ProviderChunk, StreamEnd, TextDelta, Usage


class Caller:
    """The model calls of one request; `calls` holds a record of each one."""

    def __init__(self, registry: Registry, test: bool, *, fitter: Fitter = fit_plain,
                 web: ToolLoop | None = None, stream: bool = True,
                 calls: list[CallRecord] | None = None) -> None:
        self.registry = registry
        self.test = test
        self.fitter = fitter
        """Fits every request to its model's context window."""
        self.web = web
        """The server's web search loop, when it is on for this request."""
        self.upstream_stream = stream
        """False when the client takes the answer whole: every call is then a plain request,
        because relaying an upstream stream nobody watches cost 2 ms more per call (bench)."""
        self.calls: list[CallRecord] = [] if calls is None else calls

    def entry(self, model_id: str) -> ModelEntry:
        return self.registry.catalog.get(model_id, self.test)

    def models(self) -> list[ModelEntry]:
        return self.registry.catalog.models(self.test)

    def stream(self, model_id: str, request: ModelRequest) -> AsyncIterator[ProviderChunk]:
        """Text and the end of one model call; tool calls only when the request offers tools.

        The server's web search runs its rounds here, unless the client brought its own tools.
        Returns the call's own iterator rather than a generator around it (0.2 us a chunk)."""
        entry = self.entry(model_id)
        if self.web is not None and not request.tools:
            return self.web.run(model_id, request,
                                lambda offer: self._call(entry, model_id, offer))
        return self._call(entry, model_id, request)

    async def _call(self, entry: ModelEntry, model_id: str, request: ModelRequest
                    ) -> AsyncIterator[ProviderChunk]:
        """One upstream call: fitted to the window, priced and recorded."""
        if not self.upstream_stream and request.stream:
            request = replace(request, stream=False)
        request = await self.fitter(entry, request)
        provider = self.registry.provider(entry, self.test)
        provider_name = "simulated" if self.test else entry.provider.name
        metrics = self.registry.metrics
        started = time.monotonic()
        seen: list[str] = []
        ended = False
        try:
            async for chunk in provider.stream(entry.upstream, request):
                if isinstance(chunk, StreamEnd):
                    ended = True
                    chunk.usage.cost_usd = entry.cost(chunk.usage)
                    self.calls.append(CallRecord(model_id, provider_name, chunk.usage,
                                                 _ms_since(started), True))
                    metrics.upstream(provider_name, model_id, "ok", time.monotonic() - started,
                                     chunk.usage)
                elif isinstance(chunk, TextDelta):
                    seen.append(chunk.text)
                yield chunk
        except (UpstreamError, asyncio.CancelledError, GeneratorExit) as exc:
            if not ended:
                # a call refused upstream costs nothing; one cut or cancelled while it ran
                # costs what it consumed, which only a local count can tell now
                ran = bool(seen) or not isinstance(exc, UpstreamError)
                usage = _estimate(request, "".join(seen)) if ran else Usage()
                usage.cost_usd = entry.cost(usage)
                self.calls.append(CallRecord(model_id, provider_name, usage,
                                             _ms_since(started), False))
                code = exc.code if isinstance(exc, UpstreamError) else None
                metrics.upstream(provider_name, model_id, "error" if code else "cancelled",
                                 time.monotonic() - started, usage, error_code=code)
            raise


def _estimate(request: ModelRequest, answered: str) -> Usage:
    """Local token counts for a call that ended without the provider's usage."""
    return Usage(tokens.count_messages([m.content for m in request.messages]),
                 tokens.count(answered))


def _ms_since(started: float) -> int:
    return int((time.monotonic() - started) * 1000)
