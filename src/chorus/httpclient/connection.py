"""One kept-alive connection, and an answer read from it with httptools, within its limits."""

from __future__ import annotations

import asyncio
import re
import zlib
from collections import deque
from collections.abc import AsyncIterator, Iterator
from encodings.utf_8 import IncrementalDecoder as Utf8Decoder
from typing import TYPE_CHECKING, Any

import httptools
import orjson

from chorus.httpclient.errors import (
    DeadlineExceeded,
    HTTPError,
    LimitExceeded,
    ProtocolError,
    Timeout,
)
from chorus.httpclient.limits import Limits, Timeouts

if TYPE_CHECKING:
    from chorus.httpclient.pool import Pool

READ_SIZE = 65536
DECODE_SIZE = 65536
"""The most a compressed chunk is inflated at once, so that a bomb is caught piece by piece."""
_LINE_END = re.compile(r"\r\n|\r|\n")


class Connection:
    __slots__ = ("idle_since", "open", "pool", "reader", "writer")

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter,
                 pool: Pool) -> None:
        self.reader = reader
        self.writer = writer
        self.pool = pool
        """The pool it goes back to, and whose count of open connections it is in."""
        self.idle_since = 0.0
        self.open = True

    def usable(self, now: float, expiry: float) -> bool:
        # A byte that came while idle answers no request: the connection is out of step.
        return (now - self.idle_since < expiry and not self.reader.at_eof()
                and not self.writer.is_closing() and not getattr(self.reader, "_buffer", b""))

    def close(self) -> None:
        if self.open:
            self.open = False
            self.writer.close()
            self.pool.release()

    async def read(self, timeouts: Timeouts, deadline: float) -> bytes:
        """The next bytes, within the read timeout and the call's deadline (a loop time)."""
        now = asyncio.get_running_loop().time()
        if now >= deadline:
            raise _late(timeouts)
        at = now + timeouts.read
        try:
            async with asyncio.timeout_at(at if at < deadline else deadline):
                return await self.reader.read(READ_SIZE)
        except TimeoutError as exc:
            if at < deadline:
                raise Timeout(f"no data within {timeouts.read:g}s") from exc
            raise _late(timeouts) from exc
        except OSError as exc:
            raise ProtocolError(f"the connection was lost: {exc}") from exc

    async def drain(self, timeouts: Timeouts, deadline: float) -> None:
        """Wait until the request is sent, within the write timeout and the call's deadline."""
        at = asyncio.get_running_loop().time() + timeouts.write
        try:
            async with asyncio.timeout_at(at if at < deadline else deadline):
                await self.writer.drain()
        except TimeoutError as exc:
            if at < deadline:
                raise Timeout(f"sending the request took longer than {timeouts.write:g}s"
                              ) from exc
            raise _late(timeouts) from exc
        except OSError as exc:
            raise ProtocolError(f"the connection was lost: {exc}") from exc


def _long_event(limit: int) -> LimitExceeded:
    return LimitExceeded(f"a server-sent event is longer than {limit} characters")


def _late(timeouts: Timeouts) -> DeadlineExceeded:
    return DeadlineExceeded(f"the call took longer than {timeouts.total:g}s")


class Receiver:
    """httptools' parser and its callbacks for one answer: what arrived so far."""

    __slots__ = ("body", "complete", "count", "extra", "headers", "headers_done", "limits",
                 "parser", "size")

    def __init__(self, limits: Limits) -> None:
        self.limits = limits
        self.parser = httptools.HttpResponseParser(self)
        self.headers: dict[str, str] = {}
        self.body: deque[bytes] = deque()
        self.headers_done = False
        self.complete = False
        self.extra = False
        """Bytes came after the answer: they answer nothing, so the connection is not reused."""
        self.count = 0
        self.size = 0

    def feed(self, data: bytes) -> None:
        try:
            self.parser.feed_data(data)
        except httptools.HttpParserCallbackError as exc:
            if isinstance(exc.__context__, HTTPError):
                raise exc.__context__ from None
            raise ProtocolError(f"the answer is not valid HTTP/1.1: {exc}") from exc
        except httptools.HttpParserError as exc:
            raise ProtocolError(f"the answer is not valid HTTP/1.1: {exc}") from exc
        except httptools.HttpParserUpgrade as exc:
            raise ProtocolError("the server switched protocols, which was not asked for") from exc

    def on_message_begin(self) -> None:
        if self.complete:
            self.extra = True

    def on_header(self, name: bytes, value: bytes) -> None:
        if self.complete:
            return
        self.count += 1
        self.size += len(name) + len(value)
        if self.count > self.limits.header_count:
            raise LimitExceeded(f"the answer has more than {self.limits.header_count} headers")
        if self.size > self.limits.header_bytes:
            raise LimitExceeded(f"the answer's headers are larger than "
                                f"{self.limits.header_bytes} bytes")
        key, text = name.decode("latin-1").lower(), value.decode("latin-1")
        self.headers[key] = f"{self.headers[key]}, {text}" if key in self.headers else text

    def on_headers_complete(self) -> None:
        if self.parser.get_status_code() < 200:  # interim (100 Continue): the answer follows
            self.headers = {}
            return
        self.headers_done = True

    def on_body(self, body: bytes) -> None:
        if not self.complete:
            self.body.append(body)

    def on_message_complete(self) -> None:
        if self.headers_done:
            self.complete = True


class Response:
    """An answer whose head has arrived; the body is read on demand, once."""

    def __init__(self, conn: Connection, receiver: Receiver, timeouts: Timeouts,
                 deadline: float) -> None:
        self.status_code: int = receiver.parser.get_status_code()
        self.headers: dict[str, str] = receiver.headers
        self._conn: Connection | None = conn
        self._receiver = receiver
        self._timeouts = timeouts
        self._deadline = deadline
        self._content: bytes | None = None
        self._left = receiver.limits.body_bytes
        """Body bytes still allowed, after decoding."""
        self._wire = 2 * receiver.limits.body_bytes
        """Bytes still allowed on the wire: the body, its framing and trailers."""
        self._fed = False
        """Bytes went into the decoder: its compressed stream must then end."""
        encoding = receiver.headers.get("content-encoding", "identity").lower()
        self._decoder = (zlib.decompressobj(wbits=47) if encoding in ("gzip", "deflate", "x-gzip")
                         else None)

    async def aiter_bytes(self) -> AsyncIterator[bytes]:
        """The body as it arrives."""
        receiver = self._receiver
        while True:
            while receiver.body:
                chunk = receiver.body.popleft()
                if self._decoder:
                    for piece in self._decode(chunk):
                        yield piece
                    continue
                self._left -= len(chunk)
                if self._left < 0:
                    raise self._too_large()
                yield chunk
            if receiver.complete or self._conn is None:
                if self._cut():
                    raise ProtocolError("the answer's compressed body was cut short")
                self._release()
                return
            data = await self._conn.read(self._timeouts, self._deadline)
            if data:
                self._wire -= len(data)
                if self._wire < 0:
                    raise LimitExceeded(f"the answer's framing is more than twice its "
                                        f"{receiver.limits.body_bytes}-byte body limit")
                receiver.feed(data)
            elif self._close_delimited():
                receiver.complete = True
            else:
                raise ProtocolError("the connection closed before the answer was complete")

    async def aiter_lines(self) -> AsyncIterator[str]:
        """The body split on CRLF, LF or CR, as text; one event (lines up to a blank one) may
        not pass `Limits.event_chars`."""
        limit = self._receiver.limits.event_chars
        decoder = Utf8Decoder("replace")
        pending = ""
        event = 0
        after_cr = False
        async for chunk in self.aiter_bytes():
            if decoder.buffer:  # the rest of a character the last chunk cut
                text = decoder.decode(chunk)
            else:  # whole characters, most often: bytes.decode, not the decoder's Python
                try:
                    text = chunk.decode()
                except UnicodeDecodeError:  # a character cut at the end, or bytes not UTF-8
                    text = decoder.decode(chunk)
            if not text:
                continue
            if after_cr and text[0] == "\n":  # the second half of a CRLF split across chunks
                text = text[1:]
            after_cr = text.endswith("\r")
            # Most streams end their lines with LF alone: str.split finds it with memchr, where
            # the pattern tests every character against its first set (5 % of a streamed
            # answer's instructions, bench/notes.md). `pending` never holds a line end.
            joined = pending + text
            lines = _LINE_END.split(joined) if "\r" in text else joined.split("\n")
            pending = lines.pop()
            for line in lines:
                event = event + len(line) + 1 if line else 0
                if event > limit:
                    raise _long_event(limit)
                yield line
            if event + len(pending) > limit:
                raise _long_event(limit)
        pending += decoder.decode(b"", final=True)
        if pending:
            yield pending

    async def aread(self) -> bytes:
        if self._content is None:
            self._content = b"".join([chunk async for chunk in self.aiter_bytes()])
        return self._content

    @property
    def content(self) -> bytes:
        if self._content is None:
            raise RuntimeError("the body has not been read")
        return self._content

    @property
    def text(self) -> str:
        return self.content.decode(errors="replace")

    def json(self) -> Any:
        return orjson.loads(self.content)

    def _decode(self, data: bytes) -> Iterator[bytes]:
        """Inflate a chunk piece by piece, counting each piece against the body limit."""
        assert self._decoder is not None
        self._fed = True
        while True:
            try:
                out = self._decoder.decompress(data, DECODE_SIZE)
            except zlib.error as exc:
                raise ProtocolError(f"the answer's compressed body is broken: {exc}") from exc
            self._left -= len(out)
            if self._left < 0:
                raise self._too_large()
            if out:
                yield out
            data = self._decoder.unconsumed_tail
            if not data and len(out) < DECODE_SIZE:
                return

    def _cut(self) -> bool:
        """A compressed body ended (by its framing) before its compressed stream did."""
        return (self._fed and self._conn is not None and self._decoder is not None
                and not self._decoder.eof)

    def _too_large(self) -> LimitExceeded:
        return LimitExceeded(f"the answer's body is larger than "
                             f"{self._receiver.limits.body_bytes} bytes")

    def _close_delimited(self) -> bool:
        headers = self._receiver.headers
        return "content-length" not in headers and "chunked" not in headers.get(
            "transfer-encoding", "")

    def _keep_alive(self) -> bool:
        # httptools' should_keep_alive() is False once the message is complete.
        return (self._receiver.parser.get_http_version() == "1.1"
                and "close" not in self._receiver.headers.get("connection", "").lower())

    def _release(self) -> None:
        """Give the connection back when the answer was read whole, else close it."""
        conn, self._conn = self._conn, None
        if conn is None:
            return
        receiver = self._receiver
        if receiver.complete and not receiver.extra and self._keep_alive() and not (
                self._decoder and not self._decoder.eof):
            conn.pool.park(conn)
        else:
            conn.close()

    def close(self) -> None:
        """Close the connection unless the answer was read to its end and it went back to the
        pool; the server sees the caller leave, and stops working on the answer."""
        conn, self._conn = self._conn, None
        if conn is not None:
            conn.close()
