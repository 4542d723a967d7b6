"""The database engine: SQLite (WAL) by default, PostgreSQL by URL; migrations at start."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import orjson
import sqlalchemy as sa
from alembic import command
from alembic.config import Config
from sqlalchemy import event
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from chorus.config import async_url

MIGRATIONS = Path(__file__).parent / "migrations"
PG_MIGRATION_LOCK = 7_305_001


def create_engine(url: str) -> AsyncEngine:
    """JSON columns are read by orjson: 3x faster than json.loads on a long session."""
    url = async_url(url)
    if url.startswith("sqlite"):
        _ensure_sqlite_dir(url)
        # One connection: SQLite has one writer at a time anyway, and a transaction waiting on
        # the event loop must not make other writers hit the busy timeout; they queue in the
        # pool instead, without blocking the loop.
        engine = create_async_engine(url, pool_size=1, max_overflow=0, pool_timeout=60,
                                     json_deserializer=orjson.loads)
        event.listen(engine.sync_engine, "connect", _sqlite_pragmas)
        return engine
    return create_async_engine(url, pool_size=10, max_overflow=20, pool_pre_ping=False,
                               json_deserializer=orjson.loads)


def _ensure_sqlite_dir(url: str) -> None:
    path = sa.make_url(url).database
    if path and path != ":memory:":
        Path(path).parent.mkdir(parents=True, exist_ok=True)


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    for pragma in ("journal_mode=WAL", "synchronous=NORMAL", "busy_timeout=30000",
                   "foreign_keys=ON"):
        cursor.execute(f"PRAGMA {pragma}")
    cursor.close()


async def migrate(engine: AsyncEngine) -> None:
    """Apply every pending migration; concurrent starters on PostgreSQL take turns."""
    async with engine.begin() as conn:
        if conn.dialect.name == "postgresql":
            await conn.execute(sa.text(f"SELECT pg_advisory_xact_lock({PG_MIGRATION_LOCK})"))
        await conn.run_sync(_upgrade)


def _upgrade(connection: Connection) -> None:
    logging.getLogger("alembic").setLevel(logging.WARNING)
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.attributes["connection"] = connection
    command.upgrade(config, "head")


async def ping(engine: AsyncEngine) -> None:
    """Raise unless the database answers a trivial query."""
    async with engine.connect() as conn:
        await conn.execute(sa.text("SELECT 1"))
