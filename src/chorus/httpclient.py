"""The process's one outbound HTTP client: HTTP/1.1 with keep-alive over asyncio streams.

Every call to a provider, to Ollama and to a search backend goes through `Client`. It speaks
what those calls need: plain and TLS connections (certifi's roots, or SSL_CERT_FILE and
SSL_CERT_DIR), an `http://` proxy from HTTP(S)_PROXY / ALL_PROXY / NO_PROXY, fixed-length,
chunked and close-delimited answers (httptools parses them), gzip and deflate bodies, and a
pool of idle connections per origin. It follows no redirects and keeps no cookies.

It replaces httpx2, which spent about 0.45 ms of CPU per keep-alive call on work these calls
never use; docs/architecture.md has the measurements.
"""

from __future__ import annotations

import asyncio
import base64
import codecs
import ipaddress
import os
import re
import ssl
import time
import urllib.parse
import urllib.request
import zlib
from collections import deque
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

import certifi
import httptools
import orjson

READ_SIZE = 65536
_LINE_END = re.compile(r"\r\n|\r|\n")


class HTTPError(Exception):
    """The exchange failed below HTTP: no connection, a timeout, a broken or cut answer."""


class ConnectError(HTTPError):
    """No connection could be made (refused, unknown host, TLS or proxy failure)."""


class Timeout(HTTPError):
    """A connect, write or read took longer than allowed."""


class ConnectTimeout(Timeout):
    """The connection (and its TLS handshake) took longer than allowed."""


class ProtocolError(HTTPError):
    """The connection broke, or what came back is not HTTP/1.1."""


class _NothingReceived(ProtocolError):
    """A reused connection died before any byte of the answer: the server had closed it."""


@dataclass(frozen=True, slots=True)
class Timeouts:
    connect: float
    read: float
    write: float


@dataclass(frozen=True, slots=True)
class URL:
    """An absolute http(s) URL, split once into what a request needs."""

    scheme: str
    host: str
    port: int
    target: str
    """Path and query, as sent on the request line."""

    @classmethod
    def parse(cls, url: str) -> URL:
        try:
            parts = urllib.parse.urlsplit(url)
            port = parts.port
        except ValueError as exc:
            raise ValueError(f"not a valid URL: {url!r}") from exc
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError(f"not an http(s) URL: {url!r}")
        return cls(parts.scheme, parts.hostname,
                   port or (443 if parts.scheme == "https" else 80),
                   (parts.path or "/") + (f"?{parts.query}" if parts.query else ""))

    def with_params(self, params: Mapping[str, str | int]) -> URL:
        query = urllib.parse.urlencode({k: str(v) for k, v in params.items()})
        joiner = "&" if "?" in self.target else "?"
        return URL(self.scheme, self.host, self.port, f"{self.target}{joiner}{query}")

    @property
    def authority(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        default = 443 if self.scheme == "https" else 80
        return host if self.port == default else f"{host}:{self.port}"

    @property
    def origin(self) -> str:
        return f"{self.scheme}://{self.authority}"


@dataclass(frozen=True, slots=True)
class _Proxy:
    url: URL
    authorization: str | None


class _Connection:
    __slots__ = ("idle_since", "reader", "writer")

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader = reader
        self.writer = writer
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


class _Receiver:
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

    def __init__(self, client: Client, key: str, conn: _Connection, parser: Any,
                 receiver: _Receiver, read_timeout: float) -> None:
        self.status_code: int = parser.get_status_code()
        self.headers: dict[str, str] = receiver.headers
        self._client = client
        self._key = key
        self._conn: _Connection | None = conn
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
                _feed(self._parser, data)
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
            self._client._park(self._key, conn)
        else:
            conn.close()


class Client:
    """Pooled HTTP/1.1 calls; `stream` for bodies read as they come, `request` for whole ones."""

    def __init__(self, *, keepalive_expiry: float = 30.0, max_idle_per_origin: int = 200,
                 ssl_context: ssl.SSLContext | None = None, trust_env: bool = True) -> None:
        self.keepalive_expiry = keepalive_expiry
        self.max_idle_per_origin = max_idle_per_origin
        self._ssl = ssl_context
        self._env = urllib.request.getproxies_environment() if trust_env else {}
        self._proxies: dict[str, _Proxy | None] = {}
        self._idle: dict[str, deque[_Connection]] = {}
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
            if response._conn is not None:
                # Not read to the end (an error, or the caller stopped): the connection
                # is closed, which also tells the server to stop working on it.
                response._conn.close()
                response._conn = None

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
        key = url.origin
        proxy = self._proxy(url)
        head = _head(method, url, headers, body, proxy)
        conn = self._take(key)
        if conn is not None:
            try:
                return await self._exchange(key, conn, head, body, timeouts)
            except _NothingReceived:
                pass  # the server closed it while idle: one more try on a new connection
        conn = await self._connect(url, proxy, timeouts.connect)
        try:
            return await self._exchange(key, conn, head, body, timeouts)
        except _NothingReceived as exc:
            raise ProtocolError("the server closed the connection without answering") from exc

    async def _exchange(self, key: str, conn: _Connection, head: bytes, body: bytes | None,
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
            receiver = _Receiver()
            parser = httptools.HttpResponseParser(receiver)
            received = False
            while True:
                try:
                    data = await conn.read(timeouts.read)
                except ProtocolError as exc:
                    if received:
                        raise
                    raise _NothingReceived(str(exc)) from exc
                if not data:
                    if received:
                        raise ProtocolError("the connection closed in the answer's head")
                    raise _NothingReceived("the connection closed before the answer")
                received = True
                _feed(parser, data)
                if receiver.headers_done:
                    if 100 <= parser.get_status_code() < 200:  # interim (100 Continue)
                        receiver.reset()
                        continue
                    return Response(self, key, conn, parser, receiver, timeouts.read)
        except BaseException:
            conn.close()
            raise

    def _take(self, key: str) -> _Connection | None:
        """The most recently parked connection that is still good; stale ones are closed."""
        idle = self._idle.get(key)
        now = time.monotonic()
        while idle:
            conn = idle.pop()
            if conn.usable(now, self.keepalive_expiry):
                return conn
            conn.close()
        return None

    def _park(self, key: str, conn: _Connection) -> None:
        if self._closed:
            conn.close()
            return
        idle = self._idle.setdefault(key, deque())
        if len(idle) >= self.max_idle_per_origin:
            idle.popleft().close()
        conn.idle_since = time.monotonic()
        idle.append(conn)

    async def _connect(self, url: URL, proxy: _Proxy | None, within: float) -> _Connection:
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
                    await _tunnel(reader, writer, url, proxy)
                    await writer.start_tls(self._ssl_context(), server_hostname=url.host)
        except TimeoutError as exc:
            raise ConnectTimeout(f"connecting to {target.origin} took longer than "
                                 f"{within:g}s") from exc
        except OSError as exc:
            through = f"through the proxy {target.origin}: " if proxy else ""
            raise ConnectError(f"{through}{exc or type(exc).__name__}") from exc
        return _Connection(reader, writer)

    def _ssl_context(self) -> ssl.SSLContext:
        if self._ssl is None:
            self._ssl = default_ssl_context()
        return self._ssl

    def _proxy(self, url: URL) -> _Proxy | None:
        """The proxy for this origin from the environment, decided once per origin."""
        if not self._env:
            return None
        key = url.origin
        if key not in self._proxies:
            self._proxies[key] = _proxy_for(url, self._env)
        return self._proxies[key]


def default_ssl_context() -> ssl.SSLContext:
    """Verify against SSL_CERT_FILE / SSL_CERT_DIR when set, else certifi's roots."""
    cafile, capath = os.environ.get("SSL_CERT_FILE"), os.environ.get("SSL_CERT_DIR")
    context = ssl.create_default_context(
        cafile=cafile or (None if capath else certifi.where()), capath=capath)
    context.set_alpn_protocols(["http/1.1"])
    return context


def _proxy_for(url: URL, env: Mapping[str, str]) -> _Proxy | None:
    """The proxy for `url`; loopback is never proxied (a proxy cannot reach our loopback)."""
    address = env.get(url.scheme) or env.get("all")
    if not address or _loopback(url.host) or _bypassed(url.host, env.get("no", "")):
        return None
    parts = urllib.parse.urlsplit(address if "://" in address else f"http://{address}")
    if parts.scheme != "http":
        raise ConnectError(f"only http:// proxies are supported, not {address!r}")
    authorization = None
    if parts.username is not None:
        user = urllib.parse.unquote(parts.username)
        password = urllib.parse.unquote(parts.password or "")
        authorization = "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()
    return _Proxy(URL.parse(f"http://{parts.hostname}:{parts.port or 80}"), authorization)


def _loopback(host: str) -> bool:
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return host == "localhost" or host.endswith(".localhost")


def _bypassed(host: str, no_proxy: str) -> bool:
    """NO_PROXY: `*`, or hosts and domains (`example.com` also covers `api.example.com`)."""
    for entry in no_proxy.replace(" ", "").lower().split(","):
        if entry == "*":
            return True
        name = entry.lstrip(".")
        if name.count(":") == 1:  # host:port; the port is not compared
            name = name.split(":")[0]
        if name and (host == name or host.endswith("." + name)):
            return True
    return False


async def _tunnel(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, url: URL,
                  proxy: _Proxy) -> None:
    """Ask the proxy for a tunnel to the origin (CONNECT), for TLS end to end."""
    auth = f"proxy-authorization: {proxy.authorization}\r\n" if proxy.authorization else ""
    where = f"[{url.host}]:{url.port}" if ":" in url.host else f"{url.host}:{url.port}"
    writer.write(f"CONNECT {where} HTTP/1.1\r\nhost: {where}\r\n{auth}\r\n".encode())
    try:
        head = await reader.readuntil(b"\r\n\r\n")
    except (asyncio.IncompleteReadError, asyncio.LimitOverrunError) as exc:
        raise ConnectError(f"the proxy {proxy.url.origin} broke off the tunnel") from exc
    status = head.split(b"\r\n", 1)[0].decode("latin-1")
    if status.split(" ", 2)[1:2] != ["200"]:
        raise ConnectError(f"the proxy {proxy.url.origin} refused the tunnel: {status}")


def _head(method: str, url: URL, headers: Mapping[str, str], body: bytes | None,
          proxy: _Proxy | None) -> bytes:
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


def _feed(parser: Any, data: bytes) -> None:
    try:
        parser.feed_data(data)
    except httptools.HttpParserError as exc:
        raise ProtocolError(f"the answer is not valid HTTP/1.1: {exc}") from exc
