"""Session titles: from the first message at once, then by the title model unless renamed."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import sqlalchemy as sa

from chorus.config import FileConfig, ModeDefaults, ModelConfig, ProviderConfig
from chorus.store.schema import sessions as sessions_table
from chorus.store.schema import usage_records
from chorus.titles import TITLE_PROMPT, clean_model_title, title_from
from tests.conftest import FakeUpstream, Harness, harness_for


def test_title_from_the_first_line_of_prose() -> None:
    assert title_from("Explain recursion simply") == "Explain recursion simply"
    assert title_from("\n\n  ## how do   closures work?\nmore text") == "how do closures work?"
    assert title_from("```python\nprint('x')\n```\n") == "print('x')"
    assert title_from("> quoted question\nbody") == "quoted question"
    assert title_from("1. first step\n2. second") == "first step"
    assert title_from("   \n\n") == "New chat"
    long = title_from("Please help me understand " + "the history of Rome " * 10)
    assert long.endswith("…") and len(long) <= 61 and long.startswith("Please help me")
    assert title_from("x" * 100) == "x" * 60 + "…"


def test_clean_model_title() -> None:
    assert clean_model_title('"Quokka Habitats in Australia."') == "Quokka Habitats in Australia"
    assert clean_model_title("Title: **Roman Empire Basics**\n") == "Roman Empire Basics"
    assert clean_model_title("\n\n# Rust ownership\nExplanation follows") == "Rust ownership"
    assert clean_model_title("") is None and clean_model_title("  \n ") is None
    chatty = "Sure! Here is a title that captures the main ideas of your message quite well"
    assert clean_model_title(chatty) is None


def titled_config(fake: FakeUpstream, title_upstream: str | None) -> FileConfig:
    models = [ModelConfig(id="chat", provider="fake", upstream="small")]
    if title_upstream is not None:
        models.append(ModelConfig(id="titler", provider="fake", upstream=title_upstream,
                                  price_in=0.1, price_out=0.2))
    return FileConfig(
        providers=[ProviderConfig(name="fake", base_url=f"{fake.url}/v1", max_retries=0)],
        models=models,
        defaults=ModeDefaults(default_model="chat",
                              title_model="titler" if title_upstream else None))


@asynccontextmanager
async def titled(database_url: str, fake: FakeUpstream, title_upstream: str | None
                 ) -> AsyncIterator[Harness]:
    async with harness_for(database_url, file=titled_config(fake, title_upstream)) as h:
        yield h


async def _start(h: Harness, headers: dict[str, str], message: str) -> str:
    response = await h.client.post("/v1/chat", headers=headers, json={"message": message})
    assert response.status_code == 200, response.text
    return str(response.json()["session_id"])


async def _title(h: Harness, session: str) -> tuple[str, str]:
    async with h.services.store.engine.connect() as conn:
        row = (await conn.execute(sa.select(sessions_table.c.title, sessions_table.c.title_source)
                                  .where(sessions_table.c.id == session))).one()
    return row[0], row[1]


async def test_the_title_model_replaces_the_first_line_title(
        database_url: str, fake_llm: FakeUpstream) -> None:
    # The title model answers a second late, so the first-line title is seen first even when
    # a loaded machine makes the chat slow.
    async with titled(database_url, fake_llm, "small@tokens=6,ttft_ms=1000") as h:
        headers = await h.headers(test=False)
        session = await _start(h, headers, "quokka habitats and diets please")
        assert await _title(h, session) == ("quokka habitats and diets please", "auto")
        await h.services.titles.idle()
        assert await _title(h, session) == ("Fake answer to: quokka habitats and", "model")
        (call,) = [r for r in fake_llm.requests if r["model"].startswith("small@")]
        assert call["body"]["messages"][0] == {"role": "system", "content": TITLE_PROMPT}
        assert call["body"]["messages"][1]["content"] == "quokka habitats and diets please"
        assert call["body"]["max_tokens"] == 24
        await h.services.store.usage.flush()
        async with h.services.store.engine.connect() as conn:
            modes = dict((await conn.execute(
                sa.select(usage_records.c.model, usage_records.c.mode)
                .where(usage_records.c.session_id == session))).all())
        assert modes == {"chat": "smart_chat", "titler": "title"}
        listed = (await h.client.get("/v1/sessions", headers=headers)).json()["data"][0]
        assert listed["title"] == "Fake answer to: quokka habitats and"
        continued = await h.client.post("/v1/chat", headers=headers,
                                        json={"message": "more", "session_id": session})
        assert continued.status_code == 200
        await h.services.titles.idle()
        assert len([r for r in fake_llm.requests if r["model"].startswith("small@")]) == 1


async def test_a_rename_meanwhile_wins(database_url: str, fake_llm: FakeUpstream) -> None:
    async with titled(database_url, fake_llm, "small@tokens=6,ttft_ms=400") as h:
        headers = await h.headers(test=False)
        session = await _start(h, headers, "quokka habitats")
        renamed = await h.client.patch(f"/v1/sessions/{session}", headers=headers,
                                       json={"title": "My quokka notes"})
        assert renamed.status_code == 200
        await h.services.titles.idle()
        assert any(r["completed"] for r in fake_llm.requests if r["model"].startswith("small@"))
        assert await _title(h, session) == ("My quokka notes", "user")


async def test_a_failing_or_chatty_title_model_keeps_the_first_line(
        database_url: str, fake_llm: FakeUpstream) -> None:
    for upstream in ("small@fault=500", "small@tokens=40"):
        async with titled(database_url, fake_llm, upstream) as h:
            headers = await h.headers(test=False)
            session = await _start(h, headers, "quokka habitats")
            await h.services.titles.idle()
            assert await _title(h, session) == ("quokka habitats", "auto"), upstream


async def test_without_a_title_model_nothing_is_called(
        database_url: str, fake_llm: FakeUpstream) -> None:
    async with titled(database_url, fake_llm, None) as h:
        session = await _start(h, await h.headers(test=False), "quokka habitats")
        assert h.services.titles.pending == 0
        assert [r["model"] for r in fake_llm.requests] == ["small"]
        assert await _title(h, session) == ("quokka habitats", "auto")


async def test_shutdown_cancels_titles_in_progress(
        database_url: str, fake_llm: FakeUpstream) -> None:
    async with titled(database_url, fake_llm, "small@fault=hang") as h:
        titles = h.services.titles
        await _start(h, await h.headers(test=False), "quokka habitats")
        assert titles.pending == 1
        started = time.monotonic()
    assert titles.pending == 0 and time.monotonic() - started < 5
