"""Per-call usage records, written in batches off the request path."""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncEngine

from chorus.store.ids import utcnow
from chorus.store.schema import usage_records
from chorus.types import CallRecord

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class RequestContext:
    """Who a set of calls was made for."""

    request_id: str
    user_id: str
    key_id: str
    session_id: str | None
    mode: str


class UsageWriter:
    """A bounded queue drained by one task; a clean shutdown writes everything queued."""

    def __init__(self, engine: AsyncEngine, max_queue: int = 100_000, batch: int = 500) -> None:
        self.engine = engine
        self.batch = batch
        self.queue: asyncio.Queue[dict[str, object]] = asyncio.Queue(max_queue)
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="usage-writer")

    async def record(self, context: RequestContext, calls: list[CallRecord]) -> None:
        """Queue the calls; waits only when the queue is full (back-pressure, nothing dropped)."""
        now = utcnow()
        for call in calls:
            await self.queue.put({
                "request_id": context.request_id, "user_id": context.user_id,
                "key_id": context.key_id, "session_id": context.session_id,
                "mode": context.mode, "model": call.model, "provider": call.provider,
                "prompt_tokens": call.usage.prompt_tokens,
                "completion_tokens": call.usage.completion_tokens,
                "cost_usd": call.usage.cost_usd, "latency_ms": call.latency_ms,
                "ok": call.ok, "created_at": now,
            })

    async def _run(self) -> None:
        while True:
            rows = [await self.queue.get()]
            while len(rows) < self.batch and not self.queue.empty():
                rows.append(self.queue.get_nowait())
            await self._write(rows)

    async def _write(self, rows: list[dict[str, object]]) -> None:
        try:
            async with self.engine.begin() as conn:
                await conn.execute(usage_records.insert(), rows)
        except Exception:  # the writer must outlive a failing batch; it is logged, then retried
            log.exception("writing %d usage records failed; retrying once", len(rows))
            await asyncio.sleep(0.5)
            async with self.engine.begin() as conn:
                await conn.execute(usage_records.insert(), rows)
        finally:
            for _ in rows:
                self.queue.task_done()

    async def flush(self) -> None:
        """Wait until every queued record is written."""
        await self.queue.join()

    async def close(self) -> None:
        await self.flush()
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
