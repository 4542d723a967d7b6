"""Operations: liveness, readiness, Prometheus metrics and the request id."""

from __future__ import annotations

import asyncio
import gc
import os
import re

import httpx2 as httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from chorus.app import YOUNG_GC_THRESHOLD, create_app
from chorus.config import FileConfig, ModelConfig, ProviderConfig, load_settings
from chorus.store.db import create_engine
from tests.conftest import (
    REDIS_URL,
    FakeUpstream,
    Harness,
    ServerThread,
    harness_for,
    key_headers,
    unavailable,
)
from tests.sse import events_as_they_come


def samples(text: str, name: str) -> list[tuple[dict[str, str], float]]:
    """Every sample called `name` in a Prometheus text exposition, with its labels."""
    return [(dict(s.labels), s.value) for family in text_string_to_metric_families(text)
            for s in family.samples if s.name == name]


def value(text: str, name: str, **labels: str) -> float:
    """The sum of the samples of `name` whose labels include `labels`."""
    return sum(v for found, v in samples(text, name) if labels.items() <= found.items())


async def test_healthz_answers_without_a_key(harness: Harness) -> None:
    response = await harness.client.get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok", "pid": os.getpid()}


async def test_a_started_server_collects_garbage_less_often(harness: Harness) -> None:
    """What was alive at start is frozen; the young generation waits for 20,000 allocations."""
    assert gc.get_freeze_count() > 0
    assert gc.get_threshold()[0] == YOUNG_GC_THRESHOLD


async def test_readyz_is_ready_when_the_database_answers(harness: Harness) -> None:
    response = await harness.client.get("/readyz")
    assert response.status_code == 200
    assert response.json() == {"status": "ready", "checks": {"database": {"ok": True}}}


async def test_readyz_is_503_with_details_when_the_database_is_gone(
        harness: Harness, monkeypatch: pytest.MonkeyPatch) -> None:
    dead = create_engine("postgresql://nobody@127.0.0.1:1/none")
    monkeypatch.setattr(harness.services.store, "engine", dead)
    try:
        response = await harness.client.get("/readyz")
    finally:
        await dead.dispose()
    assert response.status_code == 503
    body = response.json()
    assert body["status"] == "not_ready"
    assert body["checks"]["database"]["ok"] is False
    assert body["checks"]["database"]["error"]


async def test_readyz_checks_redis_when_configured(tmp_path: object) -> None:
    url = f"sqlite:///{tmp_path}/r.db"
    async with harness_for(url, redis_url=REDIS_URL) as h:
        response = await h.client.get("/readyz")
        if not response.json()["checks"]["redis"]["ok"]:
            unavailable("Redis", response.json()["checks"]["redis"])
        assert response.status_code == 200
        assert response.json()["status"] == "ready"


@pytest.mark.parametrize("strict", [False, True])
async def test_an_unreachable_redis_is_degraded_or_not_ready(tmp_path: object,
                                                             strict: bool) -> None:
    url = f"sqlite:///{tmp_path}/r.db"
    async with harness_for(url, redis_url="redis://127.0.0.1:1/0",
                           readiness_requires_redis=strict) as h:
        response = await h.client.get("/readyz")
        body = response.json()
        assert body["checks"]["database"] == {"ok": True}
        assert body["checks"]["redis"]["ok"] is False
        if strict:
            assert response.status_code == 503 and body["status"] == "not_ready"
        else:
            assert response.status_code == 200 and body["status"] == "degraded"
        # The server keeps answering while Redis is away.
        chat = await h.client.post("/v1/chat", headers=await h.headers(),
                                   json={"message": "still there?"})
        assert chat.status_code == 200


async def test_metrics_count_requests_by_route_template_status_and_mode(
        harness: Harness) -> None:
    headers = await harness.headers()
    first = (await harness.client.post("/v1/chat", headers=headers,
                                       json={"message": "hello", "model": "gpt-4o"})).json()
    await harness.client.post("/v1/chat", headers=headers,
                              json={"message": "again", "session_id": first["session_id"],
                                    "model": "gpt-4o-mini"})
    await harness.client.get(f"/v1/sessions/{first['session_id']}", headers=headers)
    await harness.client.get("/v1/sessions/sess_nope", headers=headers)
    await harness.client.get("/no/such/path")
    response = await harness.client.get("/metrics")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    text = response.text
    total = "chorus_http_requests_total"
    assert value(text, total, method="POST", route="/v1/chat", status="200") == 2
    assert value(text, total, route="/v1/sessions/{session_id}", status="200") == 1
    assert value(text, total, route="/v1/sessions/{session_id}", status="404") == 1
    assert value(text, total, route="<unmatched>", status="404") == 1
    assert not any("sess_" in labels.get("route", "") for labels, _ in samples(text, total))
    latency = "chorus_http_request_duration_seconds_count"
    assert value(text, latency, route="/v1/chat", mode="smart_chat") == 2
    calls = "chorus_upstream_calls_total"
    assert value(text, calls, provider="simulated", model="gpt-4o", outcome="ok") == 1
    assert value(text, calls, provider="simulated", outcome="ok") == 2
    assert value(text, "chorus_tokens_total", model="gpt-4o", direction="in") > 0
    assert value(text, "chorus_tokens_total", model="gpt-4o", direction="out") > 0
    assert value(text, "chorus_upstream_duration_seconds_count", model="gpt-4o") == 1
    assert samples(text, "chorus_active_streams") == [({}, 0.0)]


async def test_answers_of_the_guards_are_counted_under_their_route(tmp_path: object) -> None:
    async with harness_for(f"sqlite:///{tmp_path}/g.db", max_body_bytes=100) as h:
        headers = await h.headers()
        big = await h.client.post("/v1/chat", headers=headers, json={"message": "x" * 200})
        assert big.status_code == 413
        text = (await h.client.get("/metrics")).text
    assert value(text, "chorus_http_requests_total", route="/v1/chat", status="413") == 1


async def test_each_app_has_its_own_metrics(tmp_path: object) -> None:
    async with harness_for(f"sqlite:///{tmp_path}/a.db") as a, \
            harness_for(f"sqlite:///{tmp_path}/b.db") as b:
        for _ in range(3):
            await a.client.get("/healthz")
        text_a = (await a.client.get("/metrics")).text
        text_b = (await b.client.get("/metrics")).text
    assert value(text_a, "chorus_http_requests_total", route="/healthz") == 3
    assert value(text_b, "chorus_http_requests_total", route="/healthz") == 0


async def test_upstream_errors_are_counted_by_provider_model_and_code(
        database_url: str, fake_llm: FakeUpstream) -> None:
    file = FileConfig(
        providers=[ProviderConfig(name="fake", base_url=f"{fake_llm.url}/v1", api_key="k",
                                  max_retries=0)],
        models=[ModelConfig(id="ok", provider="fake", upstream="small"),
                ModelConfig(id="broken", provider="fake", upstream="small@fault=500")])
    async with harness_for(database_url, file=file) as h:
        headers = await h.headers(test=False)
        assert (await h.client.post("/v1/chat", headers=headers,
                                    json={"message": "hi", "model": "ok"})).status_code == 200
        failed = await h.client.post("/v1/chat", headers=headers,
                                     json={"message": "hi", "model": "broken"})
        assert failed.status_code == 502
        text = (await h.client.get("/metrics")).text
    calls = "chorus_upstream_calls_total"
    assert value(text, calls, provider="fake", model="ok", outcome="ok") == 1
    assert value(text, calls, provider="fake", model="broken", outcome="error") == 1
    errors = "chorus_upstream_errors_total"
    assert value(text, errors, provider="fake", model="broken", code="upstream_error") == 1
    assert value(text, "chorus_tokens_total", provider="fake", model="ok", direction="out") > 0


async def test_active_streams_are_counted_while_they_run(tmp_path: object,
                                                         fake_llm: FakeUpstream) -> None:
    file = FileConfig(
        providers=[ProviderConfig(name="fake", base_url=f"{fake_llm.url}/v1", api_key="k")],
        models=[ModelConfig(id="slow", provider="fake", upstream="small@tps=50,tokens=40")])
    settings = load_settings(None, database_url=f"sqlite:///{tmp_path}/s.db", file=file)
    app = create_app(settings)
    with ServerThread(app) as server:
        async with httpx.AsyncClient(base_url=server.url, timeout=10) as client:
            headers = await key_headers(settings.database_url)
            async with client.stream("POST", "/v1/chat", headers=headers,
                                     json={"message": "hi", "model": "slow",
                                           "stream": True}) as response:
                events = events_as_they_come(response)
                async for name, _ in events:
                    if name == "message.delta":
                        break
                during = (await client.get("/metrics")).text
                async for _ in events:
                    pass
            for _ in range(100):  # the server counts the stream done just after its last byte
                after = (await client.get("/metrics")).text
                if value(after, "chorus_active_streams") == 0:
                    break
                await asyncio.sleep(0.02)
    assert value(during, "chorus_active_streams") == 1
    assert value(after, "chorus_active_streams") == 0


async def test_the_request_id_is_echoed_or_made(harness: Harness) -> None:
    given = await harness.client.get("/healthz", headers={"x-request-id": "trace-42.a:b"})
    assert given.headers["x-request-id"] == "trace-42.a:b"
    made = await harness.client.get("/healthz")
    assert re.fullmatch(r"req_[0-9A-Za-z]{20,}", made.headers["x-request-id"])
    for bad in ("has spaces in it", "x" * 200, "quote\"s"):
        replaced = await harness.client.get("/healthz", headers={"x-request-id": bad})
        assert replaced.headers["x-request-id"].startswith("req_")
    error = await harness.client.get("/v1/sessions", headers={"x-request-id": "on-error"})
    assert error.status_code == 401 and error.headers["x-request-id"] == "on-error"
