"""The usage writer: nothing lost at shutdown, retries while the database fails, back-pressure."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from datetime import datetime
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import asyncpg, psycopg
from sqlalchemy.dialects.sqlite import aiosqlite
from sqlalchemy.ext.asyncio import AsyncEngine

from chorus.store.db import create_engine
from chorus.store.schema import metadata, usage_records
from chorus.store.usage import ROW, Insert, RequestContext, UsageWriter
from chorus.types import CallRecord, Usage
from tests.api.test_completions import upstream_config
from tests.conftest import FakeUpstream, harness_for

CONTEXT = RequestContext("req_1", "usr_1", "key_1", None, "smart_chat")


def calls(n: int) -> list[CallRecord]:
    return [CallRecord("m", "p", Usage(i, 2 * i, 0.001 * i), 5, True) for i in range(n)]


@pytest.fixture
async def bare_engine(tmp_path: Any) -> AsyncIterator[AsyncEngine]:
    """A database without the usage table: every write fails until a test creates it."""
    engine = create_engine(f"sqlite:///{tmp_path}/bare.db")
    yield engine
    await engine.dispose()


async def count(engine: AsyncEngine, user_id: str = CONTEXT.user_id) -> int:
    async with engine.connect() as conn:
        return int((await conn.execute(sa.select(sa.func.count()).select_from(usage_records)
                                       .where(usage_records.c.user_id == user_id))).scalar_one())


async def create_table(engine: AsyncEngine) -> None:
    async with engine.begin() as conn:
        await conn.run_sync(metadata.create_all, [usage_records])


async def test_records_after_shutdown_equal_the_calls_made(database_url: str,
                                                           fake_llm: FakeUpstream) -> None:
    async def ask(h: Any, headers: dict[str, str], index: int) -> None:
        response = await h.client.post("/v1/chat/completions", headers=headers, json={
            "model": "fake-small", "stream": index % 2 == 0,
            "messages": [{"role": "user", "content": f"question {index}"}]})
        assert response.status_code == 200

    async with harness_for(database_url, file=upstream_config(fake_llm.url)) as h:
        headers = await h.headers(test=False)
        me = (await h.services.auth.resolve(headers["authorization"])).user.id
        await asyncio.gather(*(ask(h, headers, i) for i in range(40)))
        writer = h.services.store.usage
    assert writer.dropped == 0 and writer.written == len(fake_llm.requests) == 40
    engine = create_engine(database_url)
    try:
        assert await count(engine, me) == 40
        async with engine.connect() as conn:
            tokens = (await conn.execute(sa.select(
                sa.func.sum(usage_records.c.completion_tokens))
                .where(usage_records.c.user_id == me))).scalar_one()
        assert tokens == 40 * 24, "the fake answers 24 tokens"
    finally:
        await engine.dispose()


async def test_failed_writes_are_retried_until_they_succeed(bare_engine: AsyncEngine) -> None:
    writer = UsageWriter(bare_engine, retry_delay=0.01)
    writer.start()
    await writer.record(CONTEXT, calls(3))
    await asyncio.sleep(0.1)
    assert writer.written == 0 and writer.queue._unfinished_tasks > 0  # type: ignore[attr-defined]
    await create_table(bare_engine)
    await asyncio.wait_for(writer.flush(), 5)
    assert writer.written == 3 and await count(bare_engine) == 3
    await writer.close()


async def test_a_full_queue_makes_callers_wait_instead_of_dropping(
        bare_engine: AsyncEngine) -> None:
    await create_table(bare_engine)
    writer = UsageWriter(bare_engine, max_queue=2)
    pending = asyncio.create_task(writer.record(CONTEXT, calls(5)))
    await asyncio.sleep(0.05)
    assert not pending.done() and writer.queue.qsize() == 2
    writer.start()
    await asyncio.wait_for(pending, 5)
    await writer.close()
    assert await count(bare_engine) == 5


async def test_writes_are_batched(bare_engine: AsyncEngine) -> None:
    await create_table(bare_engine)
    statements: list[int] = []
    sa.event.listen(bare_engine.sync_engine, "before_cursor_execute",
                    lambda *args: statements.append(1) if "INSERT" in str(args[2]) else None)
    writer = UsageWriter(bare_engine, batch=500)
    await writer.record(CONTEXT, calls(1200))
    writer.start()
    await writer.close()
    assert await count(bare_engine) == 1200
    assert len(statements) == 3, "500 + 500 + 200 rows"


async def test_shutdown_gives_up_after_its_timeout(bare_engine: AsyncEngine) -> None:
    writer = UsageWriter(bare_engine, retry_delay=0.01)
    writer.start()
    await writer.record(CONTEXT, calls(4))
    started = time.monotonic()
    await asyncio.wait_for(writer.close(close_timeout=0.2), 5)
    assert time.monotonic() - started < 2
    assert writer.dropped == 4 and writer.written == 0


async def test_records_of_requests_close_together_share_one_transaction(
        bare_engine: AsyncEngine) -> None:
    await create_table(bare_engine)
    statements: list[int] = []
    sa.event.listen(bare_engine.sync_engine, "before_cursor_execute",
                    lambda *args: statements.append(1) if "INSERT" in str(args[2]) else None)
    writer = UsageWriter(bare_engine, linger=0.2)
    writer.start()
    for _ in range(5):  # five requests, 10 ms apart, each with one call
        await writer.record(CONTEXT, calls(1))
        await asyncio.sleep(0.01)
    await writer.close()
    assert await count(bare_engine) == 5 and len(statements) == 1


async def test_flush_ends_the_linger(bare_engine: AsyncEngine) -> None:
    await create_table(bare_engine)
    writer = UsageWriter(bare_engine, linger=30)
    writer.start()
    await writer.record(CONTEXT, calls(3))
    await asyncio.wait_for(writer.flush(), 5)  # not 30 s: a reader does not wait out the linger
    assert await count(bare_engine) == 3
    await writer.record(CONTEXT, calls(2))
    await asyncio.wait_for(writer.settle(), 5)
    assert await count(bare_engine) == 5
    await writer.close()


async def test_settle_gives_up_on_a_failing_database(bare_engine: AsyncEngine) -> None:
    writer = UsageWriter(bare_engine, retry_delay=0.01)  # no table: every write fails
    writer.start()
    await writer.record(CONTEXT, calls(1))
    started = time.monotonic()
    await writer.settle(at_most=0.1)
    assert time.monotonic() - started < 2 and writer.written == 0
    await writer.close(close_timeout=0.05)


def test_the_insert_takes_each_drivers_parameters_with_the_types_conversions() -> None:
    """Positional drivers get tuples in ROW's order, a named one dicts; each column's bind
    processor (SQLite's text for a datetime and 1 for true) applied as SQLAlchemy would."""
    moment = datetime(2026, 12, 4, 18, 0, 1, 5)
    row = ("req_1", None, "usr_1", "key_1", None, "smart_chat", "m", "p", 1, 2, 0.5, 3, True,
           moment)
    on_sqlite = Insert.of(aiosqlite.dialect())
    assert on_sqlite.sql.count("?") == len(ROW) and "RETURNING" not in on_sqlite.sql
    assert on_sqlite.params([row]) == [(*row[:12], 1, "2026-12-04 18:00:01.000005")]
    on_asyncpg = Insert.of(asyncpg.dialect())
    assert "$14" in on_asyncpg.sql and "RETURNING" not in on_asyncpg.sql
    assert on_asyncpg.params([row]) == [row]
    named = Insert.of(psycopg.dialect()).params([row])
    assert named == [dict(zip(ROW, row, strict=True))]
