"""The connections to one origin: idle ones kept for reuse, and a cap on how many are open."""

from __future__ import annotations

import asyncio
import time
from collections import deque
from typing import TYPE_CHECKING

from chorus.httpclient.errors import PoolTimeout

if TYPE_CHECKING:
    from chorus.httpclient.connection import Connection

KEEPALIVE_EXPIRY = 30.0
"""Seconds an idle connection is kept for reuse."""


class Pool:
    """At most `limit` connections to `origin`, open or opening; a call finding them all busy
    waits, first come first served, for one to be parked or closed."""

    __slots__ = ("closed", "idle", "limit", "open", "origin", "waiters")

    def __init__(self, origin: str, limit: int) -> None:
        self.origin = origin
        self.limit = limit
        self.open = 0
        self.idle: deque[Connection] = deque()
        self.waiters: deque[asyncio.Future[Connection | None]] = deque()
        self.closed = False

    def take(self) -> Connection | None:
        """The most recently parked connection that is still good; stale ones are closed."""
        idle = self.idle
        now = time.monotonic()
        while idle:
            conn = idle.pop()
            if conn.usable(now, KEEPALIVE_EXPIRY):
                return conn
            conn.close()
        return None

    async def reserve(self, until: float) -> Connection | None:
        """None once a new connection may be opened (it counts as open from now on), or a
        connection parked by another call; waits until the loop time `until` at most."""
        if self.open < self.limit:
            self.open += 1
            return None
        waiter: asyncio.Future[Connection | None] = asyncio.get_running_loop().create_future()
        self.waiters.append(waiter)
        try:
            async with asyncio.timeout_at(until):
                return await waiter
        except BaseException as exc:
            if waiter.done() and not waiter.cancelled():
                self._give(waiter.result())  # handed over just as we left: pass it on
            else:
                self.waiters.remove(waiter)
            if isinstance(exc, TimeoutError):
                raise PoolTimeout(f"all {self.limit} connections to {self.origin} stayed busy"
                                  ) from exc
            raise

    def park(self, conn: Connection) -> None:
        """A connection whose answer was read whole: to a waiting call, or kept idle."""
        if self.closed:
            conn.close()
            return
        conn.idle_since = time.monotonic()
        self._give(conn)

    def release(self) -> None:
        """A connection closed, or one that failed to open: its place goes to a waiting call."""
        self._give(None)

    def close(self) -> None:
        self.closed = True
        while self.idle:
            self.idle.pop().close()

    def _give(self, conn: Connection | None) -> None:
        while self.waiters:
            waiter = self.waiters.popleft()
            if not waiter.done():
                waiter.set_result(conn)
                return
        if conn is None:
            self.open -= 1
        else:
            self.idle.append(conn)
