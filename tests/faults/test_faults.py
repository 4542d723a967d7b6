"""Faults of the upstream: no question is lost, every one is answered or its failure recorded."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import pytest

from chorus.config import ModelConfig, ProviderConfig
from tests.conftest import FakeUpstream, Harness, harness_for
from tests.faults.conftest import assert_every_question_settled, messages_of, upstream_config
from tests.sse import stream_events

FAULTS = {
    # model id: (upstream model with the fake's knobs, the error code the client must get)
    "error500": ("small@fault=500", "upstream_error"),
    "limited": ("small@fault=429,retry_after=0.01", "upstream_error"),
    "denied": ("small@fault=401", "upstream_error"),
    "silent": ("small@ttft_ms=3000", "upstream_timeout"),
    "cut": ("small@fault=cut,cut_after=3", "upstream_error"),
    "malformed": ("small@fault=malformed,cut_after=2", "upstream_error"),
    "stalls": ("small@tps=2,tokens=10", "upstream_timeout"),
    "endless": ("small@tps=25,tokens=200", "upstream_timeout"),
}


@asynccontextmanager
async def faulty(database_url: str, fake: FakeUpstream) -> AsyncIterator[Harness]:
    file = upstream_config(fake.url, {name: upstream for name, (upstream, _) in FAULTS.items()})
    # The healthy model gets patient timeouts: a busy test machine must not make it fail.
    file.providers.append(ProviderConfig(name="steady", base_url=f"{fake.url}/v1",
                                         api_key="fake-key", first_byte_timeout=30))
    file.models.append(ModelConfig(id="ok", provider="steady", upstream="small"))
    async with harness_for(database_url, file=file) as h:
        yield h


@pytest.mark.parametrize("fault", list(FAULTS))
async def test_a_failed_answer_is_recorded_and_reported(database_url: str,
                                                        fake_llm: FakeUpstream,
                                                        fault: str) -> None:
    code = FAULTS[fault][1]
    async with faulty(database_url, fake_llm) as h:
        headers = await h.headers(test=False)
        plain = await h.client.post("/v1/chat", headers=headers,
                                    json={"message": f"plain {fault}", "model": fault})
        assert plain.json()["error"]["code"] == code, plain.text
        assert plain.status_code == (504 if code == "upstream_timeout" else 502)
        session_id = (await h.client.get("/v1/sessions", headers=headers)).json()["data"][0]["id"]
        events = await stream_events(h.client, "/v1/chat", {
            "message": f"streamed {fault}", "model": fault, "session_id": session_id}, headers)
        names = [name for name, _ in events]
        assert names[0] == "session" and names[-2:] == ["error", "done"], names
        assert events[-2][1]["error"]["code"] == code
        ok = await h.client.post("/v1/chat", headers=headers, json={
            "message": "and now?", "model": "ok", "session_id": session_id})
        assert ok.status_code == 200
        messages = await messages_of(h, headers, session_id)
    assert [m["content"] for m in messages if m["role"] == "user"] == [
        f"plain {fault}", f"streamed {fault}", "and now?"]
    assert_every_question_settled(messages)
    failures = [m["error"] for m in messages if m.get("error")]
    assert [f["code"] for f in failures] == [code, code]
    assert messages[-1]["content"].startswith("Fake answer to: and now?")
    # Failed turns are not sent as context of the next question.
    context = fake_llm.requests[-1]["body"]["messages"]
    assert [m["content"] for m in context] == ["and now?"]
