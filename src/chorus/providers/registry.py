"""From a model id to the provider that serves it: built once per upstream, shared by requests."""

from __future__ import annotations

from collections.abc import Callable

from chorus.config import Dialect, ProviderConfig
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
        self._registered: dict[str, Provider] = {}

    def register(self, name: str, provider: Provider | None) -> None:
        """Serve the models of the provider called `name` (`simulated`: every test key's) by
        `provider` instead of the built one; None goes back to the built one."""
        if provider is None:
            self._registered.pop(name, None)
        else:
            self._registered[name] = provider

    def provider(self, entry: ModelEntry, test: bool) -> Provider:
        name = SIMULATED.name if test else entry.provider.name
        if self._registered and name in self._registered:
            return self._registered[name]
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
