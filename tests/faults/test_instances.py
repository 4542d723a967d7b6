"""Several instances on one database: a question left by a dead instance is marked
`interrupted` by the others; one running on a live instance never is."""

from __future__ import annotations

import asyncio
import time

import pytest

from chorus.config import FileConfig, ModelConfig, ProviderConfig
from chorus.store import Store
from chorus.store.db import create_engine
from chorus.store.instances import Heartbeat
from tests.conftest import FakeUpstream, Harness, harness_for

FAST_BEATS = {"heartbeat_interval": 0.1, "instance_timeout": 1.0}


def slow_model(fake: FakeUpstream) -> FileConfig:
    """`fake-slow` answers after 3 s: three timeouts of an instance."""
    return FileConfig(
        providers=[ProviderConfig(name="fake", dialect="openai", base_url=f"{fake.url}/v1",
                                  api_key="upstream-secret")],
        models=[ModelConfig(id="fake-slow", provider="fake", upstream="slow@ttft_ms=3000")])


async def roles_and_errors(h: Harness, headers: dict[str, str], session_id: str
                           ) -> list[tuple[str, str | None]]:
    detail = (await h.client.get(f"/v1/sessions/{session_id}", headers=headers)).json()
    return [(m["role"], (m.get("error") or {}).get("code")) for m in detail["messages"]]


@pytest.mark.postgres
async def test_only_the_dead_instances_question_is_marked(postgres_url: str,
                                                          fake_llm: FakeUpstream) -> None:
    # Two live instances (both sweep), and a third below.
    async with (harness_for(postgres_url, file=slow_model(fake_llm), **FAST_BEATS) as live,
                harness_for(postgres_url, file=slow_model(fake_llm), **FAST_BEATS)):
        headers = await live.headers(test=False)
        user = await live.services.store.users.ensure("dead-instance-user", "power")
        # A third instance beats once and then dies (it never beats again).
        engine = create_engine(postgres_url)
        dead = Store.over(engine)
        await Heartbeat(engine, dead.sessions, interval=3600, timeout=1.0).start()
        left = await dead.sessions.create(user.id, "left behind", "smart_chat", None)
        question = await dead.sessions.add_question(left.id, "left behind")

        running = asyncio.create_task(live.client.post("/v1/chat", headers=headers, json={
            "message": "a long answer", "model": "fake-slow"}))
        deadline = time.monotonic() + 10
        while (await dead.sessions.with_messages(user.id, left.id))[0].message_count < 2:
            assert time.monotonic() < deadline, "the dead instance's question was not marked"
            await asyncio.sleep(0.05)
        assert not running.done()  # marked while the live instance's turn was running
        answer = (await running).json()
        _, rows = await dead.sessions.with_messages(user.id, left.id)
        await engine.dispose()

    assert [(r.role, r.reply_to, (r.error or {}).get("code")) for r in rows] == [
        ("user", None, None), ("assistant", question.seq, "interrupted")]
    assert rows[1].content == ""
    async with harness_for(postgres_url) as h:
        own = (await h.client.get(f"/v1/sessions/{answer['session_id']}",
                                  headers=headers)).json()
    assert [m["role"] for m in own["messages"]] == ["user", "assistant"]
    assert "error" not in own["messages"][1] and own["messages"][1]["content"]
