"""The model catalog: env keys, TOML, Ollama, simulated twins, and `GET /v1/models`."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from chorus.config import FileConfig, ModelConfig, ProviderConfig
from chorus.providers.catalog import KNOWN_MODELS
from chorus.types import MODES
from tests.conftest import FakeUpstream, Harness, harness_for

PATTERNS = {"konnect-smart", "konnect-ensemble", "konnect-debate", "konnect-council"}
ENV_NAMES = ("OPENAI_API_KEY", "ANTHROPIC_API_KEY", "GEMINI_API_KEY", "OLLAMA_BASE_URL",
             "OPENAI_BASE_URL", "ANTHROPIC_BASE_URL", "GEMINI_BASE_URL")


@asynccontextmanager
async def app_with(tmp_path: Path, file: FileConfig | None = None,
                   **env: str) -> AsyncIterator[Harness]:
    """The app over SQLite with exactly these provider variables (the machine's are ignored)."""
    overrides: dict[str, Any] = {name: None for name in ENV_NAMES} | env
    async with harness_for(f"sqlite:///{tmp_path}/chorus.db", file=file or FileConfig(),
                           **overrides) as h:
        yield h


async def listed(h: Harness, test: bool) -> dict[str, dict[str, Any]]:
    response = await h.client.get("/v1/models", headers=await h.headers(test=test))
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["object"] == "list"
    return {m["id"]: m for m in body["data"]}


def known(dialect: str) -> set[str]:
    return {k.id for k in KNOWN_MODELS if k.dialect == dialect}


async def test_without_keys_live_keys_see_only_the_patterns(tmp_path: Path) -> None:
    async with app_with(tmp_path) as h:
        assert set(await listed(h, test=False)) == PATTERNS


async def test_each_env_key_switches_on_its_providers_models(tmp_path: Path) -> None:
    for variable, dialect in (("OPENAI_API_KEY", "openai"), ("ANTHROPIC_API_KEY", "anthropic"),
                              ("GEMINI_API_KEY", "gemini")):
        async with app_with(tmp_path, **{variable: "key"}) as h:
            models = await listed(h, test=False)
            assert set(models) == known(dialect) | PATTERNS
            for model_id in known(dialect):
                assert models[model_id]["owned_by"] == dialect
                assert models[model_id]["konnect"]["dialect"] == dialect


async def test_model_objects_have_the_openai_shape_and_the_konnect_object(
        tmp_path: Path) -> None:
    async with app_with(tmp_path, ANTHROPIC_API_KEY="key") as h:
        models = await listed(h, test=False)
    sonnet = models["claude-sonnet-4-5-20250929"]
    assert {k: sonnet[k] for k in ("id", "object", "owned_by")} == {
        "id": "claude-sonnet-4-5-20250929", "object": "model", "owned_by": "anthropic"}
    assert isinstance(sonnet["created"], int)
    assert sonnet["konnect"] == {
        "provider": "anthropic", "dialect": "anthropic", "context_window": 200_000,
        "price_per_million": {"input": 3.0, "output": 15.0},
        "strengths": ["code", "creative", "long", "reasoning"], "modes": list(MODES),
        "capabilities": {"tools": True, "vision": True, "json_schema": True},
        "simulated": False}
    council = models["konnect-council"]["konnect"]
    assert {k: council[k] for k in ("pattern", "modes")} == {"pattern": "council",
                                                             "modes": ["council"]}
    assert council["expected_price_per_million"]["min"] <= \
        council["expected_price_per_million"]["max"]
    assert models["konnect-council"]["object"] == "model"


async def test_test_keys_see_a_simulated_twin_of_every_model(
        tmp_path: Path, fake_llm: FakeUpstream) -> None:
    file = FileConfig(
        providers=[ProviderConfig(name="local", base_url=f"{fake_llm.url}/v1"),
                   ProviderConfig(name="keyless", base_url=f"{fake_llm.url}/v1",
                                  api_key_env="CHORUS_TEST_UNSET_KEY")],
        models=[ModelConfig(id="local-small", provider="local", upstream="small",
                            context_window=8192, price_in=0.15, price_out=0.6),
                ModelConfig(id="needs-key", provider="keyless")])
    async with app_with(tmp_path, file, OPENAI_API_KEY="k", GEMINI_API_KEY="k",
                        OLLAMA_BASE_URL=fake_llm.url) as h:
        live = await listed(h, test=False)
        simulated = await listed(h, test=True)
    assert "needs-key" not in live and "needs-key" in simulated
    assert {"local-small", "llama3.2:latest", "qwen2.5:7b"} <= set(live)
    assert set(live) <= set(simulated)
    assert {k.id for k in KNOWN_MODELS} <= set(simulated)
    for model in simulated.values():
        if model["id"] not in PATTERNS:
            assert model["owned_by"] == "simulated" and model["konnect"]["simulated"] is True
    assert simulated["local-small"]["konnect"]["price_per_million"] == {
        "input": 0.15, "output": 0.6}


async def test_ollama_models_are_listed_and_answer_through_the_openai_dialect(
        tmp_path: Path, fake_llm: FakeUpstream) -> None:
    async with app_with(tmp_path, OLLAMA_BASE_URL=fake_llm.url) as h:
        models = await listed(h, test=False)
        assert models["llama3.2:latest"]["owned_by"] == "ollama"
        assert fake_llm.requests == []  # listing used GET /api/tags, which is not recorded
        response = await h.client.post("/v1/chat", headers=await h.headers(test=False),
                                       json={"message": "Hi there", "model": "qwen2.5:7b"})
    assert response.status_code == 200, response.text
    assert response.json()["content"].startswith("Fake answer to: Hi there")
    (record,) = fake_llm.requests
    assert record["path"] == "/v1/chat/completions" and record["model"] == "qwen2.5:7b"


async def test_an_unreachable_ollama_is_logged_and_skipped(tmp_path: Path) -> None:
    async with app_with(tmp_path, OLLAMA_BASE_URL="http://127.0.0.1:9") as h:
        assert set(await listed(h, test=False)) == PATTERNS


async def test_env_key_and_base_url_reach_the_provider(
        tmp_path: Path, fake_llm: FakeUpstream) -> None:
    async with app_with(tmp_path, ANTHROPIC_API_KEY="sk-ant-env",
                        ANTHROPIC_BASE_URL=fake_llm.url) as h:
        response = await h.client.post(
            "/v1/chat", headers=await h.headers(test=False),
            json={"message": "Hello", "model": "claude-haiku-4-5-20251001"})
    assert response.status_code == 200, response.text
    usage = response.json()["usage"]
    assert usage["prompt_tokens"] == 1 and usage["completion_tokens"] == 24
    assert usage["cost_usd"] == round((1 * 1.00 + 24 * 5.00) / 1_000_000, 8)
    (record,) = fake_llm.requests
    assert record["path"] == "/v1/messages"
    assert record["headers"]["x-api-key"] == "sk-ant-env"
    assert record["body"]["model"] == "claude-haiku-4-5-20251001"
