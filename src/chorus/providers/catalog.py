"""The model catalog: the operator's TOML, well-known models switched on by their keys, Ollama."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

from chorus.config import Dialect, ModelConfig, ProviderConfig, Settings
from chorus.errors import InvalidRequest
from chorus.httpclient import Client, HTTPError
from chorus.records import record
from chorus.types import Usage

log = logging.getLogger(__name__)

Strength = str
"""One of: code, math, reasoning, creative, facts, long, multilingual."""


@record
class ModelEntry:
    id: str
    provider: ProviderConfig
    upstream: str
    context_window: int
    price_in: float
    price_out: float
    strengths: frozenset[Strength] = frozenset()
    quality: float = 0.5
    speed: float = 60.0
    """Typical output tokens per second."""
    tools: bool = True
    """Takes client tools (function calling)."""
    vision: bool = True
    """Takes image parts."""
    json_schema: bool = True
    """Answers in a given JSON Schema natively (`response_format` json_schema)."""

    @property
    def dialect(self) -> Dialect:
        return self.provider.dialect

    def cost(self, usage: Usage) -> float:
        return (usage.prompt_tokens * self.price_in
                + usage.completion_tokens * self.price_out) / 1_000_000

    @property
    def blended_price(self) -> float:
        """USD per million tokens for a typical call (three parts input, one part output)."""
        return (3 * self.price_in + self.price_out) / 4


@record
class KnownModel:
    id: str
    dialect: Dialect
    context_window: int
    price_in: float
    price_out: float
    strengths: frozenset[Strength]
    quality: float
    speed: float
    vision: bool = True
    upstream: str = ""
    """The provider's own name, when the id clients use is an alias."""


def _known(id: str, dialect: Dialect, window: int, price_in: float, price_out: float,
           strengths: str, quality: float, speed: float, vision: bool = True,
           upstream: str = "") -> KnownModel:
    return KnownModel(id, dialect, window, price_in, price_out,
                      frozenset(strengths.split()), quality, speed, vision, upstream or id)


KNOWN_MODELS: tuple[KnownModel, ...] = (
    _known("gpt-4o", "openai", 128_000, 2.50, 10.00,
           "code reasoning creative facts multilingual", 0.82, 90),
    _known("gpt-4o-mini", "openai", 128_000, 0.15, 0.60, "facts creative", 0.62, 110),
    _known("gpt-4.1", "openai", 1_047_576, 2.00, 8.00, "code reasoning long facts", 0.85, 80),
    _known("gpt-4.1-mini", "openai", 1_047_576, 0.40, 1.60, "code long facts", 0.70, 100),
    _known("o3-mini", "openai", 200_000, 1.10, 4.40, "math reasoning code", 0.86, 70,
           vision=False),
    _known("claude-sonnet-4-5-20250929", "anthropic", 200_000, 3.00, 15.00,
           "code reasoning creative long", 0.92, 70),
    _known("claude-haiku-4-5-20251001", "anthropic", 200_000, 1.00, 5.00,
           "code facts creative", 0.74, 120),
    _known("claude-opus-4-1-20250805", "anthropic", 200_000, 15.00, 75.00,
           "code reasoning creative math long", 0.95, 40),
    _known("gemini-2.5-pro", "gemini", 1_048_576, 1.25, 10.00,
           "math reasoning long multilingual code", 0.90, 80),
    _known("gemini-2.5-flash", "gemini", 1_048_576, 0.30, 2.50,
           "long multilingual facts math", 0.72, 160),
    _known("gemini-2.5-flash-lite", "gemini", 1_048_576, 0.10, 0.40,
           "facts multilingual", 0.55, 200),
    # The ids Konnect's own documentation and examples use, at their published prices.
    _known("claude-3-opus", "anthropic", 200_000, 15.00, 75.00,
           "code reasoning creative long", 0.86, 30, upstream="claude-3-opus-20240229"),
    _known("gemini-2.0-flash", "gemini", 1_048_576, 0.10, 0.40,
           "long multilingual facts", 0.64, 180),
)

OFFICIAL_BASE_URLS: dict[Dialect, str] = {
    "openai": "https://api.openai.com/v1",
    "anthropic": "https://api.anthropic.com/v1",
    "gemini": "https://generativelanguage.googleapis.com/v1beta",
}

SIMULATED = ProviderConfig(name="simulated", dialect="openai", base_url="simulated://")
"""The provider of models that only exist as simulated twins (shown to `sk_test_` keys)."""


@dataclass(slots=True)
class Catalog:
    """Models offered to live keys, and their simulated twins offered to test keys."""

    live: dict[str, ModelEntry] = field(default_factory=dict)
    simulated: dict[str, ModelEntry] = field(default_factory=dict)

    def models(self, test: bool) -> list[ModelEntry]:
        return list((self.simulated if test else self.live).values())

    def get(self, model_id: str, test: bool) -> ModelEntry:
        entry = (self.simulated if test else self.live).get(model_id)
        if entry is None:
            raise InvalidRequest(f"unknown model {model_id!r}; GET /v1/models lists them",
                                 param="model")
        return entry

    def add(self, entry: ModelEntry) -> None:
        self.live[entry.id] = entry
        self.simulated[entry.id] = entry


def build_catalog(settings: Settings) -> Catalog:
    """The TOML models, then well-known models whose provider key is set; every one twinned."""
    catalog = Catalog()
    for known in KNOWN_MODELS:
        catalog.simulated[known.id] = _entry_from_known(known, SIMULATED)
    env_keys: dict[Dialect, tuple[str | None, str | None]] = {
        "openai": (settings.openai_api_key, settings.openai_base_url),
        "anthropic": (settings.anthropic_api_key, settings.anthropic_base_url),
        "gemini": (settings.gemini_api_key, settings.gemini_base_url),
    }
    for dialect, (key, base_url) in env_keys.items():
        if not key:
            continue
        provider = ProviderConfig(name=dialect, dialect=dialect,
                                  base_url=base_url or OFFICIAL_BASE_URLS[dialect], api_key=key)
        for known in KNOWN_MODELS:
            if known.dialect == dialect:
                catalog.add(_entry_from_known(known, provider))
    providers = {p.name: p for p in settings.file.providers}
    for model in settings.file.models:
        provider = providers[model.provider]
        entry = _entry_from_config(model, provider)
        if provider.api_key_env and not provider.api_key:
            # A provider whose key is missing offers nothing live; test keys keep the twin.
            log.warning("model %s is not offered: %s is not set", model.id,
                        provider.api_key_env)
            catalog.simulated[entry.id] = entry
            continue
        catalog.add(entry)
    return catalog


def _entry_from_known(known: KnownModel, provider: ProviderConfig) -> ModelEntry:
    return ModelEntry(known.id, provider, known.upstream, known.context_window,
                      known.price_in, known.price_out, known.strengths, known.quality,
                      known.speed, vision=known.vision)


def _entry_from_config(model: ModelConfig, provider: ProviderConfig) -> ModelEntry:
    upstream = model.upstream or model.id
    known = next((k for k in KNOWN_MODELS if upstream in (k.id, k.upstream)), None)
    strengths = frozenset(model.strengths) or (known.strengths if known else frozenset())
    quality = model.quality if model.quality is not None else (known.quality if known else 0.6)
    speed = model.speed if model.speed is not None else (known.speed if known else 60.0)
    return ModelEntry(model.id, provider, model.upstream or model.id, model.context_window,
                      model.price_in, model.price_out, strengths, quality, speed,
                      tools=model.tools, vision=model.vision, json_schema=model.json_schema)


async def add_ollama_models(catalog: Catalog, client: Client, base_url: str) -> None:
    """Offer every model an Ollama server lists; a server that does not answer is logged."""
    root = base_url.rstrip("/").removesuffix("/v1")
    try:
        response = await client.request("GET", f"{root}/api/tags", timeouts=5.0)
        if response.status_code != 200:
            raise ValueError(f"HTTP {response.status_code}: {response.text[:200]}")
        names = [m["name"] for m in response.json().get("models", [])]
    except (HTTPError, ValueError, KeyError, TypeError, AttributeError) as exc:
        log.warning("Ollama at %s did not list its models: %s", root, exc)
        return
    provider = ProviderConfig(name="ollama", dialect="openai", base_url=f"{root}/v1")
    for name in names:
        catalog.add(ModelEntry(name, provider, name, 8192, 0.0, 0.0,
                               frozenset({"facts"}), 0.5, 40.0))
    log.info("Ollama at %s offers %d models", root, len(names))
