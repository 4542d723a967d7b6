"""Pure ASGI middleware: the request guard (body cap), per-key rate limits and quotas.

Pure ASGI rather than BaseHTTPMiddleware: no extra task per request and streamed answers
pass straight through; the limit headers are added to the `http.response.start` message.
"""

from __future__ import annotations

from starlette.requests import ClientDisconnect, Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from chorus import limits
from chorus.api import error_response
from chorus.auth import Principal, remember_caller
from chorus.chat.services import Services
from chorus.errors import (
    ChorusError,
    InvalidApiKey,
    InvalidRequest,
    PayloadTooLarge,
    QuotaExceeded,
    RateLimited,
)

LIMITED_PREFIXES = ("/v1/", "/api/")
QUERY_PATHS = frozenset({"/v1/chat", "/v1/chat/completions", "/v1/responses",
                         "/v1/messages"})  # a query is one chat request
API_KEY_PATHS = ("/v1/messages",)
"""Where a key may come as `x-api-key`, as Anthropic's clients send it."""


def header(scope: Scope, name: bytes) -> str | None:
    for key, value in scope["headers"]:
        if key == name:
            return str(value.decode("latin-1"))
    return None


async def answer(scope: Scope, receive: Receive, send: Send, error: ChorusError) -> None:
    await error_response(Request(scope), error)(scope, receive, send)


class RequestGuard:
    """Refuses what no route can handle: a body over `max_bytes` (413, judged by its
    Content-Length, else by counting), and NUL in the path or query (400: no database stores it)."""

    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        # bytes.find, not `in`: see chorus.api.storable_json
        if "\x00" in scope["path"] or scope["query_string"].find(b"%00") >= 0:
            error = InvalidRequest("the path and query must not contain NUL characters")
            await answer(scope, receive, send, error)
            return
        length = header(scope, b"content-length")
        if length is not None:
            if length.isdigit() and int(length) <= self.max_bytes:
                await self.app(scope, receive, send)
            else:
                await answer(scope, receive, send, too_large(self.max_bytes))
            return
        if header(scope, b"transfer-encoding") is None:  # HTTP/1.1: then there is no body
            await self.app(scope, receive, send)
            return
        try:
            body = await read_body(receive, self.max_bytes)
        except PayloadTooLarge as exc:
            await answer(scope, receive, send, exc)
            return
        except ClientDisconnect:  # gone meanwhile: nobody to answer
            return
        await self.app(scope, replay(body, receive), send)


def too_large(max_bytes: int) -> PayloadTooLarge:
    return PayloadTooLarge(f"the request body is over {max_bytes} bytes")


async def read_body(receive: Receive, max_bytes: int | None = None) -> bytes:
    """The whole body, as Starlette's `Request.body` reads it (a client gone first is its
    `ClientDisconnect`) but without the async generator of its stream (three quarters of its
    instructions, bench/notes.md); counted as it comes when `max_bytes` bounds it."""
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] == "http.request":
            chunk: bytes = message.get("body", b"")
            size += len(chunk)
            if max_bytes is not None and size > max_bytes:
                raise too_large(max_bytes)
            chunks.append(chunk)
            if not message.get("more_body", False):
                return chunks[0] if len(chunks) == 1 else b"".join(chunks)
        elif message["type"] == "http.disconnect":
            raise ClientDisconnect()


def replay(body: bytes, receive: Receive) -> Receive:
    """A receive that first hands over the body already read, then the real one."""
    pending = True

    async def replay() -> Message:
        nonlocal pending
        if pending:
            pending = False
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()

    return replay


class RateLimits:
    """Requests per minute and queries per period, both per user (not per key), and the
    X-RateLimit-* headers on every answer to an authenticated request (errors and streams
    included)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        authorization = header(scope, b"authorization") if scope["type"] == "http" else None
        if authorization is None and scope["type"] == "http" \
                and scope["path"].startswith(API_KEY_PATHS):
            api_key = header(scope, b"x-api-key")
            authorization = None if api_key is None else f"Bearer {api_key.strip()}"
        if authorization is None or not scope["path"].startswith(LIMITED_PREFIXES):
            await self.app(scope, receive, send)
            return
        services: Services = scope["app"].services
        try:
            principal = await services.auth.resolve(authorization)
        except InvalidApiKey:  # not authenticated: the route itself answers 401
            await self.app(scope, receive, send)
            return
        remember_caller(scope, principal)  # the routes' auth takes it
        try:
            headers, quota = await self._admit(services, principal, scope)
        except ChorusError as exc:
            await answer(scope, receive, send, exc)
            return
        statuses: list[int] = []
        try:
            await self.app(scope, receive, _adding(headers, send, statuses))
        finally:
            if quota is not None and (not statuses or statuses[0] >= 400):
                # a refused or failed query does not count against the quota
                await services.limiter.return_query(*quota)

    async def _admit(self, services: Services, principal: Principal, scope: Scope
                     ) -> tuple[dict[str, str], tuple[str, limits.Period] | None]:
        """Count the request (and a chat query); the headers to add, and the query taken."""
        allowed = limits.allowance(services.settings, principal)
        headers: dict[str, str] = {}
        if allowed.requests_per_minute is not None:
            window = await services.limiter.hit(limits.rate_bucket(principal),
                                                allowed.requests_per_minute)
            headers = window.headers()
            if not window.allowed:
                wait = limits.seconds_until(window.ends)
                raise RateLimited(
                    f"rate limit of {window.limit} requests per minute exceeded; "
                    f"retry in {wait} s", headers={**headers, "Retry-After": str(wait)})
        if (allowed.queries_per_period is None or scope["method"] != "POST"
                or scope["path"].rstrip("/") not in QUERY_PATHS):
            return headers, None
        period = limits.Period.current()
        bucket = limits.quota_bucket(principal)
        take = await services.limiter.take_query(bucket, allowed.queries_per_period, period)
        if not take.allowed:
            raise QuotaExceeded(
                f"all {take.limit} queries of the {allowed.tier} tier for {period.key} are "
                f"used; the quota renews at {period.end:%Y-%m-%dT%H:%M:%SZ}",
                headers={**headers, "Retry-After": str(limits.seconds_until(period.end_epoch))})
        return headers, (bucket, period)


def _adding(headers: dict[str, str], send: Send, statuses: list[int]) -> Send:
    """`send` with `headers` added to the response start; its status goes into `statuses`."""
    extra = [(name.lower().encode(), value.encode()) for name, value in headers.items()]

    async def wrapped(message: Message) -> None:
        if message["type"] == "http.response.start":
            statuses.append(message["status"])
            message = {**message, "headers": [*message.get("headers", ()), *extra]}
        await send(message)

    return wrapped
