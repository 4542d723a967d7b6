"""Work no answer waits for, run while the event loop waits on an upstream.

A request served alone is a chain: the client's question, the upstream's answer, the answer
back. Work that no answer waits for (rendering and writing the access lines of the requests
before) delays the request being served if it runs as soon as it can. Run while the loop
waits for an upstream's answer, it costs that request nothing: the loop was idle then.

`later(callback)` holds a callback until the next lull, which the HTTP client announces with
`waiting()` once a request is written; a loop that calls no upstream runs what it holds
`LATEST` seconds after the first of it was held. Under load, when the loop is never idle, a lull
comes with every upstream call and the work runs as before, at most once per loop turn.

The access lines rendered at the lull instead of at the next loop turn took a chat
completion's added latency at concurrency 1 from 0.585 to 0.478 ms and its CPU to 0.88x: the
rendering had run in the next request's way and pushed its code out of the CPU's caches
(`bench/phases.py`, `bench/ab.py`; bench/notes.md). At concurrency 64 nothing changed.

A loop that closes drops what it holds, so only work that is also done another way at exit
goes here (the log handler writes held lines when it is flushed or closed).
"""

from __future__ import annotations

import asyncio
import weakref
from collections.abc import Callable

LATEST = 0.005
"""Seconds held work waits at most for a lull."""


class Lull:
    """One event loop's held work."""

    __slots__ = ("due", "held", "loop", "timer")

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self.loop = loop
        self.held: list[Callable[[], object]] = []
        self.timer: asyncio.TimerHandle | None = None
        self.due = False
        """A run is scheduled on the loop."""

    def later(self, callback: Callable[[], object]) -> None:
        self.held.append(callback)
        if self.timer is None and not self.due:
            self.timer = self.loop.call_later(LATEST, self.run)

    def waiting(self) -> None:
        if self.held and not self.due:
            self.due = True
            self.loop.call_soon(self.run)

    def run(self) -> None:
        held, self.held, self.due = self.held, [], False
        if self.timer is not None:
            self.timer.cancel()
            self.timer = None
        for callback in held:
            try:
                callback()
            except Exception as exc:  # as the loop reports a failed callback, and go on
                self.loop.call_exception_handler(
                    {"message": "held work failed", "exception": exc})


_lulls: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, Lull] = weakref.WeakKeyDictionary()


def later(loop: asyncio.AbstractEventLoop, callback: Callable[[], object]) -> None:
    """Run `callback` on `loop` (the running loop) at its next lull."""
    lull = _lulls.get(loop)
    if lull is None:
        lull = _lulls[loop] = Lull(loop)
    lull.later(callback)


def waiting() -> None:
    """The running loop waits on an upstream now: what it holds runs meanwhile."""
    lull = _lulls.get(asyncio.get_running_loop())
    if lull is not None:
        lull.waiting()
