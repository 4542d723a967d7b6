"""Settings from the environment (CHORUS_*) and the operator's TOML: providers, models, tiers."""

from __future__ import annotations

import os
import tomllib
from pathlib import Path
from typing import Annotated, ClassVar, Literal

from pydantic import (
    AliasChoices,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    ValidationError,
)
from pydantic_settings import BaseSettings, SettingsConfigDict

from chorus.httpclient.limits import DEFAULT_LIMITS, Limits
from chorus.types import AGGREGATIONS, MODES, Aggregation, ModeName

Dialect = Literal["openai", "anthropic", "gemini"]


class ConfigError(Exception):
    """The operator's configuration cannot be used; the message says why."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ProviderConfig(_Strict):
    name: str
    dialect: Dialect = "openai"
    base_url: str
    api_key_env: str | None = None
    api_key: str | None = None
    connect_timeout: float = 5.0
    first_byte_timeout: float = 60.0
    total_timeout: float = 600.0
    max_retries: int = 2


class ModelConfig(_Strict):
    id: str
    provider: str
    upstream: str | None = None
    context_window: int = 8192
    price_in: float = 0.0
    price_out: float = 0.0
    strengths: list[Literal["code", "math", "reasoning", "creative", "facts", "long",
                            "multilingual"]] = Field(default_factory=list)
    """What smart_chat routes to this model for (docs/routing.md)."""
    quality: float | None = None
    speed: float | None = None
    tools: bool = True
    """Capabilities: the upstream decides, so a declared model is assumed to have them."""
    vision: bool = True
    json_schema: bool = True


def _unlimited(value: object) -> object:
    """TOML has no null: a limit may be written as "unlimited"."""
    return None if value == "unlimited" else value


Limit = Annotated[int | None, BeforeValidator(_unlimited)]


class TierConfig(_Strict):
    """What a tier may do; None is unlimited, a period is a calendar month (UTC)."""

    modes: list[ModeName]
    requests_per_minute: Limit = Field(ge=1)
    """Per user: all of a user's live keys share it (and their test keys another)."""
    queries_per_period: Limit = Field(ge=0)
    custom_personas: bool = False
    max_keys: Limit = Field(10, ge=1)
    """Keys a user may hold at once (revoked ones do not count)."""


class TestKeyLimits(_Strict):
    """Caps for sk_test_ keys, below their tier's: simulated answers are for trying things."""

    __test__: ClassVar[bool] = False  # not a pytest class, whatever its name

    requests_per_minute: Limit = Field(60, ge=1)
    """The power tier's: test keys are for trying things and for CI, whose batches are quick."""
    queries_per_period: Limit = Field(1000, ge=0)


def default_tiers() -> dict[str, TierConfig]:
    everything = list(MODES)
    return {
        "free": TierConfig(modes=["smart_chat"], requests_per_minute=10, queries_per_period=200,
                           max_keys=5),
        "pro": TierConfig(modes=["smart_chat", "ensemble", "debate"], requests_per_minute=30,
                          queries_per_period=5000, custom_personas=True, max_keys=10),
        "power": TierConfig(modes=everything, requests_per_minute=60, queries_per_period=None,
                            custom_personas=True, max_keys=20),
        "enterprise": TierConfig(modes=everything, requests_per_minute=600,
                                 queries_per_period=None, custom_personas=True, max_keys=100),
    }


class DebateModels(_Strict):
    pro: str | None = None
    con: str | None = None
    judge: str | None = None


class ModeDefaults(_Strict):
    """Server-wide defaults for requests and users that name no models."""

    default_model: str | None = None
    ensemble_models: list[str] = Field(default_factory=list)
    ensemble_aggregation: Aggregation = "synthesis"
    aggregator_model: str | None = None
    debate_models: DebateModels = Field(default_factory=DebateModels)
    council_models: list[str] = Field(default_factory=list)
    title_model: str | None = None
    """A cheap model that names new sessions in the background; none keeps first-line titles."""
    summary_model: str | None = None
    """A cheap model that summarises what no longer fits a model's window; none: a marker."""
    cost_preference: float = Field(0.5, ge=0, le=1)
    """smart_chat routing: 0 the best model for the question, 1 the cheapest that can do it."""


SearchBackendName = Literal["searxng", "brave", "tavily"]


class SearchConfig(_Strict):
    """`[search]`: the web search backend that models may call as the `web_search` tool."""

    backend: SearchBackendName
    url: str | None = None
    """SearXNG: the instance's base URL (required). Brave, Tavily: their API URL, if not the
    official one."""
    api_key_env: str | None = None
    """Brave, Tavily: the variable holding the key (default BRAVE_API_KEY, TAVILY_API_KEY)."""
    api_key: str | None = None
    max_calls: int = Field(3, ge=1, le=10)
    """Searches one model call may make before it must answer."""
    results: int = Field(5, ge=1, le=20)
    """Results per search."""
    timeout: float = Field(10.0, gt=0)
    """Seconds one search may take."""


class CorsConfig(_Strict):
    """Browser clients on other origins; off unless origins are listed."""

    origins: list[str] = Field(default_factory=list)
    """Exact origins (`https://app.example.com`), or `*` for any."""
    max_age: int = Field(600, ge=0)
    """Seconds a browser may cache a preflight answer."""


class FileConfig(_Strict):
    """The TOML file named by CHORUS_CONFIG or `--config`."""

    providers: list[ProviderConfig] = Field(default_factory=list)
    models: list[ModelConfig] = Field(default_factory=list)
    tiers: dict[str, TierConfig] = Field(default_factory=default_tiers)
    test_keys: TestKeyLimits = Field(default_factory=TestKeyLimits)
    defaults: ModeDefaults = Field(default_factory=ModeDefaults)
    search: SearchConfig | None = None
    cors: CorsConfig = Field(default_factory=CorsConfig)


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="CHORUS_", extra="ignore")

    database_url: str = "sqlite:///./data/chorus.db"
    redis_url: str | None = None
    redis_prefix: str = Field("chorus", description="namespace of every Redis key we write")
    redis_timeout: float = Field(0.5, gt=0, description="seconds before a Redis call fails over")
    config: Path | None = None
    host: str = "127.0.0.1"
    port: int = 8000
    max_body_bytes: int = 1_000_000
    header_timeout: float = Field(
        10.0, gt=0, description="seconds a client has to send a request's headers")
    body_timeout: float = Field(
        30.0, gt=0, description="seconds a client has to send a request's body, once headers came")
    keep_alive_timeout: float = Field(
        5.0, gt=0, description="seconds an idle kept-alive connection stays open")
    max_connections: int = Field(
        1000, ge=1, description="concurrent connections (and requests) served; more get 503")
    max_message_chars: int = 100_000
    retention_days: int = Field(
        90, ge=0, description="delete chat history older than this many days; 0 keeps it")
    retention_interval: float = Field(3600.0, gt=0, description="seconds between purge passes")
    retention_batch: int = Field(
        1000, ge=1, description="rows one purge transaction deletes at most")
    heartbeat_interval: float = Field(
        5.0, gt=0, description="seconds between this instance's heartbeats in the database")
    instance_timeout: float = Field(
        30.0, gt=0, description="seconds without a heartbeat after which an instance's running "
        "questions are recorded as interrupted")
    readiness_requires_redis: bool = Field(
        False, description="/readyz answers 503 while a configured Redis is unreachable")
    simulated_speed: float = Field(
        1.0, description="pace of simulated models: 1 realistic, 0 instant")
    log_level: str = "info"
    log_format: Literal["auto", "json", "console"] = "auto"
    retry_backoff: float = Field(0.25, description="base of the upstream retry backoff, seconds")
    upstream_max_body_bytes: int = Field(
        DEFAULT_LIMITS.body_bytes, gt=0, description="one upstream answer's decoded body")
    upstream_max_header_bytes: int = Field(
        DEFAULT_LIMITS.header_bytes, gt=0, description="one upstream answer's status and headers")
    upstream_max_headers: int = Field(
        DEFAULT_LIMITS.header_count, gt=0, description="header lines of one upstream answer")
    upstream_max_event_chars: int = Field(
        DEFAULT_LIMITS.event_chars, gt=0, description="one server-sent event from upstream")
    upstream_connections_per_origin: int = Field(
        DEFAULT_LIMITS.connections_per_origin, gt=0,
        description="open connections to one upstream origin; more calls wait for a free one")

    openai_api_key: str | None = Field(None, validation_alias=AliasChoices("OPENAI_API_KEY"))
    anthropic_api_key: str | None = Field(
        None, validation_alias=AliasChoices("ANTHROPIC_API_KEY"))
    gemini_api_key: str | None = Field(
        None, validation_alias=AliasChoices("GEMINI_API_KEY", "GOOGLE_API_KEY"))
    ollama_base_url: str | None = Field(None, validation_alias=AliasChoices("OLLAMA_BASE_URL"))
    openai_base_url: str | None = Field(None, validation_alias=AliasChoices("OPENAI_BASE_URL"))
    anthropic_base_url: str | None = Field(
        None, validation_alias=AliasChoices("ANTHROPIC_BASE_URL"))
    gemini_base_url: str | None = Field(
        None, validation_alias=AliasChoices("GEMINI_BASE_URL", "GOOGLE_GEMINI_BASE_URL"))

    file: FileConfig = Field(default_factory=FileConfig)

    @property
    def tiers(self) -> dict[str, TierConfig]:
        return self.file.tiers

    @property
    def upstream_limits(self) -> Limits:
        return Limits(self.upstream_max_body_bytes, self.upstream_max_header_bytes,
                      self.upstream_max_headers, self.upstream_max_event_chars,
                      self.upstream_connections_per_origin)


def async_url(url: str) -> str:
    """Map the plain URLs operators write to the async drivers we use."""
    for plain, driver in (("sqlite://", "sqlite+aiosqlite://"),
                          ("postgresql://", "postgresql+asyncpg://"),
                          ("postgres://", "postgresql+asyncpg://")):
        if url.startswith(plain):
            return driver + url[len(plain):]
    return url


def load_settings(config_path: Path | None = None, **overrides: object) -> Settings:
    """Build the settings once: environment, then the TOML file, then explicit overrides."""
    settings = Settings(**overrides)  # type: ignore[arg-type]
    path = config_path or settings.config
    if path is not None:
        settings.file = read_config_file(path)
        settings.config = path
    resolve_provider_keys(settings.file)
    return settings


def read_config_file(path: Path) -> FileConfig:
    try:
        raw = tomllib.loads(Path(path).read_text())
    except FileNotFoundError as exc:
        raise ConfigError(f"config file not found: {path}") from exc
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path} is not valid TOML: {exc}") from exc
    tiers = default_tiers()
    try:
        for name, values in raw.pop("tiers", {}).items():
            if not isinstance(values, dict):
                raise ConfigError(f"{path}: [tiers.{name}] must be a table")
            merged = tiers[name].model_dump() if name in tiers else {}
            tiers[name] = TierConfig.model_validate({**merged, **values})
        file = FileConfig.model_validate({**raw, "tiers": tiers})
    except ValidationError as exc:
        raise ConfigError(f"{path}: {exc}") from exc
    check_references(file)
    return file


def check_references(file: FileConfig) -> None:
    names = {p.name for p in file.providers}
    for model in file.models:
        if model.provider not in names:
            raise ConfigError(f"model {model.id!r} names unknown provider {model.provider!r}")
    if file.defaults.ensemble_aggregation not in AGGREGATIONS:
        raise ConfigError("defaults.ensemble_aggregation is not a known aggregation")


def resolve_provider_keys(file: FileConfig) -> None:
    for provider in file.providers:
        if provider.api_key is None and provider.api_key_env:
            provider.api_key = os.environ.get(provider.api_key_env)
    search = file.search
    if search is not None and search.api_key is None and search.backend != "searxng":
        search.api_key = os.environ.get(search.api_key_env or f"{search.backend.upper()}_API_KEY")
