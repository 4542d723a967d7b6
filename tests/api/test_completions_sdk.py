"""The official `openai` Python package as a client of the live server on a real socket."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from dataclasses import dataclass

import openai
import pytest
from fastapi import FastAPI

from chorus.app import create_app
from chorus.config import TierConfig, load_settings
from tests.api.test_completions import upstream_config
from tests.conftest import FakeUpstream, ServerThread, new_key

QUESTION = [{"role": "user", "content": "What is the capital of France?"}]


@dataclass
class Live:
    app: FastAPI
    url: str
    database_url: str

    def client(self, tier: str = "power", test: bool = True) -> openai.OpenAI:
        key = asyncio.run(new_key(self.database_url, tier, test))
        return openai.OpenAI(base_url=f"{self.url}/v1", api_key=key, max_retries=0, timeout=30)


@pytest.fixture(scope="module")
def live_server(tmp_path_factory: pytest.TempPathFactory,
                fake_server: tuple[ServerThread, object]) -> Iterator[Live]:
    database_url = f"sqlite:///{tmp_path_factory.mktemp('sdk')}/chorus.db"
    file = upstream_config(fake_server[0].url)
    file.tiers["trickle"] = TierConfig(modes=["smart_chat"], requests_per_minute=1,
                                       queries_per_period=None)
    file.tiers["one_query"] = TierConfig(modes=["smart_chat"], requests_per_minute=None,
                                         queries_per_period=1)
    settings = load_settings(None, database_url=database_url, simulated_speed=0,
                             retry_backoff=0.01, file=file)
    app = create_app(settings)
    with ServerThread(app) as server:
        yield Live(app, server.url, database_url)


@pytest.fixture
def live(live_server: Live, fake_llm: FakeUpstream) -> Live:
    return live_server


def konnect_of(item: object) -> dict[str, object]:
    extra = getattr(item, "model_extra", None) or {}
    found = extra.get("konnect")
    assert isinstance(found, dict), item
    return found


def test_a_plain_call(live: Live) -> None:
    answer = live.client().chat.completions.create(model="gpt-4o", messages=QUESTION)
    assert answer.object == "chat.completion" and answer.model == "gpt-4o"
    assert answer.choices[0].message.role == "assistant"
    assert answer.choices[0].message.content and answer.choices[0].finish_reason == "stop"
    assert answer.usage is not None and answer.usage.total_tokens > 0
    assert konnect_of(answer)["models_used"] == ["gpt-4o"]


def test_a_streamed_call_with_usage(live: Live) -> None:
    client = live.client()
    stream = client.chat.completions.create(model="gpt-4o-mini", messages=QUESTION, stream=True,
                                            stream_options={"include_usage": True})
    chunks = list(stream)
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert chunks[-1].choices == [] and chunks[-1].usage is not None
    assert chunks[-2].choices[0].finish_reason == "stop"
    whole = client.chat.completions.create(model="gpt-4o-mini", messages=QUESTION)
    assert text == whole.choices[0].message.content


def test_extra_body_extensions_keep_a_session(live: Live) -> None:
    client = live.client()
    first = client.chat.completions.create(model="konnect-smart", messages=QUESTION,
                                           extra_body={"konnect.session_id": "new"})
    session_id = konnect_of(first)["session_id"]
    second = client.chat.completions.create(
        model="konnect-smart", messages=[{"role": "user", "content": "And of Spain?"}],
        extra_body={"konnect": {"session_id": session_id}})
    assert konnect_of(second)["session_id"] == session_id
    stored = client.get(f"/sessions/{session_id}", cast_to=dict)
    assert stored["message_count"] == 4


def test_an_ensemble_streams_member_progress_beside_the_answer(live: Live) -> None:
    models = ["gpt-4o", "claude-sonnet-4-5-20250929", "gemini-2.5-pro"]
    stream = live.client().chat.completions.create(
        model="konnect-ensemble", messages=QUESTION, stream=True,
        extra_body={"konnect.models": models, "konnect.aggregation": "synthesis"})
    chunks = list(stream)
    progress = [konnect_of(c) for c in chunks if c.choices and c.choices[0].delta.content is None
                and (c.model_extra or {}).get("konnect")]
    completed = {p["model"] for p in progress if p.get("event") == "member.completed"}
    assert set(models) <= completed
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    final = konnect_of(chunks[-1])
    assert text and final["details"]["aggregation"] == "synthesis"


def test_each_error_class(live: Live) -> None:
    bad = openai.OpenAI(base_url=f"{live.url}/v1", api_key="sk_test_" + "x" * 43, max_retries=0)
    with pytest.raises(openai.AuthenticationError):
        bad.chat.completions.create(model="gpt-4o", messages=QUESTION)
    with pytest.raises(openai.PermissionDeniedError) as denied:
        live.client(tier="free").chat.completions.create(model="konnect-council",
                                                         messages=QUESTION)
    assert denied.value.code == "tier_required"
    client = live.client()
    with pytest.raises(openai.NotFoundError):
        client.chat.completions.create(model="gpt-4o", messages=QUESTION,
                                       extra_body={"konnect.session_id": "sess_unknown"})
    with pytest.raises(openai.BadRequestError) as unknown:
        client.chat.completions.create(model="gpt-5-turbo-nope", messages=QUESTION)
    assert unknown.value.param == "model"
    with pytest.raises(openai.BadRequestError):
        client.chat.completions.create(model="gpt-4o", messages=[])


def test_rate_limit_and_quota_errors(live: Live) -> None:
    limited = live.client(tier="trickle")
    limited.chat.completions.create(model="gpt-4o", messages=QUESTION)
    with pytest.raises(openai.RateLimitError) as raised:
        limited.chat.completions.create(model="gpt-4o", messages=QUESTION)
    assert raised.value.code == "rate_limit_exceeded"
    assert int(raised.value.response.headers["retry-after"]) >= 1
    once = live.client(tier="one_query")
    once.chat.completions.create(model="gpt-4o", messages=QUESTION)
    with pytest.raises(openai.RateLimitError) as exhausted:
        once.chat.completions.create(model="gpt-4o", messages=QUESTION)
    assert exhausted.value.code == "quota_exceeded"


def test_an_upstream_failure_mid_stream_raises(live: Live) -> None:
    stream = live.client(test=False).chat.completions.create(
        model="fake-broken", messages=QUESTION, stream=True)
    with pytest.raises(openai.APIError) as raised:
        list(stream)
    assert "injected fault 500" in raised.value.message
    assert isinstance(raised.value.body, dict) and raised.value.body["code"] == "upstream_error"


