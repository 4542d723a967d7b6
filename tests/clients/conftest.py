"""Real client libraries against a live Chorus on a real socket.

Every test runs against four models: a simulated one for a `sk_test_` key, and, for a live
key, one model of each dialect (openai, anthropic, gemini) served by fake-llm, so each
translation is exercised by the clients people use.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from dataclasses import dataclass

import pytest

from chorus.app import create_app
from chorus.config import Dialect, FileConfig, ModelConfig, ProviderConfig, load_settings
from tests.conftest import FakeLLM, ServerThread, new_key
from tests.providers.conftest import BASE_PATHS, KEYS

DIALECTS: tuple[Dialect, ...] = ("openai", "anthropic", "gemini")
NO_ENV = {name: None for name in ("OPENAI_API_KEY", "ANTHROPIC_API_KEY", "GEMINI_API_KEY",
                                  "OLLAMA_BASE_URL")}


@dataclass(frozen=True)
class Target:
    """A model and a key that may use it."""

    model: str
    key: str
    base_url: str
    """The server's OpenAI base URL (`…/v1`)."""
    upstream: str
    """`simulated`, or the dialect fake-llm speaks for it."""

    @property
    def root(self) -> str:
        return self.base_url.removesuffix("/v1")


def agents_file(fake_url: str) -> FileConfig:
    providers = [ProviderConfig(name=f"up-{d}", dialect=d, base_url=fake_url + BASE_PATHS[d],
                                api_key=KEYS[d], max_retries=0) for d in DIALECTS]
    models = [ModelConfig(id=f"fake-{d}", provider=f"up-{d}", upstream="small",
                          context_window=32_000, price_in=1.0, price_out=2.0) for d in DIALECTS]
    return FileConfig(providers=providers, models=models)


@pytest.fixture(scope="package")
def chorus_server(tmp_path_factory: pytest.TempPathFactory,
                  fake_server: tuple[ServerThread, FakeLLM]) -> Iterator[tuple[str, str, str]]:
    """Chorus on a socket: its base URL, a test key and a live key."""
    database_url = f"sqlite:///{tmp_path_factory.mktemp('clients')}/chorus.db"
    settings = load_settings(None, database_url=database_url, simulated_speed=0,
                             retry_backoff=0.01, file=agents_file(fake_server[0].url), **NO_ENV)
    with ServerThread(create_app(settings)) as server:
        test_key = asyncio.run(new_key(database_url, "power", True))
        live_key = asyncio.run(new_key(database_url, "power", False))
        yield f"{server.url}/v1", test_key, live_key


@pytest.fixture(params=["simulated", *DIALECTS])
def target(request: pytest.FixtureRequest, chorus_server: tuple[str, str, str]) -> Target:
    url, test_key, live_key = chorus_server
    if request.param == "simulated":
        return Target("gpt-4o", test_key, url, "simulated")
    return Target(f"fake-{request.param}", live_key, url, request.param)
