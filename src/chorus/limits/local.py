"""The in-process limiter: exact for one server process, and the fallback when Redis is away."""

from __future__ import annotations

import asyncio
import math
import time
from collections.abc import Callable

from chorus.limits import WINDOW_SECONDS, Period, QuotaSeed, QuotaTake, Window

SWEEP_AT = 10_000  # windows kept before expired ones are dropped


class LocalLimiter:
    """Counters in dicts. Each method counts without awaiting, so the event loop makes it
    atomic; only a bucket's first quota use in a period awaits its `seed`, once for all."""

    backend = "memory"

    def __init__(self, window_seconds: float = WINDOW_SECONDS,
                 clock: Callable[[], float] = time.time, seed: QuotaSeed | None = None) -> None:
        self.window_seconds = window_seconds
        self.clock = clock
        self.seed = seed
        self._seeding: dict[tuple[str, str], asyncio.Future[int]] = {}
        self._windows: dict[str, tuple[int, float]] = {}  # bucket -> (count, ends at)
        self._queries: dict[str, dict[str, int]] = {}  # period -> bucket -> used

    @property
    def healthy(self) -> bool:
        return True

    async def check(self) -> bool:
        return True

    async def hit(self, bucket: str, limit: int) -> Window:
        now = self.clock()
        count, ends = self._windows.get(bucket, (0, 0.0))
        if ends <= now:
            count, ends = 0, now + self.window_seconds
            if len(self._windows) >= SWEEP_AT:
                self._sweep(now)
        count += 1
        self._windows[bucket] = (count, ends)
        return Window(count <= limit, limit, max(0, limit - count), ends)

    async def peek(self, bucket: str, limit: int) -> tuple[int, int, int]:
        now = self.clock()
        count, ends = self._windows.get(bucket, (0, 0.0))
        if ends <= now:
            return limit, limit, math.ceil(now + self.window_seconds)
        return limit, max(0, limit - count), math.ceil(ends)

    async def take_query(self, bucket: str, limit: int, period: Period) -> QuotaTake:
        counts = await self._counts(bucket, period)
        used = counts.get(bucket, 0)
        if used >= limit:
            return QuotaTake(False, used, limit)
        counts[bucket] = used + 1
        return QuotaTake(True, used + 1, limit)

    async def return_query(self, bucket: str, period: Period) -> None:
        counts = self._period(period)
        if counts.get(bucket, 0) > 0:
            counts[bucket] -= 1

    async def queries_used(self, bucket: str, period: Period) -> int:
        return (await self._counts(bucket, period)).get(bucket, 0)

    async def close(self) -> None:
        self._windows.clear()

    def _sweep(self, now: float) -> None:
        self._windows = {k: v for k, v in self._windows.items() if v[1] > now}

    async def _counts(self, bucket: str, period: Period) -> dict[str, int]:
        """The period's counts, `bucket`'s read from `seed` on its first use in the period."""
        counts = self._period(period)
        if bucket in counts or self.seed is None:
            return counts
        key = (period.key, bucket)
        loading = self._seeding.get(key)
        if loading is None:
            loading = self._seeding[key] = asyncio.ensure_future(self.seed(bucket, period))
        used = await asyncio.shield(loading)
        self._seeding.pop(key, None)
        counts = self._period(period)
        counts.setdefault(bucket, used)  # those that waited with us must not reset it
        return counts

    def _period(self, period: Period) -> dict[str, int]:
        """The counts of `period`; a new period drops those of periods before it."""
        counts = self._queries.get(period.key)
        if counts is None:
            self._queries = {k: v for k, v in self._queries.items() if k > period.key}
            counts = self._queries[period.key] = {}
        return counts
