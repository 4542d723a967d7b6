"""A raw loopback server for the outbound HTTP client's tests: handlers speak bytes."""

from __future__ import annotations

import asyncio
import ssl
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager

Handler = Callable[["Server", asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]]
OK = b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: 11\r\n\r\n{\"ok\":true}"


class Server:
    """A loopback server whose handler speaks raw bytes; it counts connections and requests."""

    def __init__(self) -> None:
        self.port = 0
        self.connections = 0
        self.requests: list[bytes] = []
        self.closed = asyncio.Event()

    async def request(self, reader: asyncio.StreamReader) -> bytes:
        """One request's head and its content-length body; b"" when the client went away."""
        try:
            head = await reader.readuntil(b"\r\n\r\n")
        except asyncio.IncompleteReadError:
            return b""
        length = next((int(line.split(b":")[1]) for line in head.split(b"\r\n")
                       if line.lower().startswith(b"content-length:")), 0)
        request = head + await reader.readexactly(length)
        self.requests.append(request)
        return request


@asynccontextmanager
async def serve(handler: Handler, tls: ssl.SSLContext | None = None) -> AsyncIterator[Server]:
    server = Server()

    async def connected(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        server.connections += 1
        try:
            await handler(server, reader, writer)
        except (ConnectionError, asyncio.IncompleteReadError, asyncio.CancelledError):
            pass  # the client went away, or the test is over
        finally:
            writer.close()
            server.closed.set()

    listener = await asyncio.start_server(connected, "127.0.0.1", 0, ssl=tls)
    server.port = listener.sockets[0].getsockname()[1]
    async with listener:
        yield server


async def keep_answering(server: Server, reader: asyncio.StreamReader,
                         writer: asyncio.StreamWriter) -> None:
    while await server.request(reader):
        writer.write(OK)


async def until(check: Callable[[], object]) -> None:
    """Wait (five seconds at most) for something the loop does in the background."""
    async with asyncio.timeout(5):
        while not check():  # noqa: ASYNC110 (what is awaited has no event to wait on)
            await asyncio.sleep(0.001)
