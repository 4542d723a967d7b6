"""The pooled client: requests out, answers back, connections kept alive per origin."""

from __future__ import annotations

import asyncio
import os
import ssl
import time
import urllib.request
from collections import deque
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass

import certifi
import httptools
import orjson

from chorus.httpclient.connection import Connection, Receiver, Response, feed
from chorus.httpclient.errors import (
    ConnectError,
    ConnectTimeout,
    NothingReceived,
    ProtocolError,
    Timeout,
)
from chorus.httpclient.proxy import Proxy, proxy_for, tunnel
from chorus.httpclient.url import URL

KEEPALIVE_EXPIRY = 30.0
"""Seconds an idle connection is kept for reuse."""
MAX_IDLE_PER_ORIGIN = 200


@dataclass(frozen=True, slots=True)
class Timeouts:
    connect: float
    read: float
    write: float


class Client:
    """Pooled HTTP/1.1 calls; `stream` for bodies read as they come, `request` for whole ones."""

    def __init__(self) -> None:
        self._ssl: ssl.SSLContext | None = None
        self._env = urllib.request.getproxies_environment()
        self._proxies: dict[str, Proxy | None] = {}
        self._idle: dict[str, deque[Connection]] = {}
        self._closed = False

    @asynccontextmanager
    async def stream(self, method: str, url: URL | str, *, timeouts: Timeouts | float,
                     headers: Mapping[str, str] | None = None, body: bytes | None = None,
                     params: Mapping[str, str | int] | None = None
                     ) -> AsyncIterator[Response]:
        """Send a request; the answer's body is read through the response inside the block."""
        url = url if isinstance(url, URL) else URL.parse(url)
        if params:
            url = url.with_params(params)
        if not isinstance(timeouts, Timeouts):
            timeouts = Timeouts(timeouts, timeouts, timeouts)
        response = await self._send(method, url, headers or {}, body, timeouts)
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
        for idle in self._idle.values():
            for conn in idle:
                conn.close()
        self._idle.clear()

    async def _send(self, method: str, url: URL, headers: Mapping[str, str],
                    body: bytes | None, timeouts: Timeouts) -> Response:
        proxy = self._proxy(url)
        head = _head(method, url, headers, body, proxy)
        conn = self._take(url.origin)
        if conn is not None:
            try:
                return await self._exchange(conn, head, body, timeouts)
            except NothingReceived:
                pass  # the server closed it while idle: one more try on a new connection
        conn = await self._connect(url, proxy, timeouts.connect)
        try:
            return await self._exchange(conn, head, body, timeouts)
        except NothingReceived as exc:
            raise ProtocolError("the server closed the connection without answering") from exc

    async def _exchange(self, conn: Connection, head: bytes, body: bytes | None,
                        timeouts: Timeouts) -> Response:
        """Write the request and read the answer's head; the connection is closed on failure."""
        try:
            writer = conn.writer
            writer.write(head + body if body else head)
            if writer.transport.get_write_buffer_size():
                try:
                    async with asyncio.timeout(timeouts.write):
                        await writer.drain()
                except TimeoutError as exc:
                    raise Timeout(f"sending the request took longer than "
                                  f"{timeouts.write:g}s") from exc
            receiver = Receiver()
            parser = httptools.HttpResponseParser(receiver)
            received = False
            while True:
                try:
                    data = await conn.read(timeouts.read)
                except ProtocolError as exc:
                    if received:
                        raise
                    raise NothingReceived(str(exc)) from exc
                if not data:
                    if received:
                        raise ProtocolError("the connection closed in the answer's head")
                    raise NothingReceived("the connection closed before the answer")
                received = True
                feed(parser, data)
                if receiver.headers_done:
                    if 100 <= parser.get_status_code() < 200:  # interim (100 Continue)
                        receiver.reset()
                        continue
                    return Response(conn, parser, receiver, timeouts.read, self._park)
        except BaseException:
            conn.close()
            raise

    def _take(self, key: str) -> Connection | None:
        """The most recently parked connection that is still good; stale ones are closed."""
        idle = self._idle.get(key)
        now = time.monotonic()
        while idle:
            conn = idle.pop()
            if conn.usable(now, KEEPALIVE_EXPIRY):
                return conn
            conn.close()
        return None

    def _park(self, conn: Connection) -> None:
        if self._closed:
            conn.close()
            return
        idle = self._idle.setdefault(conn.origin, deque())
        if len(idle) >= MAX_IDLE_PER_ORIGIN:
            idle.popleft().close()
        conn.idle_since = time.monotonic()
        idle.append(conn)

    async def _connect(self, url: URL, proxy: Proxy | None, within: float) -> Connection:
        tls = url.scheme == "https"
        target = proxy.url if proxy else url
        try:
            async with asyncio.timeout(within):
                if proxy is None or not tls:
                    reader, writer = await asyncio.open_connection(
                        target.host, target.port, ssl=self._ssl_context() if tls else None,
                        server_hostname=url.host if tls else None)
                else:
                    reader, writer = await asyncio.open_connection(target.host, target.port)
                    await tunnel(reader, writer, url, proxy)
                    await writer.start_tls(self._ssl_context(), server_hostname=url.host)
        except TimeoutError as exc:
            raise ConnectTimeout(f"connecting to {target.origin} took longer than "
                                 f"{within:g}s") from exc
        except OSError as exc:
            through = f"through the proxy {target.origin}: " if proxy else ""
            raise ConnectError(f"{through}{exc or type(exc).__name__}") from exc
        return Connection(reader, writer, url.origin)

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
