"""The retention purge beside live chat: 1,000,000 messages, half of them past retention.

    PYTHONPATH=src:. .venv/bin/python bench/purge.py                    # SQLite
    PYTHONPATH=src:. .venv/bin/python bench/purge.py --database postgresql

The database is seeded once; each variant (`--variants`: batch sizes, `:no-index` without the
created_at index; the default compares 1000 and 200 with an unbounded pass on no index, the
shape before batching) runs on a fresh copy. A `chorus serve` answers new chats (simulated
model, instant) from `--concurrency` clients, alone for `--seconds`, then while its own
retention task runs its first pass (CHORUS_RETENTION_INTERVAL=`--seconds`). Reported: the
pass's time and deletions (its log line), chat latency p50/p99/max alone and during the pass. One
session holds 100,000 old messages: unbatched, its prefix went in one transaction.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import re
import shutil
import sqlite3
import sys
import tempfile
import time
from datetime import timedelta
from pathlib import Path

import httpx2 as httpx
import sqlalchemy as sa

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.load import percentile  # noqa: E402
from bench.procs import CHORUS, Server, free_port  # noqa: E402
from bench.store import _text, _user_id, recreate_pg_database  # noqa: E402
from chorus.store.ids import new_id, utcnow  # noqa: E402

PG_URL = os.environ.get("CHORUS_BENCH_PG_URL", "postgresql://postgres@127.0.0.1:5432/test")
RETENTION_DAYS = 90
BIG = 100_000
MESSAGE_COLUMNS = ["id", "session_id", "seq", "role", "content", "models_used", "details",
                   "error", "created_at", "reply_to"]
SESSION_COLUMNS = ["id", "user_id", "title", "title_source", "mode", "aggregation",
                   "message_count", "created_at", "updated_at"]


def rows(user_id: str, messages: int, sessions: int, seed: int = 11
         ) -> tuple[list[tuple[object, ...]], list[tuple[object, ...]]]:
    """One session of BIG old messages (and 100 recent); the rest split evenly, the first
    half of them entirely past retention, the second half recent."""
    rng = random.Random(seed)
    now = utcnow().replace(microsecond=0)
    old, recent = now - timedelta(days=RETENTION_DAYS + 30), now - timedelta(days=1)
    per_session = (messages - BIG - 100) // (sessions - 1)
    session_rows, message_rows = [], []
    for index in range(sessions):
        sid = new_id("sess")
        count = BIG + 100 if index == 0 else per_session
        aged = index < sessions // 2
        start = old if aged or index == 0 else recent
        last = start + timedelta(seconds=count) if aged else recent + timedelta(seconds=count)
        session_rows.append((sid, user_id, f"Session {index}", "auto", "smart_chat", None,
                             count, start, last))
        for seq in range(1, count + 1):
            role = "user" if seq % 2 else "assistant"
            created = (recent if index == 0 and seq > BIG else start) + timedelta(seconds=seq)
            message_rows.append((new_id("msg"), sid, seq, role, _text(rng, 30),
                                 '["gpt-4o-mini"]' if role == "assistant" else None, None, None,
                                 created, seq - 1 if role == "assistant" else None))
    return session_rows, message_rows


def seed_sqlite(path: Path, data: tuple[list, list]) -> None:
    conn = sqlite3.connect(path)
    with conn:
        conn.executemany(f"INSERT INTO sessions ({', '.join(SESSION_COLUMNS)}) VALUES "
                         f"({', '.join('?' * len(SESSION_COLUMNS))})", data[0])
        conn.executemany(f"INSERT INTO messages ({', '.join(MESSAGE_COLUMNS)}) VALUES "
                         f"({', '.join('?' * len(MESSAGE_COLUMNS))})", data[1])
    conn.execute("ANALYZE")
    conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    conn.close()


async def seed_postgres(url: str, data: tuple[list, list]) -> None:
    import asyncpg

    parsed = sa.make_url(url)
    conn = await asyncpg.connect(host=parsed.host, port=parsed.port or 5432,
                                 user=parsed.username, database=parsed.database)
    try:
        await conn.copy_records_to_table("sessions", records=data[0], columns=SESSION_COLUMNS)
        await conn.copy_records_to_table("messages", records=data[1], columns=MESSAGE_COLUMNS)
        await conn.execute("VACUUM ANALYZE")
        await conn.execute("CHECKPOINT")
    finally:
        await conn.close()


async def drop_index(url: str) -> None:
    from chorus.store.db import create_engine

    engine = create_engine(url)
    async with engine.begin() as conn:
        await conn.execute(sa.text("DROP INDEX ix_messages_created"))
    await engine.dispose()


PASS_LINE = re.compile(r"retention: deleted (\d+) messages and (\d+) sessions older than "
                       r"\d+ days in ([\d.]+) s")


async def pass_logged(log: Path) -> tuple[float, dict[str, object]]:
    """Wait for the server's first purge pass to end: when it ended (perf_counter), and what
    it did, from its log line."""
    while True:
        found = PASS_LINE.search(await asyncio.to_thread(log.read_text, errors="replace"))
        if found:
            ended = time.perf_counter()
            return ended, {"purge_seconds": float(found[3]),
                           "deleted_messages": int(found[1]), "deleted_sessions": int(found[2])}
        await asyncio.sleep(0.1)


async def chat_load(url: str, key: str, concurrency: int, until: asyncio.Future[object]
                    ) -> list[tuple[float, float, bool]]:
    """New chats from `concurrency` clients until `until` is done: (start, end, ok) each."""
    done: list[tuple[float, float, bool]] = []
    headers = {"authorization": f"Bearer {key}"}

    async def worker(client: httpx.AsyncClient, n: int) -> None:
        count = 0
        while not until.done():
            count += 1
            started = time.perf_counter()
            response = await client.post("/v1/chat", headers=headers, json={
                "message": f"client {n} question {count}: what is a write lock?",
                "max_tokens": 20})
            done.append((started, time.perf_counter(), response.status_code == 200))

    async with httpx.AsyncClient(base_url=url, timeout=120) as client:
        await asyncio.gather(*(worker(client, n) for n in range(concurrency)))
    return done


def latency(requests: list[tuple[float, float, bool]]) -> dict[str, float]:
    times = [(end - start) * 1000 for start, end, _ in requests]
    return {"requests": len(times), "errors": sum(not ok for *_, ok in requests),
            "p50_ms": round(percentile(times, 0.5), 1), "p99_ms": round(percentile(times, 0.99), 1),
            "max_ms": round(max(times, default=float("nan")), 1)}


async def measure(url: str, key: str, log: Path, concurrency: int) -> dict[str, object]:
    """Chat until the server's purge pass is over; split the requests into those that ended
    before the pass began and those that overlapped it."""
    logged = asyncio.ensure_future(pass_logged(log))
    requests = await chat_load(url, key, concurrency, logged)
    ended, purged = logged.result()
    began = ended - float(purged["purge_seconds"])  # type: ignore[arg-type]
    return {**purged,
            "chat_alone": latency([r for r in requests if r[1] < began]),
            "chat_during_purge": latency([r for r in requests if r[1] >= began])}


def create_test_key(env: dict[str, str]) -> str:
    import subprocess

    done = subprocess.run([*CHORUS, "keys", "create", "--user", "purge", "--test",
                           "--tier", "enterprise"],
                          env={**os.environ, **env}, capture_output=True, text=True, check=True)
    return done.stdout.strip().splitlines()[-1]


Variant = tuple[int, bool]
"""A purge's batch size, and whether messages.created_at is indexed."""


def run(work: Path, database: str, variants: list[Variant], messages: int = 1_000_000,
        sessions: int = 10_000, seconds: float = 10.0, concurrency: int = 4,
        seed_file: Path | None = None) -> dict[str, object]:
    """Seed once (or copy `seed_file`, a SQLite seed kept from an earlier run), then for each
    variant: a fresh copy of the seed, chat alone, chat beside the purge."""
    seed_url = _database(work, database, "seed")
    if seed_file is not None:
        shutil.copyfile(seed_file, work / "seed.db")
    config = work / "purge.toml"
    config.write_text('[tiers.enterprise]\nrequests_per_minute = "unlimited"\n'
                      '[test_keys]\nrequests_per_minute = "unlimited"\n'
                      'queries_per_period = "unlimited"\n')
    env = {"CHORUS_DATABASE_URL": seed_url, "CHORUS_LOG_LEVEL": "info",
           "CHORUS_CONFIG": str(config), "CHORUS_SIMULATED_SPEED": "0",
           "CHORUS_RETENTION_DAYS": str(RETENTION_DAYS),
           # the server's own retention task runs its first pass after this many seconds
           "CHORUS_RETENTION_INTERVAL": str(seconds)}
    key = create_test_key(env)
    started = time.perf_counter()
    if seed_file is None:
        data = rows(_user_id(seed_url), messages, sessions)
        if database == "sqlite":
            seed_sqlite(work / "seed.db", data)
        else:
            asyncio.run(seed_postgres(seed_url, data))
        del data
    results: dict[str, object] = {"messages": messages,
                                  "seed_seconds": round(time.perf_counter() - started, 1)}
    for batch, index in variants:
        url = _copy(work, database, seed_url)
        if not index:
            asyncio.run(drop_index(url))
        port = free_port()
        log = work / f"purge-{database}-{batch}-{index}.log"
        with Server(f"chorus-{database}", [*CHORUS, "serve", "--port", str(port)], port,
                    env={**env, "CHORUS_DATABASE_URL": url,
                         "CHORUS_RETENTION_BATCH": str(batch)}, log=log) as server:
            measured = asyncio.run(measure(server.url, key, log, concurrency))
        name = f"batch {batch}, {'with' if index else 'no'} created_at index"
        results[name] = measured
        print(f"  purge {database} {name}: {json.dumps(results[name])}", flush=True)
    return results


def _database(work: Path, database: str, name: str) -> str:
    if database == "sqlite":
        return f"sqlite:///{work}/{name}.db"
    return asyncio.run(recreate_pg_database(PG_URL, f"chorus_bench_purge_{name}"))


def _copy(work: Path, database: str, seed_url: str) -> str:
    """A copy of the seeded database for one variant."""
    if database == "sqlite":
        shutil.copyfile(work / "seed.db", work / "run.db")
        return f"sqlite:///{work}/run.db"
    return asyncio.run(_pg_copy(seed_url))


async def _pg_copy(seed_url: str) -> str:
    import asyncpg

    seed = sa.make_url(seed_url)
    admin = sa.make_url(PG_URL)
    conn = await asyncpg.connect(host=admin.host, port=admin.port or 5432,
                                 user=admin.username, database=admin.database)
    try:
        await conn.execute('DROP DATABASE IF EXISTS "chorus_bench_purge_run" WITH (FORCE)')
        await conn.execute(f'CREATE DATABASE "chorus_bench_purge_run" '
                           f'TEMPLATE "{seed.database}"')
    finally:
        await conn.close()
    return admin.set(database="chorus_bench_purge_run").render_as_string(hide_password=False)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--database", choices=("sqlite", "postgresql"), default="sqlite")
    parser.add_argument("--messages", type=int, default=1_000_000)
    parser.add_argument("--sessions", type=int, default=10_000)
    parser.add_argument("--variants", default="1000,200,1000000000:no-index",
                        help="batch sizes to compare, `:no-index` drops ix_messages_created")
    parser.add_argument("--seconds", type=float, default=10.0,
                        help="chat alone before the server's purge pass begins")
    parser.add_argument("--concurrency", type=int, default=4)
    parser.add_argument("--seed-file", type=Path, help="a seeded SQLite file to start from")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="chorus-purge-") as tmp:
        run(Path(tmp), args.database, variants(args.variants), args.messages, args.sessions,
            args.seconds, args.concurrency, args.seed_file)


def variants(spec: str) -> list[Variant]:
    """`1000,200,1000000000:no-index` -> [(1000, True), (200, True), (10**9, False)]."""
    out = []
    for item in spec.split(","):
        batch, _, flag = item.partition(":")
        out.append((int(batch), flag != "no-index"))
    return out


if __name__ == "__main__":
    main()
