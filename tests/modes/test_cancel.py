"""A client that goes away cancels every upstream call of its request (real sockets both ways)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import httpx2 as httpx
import pytest
import sqlalchemy as sa

from chorus import auth
from chorus.app import create_app
from chorus.config import FileConfig, ModelConfig, ProviderConfig, load_settings
from chorus.store import Store
from chorus.store.db import create_engine, migrate
from chorus.store.schema import messages
from tests.conftest import FakeUpstream, ServerThread
from tests.sse import events_as_they_come

SLOW = "tps=5,tokens=200"
"""40 seconds of answer: only a cancellation ends these calls early."""


@asynccontextmanager
async def live_server(fake: FakeUpstream, database_url: str, upstreams: dict[str, str]
                      ) -> AsyncIterator[tuple[ServerThread, str]]:
    """Chorus on a real socket, its models on the fake upstream; yields it and a live key."""
    file = FileConfig(
        providers=[ProviderConfig(name="fake", base_url=f"{fake.url}/v1", max_retries=0)],
        models=[ModelConfig(id=model, provider="fake", upstream=upstream, price_in=1.0,
                            price_out=1.0)
                for model, upstream in upstreams.items()])
    settings = load_settings(None, database_url=database_url, file=file)
    engine = create_engine(database_url)
    await migrate(engine)
    store = Store.over(engine)
    user = await store.users.ensure("canceller", "power")
    secret = auth.new_secret(test=False)
    await store.users.add_key(user.id, "live", auth.display_prefix(secret),
                              auth.digest(secret), False)
    try:
        with ServerThread(create_app(settings), settings) as server:
            yield server, secret
    finally:
        await engine.dispose()


async def eventually(condition: Any, within: float = 5.0) -> bool:
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        if condition():
            return True
        await asyncio.sleep(0.02)
    return bool(condition())


@pytest.mark.parametrize(("mode", "upstreams", "parallel"), [
    ("ensemble", {"m1": f"a@{SLOW}", "m2": f"b@{SLOW}", "m3": f"c@{SLOW}"}, 3),
    ("council", {"m1": f"a@{SLOW}", "m2": f"b@{SLOW}"}, 4),
    ("debate", {"m1": f"a@{SLOW}", "m2": f"b@{SLOW}", "m3": f"c@{SLOW}"}, 2),
])
async def test_disconnect_cancels_every_member_call(
        fake_llm: FakeUpstream, tmp_path: Any, mode: str, upstreams: dict[str, str],
        parallel: int) -> None:
    url = f"sqlite:///{tmp_path}/cancel.db"
    async with live_server(fake_llm, url, upstreams) as (server, secret):
        body = {"message": "Tell me everything.", "mode": mode, "stream": True,
                "models": list(upstreams)}
        seen: set[tuple[object, ...]] = set()
        async with httpx.AsyncClient(base_url=server.url, timeout=10) as client, \
                client.stream("POST", "/v1/chat", json=body,
                              headers={"authorization": f"Bearer {secret}"}) as response:
            assert response.status_code == 200
            async for name, event in events_as_they_come(response):
                if name == "member.delta":
                    seen.add((event["model"], event.get("expert"), event.get("side")))
                if len(seen) == parallel:
                    break  # every member is streaming: hang up mid-answer
        requests = fake_llm.requests
        assert len(requests) == parallel
        assert await eventually(lambda: all(r["cancelled"] for r in fake_llm.requests)), \
            fake_llm.requests
        assert not any(r["completed"] for r in fake_llm.requests)
        await asyncio.sleep(0.3)
        assert len(fake_llm.requests) == parallel, "nothing new starts after the hang-up"
    engine = create_engine(url)
    async with engine.connect() as conn:
        errors = [row.error for row in await conn.execute(
            sa.select(messages.c.error).where(messages.c.role == "assistant"))]
    await engine.dispose()
    assert errors and errors[0]["code"] == "cancelled"


@pytest.mark.parametrize(("path", "body"), [
    ("/v1/chat", {"message": "Tell me everything.", "mode": "ensemble", "models": ["m1", "m2"]}),
    ("/v1/chat/completions", {"model": "konnect-ensemble", "konnect.models": ["m1", "m2"],
                              "messages": [{"role": "user", "content": "Tell me everything."}]}),
])
async def test_hanging_up_on_a_whole_answer_cancels_it_too(
        fake_llm: FakeUpstream, tmp_path: Any, path: str, body: dict[str, Any]) -> None:
    upstreams = {"m1": f"a@{SLOW}", "m2": f"b@{SLOW}"}
    url = f"sqlite:///{tmp_path}/whole.db"
    async with live_server(fake_llm, url, upstreams) as (server, secret):
        # Long enough for both members to be under way on a loaded machine; the answers
        # themselves would take 40 s.
        async with httpx.AsyncClient(base_url=server.url, timeout=2.0) as client:
            with pytest.raises(httpx.ReadTimeout):
                await client.post(path, json=body,
                                  headers={"authorization": f"Bearer {secret}"})
        assert len(fake_llm.requests) == 2
        assert await eventually(lambda: all(r["cancelled"] for r in fake_llm.requests)), \
            fake_llm.requests
