"""The pooled client: requests out, answers back, connections kept alive per origin."""

from __future__ import annotations

import asyncio
import math
import os
import ssl
import urllib.request
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager

import certifi
import orjson

from chorus import lull
from chorus.httpclient.connection import Connection, Receiver, Response
from chorus.httpclient.errors import (
    ConnectError,
    ConnectTimeout,
    LimitExceeded,
    NothingReceived,
    ProtocolError,
)
from chorus.httpclient.limits import Limits, Timeouts
from chorus.httpclient.pool import Pool
from chorus.httpclient.proxy import Proxy, proxy_for, tunnel
from chorus.httpclient.url import URL


class Client:
    """Pooled HTTP/1.1 calls; `stream` for bodies read as they come, `request` for whole ones."""

    def __init__(self, limits: Limits | None = None) -> None:
        self.limits = limits or Limits()
        self._ssl: ssl.SSLContext | None = None
        self._env = urllib.request.getproxies_environment()
        self._proxies: dict[str, Proxy | None] = {}
        self._pools: dict[str, Pool] = {}
        self._closed = False

    @asynccontextmanager
    async def stream(self, method: str, url: URL | str, *, timeouts: Timeouts | float,
                     headers: Mapping[str, str] | None = None, body: bytes | None = None,
                     params: Mapping[str, str | int] | None = None
                     ) -> AsyncIterator[Response]:
        """Send a request; the answer's body is read through the response inside the block.
        A number for `timeouts` bounds each step and the whole call alike."""
        url = url if isinstance(url, URL) else URL.parse(url)
        if params:
            url = url.with_params(params)
        if not isinstance(timeouts, Timeouts):
            timeouts = Timeouts(timeouts, timeouts, timeouts, timeouts)
        now = asyncio.get_running_loop().time()
        deadline = math.inf if timeouts.total is None else now + timeouts.total
        response = await self._send(method, url, headers or {}, body, timeouts,
                                    min(now + timeouts.connect, deadline), deadline)
        try:
            yield response
        finally:
            response.close()

    async def request(self, method: str, url: URL | str, *, timeouts: Timeouts | float,
                      headers: Mapping[str, str] | None = None, body: bytes | None = None,
                      json: object = None, params: Mapping[str, str | int] | None = None
                      ) -> Response:
        """Send a request and read the whole answer."""
        if json is not None:
            body = orjson.dumps(json)
            headers = {"content-type": "application/json", **(headers or {})}
        async with self.stream(method, url, timeouts=timeouts, headers=headers, body=body,
                               params=params) as response:
            await response.aread()
        return response

    async def __aenter__(self) -> Client:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    @property
    def is_closed(self) -> bool:
        return self._closed

    async def aclose(self) -> None:
        self._closed = True
        for pool in self._pools.values():
            pool.close()

    async def _send(self, method: str, url: URL, headers: Mapping[str, str],
                    body: bytes | None, timeouts: Timeouts, until: float, deadline: float
                    ) -> Response:
        """Send on a kept-alive connection, or on a new one once the pool has room (waiting
        until `until` at most); a reused one that the server had closed is replaced."""
        proxy = self._proxy(url)
        head = _head(method, url, headers, body, proxy)
        pool = self._pool(url.origin)
        conn = pool.take() or await pool.reserve(until)
        while True:
            reused = conn is not None
            if conn is None:
                conn = await self._connect(url, proxy, until, timeouts.connect, pool)
            try:
                return await self._exchange(conn, head, body, timeouts, deadline)
            except NothingReceived as exc:
                if not reused:
                    raise ProtocolError("the server closed the connection without answering"
                                        ) from exc
            conn = pool.take() or await pool.reserve(until)

    async def _exchange(self, conn: Connection, head: bytes, body: bytes | None,
                        timeouts: Timeouts, deadline: float) -> Response:
        """Write the request and read the answer's head; the connection is closed on failure."""
        try:
            writer = conn.writer
            writer.write(head + body if body else head)
            lull.waiting()
            if writer.transport.get_write_buffer_size():
                await conn.drain(timeouts, deadline)
            receiver = Receiver(self.limits)
            received = 0
            while True:
                try:
                    data = await conn.read(timeouts, deadline)
                except ProtocolError as exc:
                    if received:
                        raise
                    raise NothingReceived(str(exc)) from exc
                if not data:
                    if received:
                        raise ProtocolError("the connection closed in the answer's head")
                    raise NothingReceived("the connection closed before the answer")
                received += len(data)
                receiver.feed(data)
                if receiver.headers_done:
                    return Response(conn, receiver, timeouts, deadline)
                if received > self.limits.header_bytes:
                    raise LimitExceeded(f"the answer's head is larger than "
                                        f"{self.limits.header_bytes} bytes")
        except BaseException:
            conn.close()
            raise

    def _pool(self, origin: str) -> Pool:
        pool = self._pools.get(origin)
        if pool is None:
            pool = self._pools[origin] = Pool(origin, self.limits.connections_per_origin)
            pool.closed = self._closed
        return pool

    async def _connect(self, url: URL, proxy: Proxy | None, until: float, within: float,
                       pool: Pool) -> Connection:
        """A new connection, in the place `pool` reserved for it (given back on failure)."""
        tls = url.scheme == "https"
        target = proxy.url if proxy else url
        writer: asyncio.StreamWriter | None = None
        try:
            async with asyncio.timeout_at(until):
                if proxy is None or not tls:
                    reader, writer = await asyncio.open_connection(
                        target.host, target.port, ssl=self._ssl_context() if tls else None,
                        server_hostname=url.host if tls else None)
                else:
                    reader, writer = await asyncio.open_connection(target.host, target.port)
                    await tunnel(reader, writer, url, proxy)
                    await writer.start_tls(self._ssl_context(), server_hostname=url.host)
        except BaseException as exc:
            if writer is not None:  # the proxy refused the tunnel, or TLS failed inside it
                writer.close()
            pool.release()
            if isinstance(exc, TimeoutError):
                raise ConnectTimeout(f"connecting to {target.origin} took longer than "
                                     f"{within:g}s") from exc
            if isinstance(exc, OSError):
                through = f"through the proxy {target.origin}: " if proxy else ""
                raise ConnectError(f"{through}{exc or type(exc).__name__}") from exc
            raise
        return Connection(reader, writer, pool)

    def _ssl_context(self) -> ssl.SSLContext:
        if self._ssl is None:
            self._ssl = _default_ssl_context()
        return self._ssl

    def _proxy(self, url: URL) -> Proxy | None:
        """The proxy for this origin from the environment, decided once per origin."""
        if not self._env:
            return None
        key = url.origin
        if key not in self._proxies:
            self._proxies[key] = proxy_for(url, self._env)
        return self._proxies[key]


def _default_ssl_context() -> ssl.SSLContext:
    """Verify against SSL_CERT_FILE / SSL_CERT_DIR when set, else certifi's roots."""
    cafile, capath = os.environ.get("SSL_CERT_FILE"), os.environ.get("SSL_CERT_DIR")
    context = ssl.create_default_context(
        cafile=cafile or (None if capath else certifi.where()), capath=capath)
    context.set_alpn_protocols(["http/1.1"])
    return context


def _head(method: str, url: URL, headers: Mapping[str, str], body: bytes | None,
          proxy: Proxy | None) -> bytes:
    """The request line and headers; a plain-http request through a proxy names the origin."""
    absolute = proxy is not None and url.scheme == "http"
    lines = [f"{method} {url.origin + url.target if absolute else url.target} HTTP/1.1",
             f"host: {url.authority}", "user-agent: chorus", "accept-encoding: gzip, deflate"]
    if absolute and proxy is not None and proxy.authorization:
        lines.append(f"proxy-authorization: {proxy.authorization}")
    if body is not None or method in ("POST", "PUT", "PATCH"):
        lines.append(f"content-length: {len(body or b'')}")
    for name, value in headers.items():
        if "\n" in value or "\r" in value or "\n" in name or "\r" in name:
            raise ValueError(f"the header {name!r} holds a line break")
        lines.append(f"{name}: {value}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode()
