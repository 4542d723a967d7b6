"""Per-user caps that must hold under concurrency: custom personas and API keys."""

from __future__ import annotations

import asyncio
import uuid

import sqlalchemy as sa

from chorus.api.personas import MAX_CUSTOM
from chorus.config import FileConfig, TestKeyLimits, default_tiers
from chorus.store.schema import api_keys, personas
from tests.conftest import Harness, harness_for


async def count(h: Harness, table: sa.Table, *where: sa.ColumnElement[bool]) -> int:
    async with h.services.store.engine.connect() as conn:
        query = sa.select(sa.func.count()).select_from(table).where(*where)
        return int((await conn.execute(query)).scalar_one())


async def test_40_concurrent_persona_creates_at_195_leave_exactly_200(harness: Harness) -> None:
    headers = await harness.headers(tier="power")
    user = (await harness.services.auth.resolve(headers["authorization"])).user
    store = harness.services.store.personas
    for i in range(MAX_CUSTOM - 5):
        await store.create(user.id, f"p{i}", "n", "", "prompt", cap=MAX_CUSTOM)
    answers = await asyncio.gather(*(
        harness.client.post("/v1/personas", headers=headers,
                            json={"id": f"racer{i}", "name": "r", "systemPrompt": "be quick"})
        for i in range(40)))
    statuses = sorted(a.status_code for a in answers)
    assert statuses == [201] * 5 + [400] * 35, statuses
    refused = next(a for a in answers if a.status_code == 400)
    assert f"at most {MAX_CUSTOM} custom personas" in refused.json()["error"]["message"]
    assert await count(harness, personas, personas.c.user_id == user.id) == MAX_CUSTOM
    other = await harness.headers(tier="power")  # another user is not affected
    created = await harness.client.post("/v1/personas", headers=other,
                                        json={"id": "mine", "name": "m", "systemPrompt": "x"})
    assert created.status_code == 201


def capped(max_keys: int) -> FileConfig:
    tiers = default_tiers()
    tiers["pro"] = tiers["pro"].model_copy(update={"max_keys": max_keys})
    return FileConfig(tiers=tiers, test_keys=TestKeyLimits(requests_per_minute=None,
                                                           queries_per_period=None))


async def test_keys_per_user_are_capped_by_tier_even_when_created_at_once(
        database_url: str) -> None:
    async with harness_for(database_url, file=capped(4)) as h:
        name = f"minter-{uuid.uuid4().hex[:8]}"
        headers = await h.headers(user=name, tier="pro", test=False)  # one key held
        answers = await asyncio.gather(*(
            h.client.post("/v1/keys", headers=headers, json={"name": f"k{i}"})
            for i in range(12)))
        statuses = sorted(a.status_code for a in answers)
        assert statuses == [201] * 3 + [403] * 9, statuses
        refused = next(a for a in answers if a.status_code == 403).json()["error"]
        assert refused["code"] == "forbidden" and "at most 4 keys" in refused["message"]
        user_id = (await h.services.auth.resolve(headers["authorization"])).user.id
        assert await count(h, api_keys, api_keys.c.user_id == user_id) == 4
        made = next(a.json() for a in answers if a.status_code == 201)
        assert (await h.client.delete(f"/v1/keys/{made['id']}", headers=headers)
                ).status_code == 200
        again = await h.client.post("/v1/keys", headers=headers, json={"name": "after"})
        assert again.status_code == 201  # a revoked key frees its place
        assert (await h.client.post("/v1/keys", headers=headers, json={"name": "over"})
                ).status_code == 403
