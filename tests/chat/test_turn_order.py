"""Concurrent turns in one session: each answer follows its own question, in the stored order
and in the context of the next turn, whatever order the answers came in."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest

from chorus.config import FileConfig, ModelConfig, ProviderConfig
from tests.conftest import FakeUpstream, Harness, harness_for


def two_speeds(fake: FakeUpstream) -> FileConfig:
    """`fake-slow` answers after 1.5 s, `fake-fast` at once (the fake's model-name knobs)."""
    return FileConfig(
        providers=[ProviderConfig(name="fake", dialect="openai", base_url=f"{fake.url}/v1",
                                  api_key="upstream-secret")],
        models=[ModelConfig(id="fake-slow", provider="fake", upstream="slow@ttft_ms=1500"),
                ModelConfig(id="fake-fast", provider="fake", upstream="fast")])


@pytest.fixture
async def h(database_url: str, fake_llm: FakeUpstream) -> AsyncIterator[Harness]:
    async with harness_for(database_url, file=two_speeds(fake_llm)) as harness:
        yield harness


async def stored(h: Harness, headers: dict[str, str], session_id: str) -> list[dict]:
    response = await h.client.get(f"/v1/sessions/{session_id}", headers=headers)
    return list(response.json()["messages"])


async def test_a_late_answer_follows_its_own_question(h: Harness, fake_llm: FakeUpstream
                                                      ) -> None:
    headers = await h.headers(test=False)

    async def ask(message: str, model: str, session_id: str | None) -> dict:
        response = await h.client.post("/v1/chat", headers=headers, json={
            "message": message, "model": model, "session_id": session_id})
        assert response.status_code == 200, response.text
        return dict(response.json())

    first = await ask("first", "fake-fast", None)
    session_id = first["session_id"]
    slow = asyncio.create_task(ask("slow question", "fake-slow", session_id))
    for _ in range(500):  # until the slow question is stored
        if len(await stored(h, headers, session_id)) == 3:
            break
        await asyncio.sleep(0.01)
    fast = await ask("fast question", "fake-fast", session_id)
    assert not slow.done()  # the fast answer was stored first
    slow_answer = await slow

    order = [(m["role"], m["content"]) for m in await stored(h, headers, session_id)]
    assert order == [("user", "first"), ("assistant", first["content"]),
                     ("user", "slow question"), ("assistant", slow_answer["content"]),
                     ("user", "fast question"), ("assistant", fast["content"])]
    await ask("next", "fake-fast", session_id)
    sent = fake_llm.requests[-1]["body"]["messages"]
    assert [(m["role"], m["content"]) for m in sent] == [*order, ("user", "next")]
