"""`POST /v1/chat` with a model of each dialect configured in TOML, against the fake upstream."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from chorus.config import Dialect, FileConfig, ModelConfig, ProviderConfig
from tests.conftest import FakeUpstream, Harness, harness_for
from tests.providers.conftest import BASE_PATHS, KEYS
from tests.sse import stream_events

NO_ENV = {name: None for name in ("OPENAI_API_KEY", "ANTHROPIC_API_KEY", "GEMINI_API_KEY",
                                  "OLLAMA_BASE_URL")}
UPSTREAMS = {"ok": "small", "cut": "small@fault=cut,cut_after=3", "401": "small@fault=401",
             "hang": "small@fault=hang"}


def toml_for(dialect: Dialect, url: str) -> FileConfig:
    """What an operator writes: one provider of the dialect, a model per behaviour."""
    base = url + BASE_PATHS[dialect]
    return FileConfig(
        providers=[ProviderConfig(name="up", dialect=dialect, base_url=base,
                                  api_key=KEYS[dialect], max_retries=1),
                   ProviderConfig(name="slow", dialect=dialect, base_url=base,
                                  api_key=KEYS[dialect], first_byte_timeout=0.3,
                                  total_timeout=0.5)],
        models=[ModelConfig(id=f"m-{name}", provider="slow" if name == "hang" else "up",
                            upstream=upstream, context_window=32_000, price_in=1.0,
                            price_out=2.0)
                for name, upstream in UPSTREAMS.items()])


@asynccontextmanager
async def app_for(database_url: str, dialect: Dialect, fake: FakeUpstream
                  ) -> AsyncIterator[Harness]:
    async with harness_for(database_url, file=toml_for(dialect, fake.url), **NO_ENV) as h:
        yield h


async def test_chat_answers_and_continues_a_session(
        database_url: str, dialect: Dialect, fake_llm: FakeUpstream) -> None:
    async with app_for(database_url, dialect, fake_llm) as h:
        headers = await h.headers(test=False)
        first = await h.client.post("/v1/chat", headers=headers,
                                    json={"message": "Name a colour", "model": "m-ok"})
        assert first.status_code == 200, first.text
        body = first.json()
        assert body["content"].startswith("Fake answer to: Name a colour")
        assert body["models_used"] == ["m-ok"]
        assert body["usage"]["prompt_tokens"] == 3
        assert body["usage"]["completion_tokens"] == 24
        assert body["usage"]["cost_usd"] == round((3 * 1.0 + 24 * 2.0) / 1_000_000, 8)
        second = await h.client.post("/v1/chat", headers=headers, json={
            "message": "Another one", "model": "m-ok", "session_id": body["session_id"]})
        assert second.status_code == 200, second.text
    roles = {"openai": ("messages", "role"), "anthropic": ("messages", "role"),
             "gemini": ("contents", "role")}
    key, role = roles[dialect]
    history = [turn[role] for turn in fake_llm.requests[1]["body"][key]]
    assistant = "model" if dialect == "gemini" else "assistant"
    assert history == ["user", assistant, "user"]
    assert fake_llm.requests[1]["model"] == "small"


async def test_chat_streams_events_from_each_dialect(
        tmp_path: Path, dialect: Dialect, fake_llm: FakeUpstream) -> None:
    async with app_for(f"sqlite:///{tmp_path}/c.db", dialect, fake_llm) as h:
        events = await stream_events(h.client, "/v1/chat", {"message": "Hello", "model": "m-ok"},
                                     await h.headers(test=False))
    names = [name for name, _ in events]
    assert names[:2] == ["session", "member.started"]
    assert names[-3:] == ["member.completed", "message.completed", "done"]
    deltas = [payload["delta"] for name, payload in events if name == "message.delta"]
    assert len(deltas) == 24
    completed = events[-2][1]
    assert completed["content"] == "".join(str(d) for d in deltas)


async def test_a_stream_cut_midway_ends_with_an_error_event(
        tmp_path: Path, dialect: Dialect, fake_llm: FakeUpstream) -> None:
    async with app_for(f"sqlite:///{tmp_path}/c.db", dialect, fake_llm) as h:
        events = await stream_events(h.client, "/v1/chat", {"message": "Hello", "model": "m-cut"},
                                     await h.headers(test=False))
    assert [name for name, _ in events][-2:] == ["error", "done"]
    error = events[-2][1]["error"]  # the envelope, as every error answer has it
    assert error["code"] == "upstream_error" and error["status"] == 502
    assert str(error["message"]).startswith("up: ")
    deltas = [payload["delta"] for name, payload in events if name == "message.delta"]
    assert "".join(str(d) for d in deltas) == "Fake answer to:"
    assert len(fake_llm.requests) == 1


async def test_upstream_401_and_timeout_reach_the_client_as_upstream_errors(
        tmp_path: Path, dialect: Dialect, fake_llm: FakeUpstream) -> None:
    async with app_for(f"sqlite:///{tmp_path}/c.db", dialect, fake_llm) as h:
        headers = await h.headers(test=False)
        rejected = await h.client.post("/v1/chat", headers=headers,
                                       json={"message": "Hello", "model": "m-401"})
        hung = await h.client.post("/v1/chat", headers=headers,
                                   json={"message": "Hello", "model": "m-hang"})
    assert rejected.status_code == 502
    error = rejected.json()["error"]
    assert error["code"] == "upstream_error"
    assert "this server's credentials" in error["message"]
    assert "injected fault 401" in error["message"]
    assert hung.status_code == 504 and hung.json()["error"]["code"] == "upstream_timeout"
    assert len(fake_llm.requests) == 2
