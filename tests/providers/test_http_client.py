"""One pooled HTTP client for every upstream: created at start, reused, closed at shutdown."""

from __future__ import annotations

from pathlib import Path

from chorus.config import FileConfig, ModelConfig, ProviderConfig
from tests.conftest import FakeUpstream, harness_for
from tests.providers.conftest import ALL_DIALECTS, BASE_PATHS, KEYS

NO_ENV = {name: None for name in ("OPENAI_API_KEY", "ANTHROPIC_API_KEY", "GEMINI_API_KEY",
                                  "OLLAMA_BASE_URL")}


async def test_every_dialect_shares_the_one_pooled_client(
        tmp_path: Path, fake_llm: FakeUpstream) -> None:
    file = FileConfig(
        providers=[ProviderConfig(name=d, dialect=d, base_url=fake_llm.url + BASE_PATHS[d],
                                  api_key=KEYS[d]) for d in ALL_DIALECTS],
        models=[ModelConfig(id=f"m-{d}", provider=d, upstream="small") for d in ALL_DIALECTS])
    async with harness_for(f"sqlite:///{tmp_path}/c.db", file=file, **NO_ENV) as h:
        services = h.services
        headers = await h.headers(test=False)
        for _ in range(2):
            for dialect in ALL_DIALECTS:
                response = await h.client.post("/v1/chat", headers=headers,
                                               json={"message": "Hi", "model": f"m-{dialect}"})
                assert response.status_code == 200, response.text
        providers = [services.registry.provider(services.catalog.get(f"m-{d}", False), False)
                     for d in ALL_DIALECTS]
        assert all(getattr(p, "client", None) is services.client for p in providers)
        assert not services.client.is_closed
    assert services.client.is_closed
    # Six sequential calls to one host went over one kept-alive connection.
    assert len({record["peer"] for record in fake_llm.requests}) == 1
    assert len(fake_llm.requests) == 6
