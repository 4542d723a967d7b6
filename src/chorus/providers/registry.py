"""From a model id to the provider that serves it, and the per-request caller modes use."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import replace
from typing import TYPE_CHECKING

from chorus import tokens
from chorus.config import Dialect, ProviderConfig
from chorus.context import Fitter, fit_plain
from chorus.errors import UpstreamError
from chorus.httpclient import Client
from chorus.metrics import Metrics
from chorus.providers.anthropic import AnthropicDialect
from chorus.providers.base import Provider
from chorus.providers.catalog import SIMULATED, Catalog, ModelEntry
from chorus.providers.gemini import GeminiDialect
from chorus.providers.http import HttpProvider
from chorus.providers.openai import OpenAIDialect
from chorus.providers.simulated import SimulatedProvider
from chorus.providers.wire import WireDialect
from chorus.types import (
    CallRecord,
    ModelRequest,
    ProviderChunk,
    StreamEnd,
    TextDelta,
    ToolCall,
    Usage,
)

if TYPE_CHECKING:
    from chorus.tools import ToolLoop

DIALECTS: dict[Dialect, Callable[[], WireDialect]] = {
    "openai": OpenAIDialect,
    "anthropic": AnthropicDialect,
    "gemini": GeminiDialect,
}


class Registry:
    """Builds each upstream's provider once; simulated twins answer test keys."""

    def __init__(self, catalog: Catalog, client: Client, simulated_pace: float,
                 backoff_base: float = 0.25, metrics: Metrics | None = None) -> None:
        self.catalog = catalog
        self.metrics = metrics if metrics is not None else Metrics()
        self.client = client
        self.simulated_pace = simulated_pace
        self.backoff_base = backoff_base
        self._http: dict[str, HttpProvider] = {}
        self._simulated: dict[float, SimulatedProvider] = {}

    def provider(self, entry: ModelEntry, test: bool) -> Provider:
        if test or entry.provider is SIMULATED:
            speed = entry.speed
            if speed not in self._simulated:
                self._simulated[speed] = SimulatedProvider(self.simulated_pace, tokens_per_s=speed)
            return self._simulated[speed]
        return self._http_provider(entry.provider)

    def _http_provider(self, config: ProviderConfig) -> HttpProvider:
        provider = self._http.get(config.name)
        if provider is None or provider.config is not config:
            dialect = DIALECTS[config.dialect]()
            provider = HttpProvider(config, dialect, self.client, self.backoff_base)
            self._http[config.name] = provider
        return provider

    def caller(self, test: bool) -> Caller:
        return Caller(self, test)


class Caller:
    """Model calls made for one client request: priced from the catalog and recorded."""

    def __init__(self, registry: Registry, test: bool) -> None:
        self.registry = registry
        self.test = test
        self.calls: list[CallRecord] = []
        self.fitter: Fitter = fit_plain
        """Fits every request to its model's context window; a turn sets its session's."""
        self.tools: ToolLoop | None = None
        """The request's web search, when it is on; a turn sets it."""
        self.upstream_stream = True
        """False when the client takes the answer whole: every call is then a plain request,
        because relaying an upstream stream nobody watches cost 2 ms more per call (bench)."""

    def entry(self, model_id: str) -> ModelEntry:
        return self.registry.catalog.get(model_id, self.test)

    def models(self) -> list[ModelEntry]:
        return self.registry.catalog.models(self.test)

    async def stream(self, model_id: str, request: ModelRequest
                     ) -> AsyncIterator[TextDelta | StreamEnd]:
        """Text and the end of one model call, tool rounds included when tools are on."""
        entry = self.entry(model_id)
        if self.tools is not None:
            async for chunk in self.tools.run(model_id, request,
                                              lambda offer: self._call(entry, model_id, offer)):
                yield chunk
            return
        async for part in self._call(entry, model_id, request):
            if not isinstance(part, ToolCall):  # only offered tools are called
                yield part

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
