"""The rest of the OpenAI surface clients call: one model by id, CORS, Konnect's example ids."""

from __future__ import annotations

from typing import Any

import pytest

from chorus.config import CorsConfig, FileConfig, TestKeyLimits
from tests.conftest import Harness, harness_for


async def test_one_model_by_id_and_pattern_models(harness: Harness) -> None:
    headers = await harness.headers()
    found = (await harness.client.get("/v1/models/gpt-4o", headers=headers)).json()
    assert found["id"] == "gpt-4o" and found["object"] == "model"
    assert found["konnect"]["capabilities"] == {"tools": True, "vision": True,
                                                "json_schema": True}
    pattern = (await harness.client.get("/v1/models/konnect-ensemble", headers=headers)).json()
    assert pattern["konnect"]["pattern"] == "ensemble"
    missing = await harness.client.get("/v1/models/no-such", headers=headers)
    assert missing.status_code == 404
    assert missing.json()["error"]["code"] == "not_found"


async def test_konnect_documented_model_ids_answer_a_test_key(harness: Harness) -> None:
    """The ids in Konnect's own examples (`claude-3-opus`, `gemini-2.0-flash`) are models."""
    headers = await harness.headers()
    answer = await harness.client.post("/v1/chat", headers=headers, json={
        "message": "Compare REST and GraphQL", "mode": "ensemble",
        "models": ["gpt-4o", "claude-3-opus", "gemini-2.0-flash"]})
    assert answer.status_code == 200, answer.text
    assert {"gpt-4o", "claude-3-opus", "gemini-2.0-flash"} <= set(answer.json()["models_used"])
    listed = (await harness.client.get("/v1/models/claude-3-opus", headers=headers)).json()
    assert listed["konnect"]["price_per_million"] == {"input": 15.0, "output": 75.0}


def _cors_file(origins: list[str]) -> FileConfig:
    return FileConfig(cors=CorsConfig(origins=origins), test_keys=TestKeyLimits(
        requests_per_minute=None, queries_per_period=None))


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
async def test_cors_is_off_by_default(harness: Harness) -> None:
    preflight = await harness.client.options("/v1/chat/completions", headers={
        "origin": "https://app.example", "access-control-request-method": "POST"})
    assert "access-control-allow-origin" not in preflight.headers


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
async def test_cors_answers_listed_origins_only(database_url: str) -> None:
    async with harness_for(database_url, file=_cors_file(["https://app.example"])) as h:
        asked: dict[str, Any] = {"access-control-request-method": "POST",
                                 "access-control-request-headers": "authorization,content-type"}
        ok = await h.client.options("/v1/chat/completions",
                                    headers={"origin": "https://app.example", **asked})
        assert ok.status_code == 200
        assert ok.headers["access-control-allow-origin"] == "https://app.example"
        assert "authorization" in ok.headers["access-control-allow-headers"].lower()
        other = await h.client.options("/v1/chat/completions",
                                       headers={"origin": "https://evil.example", **asked})
        assert other.status_code == 400
        assert "access-control-allow-origin" not in other.headers
        answer = await h.client.get("/v1/models", headers={
            "origin": "https://app.example", **(await h.headers())})
        assert answer.headers["access-control-allow-origin"] == "https://app.example"
        assert "x-ratelimit-remaining" in answer.headers["access-control-expose-headers"].lower()


async def test_unknown_routes_and_methods_have_the_envelope_with_a_type(harness: Harness) -> None:
    headers = await harness.headers()
    missing = await harness.client.post("/v1/embeddings", headers=headers, json={})
    assert missing.status_code == 404
    assert missing.json()["error"] == {"code": "not_found", "message": "no route /v1/embeddings",
                                       "status": 404, "type": "not_found_error", "param": None}
    wrong = await harness.client.put("/v1/chat/completions", headers=headers, json={})
    assert wrong.status_code == 405 and wrong.headers["allow"] == "POST"
    assert wrong.json()["error"]["type"] == "invalid_request_error"
    model = await harness.client.get("/v1/models/nope", headers=headers)
    assert model.json()["error"]["type"] == "not_found_error"


async def test_one_persona_can_be_read_and_changed(harness: Harness) -> None:
    headers = await harness.headers()
    built_in = await harness.client.get("/v1/personas/advocate", headers=headers)
    assert built_in.status_code == 200 and built_in.json()["id"] == "advocate"
    made = await harness.client.post("/v1/personas", headers=headers, json={
        "id": "my_cto", "name": "CTO", "systemPrompt": "You are a pragmatic CTO."})
    assert made.status_code == 201
    changed = await harness.client.patch("/v1/personas/my_cto", headers=headers,
                                         json={"systemPrompt": "You are a careful CTO."})
    assert changed.status_code == 200, changed.text
    read = (await harness.client.get("/v1/personas/my_cto", headers=headers)).json()
    assert read["name"] == "CTO" and read["systemPrompt"] == "You are a careful CTO."
    fixed = await harness.client.patch("/v1/personas/advocate", headers=headers,
                                       json={"name": "x"})
    assert fixed.status_code == 400 and "built in" in fixed.json()["error"]["message"]
    other = await harness.headers()
    assert (await harness.client.get("/v1/personas/my_cto", headers=other)).status_code == 404
    assert (await harness.client.patch("/v1/personas/my_cto", headers=other,
                                       json={"name": "x"})).status_code == 404
