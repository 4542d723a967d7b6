"""The store at scale: one user with 10,000 sessions and 1,000,000 messages, on both databases."""

from __future__ import annotations

import asyncio
import random
import sqlite3
import time
from datetime import datetime, timedelta
from pathlib import Path

import httpx2 as httpx
import sqlalchemy as sa

from bench.load import percentile
from bench.procs import CHORUS, Server, create_key, free_port
from chorus.store.ids import new_id

WORDS = ("model", "answer", "context", "session", "token", "stream", "quantum", "python",
         "cache", "latency", "vector", "database", "index", "query", "user", "assistant",
         "council", "debate", "ensemble", "router", "budget")


def _text(rng: random.Random, words: int) -> str:
    return " ".join(rng.choice(WORDS) for _ in range(words)).capitalize() + "."


def rows(user_id: str, sessions: int, messages: int, big: int, seed: int = 7
         ) -> tuple[list[tuple[object, ...]], list[tuple[object, ...]], str]:
    """Session and message rows; the first session holds `big` messages, the rest share."""
    rng = random.Random(seed)
    start = datetime(2026, 1, 1)
    session_rows, message_rows = [], []
    per_session = (messages - big) // (sessions - 1)
    big_id = ""
    for index in range(sessions):
        sid = new_id("sess")
        count = big if index == 0 else per_session
        big_id = big_id or sid
        created = start + timedelta(minutes=index)
        session_rows.append((sid, user_id, f"Session {index}", "auto", "smart_chat", None, count,
                             created, created + timedelta(minutes=count)))
        for seq in range(1, count + 1):
            role = "user" if seq % 2 else "assistant"
            models = '["fake-small"]' if role == "assistant" else None
            message_rows.append((new_id("msg"), sid, seq, role, _text(rng, 30), models, None,
                                 None, created + timedelta(seconds=seq)))
    return session_rows, message_rows, big_id


def seed_sqlite(path: Path, user_id: str, data: tuple[list, list, str]) -> None:
    conn = sqlite3.connect(path)
    with conn:
        conn.executemany("INSERT INTO sessions (id, user_id, title, title_source, mode, "
                         "aggregation, message_count, created_at, updated_at) "
                         "VALUES (?,?,?,?,?,?,?,?,?)", data[0])
        conn.executemany("INSERT INTO messages (id, session_id, seq, role, content, models_used,"
                         " details, error, created_at) VALUES (?,?,?,?,?,?,?,?,?)", data[1])
    conn.execute("ANALYZE")
    conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")  # the seed moved into the database file
    conn.close()


async def seed_postgres(url: str, data: tuple[list, list, str]) -> None:
    import asyncpg

    parsed = sa.make_url(url)
    conn = await asyncpg.connect(host=parsed.host, port=parsed.port or 5432,
                                 user=parsed.username, password=parsed.password,
                                 database=parsed.database)
    try:
        await conn.copy_records_to_table(
            "sessions", records=data[0],
            columns=["id", "user_id", "title", "title_source", "mode", "aggregation",
                     "message_count", "created_at", "updated_at"])
        await conn.copy_records_to_table(
            "messages", records=data[1],
            columns=["id", "session_id", "seq", "role", "content", "models_used", "details",
                     "error", "created_at"])
        # the steady state autovacuum keeps (index-only scans), and the load's dirty pages
        # written now rather than by a checkpoint in the middle of the measurements
        await conn.execute("VACUUM ANALYZE")
        await conn.execute("CHECKPOINT")
    finally:
        await conn.close()


async def recreate_pg_database(admin_url: str, name: str) -> str:
    import asyncpg

    admin = sa.make_url(admin_url)
    conn = await asyncpg.connect(host=admin.host, port=admin.port or 5432, user=admin.username,
                                 password=admin.password, database=admin.database)
    try:
        await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await conn.execute(f'CREATE DATABASE "{name}"')
    finally:
        await conn.close()
    return admin.set(database=name).render_as_string(hide_password=False)


def _user_id(database_url: str) -> str:
    async def get() -> str:
        from chorus.store.db import create_engine

        engine = create_engine(database_url)
        async with engine.connect() as conn:
            value = (await conn.execute(sa.text("SELECT id FROM users"))).scalar_one()
        await engine.dispose()
        return str(value)
    return asyncio.run(get())


def measure(base: str, key: str, path: str, samples: int) -> dict[str, float]:
    headers = {"authorization": f"Bearer {key}"}
    times = []
    with httpx.Client(base_url=base, headers=headers, timeout=30) as client:
        for _ in range(10):
            client.get(path).raise_for_status()
        for _ in range(samples):
            started = time.perf_counter()
            client.get(path).raise_for_status()
            times.append((time.perf_counter() - started) * 1000)
    return {"p50_ms": round(percentile(times, 0.5), 2), "p99_ms": round(percentile(times, 0.99), 2)}


def run(work: Path, database: str, pg_admin_url: str, sessions: int = 10_000,
        messages: int = 1_000_000, samples: int = 300) -> dict[str, object]:
    if database == "sqlite":
        url = f"sqlite:///{work}/store.db"
    else:
        url = asyncio.run(recreate_pg_database(pg_admin_url, "chorus_bench_store"))
    config = work / "store.toml"  # the default enterprise tier allows 600 requests a minute
    config.write_text("[tiers.enterprise]\nrequests_per_minute = 1000000000\n")
    env = {"CHORUS_DATABASE_URL": url, "CHORUS_CONFIG": str(config)}
    key = create_key(env, user="scale")
    user_id = _user_id(url)
    started = time.perf_counter()
    data = rows(user_id, sessions, messages, big=1000)
    if database == "sqlite":
        seed_sqlite(work / "store.db", user_id, data)
    else:
        asyncio.run(seed_postgres(url, data))
    seeded = time.perf_counter() - started
    port = free_port()
    with Server(f"chorus-{database}", [*CHORUS, "serve", "--port", str(port)], port, env=env,
                log=work / f"store-{database}.log") as server:
        result = {
            "seed_seconds": round(seeded, 1),
            "list_first_page": measure(server.url, key, "/v1/sessions?limit=20", samples),
            "list_offset_9980": measure(server.url, key, "/v1/sessions?limit=20&offset=9980",
                                        samples),
            "get_1000_messages": measure(server.url, key, f"/v1/sessions/{data[2]}", samples),
        }
    print(f"  store {database}: {result}", flush=True)
    return result
