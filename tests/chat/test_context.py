"""Context budgeting: what fits a model's window, and what stands for what does not."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import replace
from datetime import timedelta

import pytest
import sqlalchemy as sa

from chorus import context, tokens
from chorus.config import FileConfig, ModeDefaults, ModelConfig, ProviderConfig
from chorus.context import TokenCounter, fit_plain, plan, prompt_budget
from chorus.providers.catalog import ModelEntry
from chorus.store.ids import new_id, utcnow
from chorus.store.schema import messages as messages_table
from chorus.store.schema import sessions as sessions_table
from chorus.summaries import SUMMARY_INTRO, SUMMARY_PROMPT
from chorus.types import Message, ModelRequest
from tests.conftest import FakeUpstream, Harness, harness_for

WORDS = "the quick brown fox jumps over the lazy dog while seven wizards quietly hum along"


def entry(window: int, dialect: str = "openai") -> ModelEntry:
    provider = ProviderConfig(name=dialect, dialect=dialect, base_url="http://unused")  # type: ignore[arg-type]
    return ModelEntry("m", provider, "m", window, 0.0, 0.0)


def conversation(turns: int, words: int = 40) -> tuple[Message, ...]:
    text = " ".join([WORDS] * (words // 15 + 1)).split()[:words]
    out: list[Message] = [Message("system", "You are a helpful persona.")]
    for i in range(turns):
        out += [Message("user", f"question {i}: " + " ".join(text)),
                Message("assistant", f"answer {i}: " + " ".join(text))]
    return (*out, Message("user", "the newest question"))


def prompt_tokens(messages: tuple[Message, ...] | list[dict[str, str]]) -> int:
    contents = [m.content if isinstance(m, Message) else m["content"] for m in messages]
    return tokens.count_messages(contents)


async def test_a_request_that_fits_is_left_alone() -> None:
    request = ModelRequest(conversation(5))
    assert await fit_plain(entry(128_000), request) is request


async def test_only_a_request_that_may_not_fit_at_one_token_per_byte_is_counted(
        monkeypatch: pytest.MonkeyPatch) -> None:
    counted: list[str] = []
    monkeypatch.setattr(context, "_count_all", lambda texts: counted.extend(texts) or [
        tokens.count(text) for text in texts])
    short = ModelRequest(conversation(5))
    assert await fit_plain(entry(128_000), short) is short and counted == []
    many_bytes = ModelRequest((Message("user", "word " * 300),))  # 1,500 bytes, 300 tokens
    assert prompt_budget(entry(2048), many_bytes) < 1_500
    assert await fit_plain(entry(2048), many_bytes) is many_bytes
    accented = ModelRequest((Message("user", "é" * 700),))  # 700 characters, 1,400 bytes
    assert await fit_plain(entry(2048), accented) is accented
    assert counted == ["word " * 300, "é" * 700]


async def test_small_window_keeps_persona_newest_turns_and_names_the_rest() -> None:
    request = ModelRequest(conversation(200))
    fitted = await fit_plain(entry(2048), request)
    sent = fitted.messages
    assert sent[0] == request.messages[0] and sent[-1] == request.messages[-1]
    assert sent[1].role == "system" and "earlier messages of this conversation" in sent[1].content
    dropped = int(sent[1].content.split()[0])
    kept = sent[2:-1]
    assert kept == request.messages[1 + dropped:-1] and kept[0].role == "user"
    assert dropped + len(kept) == 400 and len(kept) >= 4
    assert prompt_tokens(sent) <= prompt_budget(entry(2048), request)


async def test_the_answer_reserve_and_the_dialect_shrink_what_fits() -> None:
    request = ModelRequest(conversation(200))
    kept = {}
    for name, model, req in (("default", entry(8192), request),
                             ("max_tokens", entry(8192), replace(request, max_tokens=6000)),
                             ("anthropic", entry(8192, "anthropic"), request)):
        kept[name] = len((await plan(model, req)).middle) - (await plan(model, req)).dropped
    assert kept["max_tokens"] < kept["anthropic"] < kept["default"]
    assert prompt_budget(entry(8192), request) == int((8192 - 4096) * context.SAFETY)
    assert prompt_budget(entry(100_000), request) == int((100_000 - 4096) * context.SAFETY)


async def test_a_newest_message_too_long_for_the_window_is_cut_in_the_middle() -> None:
    huge = "start " + "lorem ipsum dolor sit amet " * 3000 + " finish"
    request = ModelRequest((Message("system", "persona"), Message("user", "old"),
                            Message("assistant", "old answer"), Message("user", huge)))
    fitted = (await fit_plain(entry(4096), request)).messages
    assert fitted[0].content == "persona" and fitted[1].content.startswith("2 earlier messages")
    newest = fitted[-1].content
    assert newest.startswith("start lorem") and newest.endswith("finish")
    assert "characters omitted" in newest and len(fitted) == 3
    assert prompt_tokens(fitted) <= prompt_budget(entry(4096), request)


async def test_counts_are_remembered_and_big_batches_leave_the_loop(
        monkeypatch: pytest.MonkeyPatch) -> None:
    seen: list[int] = []
    real = tokens.count
    monkeypatch.setattr(tokens, "count", lambda text: seen.append(len(text)) or real(text))
    counter = TokenCounter(max_entries=4)
    assert await counter.counts(["a b", "c d e"]) == [2, 3]
    assert await counter.counts(["a b", "c d e"]) == [2, 3] and len(seen) == 2
    big = ["word " * 20_000, "other " * 20_000]
    assert await counter.counts(big) == [real(big[0]), real(big[1])]
    await counter.counts(["x", "y", "z"])
    assert len(counter._known) <= 4


def budget_config(fake: FakeUpstream, summary_upstream: str | None) -> FileConfig:
    models = [ModelConfig(id="tiny", provider="fake", upstream="small", context_window=2048)]
    if summary_upstream:
        models.append(ModelConfig(id="summarizer", provider="fake", upstream=summary_upstream,
                                  context_window=4096))
    return FileConfig(
        providers=[ProviderConfig(name="fake", base_url=f"{fake.url}/v1", max_retries=0)],
        models=models,
        defaults=ModeDefaults(default_model="tiny",
                              summary_model="summarizer" if summary_upstream else None))


@asynccontextmanager
async def budgeted(database_url: str, fake: FakeUpstream, summary_upstream: str | None = None
                   ) -> AsyncIterator[Harness]:
    async with harness_for(database_url, file=budget_config(fake, summary_upstream)) as h:
        yield h


async def long_session(h: Harness, headers: dict[str, str], turns: int) -> str:
    """A session of `turns` stored exchanges, written in bulk."""
    principal = await h.services.auth.resolve(headers["authorization"])
    session = await h.services.store.sessions.create(principal.user.id, "long", "smart_chat",
                                                     None)
    start = utcnow() - timedelta(days=30)
    rows = []
    for seq in range(1, 2 * turns + 1):
        role = "user" if seq % 2 else "assistant"
        rows.append({"id": new_id("msg"), "session_id": session.id, "seq": seq, "role": role,
                     "content": f"{role} message {seq}: {WORDS} {WORDS}",
                     "models_used": ["tiny"] if role == "assistant" else None,
                     "details": {} if role == "assistant" else None, "error": None,
                     "created_at": start + timedelta(seconds=seq)})
    async with h.services.store.engine.begin() as conn:
        await conn.execute(messages_table.insert(), rows)
        await conn.execute(sa.update(sessions_table).where(sessions_table.c.id == session.id)
                           .values(message_count=2 * turns))
    return session.id


async def ask(h: Harness, headers: dict[str, str], session: str, message: str) -> dict:
    response = await h.client.post("/v1/chat", headers=headers,
                                   json={"message": message, "session_id": session})
    assert response.status_code == 200, response.text
    return response.json()


def chat_requests(fake: FakeUpstream) -> list[list[dict[str, str]]]:
    return [r["body"]["messages"] for r in fake.requests if r["model"] == "small"]


async def test_a_5000_turn_session_answers_within_a_small_window(
        database_url: str, fake_llm: FakeUpstream) -> None:
    async with budgeted(database_url, fake_llm) as h:
        headers = await h.headers(test=False)
        session = await long_session(h, headers, 5000)
        started = time.monotonic()
        answer = await ask(h, headers, session, "and the newest question?")
        elapsed = time.monotonic() - started
        assert answer["content"].startswith("Fake answer to: and the newest question?")
        (sent,) = chat_requests(fake_llm)
        assert sent[-1] == {"role": "user", "content": "and the newest question?"}
        assert sent[0]["role"] == "system" and "earlier messages" in sent[0]["content"]
        kept = sent[1:-1]
        assert kept[-1]["content"].startswith("assistant message 10000:")
        assert kept[0]["content"].startswith("user message ")
        first = int(kept[0]["content"].split()[2].rstrip(":"))
        assert [m["content"].split()[2] for m in kept] == [
            f"{n}:" for n in range(first, 10001)]
        assert int(sent[0]["content"].split()[0]) == first - 1
        assert prompt_tokens(sent) <= 2048 - 1024
        assert elapsed < 10, f"a 5,000-turn turn took {elapsed:.2f}s"


async def test_dropped_turns_become_a_cached_running_summary(
        database_url: str, fake_llm: FakeUpstream) -> None:
    async with budgeted(database_url, fake_llm, "small@tokens=30") as h:
        headers = await h.headers(test=False)
        session = await long_session(h, headers, 300)
        await ask(h, headers, session, "first new question")
        summaries = [r for r in fake_llm.requests if r["model"] == "small@tokens=30"]
        assert len(summaries) == 1
        assert summaries[0]["body"]["messages"][0]["content"] == SUMMARY_PROMPT
        assert "(none yet)" in summaries[0]["body"]["messages"][1]["content"]
        sent = chat_requests(fake_llm)[-1]
        assert sent[0]["content"].startswith(SUMMARY_INTRO.split("(")[0])
        assert "Fake answer to: Summary so far:" in sent[0]["content"]
        assert sent[-1]["content"] == "first new question"
        assert prompt_tokens(sent) <= 2048 - 1024
        row = await h.services.store.summaries.get(session)
        assert row is not None and row.model == "summarizer"
        covered = row.covered
        assert f"({covered} messages not shown)" in sent[0]["content"]
        assert sent[1]["content"].startswith(f"user message {covered + 1}:")

        await ask(h, headers, session, "second new question")
        assert len([r for r in fake_llm.requests if r["model"] == "small@tokens=30"]) == 1
        for i in range(24):
            await ask(h, headers, session, f"follow-up number {i}")
        later = [r for r in fake_llm.requests if r["model"] == "small@tokens=30"]
        assert 2 <= len(later) <= 4
        assert "Fake answer to: Summary so far:" in later[-1]["body"]["messages"][1]["content"]
        newer = await h.services.store.summaries.get(session)
        assert newer is not None and newer.covered > covered
        for sent in chat_requests(fake_llm):
            assert prompt_tokens(sent) <= 2048 - 1024


async def test_a_failing_summary_model_falls_back_to_the_marker(
        database_url: str, fake_llm: FakeUpstream) -> None:
    async with budgeted(database_url, fake_llm, "small@fault=500") as h:
        headers = await h.headers(test=False)
        session = await long_session(h, headers, 100)
        answer = await ask(h, headers, session, "still there?")
        assert answer["content"].startswith("Fake answer to: still there?")
        sent = chat_requests(fake_llm)[-1]
        assert "earlier messages of this conversation are not shown" in sent[0]["content"]
        assert await h.services.store.summaries.get(session) is None
