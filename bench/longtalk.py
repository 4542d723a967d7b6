"""Long conversations: what the search index costs per message, and what fitting a window costs.

    PYTHONPATH=src:. .venv/bin/python bench/longtalk.py                 # SQLite only
    PYTHONPATH=src:. .venv/bin/python bench/longtalk.py --pg postgresql://postgres@127.0.0.1/test

`insert`: add_message of a 150-word message, each its own transaction, with the full-text index
(FTS5 triggers / GIN index of migration 0002) and then with it dropped, in a fresh database.
`fit`: chorus.context.plan over a 5,000-turn conversation (10,001 messages) for three window
sizes, with a cold and then a warm token-count cache.
"""

from __future__ import annotations

import argparse
import asyncio
import tempfile
import time
import uuid

import sqlalchemy as sa

from chorus import tokens
from chorus.config import ProviderConfig
from chorus.context import TokenCounter, plan
from chorus.providers.catalog import ModelEntry
from chorus.store import Store
from chorus.store.db import create_engine, migrate
from chorus.types import Message, ModelRequest

TEXT = ("Quantum computing uses qubits that can be in superpositions; an algorithm such as "
        "Shor's factors integers faster than any known classical method. ") * 6
DROP_INDEX = {
    "sqlite": [f"DROP TRIGGER messages_fts_{kind}" for kind in ("insert", "delete", "update")],
    "postgresql": ["DROP INDEX ix_messages_content_fts"],
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
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="chorus-longtalk-") as tmp:
        await insert_cost(f"sqlite:///{tmp}/bench.db", args.inserts)
    if args.pg:
        await insert_cost_postgres(args.pg, args.inserts)
    await fit_cost()


async def insert_cost_postgres(admin_url: str, count: int) -> None:
    admin = create_engine(admin_url)
    name = f"chorus_longtalk_{uuid.uuid4().hex[:8]}"
    async with admin.connect() as conn:
        await conn.execution_options(isolation_level="AUTOCOMMIT")
        await conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    try:
        await insert_cost(sa.make_url(admin_url).set(database=name)
                          .render_as_string(hide_password=False), count)
    finally:
        async with admin.connect() as conn:
            await conn.execution_options(isolation_level="AUTOCOMMIT")
            await conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        await admin.dispose()


if __name__ == "__main__":
    asyncio.run(main())
