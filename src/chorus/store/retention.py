"""Chat history retention: messages older than the period are deleted, then empty old sessions.

A question and the answer stored right after it go together, so a conversation never starts
with an orphan answer. A session's running summary (it retells old messages) goes too; the
search index follows by its triggers; stored Responses API responses of the period (they
repeat their messages' text) go with their output items. Every step is a short transaction,
so a pass can run beside live traffic and on several servers at once.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from datetime import datetime, timedelta

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from chorus.metrics import Metrics
from chorus.store.ids import utcnow
from chorus.store.schema import messages, responses, session_summaries, sessions

log = logging.getLogger(__name__)

FIRST_PASS_DELAY = 60.0
"""Seconds after start before the first pass, so a restart does not compete with warm-up."""


@dataclass(frozen=True, slots=True)
class Purged:
    sessions: int = 0
    messages: int = 0


async def purge(engine: AsyncEngine, before: datetime, batch: int = 500) -> Purged:
    """Delete history created before `before`: old messages first, then old empty sessions."""
    deleted_messages = 0
    while True:
        async with engine.connect() as conn:
            candidates = [(session_id, last or 0)
                          for session_id, last in await conn.execute(_old_messages(before, batch))]
        for session_id, last_old_seq in candidates:
            async with engine.begin() as conn:
                deleted_messages += await _drop_prefix(conn, session_id, last_old_seq)
        if len(candidates) < batch:
            break
    async with engine.begin() as conn:
        await conn.execute(responses.delete().where(responses.c.created_at < before))
    async with engine.begin() as conn:
        has_messages = sa.exists().where(messages.c.session_id == sessions.c.id)
        result = await conn.execute(sessions.delete().where(
            sessions.c.updated_at < before, ~has_messages))
    return Purged(result.rowcount or 0, deleted_messages)


def _old_messages(before: datetime, batch: int) -> sa.Select[str, int | None]:
    """Per session, the last sequence number created before `before`."""
    # Only sessions created before the cut-off can hold such messages: a cheap first filter.
    return (sa.select(messages.c.session_id, sa.func.max(messages.c.seq))
            .join(sessions, sessions.c.id == messages.c.session_id)
            .where(sessions.c.created_at < before, messages.c.created_at < before)
            .group_by(messages.c.session_id).limit(batch))


async def _drop_prefix(conn: AsyncConnection, session_id: str, last_seq: int) -> int:
    """Delete messages up to `last_seq` and an answer right after them; fix the count."""
    in_session = messages.c.session_id == session_id
    dropped = (await conn.execute(messages.delete().where(in_session,
                                                          messages.c.seq <= last_seq))).rowcount
    dropped += (await conn.execute(messages.delete().where(
        in_session, messages.c.seq == last_seq + 1, messages.c.role == "assistant"))).rowcount
    if dropped:
        await conn.execute(sessions.update().where(sessions.c.id == session_id)
                           .values(message_count=sessions.c.message_count - dropped))
        # A running summary retells the deleted messages: it goes with them.
        await conn.execute(session_summaries.delete()
                           .where(session_summaries.c.session_id == session_id))
    return int(dropped)


class RetentionTask:
    """Runs `purge` every `interval` seconds; `days` <= 0 keeps everything."""

    def __init__(self, engine: AsyncEngine, days: int, interval: float,
                 metrics: Metrics | None = None) -> None:
        self.engine = engine
        self.days = days
        self.interval = interval
        self.metrics = metrics
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        if self.days > 0:
            self._task = asyncio.create_task(self._run(), name="retention")

    async def run_once(self) -> Purged:
        before = utcnow() - timedelta(days=self.days)
        purged = await purge(self.engine, before)
        if self.metrics is not None:
            self.metrics.purged.labels("sessions").inc(purged.sessions)
            self.metrics.purged.labels("messages").inc(purged.messages)
        if purged.sessions or purged.messages:
            log.info("retention: deleted %d messages and %d sessions older than %d days",
                     purged.messages, purged.sessions, self.days)
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
