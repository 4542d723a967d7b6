"""One kept-alive connection, and an answer read from it with httptools."""

from __future__ import annotations

import asyncio
import codecs
import re
import zlib
from collections import deque
from collections.abc import AsyncIterator, Callable
from typing import Any

import httptools
import orjson

from chorus.httpclient.errors import ProtocolError, Timeout

READ_SIZE = 65536
_LINE_END = re.compile(r"\r\n|\r|\n")


class Connection:
    __slots__ = ("idle_since", "origin", "reader", "writer")

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter,
                 origin: str) -> None:
        self.reader = reader
        self.writer = writer
        self.origin = origin
        """The pool it goes back to."""
        self.idle_since = 0.0

    def usable(self, now: float, expiry: float) -> bool:
        return (now - self.idle_since < expiry and not self.reader.at_eof()
                and not self.writer.is_closing())

    def close(self) -> None:
        self.writer.close()

    async def read(self, within: float) -> bytes:
        try:
            async with asyncio.timeout(within):
                return await self.reader.read(READ_SIZE)
        except TimeoutError as exc:
            raise Timeout(f"no data within {within:g}s") from exc
        except OSError as exc:
            raise ProtocolError(f"the connection was lost: {exc}") from exc


class Receiver:
    """httptools' callbacks for one answer: what arrived so far."""

    __slots__ = ("body", "complete", "headers", "headers_done")

    def __init__(self) -> None:
        self.reset()

    def reset(self) -> None:
        """Start over; after an interim answer (1xx) the real one follows on the same parser."""
        self.headers: dict[str, str] = {}
        self.body: deque[bytes] = deque()
        self.headers_done = False
        self.complete = False

    def on_header(self, name: bytes, value: bytes) -> None:
        key, text = name.decode("latin-1").lower(), value.decode("latin-1")
        self.headers[key] = f"{self.headers[key]}, {text}" if key in self.headers else text

    def on_headers_complete(self) -> None:
        self.headers_done = True

    def on_body(self, body: bytes) -> None:
        self.body.append(body)

    def on_message_complete(self) -> None:
        self.complete = True


class Response:
    """An answer whose head has arrived; the body is read on demand, once."""

    def __init__(self, conn: Connection, parser: Any, receiver: Receiver, read_timeout: float,
                 park: Callable[[Connection], None]) -> None:
        self.status_code: int = parser.get_status_code()
        self.headers: dict[str, str] = receiver.headers
        self._park = park
        self._conn: Connection | None = conn
        self._parser = parser
        self._receiver = receiver
        self._read_timeout = read_timeout
        self._content: bytes | None = None
        encoding = receiver.headers.get("content-encoding", "identity").lower()
        self._decoder = (zlib.decompressobj(wbits=47) if encoding in ("gzip", "deflate", "x-gzip")
                         else None)

    async def aiter_bytes(self) -> AsyncIterator[bytes]:
        """The body as it arrives."""
        receiver = self._receiver
        while True:
            while receiver.body:
                chunk = receiver.body.popleft()
                yield self._decode(chunk) if self._decoder else chunk
            if receiver.complete or self._conn is None:
                self._release()
                return
            data = await self._conn.read(self._read_timeout)
            if data:
                feed(self._parser, data)
            elif self._close_delimited():
                receiver.complete = True
            else:
                raise ProtocolError("the connection closed before the answer was complete")

    async def aiter_lines(self) -> AsyncIterator[str]:
        """The body split on CRLF, LF or CR, as text."""
        decoder = codecs.getincrementaldecoder("utf-8")("replace")
        pending = ""
        after_cr = False
        async for chunk in self.aiter_bytes():
            text = decoder.decode(chunk)
            if not text:
                continue
            if after_cr and text[0] == "\n":  # the second half of a CRLF split across chunks
                text = text[1:]
            after_cr = text.endswith("\r")
            lines = _LINE_END.split(pending + text)
            pending = lines.pop()
            for line in lines:
                yield line
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

    def _decode(self, chunk: bytes) -> bytes:
        assert self._decoder is not None
        try:
            return self._decoder.decompress(chunk)
        except zlib.error as exc:
            raise ProtocolError(f"the answer's compressed body is broken: {exc}") from exc

    def _close_delimited(self) -> bool:
        headers = self._receiver.headers
        return "content-length" not in headers and "chunked" not in headers.get(
            "transfer-encoding", "")

    def _keep_alive(self) -> bool:
        # httptools' should_keep_alive() is False once the message is complete.
        return (self._parser.get_http_version() == "1.1"
                and "close" not in self._receiver.headers.get("connection", "").lower())

    def _release(self) -> None:
        """Give the connection back when the answer was read whole, else close it."""
        conn, self._conn = self._conn, None
        if conn is None:
            return
        if self._receiver.complete and self._keep_alive() and not (
                self._decoder and not self._decoder.eof):
            self._park(conn)
        else:
            conn.close()

    def close(self) -> None:
        """Close the connection unless the answer was read to its end and it went back to the
        pool; the server sees the caller leave, and stops working on the answer."""
        conn, self._conn = self._conn, None
        if conn is not None:
            conn.close()


def feed(parser: Any, data: bytes) -> None:
    try:
        parser.feed_data(data)
    except httptools.HttpParserError as exc:
        raise ProtocolError(f"the answer is not valid HTTP/1.1: {exc}") from exc
