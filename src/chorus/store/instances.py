"""Instances and their heartbeats: a question left running by a dead instance gets a failure.

Every server process is an instance with a random id. It owns the questions it is answering
(`messages.owner`, see SessionStore.add_question) and beats every `interval` seconds in the
`instances` table. Each beat is followed by a sweep: every question owned by an instance that
has not beaten for `timeout` seconds (a crash, a SIGKILL, a lost host) is given an assistant row
with error `interrupted`, once, whichever instance sweeps first. A question of a live instance
is never marked. Instances compare beats with their own clocks: keep them within `timeout`.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import timedelta

import sqlalchemy as sa
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncEngine

from chorus.store.ids import utcnow
from chorus.store.schema import instances
from chorus.store.sessions import SessionStore

log = logging.getLogger(__name__)


class Heartbeat:
    """This instance's beat and the sweep of dead instances' questions, one task per process."""

    def __init__(self, engine: AsyncEngine, sessions: SessionStore, interval: float,
                 timeout: float) -> None:
        assert sessions.instance_id is not None, "a store with an instance id"
        self.engine = engine
        self.sessions = sessions
        self.instance_id = sessions.instance_id
        self.interval = interval
        self.timeout = timedelta(seconds=timeout)
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        """Beat and sweep once now (a restart marks what the last run left), then keep on."""
        now = utcnow()
        async with self.engine.begin() as conn:
            await conn.execute(instances.insert().values(id=self.instance_id, started_at=now,
                                                         beat_at=now))
        await self.sweep()
        self._task = asyncio.create_task(self._run(), name="heartbeat")

    async def beat(self) -> None:
        """Refresh this instance's beat; forget instances silent for `timeout` (the sweep
        finds their questions by owner, with or without their row)."""
        now = utcnow()
        async with self.engine.begin() as conn:
            await conn.execute(instances.delete().where(instances.c.beat_at < now - self.timeout))
            found = await conn.execute(instances.update()
                                       .where(instances.c.id == self.instance_id)
                                       .values(beat_at=now))
            if not found.rowcount:  # swept after a long pause: this instance is back
                await conn.execute(instances.insert().values(id=self.instance_id,
                                                             started_at=now, beat_at=now))

    async def sweep(self) -> int:
        """Mark the questions of instances silent for `timeout`; how many were marked."""
        cutoff = utcnow() - self.timeout
        live = sa.select(instances.c.id).where(instances.c.beat_at >= cutoff)
        marked = 0
        for question in await self.sessions.orphans(live):
            if await self.sessions.interrupt(question):
                marked += 1
        if marked:
            log.warning("marked %d questions interrupted: their server stopped", marked)
        return marked

    async def _run(self) -> None:
        while True:
            await asyncio.sleep(self.interval)
            try:
                await self.beat()
                await self.sweep()
            except (SQLAlchemyError, OSError) as exc:
                log.warning("heartbeat failed, retrying in %g s: %s", self.interval, exc)
            except Exception:  # the task's outer edge: a bug must not stop the heartbeat
                log.exception("heartbeat failed; retrying in %g s", self.interval)

    async def close(self) -> None:
        """Stop beating and leave: what this instance still owns is marked by the next sweep."""
        if self._task is None:
            return
        self._task.cancel()
        await asyncio.gather(self._task, return_exceptions=True)
        self._task = None
        async with self.engine.begin() as conn:
            await conn.execute(instances.delete().where(instances.c.id == self.instance_id))
