"""Native chat: new and continued sessions, streaming, and what reaches the upstream."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from chorus.config import FileConfig, ModelConfig, ProviderConfig
from tests.conftest import FakeUpstream, Harness, harness_for
from tests.sse import stream_events


def fake_config(fake: FakeUpstream, upstream: str = "small", **provider: object) -> FileConfig:
    return FileConfig(
        providers=[ProviderConfig(name="fake", dialect="openai", base_url=f"{fake.url}/v1",
                                  api_key="upstream-secret", **provider)],
        models=[ModelConfig(id="fake-small", provider="fake", upstream=upstream,
                            context_window=8192, price_in=1.0, price_out=2.0)],
    )


@pytest.fixture
async def upstream_harness(database_url: str, fake_llm: FakeUpstream) -> AsyncIterator[Harness]:
    async with harness_for(database_url, file=fake_config(fake_llm)) as h:
        yield h


async def test_answer_shape_and_new_session(harness: Harness) -> None:
    headers = await harness.headers()
    response = await harness.client.post("/v1/chat", headers=headers,
                                         json={"message": "Explain recursion simply"})
    body = response.json()
    assert response.status_code == 200
    assert body["object"] == "chat.message" and body["role"] == "assistant"
    assert body["id"].startswith("msg_") and body["session_id"].startswith("sess_")
    assert body["mode"] == "smart_chat" and body["content"]
    assert len(body["models_used"]) == 1
    assert body["details"]["routed_to"] == body["models_used"][0]
    usage = body["usage"]
    assert usage["completion_tokens"] > 0 and usage["prompt_tokens"] > 0
    assert usage["total_tokens"] == usage["prompt_tokens"] + usage["completion_tokens"]
    session = (await harness.client.get(f"/v1/sessions/{body['session_id']}",
                                        headers=headers)).json()
    assert session["title"] == "Explain recursion simply"
    assert session["messages"][1]["content"] == body["content"]


async def test_continued_session_sends_history_to_the_upstream(
        upstream_harness: Harness, fake_llm: FakeUpstream) -> None:
    headers = await upstream_harness.headers(test=False)
    first = (await upstream_harness.client.post(
        "/v1/chat", headers=headers, json={"message": "What is quantum computing?"})).json()
    assert first["content"].startswith("Fake answer to: What is quantum computing?")
    assert first["models_used"] == ["fake-small"]
    second = await upstream_harness.client.post(
        "/v1/chat", headers=headers,
        json={"message": "Can you elaborate on that?", "session_id": first["session_id"],
              "temperature": 0.3, "max_tokens": 50})
    assert second.status_code == 200
    sent = fake_llm.requests[-1]["body"]
    assert sent["model"] == "small"
    assert sent["messages"] == [
        {"role": "user", "content": "What is quantum computing?"},
        {"role": "assistant", "content": first["content"]},
        {"role": "user", "content": "Can you elaborate on that?"},
    ]
    assert sent["temperature"] == 0.3 and sent["max_tokens"] == 50
    assert fake_llm.requests[-1]["headers"]["authorization"] == "Bearer upstream-secret"
    usage = second.json()["usage"]
    assert usage["cost_usd"] == pytest.approx(
        (usage["prompt_tokens"] * 1.0 + usage["completion_tokens"] * 2.0) / 1e6)


async def test_stream_events_in_order(upstream_harness: Harness, fake_llm: FakeUpstream) -> None:
    headers = await upstream_harness.headers(test=False)
    events = await stream_events(upstream_harness.client, "/v1/chat",
                                 {"message": "Stream this please"}, headers)
    names = [name for name, _ in events]
    assert names[0] == "session" and names[1] == "member.started"
    assert names[-3:] == ["member.completed", "message.completed", "done"]
    assert set(names[2:-3]) == {"message.delta"}
    text = "".join(payload["delta"] for name, payload in events if name == "message.delta")
    completed = events[-2][1]
    assert completed["content"] == text and text.startswith("Fake answer to: Stream this please")
    assert completed["session_id"] == events[0][1]["session_id"]
    assert fake_llm.requests[-1]["body"]["stream"] is True
    stored = (await upstream_harness.client.get(
        f"/v1/sessions/{completed['session_id']}", headers=headers)).json()
    assert stored["messages"][-1]["content"] == text


async def test_upstream_failure_is_reported_and_recorded(
        database_url: str, fake_llm: FakeUpstream) -> None:
    config = fake_config(fake_llm, upstream="small@fault=500", max_retries=1)
    async with harness_for(database_url, file=config) as h:
        headers = await h.headers(test=False)
        response = await h.client.post("/v1/chat", headers=headers,
                                       json={"message": "Will this fail?"})
        assert response.status_code == 502
        error = response.json()["error"]
        assert error["code"] == "upstream_error" and "injected fault 500" in error["message"]
        assert len(fake_llm.requests) == 2
        sessions = (await h.client.get("/v1/sessions", headers=headers)).json()
        session = (await h.client.get(f"/v1/sessions/{sessions['data'][0]['id']}",
                                      headers=headers)).json()
        question, failure = session["messages"]
        assert question["content"] == "Will this fail?"
        assert failure["role"] == "assistant" and failure["error"]["code"] == "upstream_error"
        streamed = await stream_events(h.client, "/v1/chat", {
            "message": "again", "session_id": session["id"]}, headers)
        names = [name for name, _ in streamed]
        assert names[0] == "session" and names[-2:] == ["error", "done"]


async def test_failed_turns_are_left_out_of_the_context(
        database_url: str, fake_llm: FakeUpstream) -> None:
    config = fake_config(fake_llm, upstream="small@fault=500,times=2", max_retries=1)
    async with harness_for(database_url, file=config) as h:
        headers = await h.headers(test=False)
        failed = await h.client.post("/v1/chat", headers=headers, json={"message": "lost one"})
        assert failed.status_code == 502
        session_id = (await h.client.get("/v1/sessions", headers=headers)).json()["data"][0]["id"]
        ok = await h.client.post("/v1/chat", headers=headers,
                                 json={"message": "second try", "session_id": session_id})
        assert ok.status_code == 200
        assert fake_llm.requests[-1]["body"]["messages"] == [
            {"role": "user", "content": "second try"}]


async def test_bad_chat_requests_are_400(harness: Harness) -> None:
    headers = await harness.headers()
    for body in ({}, {"message": ""}, {"message": 5}, {"message": "hi", "mode": "chaos"},
                 {"message": "hi", "temperature": 3}, {"message": "hi", "stream": "maybe"},
                 {"message": "hi", "model": "no-such-model"},
                 {"message": "x" * (harness.settings.max_message_chars + 1)}):
        response = await harness.client.post("/v1/chat", headers=headers, json=body)
        assert response.status_code == 400, body
        assert response.json()["error"]["code"] == "invalid_request"
    broken = await harness.client.post("/v1/chat", headers={**headers,
                                       "content-type": "application/json"}, content=b"{oops")
    assert broken.status_code == 400
    assert (await harness.client.get("/v1/sessions", headers=headers)).json()["total"] == 0


async def test_explicit_model_is_used(harness: Harness) -> None:
    headers = await harness.headers()
    body = (await harness.client.post("/v1/chat", headers=headers, json={
        "message": "hello", "model": "claude-haiku-4-5-20251001"})).json()
    assert body["models_used"] == ["claude-haiku-4-5-20251001"]


async def test_long_first_message_gives_a_short_title(harness: Harness) -> None:
    headers = await harness.headers()
    message = "Please help me understand " + "the history of the Roman empire " * 10
    body = (await harness.client.post("/v1/chat", headers=headers,
                                      json={"message": message})).json()
    summary = (await harness.client.get("/v1/sessions", headers=headers)).json()["data"][0]
    assert summary["id"] == body["session_id"]
    assert summary["title"].startswith("Please help me understand the history")
    assert len(summary["title"]) <= 61 and summary["title"].endswith("…")
