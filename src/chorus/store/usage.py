"""Per-call usage records: written in batches off the request path, and summed for reports."""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import field
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Dialect
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncEngine

from chorus.records import record
from chorus.store.ids import utcnow
from chorus.store.schema import api_keys, usage_records
from chorus.types import MODES, CallRecord

log = logging.getLogger(__name__)

MAX_RETRY_DELAY = 5.0
LINGER = 0.25
"""At 0.05 s a server answering one client at a time still wrote a transaction every few
requests, about 8 % of its CPU per request (py-spy; bench/ab.py); reads of usage call `settle`."""


ROW = ("request_id", "access_request_id", "user_id", "key_id", "session_id", "mode", "model",
       "provider", "prompt_tokens", "completion_tokens", "cost_usd", "latency_ms", "ok",
       "created_at")
"""The columns of a queued record, in the order its tuple holds them."""
Row = tuple[Any, ...]


@record
class Insert:
    """The records' INSERT as one dialect's driver takes it, compiled once. SQLAlchemy's own
    executemany prepared each row in Python, about 50,000 instructions a row
    (bench/instructions.py); here a row is its tuple, with the dialect's conversions (SQLite's
    text for a datetime) applied to the columns that have one."""

    sql: str
    converters: tuple[tuple[int, Any], ...]
    """(place in ROW, the type's bind processor)."""
    named: bool
    """The driver takes named parameters (a dict a row), not positional ones."""

    @classmethod
    def of(cls, dialect: Dialect) -> Insert:
        compiled = usage_records.insert().inline().compile(dialect=dialect, column_keys=ROW)
        if compiled.positional and tuple(compiled.positiontup or ()) != ROW:
            raise RuntimeError(f"{dialect.name}: the usage insert takes its parameters in "
                               f"another order: {compiled.positiontup}")
        converters = []
        for place, name in enumerate(ROW):
            convert = usage_records.c[name].type.dialect_impl(dialect).bind_processor(dialect)
            if convert is not None:
                converters.append((place, convert))
        return cls(str(compiled), tuple(converters), not compiled.positional)

    def params(self, rows: list[Row]) -> list[Row] | list[dict[str, Any]]:
        if self.converters:
            converted = []
            for row in rows:
                values = list(row)
                for place, convert in self.converters:
                    values[place] = convert(values[place])
                converted.append(tuple(values))
            rows = converted
        return [dict(zip(ROW, row, strict=True)) for row in rows] if self.named else rows


@record
class RequestContext:
    """Who a set of calls was made for."""

    request_id: str
    """The server's own id of the request: what usage records are keyed (and counted) by."""
    user_id: str
    key_id: str
    session_id: str | None
    mode: str
    access_request_id: str | None = None
    """The id the access log gives the request, as given (a client's X-Request-ID is not
    unique: two requests may send the same); None for work no request asked for."""


class UsageWriter:
    """A bounded queue drained by one task in batches.

    A failing write is retried with backoff for as long as the server runs (a full queue then
    slows callers down instead of losing records); at shutdown `close` writes everything queued
    and gives up, loudly, only after `close_timeout` seconds of failures.
    """

    def __init__(self, engine: AsyncEngine, max_queue: int = 100_000, batch: int = 500,
                 retry_delay: float = 0.2, linger: float = LINGER) -> None:
        self.engine = engine
        self.batch = batch
        self.linger = linger
        """How long the first queued record waits for others: one transaction per request cost
        more CPU than the request itself at low concurrency (bench/gateway.py)."""
        self._hurry = asyncio.Event()
        """Set to end the linger early: someone is waiting for the records to be written."""
        self.retry_delay = retry_delay
        self.queue: asyncio.Queue[Row] = asyncio.Queue(max_queue)
        self._insert: Insert | None = None
        self.written = 0
        self.dropped = 0
        self._task: asyncio.Task[None] | None = None
        self._give_up_at: float | None = None

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="usage-writer")

    async def record(self, context: RequestContext, calls: list[CallRecord]) -> None:
        """Queue the calls; waits only when the queue is full (back-pressure, nothing dropped)."""
        now = utcnow()
        for call in calls:
            await self.queue.put((  # in ROW's order
                context.request_id, context.access_request_id, context.user_id,
                context.key_id, context.session_id, context.mode, call.model, call.provider,
                call.usage.prompt_tokens, call.usage.completion_tokens, call.usage.cost_usd,
                call.latency_ms, call.ok, now))

    async def _run(self) -> None:
        while True:
            rows = [await self.queue.get()]
            if self._give_up_at is None and self.queue.qsize() < self.batch:
                await self._linger()
            while len(rows) < self.batch and not self.queue.empty():
                rows.append(self.queue.get_nowait())
            try:
                await self._write(rows)
            except Exception:  # the writer task's outer edge: a bug must not stop accounting
                log.exception("dropping %d usage records after an unexpected error", len(rows))
                self.dropped += len(rows)
            finally:
                for _ in rows:
                    self.queue.task_done()

    async def _linger(self) -> None:
        if self._hurry.is_set():
            self._hurry.clear()
            return
        timer = asyncio.get_running_loop().call_later(self.linger, self._hurry.set)
        try:
            await self._hurry.wait()
        finally:
            timer.cancel()
            self._hurry.clear()

    async def _write(self, rows: list[Row]) -> None:
        delay = self.retry_delay
        while True:
            try:
                async with self.engine.begin() as conn:
                    if self._insert is None:
                        self._insert = Insert.of(conn.dialect)
                    await conn.exec_driver_sql(self._insert.sql, self._insert.params(rows))
                self.written += len(rows)
                return
            except (SQLAlchemyError, OSError) as exc:
                if self._give_up_at is not None and time.monotonic() >= self._give_up_at:
                    log.error("shutting down: %d usage records could not be written: %s",
                              len(rows), exc)
                    self.dropped += len(rows)
                    return
                log.warning("writing %d usage records failed, retrying in %.1f s: %s",
                            len(rows), delay, exc)
            await asyncio.sleep(delay)
            delay = min(delay * 2, MAX_RETRY_DELAY)

    async def flush(self) -> None:
        """Wait until every queued record is written (or given up at shutdown)."""
        self._hurry.set()
        await self.queue.join()

    async def settle(self, at_most: float = 2.0) -> None:
        """Write what is queued now, waiting `at_most` seconds (a failing database is retried
        for as long as it fails): before reading usage, so a client sees its own requests."""
        try:
            await asyncio.wait_for(self.flush(), at_most)
        except TimeoutError:
            log.warning("usage records still queued after %.1f s; reading without them", at_most)

    async def close(self, close_timeout: float = 10.0) -> None:
        """Write everything queued, then stop; records still failing after the timeout are lost."""
        if self._task is None:
            return
        self._give_up_at = time.monotonic() + close_timeout
        await self.flush()
        self._task.cancel()
        await asyncio.gather(self._task, return_exceptions=True)
        self._task = None
        if self.dropped:
            log.error("%d usage records were lost in all", self.dropped)


# ---- reading ---------------------------------------------------------------------------------


@record
class UsageGroup:
    """Sums over the records of one model or one mode."""

    name: str
    queries: int
    calls: int
    failed_calls: int
    prompt_tokens: int
    completion_tokens: int
    cost_usd: float


@record
class UsageSummary:
    by_model: list[UsageGroup]
    by_mode: list[UsageGroup]
    by_day: list[UsageGroup] = field(default_factory=list)
    """One group per UTC date (`YYYY-MM-DD`) that has records, oldest first."""

    @property
    def queries(self) -> int:
        """Requests that made at least one model call; each request has exactly one mode."""
        return sum(g.queries for g in self.by_mode)

    @property
    def prompt_tokens(self) -> int:
        return sum(g.prompt_tokens for g in self.by_mode)

    @property
    def completion_tokens(self) -> int:
        return sum(g.completion_tokens for g in self.by_mode)

    @property
    def cost_usd(self) -> float:
        return sum(g.cost_usd for g in self.by_mode)


def _grouped(column: sa.ColumnElement[str], where: sa.ColumnElement[bool]) -> sa.Select[Any]:
    c = usage_records.c
    return (sa.select(column, sa.func.count(sa.distinct(c.request_id)), sa.func.count(),
                      sa.func.sum(sa.case((c.ok, 0), else_=1)),
                      sa.func.coalesce(sa.func.sum(c.prompt_tokens), 0),
                      sa.func.coalesce(sa.func.sum(c.completion_tokens), 0),
                      sa.func.coalesce(sa.func.sum(c.cost_usd), 0.0))
            .where(where).group_by(column).order_by(column))


def _group(row: sa.Row[Any]) -> UsageGroup:
    name, queries, calls, failed, tokens_in, tokens_out, cost = tuple(row)
    return UsageGroup(str(name), int(queries), int(calls), int(failed), int(tokens_in),
                      int(tokens_out), float(cost))


async def chat_queries(engine: AsyncEngine, user_id: str, test: bool, start: datetime,
                       end: datetime) -> int:
    """Chat requests of a user's test or live keys with `start <= created_at < end` that got
    at least one answer from a model: what a quota counts (failed queries are given back)."""
    c = usage_records.c
    query = (sa.select(sa.func.count(sa.distinct(c.request_id)))
             .select_from(usage_records.join(api_keys, api_keys.c.id == c.key_id))
             .where(c.user_id == user_id, c.created_at >= start, c.created_at < end,
                    c.mode.in_(MODES), c.ok, api_keys.c.test == test))
    async with engine.connect() as conn:
        return int((await conn.execute(query)).scalar_one())


async def summary(engine: AsyncEngine, user_id: str, start: datetime, end: datetime,
                  test: bool) -> UsageSummary:
    """The usage of a user's live keys (`test` false: what would be billed) or of their test
    keys, with `start <= created_at < end`, by model, by mode and by day."""
    c = usage_records.c
    keys = sa.select(api_keys.c.id).where(api_keys.c.user_id == user_id,
                                          api_keys.c.test == test)
    where = sa.and_(c.user_id == user_id, c.created_at >= start, c.created_at < end,
                    c.key_id.in_(keys))
    async with engine.connect() as conn:
        by_model = [_group(r) for r in await conn.execute(_grouped(c.model, where))]
        by_mode = [_group(r) for r in await conn.execute(_grouped(c.mode, where))]
        day = sa.func.date(c.created_at)
        by_day = [_group(r) for r in await conn.execute(_grouped(day, where))]
    return UsageSummary(by_model, by_mode, by_day)
