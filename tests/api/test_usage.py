"""`GET /v1/usage`: api.md's shape, this month's totals, and agreement with the recorded calls."""

from __future__ import annotations

import asyncio
import re
import time
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx2 as httpx
import pytest
import sqlalchemy as sa

from chorus.api.usage import UsageReport
from chorus.app import create_app
from chorus.config import load_settings
from chorus.limits import Period
from chorus.store.db import create_engine
from chorus.store.schema import usage_records
from tests.api.test_completions import upstream_config
from tests.conftest import FakeUpstream, Harness, ServerThread, harness_for, new_key
from tests.sse import events_as_they_come, stream_chunks

ISO = re.compile(r"^\d{4}-\d\d-01T00:00:00Z$")
MULTI_MODELS = {"ensemble": "konnect-ensemble", "debate": "konnect-debate",
                "council": "konnect-council"}


@pytest.fixture
async def live(database_url: str, fake_llm: FakeUpstream) -> AsyncIterator[Harness]:
    async with harness_for(database_url, file=upstream_config(fake_llm.url)) as h:
        yield h


async def usage_of(h: Harness, headers: dict[str, str]) -> dict[str, Any]:
    await h.services.store.usage.flush()
    response = await h.client.get("/v1/usage", headers=headers)
    assert response.status_code == 200, response.text
    return response.json()


def user(text: str) -> list[dict[str, str]]:
    return [{"role": "user", "content": text}]


async def test_shape_for_a_new_key(harness: Harness) -> None:
    body = await usage_of(harness, await harness.headers())
    assert body == {
        "object": "usage", "tier": "power", "keys": "test", "period": body["period"],
        "other_keys": {"keys": "live", "queries": 0, "tokens": {"input": 0, "output": 0},
                       "cost_usd": 0.0},
        "queries": {"used": 0, "limit": None},
        "rate_limit": {"limit": 60, "remaining": 59, "reset": body["rate_limit"]["reset"]},
        "tokens": {"input": 0, "output": 0}, "cost_usd": 0.0, "by_model": [], "by_mode": [],
        "by_day": [],
    }
    period = Period.current()
    assert body["period"] == {"start": period.start.strftime("%Y-%m-%dT%H:%M:%SZ"),
                              "end": period.end.strftime("%Y-%m-%dT%H:%M:%SZ")}
    assert ISO.match(body["period"]["start"]) and ISO.match(body["period"]["end"])
    free = await usage_of(harness, await harness.headers(tier="free"))
    assert free["tier"] == "free" and free["queries"]["limit"] == 200


async def mixed_run(h: Harness, headers: dict[str, str]) -> list[dict[str, Any]]:
    """Every mode that exists, native and OpenAI-compatible, streamed and not; answers' usage."""
    usages: list[dict[str, Any]] = []
    native = await h.client.post("/v1/chat", headers=headers, json={"message": "What is DNS?",
                                                                     "model": "fake-small"})
    usages.append(native.json()["usage"])
    body = {"model": "fake-small", "messages": user("Explain TCP"),
            "stream_options": {"include_usage": True}}
    whole = await h.client.post("/v1/chat/completions", headers=headers, json=body)
    assert whole.status_code == 200
    usages.append(whole.json()["usage"])
    usages.append((await stream_chunks(h.client, body, headers))[-2]["usage"])
    for mode, model in MULTI_MODELS.items():
        response = await h.client.post("/v1/chat/completions", headers=headers, json={
            "model": model, "messages": user("Should we use Rust or Go?"),
            "konnect": {"models": ["fake-small"] * (3 if mode != "ensemble" else 2)}})
        assert response.status_code == 200, response.text
        usages.append(response.json()["usage"])
    failed = await h.client.post("/v1/chat/completions", headers=headers,
                                 json={"model": "fake-broken", "messages": user("Hello")})
    assert failed.status_code == 502
    return usages


async def test_totals_agree_with_the_recorded_calls(live: Harness,
                                                    fake_llm: FakeUpstream) -> None:
    headers = await live.headers(test=False)
    answers = await mixed_run(live, headers)
    body = await usage_of(live, headers)
    me = await live.services.auth.resolve(headers["authorization"])
    c = usage_records.c
    async with live.services.store.engine.connect() as conn:
        rows = (await conn.execute(sa.select(c.request_id, c.model, c.mode, c.prompt_tokens,
                                             c.completion_tokens, c.cost_usd, c.ok)
                                   .where(c.user_id == me.user.id))).all()
    assert len(rows) == len(fake_llm.requests), "one record per upstream call"
    assert body["queries"]["used"] == len({r.request_id for r in rows})
    assert body["tokens"] == {"input": sum(r.prompt_tokens for r in rows),
                              "output": sum(r.completion_tokens for r in rows)}
    assert body["cost_usd"] == pytest.approx(sum(r.cost_usd for r in rows), abs=1e-7)
    assert body["cost_usd"] > 0
    UsageReport.model_validate(body)  # the schema OpenAPI documents
    by_model = {g["model"]: g for g in body["by_model"]}
    assert by_model["fake-small"]["calls"] == sum(r.model == "fake-small" for r in rows)
    assert by_model["fake-broken"]["failed_calls"] == 1
    by_mode = {g["mode"]: g for g in body["by_mode"]}
    assert sum(g["queries"] for g in by_mode.values()) == body["queries"]["used"]
    assert sum(g["calls"] for g in by_mode.values()) == len(rows)
    for mode, group in by_mode.items():
        mine = [r for r in rows if r.mode == mode]
        assert group["tokens"]["input"] == sum(r.prompt_tokens for r in mine)
        assert group["cost_usd"] == pytest.approx(sum(r.cost_usd for r in mine), abs=1e-7)
    answered = sum(u["total_tokens"] for u in answers)
    assert answered == sum(r.prompt_tokens + r.completion_tokens for r in rows) > 0, (
        "every answer's usage is the sum of its recorded calls")


async def test_a_live_keys_usage_is_live_usage_only_and_test_usage_apart(
        live: Harness) -> None:
    name = "billed-user"
    live_key = await live.headers(user=name, test=False)
    test_key = await live.headers(user=name, test=True)
    answered = await live.client.post("/v1/chat", headers=live_key,
                                      json={"message": "What is DNS?", "model": "fake-small"})
    assert answered.status_code == 200, answered.text
    for _ in range(2):  # simulated answers: a test key's usage is not billed
        simulated = await live.client.post("/v1/chat", headers=test_key, json={
            "message": "Tell me a long story about routers", "model": "fake-small"})
        assert simulated.status_code == 200, simulated.text
    me = await live.services.auth.resolve(live_key["authorization"])
    c = usage_records.c
    await live.services.store.usage.flush()
    async with live.services.store.engine.connect() as conn:
        rows = (await conn.execute(sa.select(c.key_id, c.request_id, c.prompt_tokens,
                                             c.completion_tokens, c.cost_usd)
                                   .where(c.user_id == me.user.id))).all()
    mine = [r for r in rows if r.key_id == me.key.id]
    tests = [r for r in rows if r.key_id != me.key.id]
    assert mine and tests

    def totals(records: list[Any]) -> tuple[int, dict[str, int], float]:
        return (len({r.request_id for r in records}),
                {"input": sum(r.prompt_tokens for r in records),
                 "output": sum(r.completion_tokens for r in records)},
                round(sum(r.cost_usd for r in records), 8))

    billed = await usage_of(live, live_key)
    UsageReport.model_validate(billed)
    assert billed["keys"] == "live"
    assert (billed["queries"]["used"], billed["tokens"], billed["cost_usd"]) == totals(mine)
    assert sum(g["calls"] for g in billed["by_mode"]) == len(mine)
    assert sum(g["calls"] for g in billed["by_day"]) == len(mine)
    apart = billed["other_keys"]
    assert apart["keys"] == "test"
    assert (apart["queries"], apart["tokens"], apart["cost_usd"]) == totals(tests)
    simulated_view = await usage_of(live, test_key)
    assert simulated_view["keys"] == "test"
    assert (simulated_view["queries"]["used"], simulated_view["tokens"],
            simulated_view["cost_usd"]) == totals(tests)
    assert simulated_view["other_keys"]["tokens"] == billed["tokens"]


async def test_only_this_months_records_count(harness: Harness) -> None:
    headers = await harness.headers()
    await harness.client.post("/v1/chat", headers=headers, json={"message": "Hi"})
    before = await usage_of(harness, headers)
    assert before["queries"]["used"] == 1
    start = Period.current().start.replace(tzinfo=None)
    async with harness.services.store.engine.begin() as conn:
        me = await harness.services.auth.resolve(headers["authorization"])
        row = (await conn.execute(sa.select(usage_records).where(
            usage_records.c.user_id == me.user.id))).mappings().first()
        assert row is not None
        old = {**row, "request_id": "req_old", "created_at": start - timedelta(seconds=1)}
        del old["id"]
        await conn.execute(usage_records.insert().values(**old))
    after = await usage_of(harness, headers)
    assert after["queries"] == before["queries"] and after["tokens"] == before["tokens"]


async def test_rate_limit_and_quota_agree_with_the_limiter(harness: Harness) -> None:
    name = "limited-user"
    first = {"authorization": f"Bearer {await harness.key(user=name, tier='free')}"}
    second = {"authorization": f"Bearer {await harness.key(user=name, tier='free')}"}
    for _ in range(3):
        response = await harness.client.post("/v1/chat", headers=first, json={"message": "Hi"})
        assert response.status_code == 200
    refused = await harness.client.post("/v1/chat", headers=first,
                                        json={"message": "Hi", "model": "nope"})
    assert refused.status_code == 400
    await harness.services.store.usage.flush()
    response = await harness.client.get("/v1/usage", headers=first)
    mine = response.json()
    assert mine["rate_limit"]["limit"] == 10
    assert mine["rate_limit"]["remaining"] == 5 == int(response.headers["x-ratelimit-remaining"])
    reset = datetime.strptime(mine["rate_limit"]["reset"], "%Y-%m-%dT%H:%M:%SZ")
    assert reset.replace(tzinfo=UTC).timestamp() == int(response.headers["x-ratelimit-reset"])
    assert mine["queries"] == {"used": 3, "limit": 200}, "a refused query is given back"
    other = await usage_of(harness, second)
    assert other["rate_limit"]["remaining"] == 4, "the per-minute limit is the user's"
    assert other["queries"]["used"] == 3, "queries are per user"


async def test_a_call_cancelled_by_a_departing_client_is_recorded(
        tmp_path: Path, fake_llm: FakeUpstream) -> None:
    database_url = f"sqlite:///{tmp_path}/chorus.db"
    settings = load_settings(None, database_url=database_url, simulated_speed=0,
                             file=upstream_config(fake_llm.url))
    with ServerThread(create_app(settings)) as server:
        key = await new_key(database_url, "power", False)
        async with httpx.AsyncClient(base_url=server.url) as client, client.stream(
                "POST", "/v1/chat/completions", headers={"authorization": f"Bearer {key}"},
                json={"model": "fake-slow", "stream": True,
                      "messages": [{"role": "user", "content": "Tell me a long story"}]}
        ) as response:
            async for _, chunk in events_as_they_come(response):
                if chunk["choices"][0]["delta"].get("content", "").startswith("Fake"):
                    break
        engine = create_engine(database_url)
        try:
            deadline = time.monotonic() + 5
            rows: list[Any] = []
            while not rows and time.monotonic() < deadline:
                await asyncio.sleep(0.05)
                async with engine.connect() as conn:
                    rows = list(await conn.execute(sa.select(usage_records)))
        finally:
            await engine.dispose()
    (row,) = rows
    assert fake_llm.requests[-1]["cancelled"] is True
    assert row.model == "fake-slow" and row.ok is False
    assert 0 < row.completion_tokens < 400 and row.prompt_tokens > 0 and row.cost_usd > 0


async def test_by_day_groups_the_records_by_utc_date(harness: Harness) -> None:
    headers = await harness.headers()
    await harness.client.post("/v1/chat", headers=headers, json={"message": "Hi"})
    start = Period.current().start.replace(tzinfo=None)
    me = await harness.services.auth.resolve(headers["authorization"])
    await harness.services.store.usage.flush()
    async with harness.services.store.engine.begin() as conn:
        row = (await conn.execute(sa.select(usage_records).where(
            usage_records.c.user_id == me.user.id))).mappings().one()
        first_day = {**row, "request_id": "req_first_day", "created_at": start}
        del first_day["id"]
        await conn.execute(usage_records.insert().values(**first_day))
    body = await usage_of(harness, headers)
    days = {g["date"]: g for g in body["by_day"]}
    expected = sorted({start.date().isoformat(), row["created_at"].date().isoformat()})
    assert [g["date"] for g in body["by_day"]] == expected
    assert sum(g["queries"] for g in days.values()) == 2, "the request and the copied record"
    assert sum(g["tokens"]["input"] for g in days.values()) == body["tokens"]["input"]
    assert sum(g["cost_usd"] for g in days.values()) == pytest.approx(body["cost_usd"])
