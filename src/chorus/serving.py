"""How `chorus serve` meets the network: uvicorn, with the timeouts a public server needs.

uvicorn alone waits for ever on a client that sends part of its headers, sends a body one byte
every few seconds, or connects and says nothing. `GuardedProtocol` is uvicorn's httptools
protocol with two more clocks: the headers of a request must arrive within `header_timeout` of
the connection opening (or of the request's first byte, on a kept-alive connection), and its
body within `body_timeout` of the headers. A client that misses either gets `408` (if no answer
had started) and the connection is closed. Keep-alive and the cap on concurrent connections are
uvicorn's own (`timeout_keep_alive`, `limit_concurrency`: over the cap a request is `503`).
Each request's scope also carries its connection's future, done when the connection is lost
(the `chorus.hangup` extension): handlers watch it for a client hanging up without a task.
"""

from __future__ import annotations

import asyncio
import functools
import logging
from typing import Any

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from chorus.api.hangup import HANGUP
from chorus.config import Settings
from chorus.records import record

log = logging.getLogger(__name__)

TIMED_OUT = (b"HTTP/1.1 408 Request Timeout\r\ncontent-type: application/json\r\n"
             b"connection: close\r\ncontent-length: %d\r\n\r\n%s")


@record
class ServerLimits:
    header_timeout: float
    body_timeout: float
    keep_alive_timeout: float
    max_connections: int

    @classmethod
    def of(cls, settings: Settings) -> ServerLimits:
        return cls(settings.header_timeout, settings.body_timeout, settings.keep_alive_timeout,
                   settings.max_connections)


class GuardedProtocol(HttpToolsProtocol):
    """uvicorn's HTTP/1.1 protocol, with deadlines for a request's headers and for its body."""

    def __init__(self, *args: Any, limits: ServerLimits, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.limits = limits
        self.timeout_keep_alive = limits.keep_alive_timeout  # type: ignore[assignment]
        self.deadline: asyncio.TimerHandle | None = None
        self.pending: tuple[float, str] | None = None
        """The deadline of a part of a request that began in the read being parsed: armed when
        the read ends before the part does. Most requests come whole in one read and need no
        timer (two fewer per request)."""

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        super().connection_made(transport)  # type: ignore[arg-type]
        self.gone: asyncio.Future[None] = self.loop.create_future()
        """Done once the connection is lost: each request's scope holds it (HANGUP)."""
        self._arm(self.limits.header_timeout, "headers")  # a silent connection is cut too

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm()
        if not self.gone.done():
            self.gone.set_result(None)
        super().connection_lost(exc)

    def data_received(self, data: bytes) -> None:
        super().data_received(data)
        if self.pending is not None:
            seconds, part = self.pending
            self.pending = None
            self._arm(seconds, part)

    def on_message_begin(self) -> None:
        super().on_message_begin()
        if self.deadline is None:  # the next request on a kept-alive connection
            self.pending = (self.limits.header_timeout, "headers")

    def on_headers_complete(self) -> None:
        self._disarm()
        # before the app's task starts, in super()'s call
        self.scope.setdefault("extensions", {})[HANGUP] = {"gone": self.gone}
        super().on_headers_complete()
        self.pending = (self.limits.body_timeout, "body")

    def on_message_complete(self) -> None:
        self._disarm()
        self.pending = None
        super().on_message_complete()

    def _arm(self, seconds: float, part: str) -> None:
        self._disarm()
        self.deadline = self.loop.call_later(seconds, self._expired, part, seconds)

    def _disarm(self) -> None:
        if self.deadline is not None:
            self.deadline.cancel()
            self.deadline = None

    def _expired(self, part: str, seconds: float) -> None:
        self.deadline = None
        if self.transport.is_closing():
            return
        log.info("closing a connection from %s: its request %s took over %gs",
                 self.client[0] if self.client else "?", part, seconds)
        cycle = self.cycle if part == "body" else None  # for headers: the previous request's
        if cycle is not None and not cycle.response_complete:
            cycle.disconnected = True  # the app, waiting for the body, is told the client left
            cycle.message_event.set()
        if cycle is None or not cycle.response_started:  # (a 413, say, answers before the body)
            body = (b'{"error":{"code":"request_timeout","message":"the request %s took over '
                    b'%gs","status":408}}' % (part.encode(), seconds))
            self.transport.write(TIMED_OUT % (len(body), body))
        self.transport.close()


def uvicorn_options(settings: Settings) -> dict[str, Any]:
    """The options of `uvicorn.run` that apply the limits; a picklable protocol factory, so
    that worker processes get it too."""
    limits = ServerLimits.of(settings)
    return {"http": functools.partial(GuardedProtocol, limits=limits),
            "timeout_keep_alive": max(1, round(limits.keep_alive_timeout)),
            "limit_concurrency": limits.max_connections}
