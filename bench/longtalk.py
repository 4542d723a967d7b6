"""Long conversations: what the search index costs per message, and what fitting a window costs.

    PYTHONPATH=src:. .venv/bin/python bench/longtalk.py                 # SQLite only
    PYTHONPATH=src:. .venv/bin/python bench/longtalk.py --pg postgresql://postgres@127.0.0.1/test

`insert`: add_message of a 150-word message, each its own transaction, with the full-text index
(FTS5 triggers of migration 0002; the stored tsvector and its GIN index of 0004) and then
with it dropped, in a fresh database.
`fit`: chorus.context.plan over a 5,000-turn conversation (10,001 messages) for three window
sizes, with a cold and then a warm token-count cache.
`search` (with --search-sessions N): two users with N sessions of 100 messages each (40 words
from a 21-word vocabulary, so a common word is in every message); the time to search a rare
word, a word in all of the user's messages, and three such words.
"""

from __future__ import annotations

import argparse
import asyncio
import random
import tempfile
import time
import uuid
from collections.abc import Awaitable, Callable
from datetime import timedelta

import sqlalchemy as sa

from chorus import tokens
from chorus.config import ProviderConfig
from chorus.context import TokenCounter, plan
from chorus.providers.catalog import ModelEntry
from chorus.store import Store
from chorus.store.db import create_engine, migrate
from chorus.store.ids import new_id, utcnow
from chorus.store.schema import messages as messages_table
from chorus.store.schema import sessions as sessions_table
from chorus.types import Message, ModelRequest

TEXT = ("Quantum computing uses qubits that can be in superpositions; an algorithm such as "
        "Shor's factors integers faster than any known classical method. ") * 6
DROP_INDEX = {
    "sqlite": [f"DROP TRIGGER messages_fts_{kind}" for kind in ("insert", "delete", "update")],
    "postgresql": ["ALTER TABLE messages DROP COLUMN content_tsv"],  # its index goes too
}


async def insert_cost(url: str, count: int) -> None:
    engine = create_engine(url)
    await migrate(engine)
    store = Store.over(engine)
    user = await store.users.ensure(f"bench-{uuid.uuid4().hex[:8]}", "power")

    async def per_insert() -> float:
        session = await store.sessions.create(user.id, "bench", "smart_chat", None)
        for _ in range(20):  # warm the pool and the caches
            await store.sessions.add_message(session.id, "user", TEXT)
        started = time.perf_counter()
        for _ in range(count):
            await store.sessions.add_message(session.id, "user", TEXT)
        return (time.perf_counter() - started) / count * 1e6

    with_index = await per_insert()
    async with engine.begin() as conn:
        for statement in DROP_INDEX[engine.dialect.name]:
            await conn.execute(sa.text(statement))
    without = await per_insert()
    print(f"insert {engine.dialect.name:10}: {with_index:6.0f} µs with the index, "
          f"{without:6.0f} µs without ({(with_index / without - 1) * 100:+.0f} %)")
    await engine.dispose()


VOCABULARY = ("model", "answer", "context", "session", "token", "stream", "quantum", "python",
              "cache", "latency", "vector", "database", "index", "query", "user", "assistant",
              "council", "debate", "ensemble", "router", "budget")


async def search_cost(url: str, sessions: int, per_session: int = 100) -> None:
    engine = create_engine(url)
    await migrate(engine)
    store = Store.over(engine)
    rng = random.Random(7)
    users = [await store.users.ensure(f"bench-{uuid.uuid4().hex[:8]}", "power") for _ in "ab"]
    now = utcnow()
    started = time.perf_counter()
    for user in users:
        session_rows, message_rows = [], []
        for number in range(sessions):
            session_id = new_id("sess")
            session_rows.append({
                "id": session_id, "user_id": user.id, "title_source": "auto",
                "title": " ".join(rng.choice(VOCABULARY) for _ in range(4)),
                "mode": "smart_chat", "aggregation": None, "message_count": per_session,
                "created_at": now, "updated_at": now + timedelta(seconds=number)})
            for seq in range(1, per_session + 1):
                words = " ".join(rng.choice(VOCABULARY) for _ in range(40))
                message_rows.append({
                    "id": new_id("msg"), "session_id": session_id, "seq": seq,
                    "role": "user" if seq % 2 else "assistant",
                    "content": words + (" narwhal" if rng.random() < 0.001 else ""),
                    "models_used": None, "details": None, "error": None, "created_at": now})
        async with engine.begin() as conn:
            await conn.execute(sessions_table.insert(), session_rows)
            for start in range(0, len(message_rows), 5000):
                await conn.execute(messages_table.insert(), message_rows[start:start + 5000])
    print(f"search {engine.dialect.name:10}: {2 * sessions * per_session} messages written in "
          f"{time.perf_counter() - started:.1f} s")
    for words in (["narwhal"], ["quantum"], ["quantum", "python", "cache"]):
        await store.search.search(users[0].id, words, 20, 0)
        started = time.perf_counter()
        _, total = await store.search.search(users[0].id, words, 20, 0)
        print(f"search {engine.dialect.name:10}: {' '.join(words)!r:26} {total:5} sessions, "
              f"{(time.perf_counter() - started) * 1000:6.0f} ms")
    await engine.dispose()


async def fit_cost() -> None:
    tokens.count("load the encoder")
    messages = [Message("system", "You are a helpful persona.")]
    for turn in range(5000):
        messages += [Message("user", f"q{turn} {TEXT[:260]}"),
                     Message("assistant", f"a{turn} {TEXT[:520]}")]
    request = ModelRequest((*messages, Message("user", "the newest question")))
    for window in (2048, 128_000, 1_048_576):
        entry = ModelEntry("m", ProviderConfig(name="p", base_url="x"), "m", window, 0, 0)
        counter = TokenCounter()
        times = []
        for _ in ("cold", "warm"):
            started = time.perf_counter()
            fitted = await plan(entry, request, counter)
            times.append((time.perf_counter() - started) * 1000)
        kept = len(fitted.middle) - fitted.dropped
        print(f"fit window {window:>9}: cold {times[0]:6.1f} ms, warm {times[1]:5.1f} ms, "
              f"kept {kept} of {len(fitted.middle)} earlier messages")


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--inserts", type=int, default=500)
    parser.add_argument("--pg", help="a PostgreSQL database to create a scratch database in")
    parser.add_argument("--search-sessions", type=int, default=0,
                        help="also time search over this many sessions per user (1000: 200,000 "
                             "messages, about a minute to write)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="chorus-longtalk-") as tmp:
        await insert_cost(f"sqlite:///{tmp}/insert.db", args.inserts)
        if args.search_sessions:
            await search_cost(f"sqlite:///{tmp}/search.db", args.search_sessions)
    if args.pg:
        await on_scratch_postgres(args.pg, lambda url: insert_cost(url, args.inserts))
        if args.search_sessions:
            await on_scratch_postgres(args.pg,
                                      lambda url: search_cost(url, args.search_sessions))
    await fit_cost()


async def on_scratch_postgres(admin_url: str,
                              run: Callable[[str], Awaitable[None]]) -> None:
    admin = create_engine(admin_url)
    name = f"chorus_longtalk_{uuid.uuid4().hex[:8]}"
    async with admin.connect() as conn:
        await conn.execution_options(isolation_level="AUTOCOMMIT")
        await conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    try:
        await run(sa.make_url(admin_url).set(database=name).render_as_string(hide_password=False))
    finally:
        async with admin.connect() as conn:
            await conn.execution_options(isolation_level="AUTOCOMMIT")
            await conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        await admin.dispose()


if __name__ == "__main__":
    asyncio.run(main())
