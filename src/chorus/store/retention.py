"""Chat history retention: messages older than the period are deleted, then empty old sessions.

A question and its answer (the row that replies to it) go together, so a conversation never starts
with an orphan answer. A session's running summary (it retells old messages) goes too; the
search index follows by its triggers; stored Responses API responses of the period (they
repeat their messages' text) go with their output items. Every step is a short transaction
deleting at most `batch` rows (CHORUS_RETENTION_BATCH), so a pass can run beside live traffic
and on several servers at once; `messages.created_at` is indexed for the search of old
messages.
"""

from __future__ import annotations

import asyncio
import logging
import time
from datetime import datetime, timedelta

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from chorus.metrics import Metrics
from chorus.records import record
from chorus.store.ids import utcnow
from chorus.store.schema import messages, responses, session_summaries, sessions

log = logging.getLogger(__name__)

FIRST_PASS_DELAY = 60.0
"""Seconds after start before the first pass, so a restart does not compete with warm-up."""


@record
class Purged:
    sessions: int = 0
    messages: int = 0


async def purge(engine: AsyncEngine, before: datetime, batch: int = 1000) -> Purged:
    """Delete history created before `before`: old messages first, then old empty sessions.

    No transaction deletes more than `batch` rows, so a purge of millions of rows holds the
    write lock (SQLite) or row locks (PostgreSQL) only briefly at a time.
    """
    deleted_messages = 0
    while True:
        async with engine.connect() as conn:
            found = list((await conn.execute(_sessions_with_old(before, batch))).scalars())
        if not found:
            break
        for session_id in found:
            async with engine.connect() as conn:
                last_old_seq = (await conn.execute(_last_old(session_id, before))).scalar()
            if last_old_seq is not None:
                deleted_messages += await _drop_prefix(engine, session_id, last_old_seq, batch)
    old_responses = (sa.select(responses.c.id).where(responses.c.created_at < before)
                     .limit(batch).scalar_subquery())
    await _delete_batches(engine, responses.delete().where(responses.c.id.in_(old_responses)),
                          batch)
    has_messages = sa.exists().where(messages.c.session_id == sessions.c.id)
    empty = (sa.select(sessions.c.id).where(sessions.c.updated_at < before, ~has_messages)
             .limit(batch).scalar_subquery())
    deleted_sessions = await _delete_batches(
        engine, sessions.delete().where(sessions.c.id.in_(empty)), batch)
    return Purged(deleted_sessions, deleted_messages)


async def _delete_batches(engine: AsyncEngine, statement: sa.Delete, batch: int) -> int:
    """Run a delete of at most `batch` rows until it deletes fewer; the rows it deleted."""
    deleted = 0
    while True:
        async with engine.begin() as conn:
            gone = (await conn.execute(statement)).rowcount or 0
        deleted += gone
        if gone < batch:
            return deleted


def _sessions_with_old(before: datetime, batch: int) -> sa.Select[str]:
    """Sessions of the `batch` oldest messages created before `before`: read from the
    created_at index, never a scan of the table."""
    oldest = (sa.select(messages.c.session_id).where(messages.c.created_at < before)
              .order_by(messages.c.created_at).limit(batch).subquery())
    return sa.select(oldest.c.session_id).distinct()


def _last_old(session_id: str, before: datetime) -> sa.Select[int | None]:
    """A session's last sequence number created before `before`: its prefix to delete."""
    return (sa.select(sa.func.max(messages.c.seq))
            .where(messages.c.session_id == session_id, messages.c.created_at < before))


async def _drop_prefix(engine: AsyncEngine, session_id: str, last_seq: int, batch: int) -> int:
    """Delete messages up to `last_seq` and the answers to them, `batch` rows at a time."""
    c = messages.c
    prefix = sa.or_(c.seq <= last_seq, c.reply_to <= last_seq,
                    # an answer stored before answers named their question: the next row
                    sa.and_(c.seq == last_seq + 1, c.role == "assistant", c.reply_to.is_(None)))
    some = (sa.select(c.id).where(c.session_id == session_id, prefix).limit(batch)
            .scalar_subquery())
    dropped = 0
    while True:
        async with engine.begin() as conn:
            now_dropped = await _drop(conn, session_id, some)
        dropped += now_dropped
        if now_dropped < batch:
            return dropped


async def _drop(conn: AsyncConnection, session_id: str, some: sa.ScalarSelect[str]) -> int:
    """Delete the messages `some` selects; fix the count; drop the summary that retells them."""
    dropped = int((await conn.execute(messages.delete().where(messages.c.id.in_(some))))
                  .rowcount or 0)
    if dropped:
        await conn.execute(sessions.update().where(sessions.c.id == session_id)
                           .values(message_count=sessions.c.message_count - dropped))
        await conn.execute(session_summaries.delete()
                           .where(session_summaries.c.session_id == session_id))
    return dropped


class RetentionTask:
    """Runs `purge` every `interval` seconds; `days` <= 0 keeps everything."""

    def __init__(self, engine: AsyncEngine, days: int, interval: float,
                 metrics: Metrics | None = None, batch: int = 1000) -> None:
        self.engine = engine
        self.batch = batch
        self.days = days
        self.interval = interval
        self.metrics = metrics
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        if self.days > 0:
            self._task = asyncio.create_task(self._run(), name="retention")

    async def run_once(self) -> Purged:
        before = utcnow() - timedelta(days=self.days)
        started = time.monotonic()
        purged = await purge(self.engine, before, self.batch)
        if self.metrics is not None:
            self.metrics.purged.labels("sessions").inc(purged.sessions)
            self.metrics.purged.labels("messages").inc(purged.messages)
        if purged.sessions or purged.messages:
            log.info("retention: deleted %d messages and %d sessions older than %d days "
                     "in %.1f s", purged.messages, purged.sessions, self.days,
                     time.monotonic() - started)
        return purged

    async def _run(self) -> None:
        await asyncio.sleep(min(FIRST_PASS_DELAY, self.interval))
        while True:
            try:
                await self.run_once()
            except Exception:  # the task's outer edge: a failed pass is logged, the next retries
                log.exception("retention pass failed; retrying in %g s", self.interval)
            await asyncio.sleep(self.interval)

    async def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
            self._task = None
