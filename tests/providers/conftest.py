"""Providers of every dialect pointed at the fake upstream over a real socket."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest

from chorus.config import Dialect, ProviderConfig
from chorus.httpclient import Client
from chorus.providers.base import Completion, collect
from chorus.providers.http import HttpProvider
from chorus.providers.registry import DIALECTS
from chorus.types import Message, ModelRequest, StreamEnd, TextDelta
from tests.conftest import FakeUpstream

ALL_DIALECTS: tuple[Dialect, ...] = ("openai", "anthropic", "gemini")
BASE_PATHS: dict[Dialect, str] = {"openai": "/v1", "anthropic": "/v1", "gemini": "/v1beta"}
KEYS: dict[Dialect, str] = {"openai": "sk-openai-test", "anthropic": "sk-ant-test",
                            "gemini": "AIza-test"}

MakeProvider = Callable[..., HttpProvider]


@pytest.fixture(params=ALL_DIALECTS)
def dialect(request: pytest.FixtureRequest) -> Dialect:
    name: Dialect = request.param
    return name


@pytest.fixture
async def http_client() -> AsyncIterator[Client]:
    client = Client()
    yield client
    await client.aclose()


def provider_config(dialect: Dialect, base_url: str, path: str | None = None,
                    **settings: Any) -> ProviderConfig:
    """A provider at `base_url` plus the dialect's usual version path (or `path`)."""
    return ProviderConfig(name=f"up-{dialect}", dialect=dialect,
                          base_url=base_url + (BASE_PATHS[dialect] if path is None else path),
                          api_key=KEYS[dialect], **settings)


@pytest.fixture
def make_provider(dialect: Dialect, fake_llm: FakeUpstream, http_client: Client
                  ) -> MakeProvider:
    """`make_provider(base_url=..., path=..., max_retries=...)`: one of this test's dialect."""
    def make(base_url: str | None = None, path: str | None = None,
             **settings: Any) -> HttpProvider:
        config = provider_config(dialect, base_url or fake_llm.url, path, **settings)
        return HttpProvider(config, DIALECTS[dialect](), http_client, backoff_base=0.01)
    return make


def ask(text: str = "What is the capital of France?", *, system: str | None = None,
        stream: bool = True, **options: Any) -> ModelRequest:
    messages = ((Message("system", system),) if system else ()) + (Message("user", text),)
    return ModelRequest(messages, stream=stream, **options)


async def chunks_of(provider: HttpProvider, model: str, request: ModelRequest
                    ) -> list[TextDelta | StreamEnd]:
    return [chunk async for chunk in provider.stream(model, request)]


async def complete(provider: HttpProvider, model: str, request: ModelRequest) -> Completion:
    return await collect(provider.stream(model, request))
