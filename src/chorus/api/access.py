"""The access middleware: a request id, one log line and the metrics of every HTTP request.

Pure ASGI (no BaseHTTPMiddleware): it only wraps `send`, so streams pass through untouched.
"""

from __future__ import annotations

import asyncio
import logging
import re
import time
from contextvars import ContextVar
from dataclasses import dataclass

import structlog
from starlette.routing import compile_path
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from chorus.logs import log_line
from chorus.metrics import Metrics
from chorus.store.ids import new_id

log = logging.getLogger("chorus.access")

REQUEST_ID_HEADER = "x-request-id"
_REQUEST_ID_HEADER = REQUEST_ID_HEADER.encode()
ACCEPTED_REQUEST_ID = re.compile(r"[A-Za-z0-9._:/+=-]{1,128}")
UNMATCHED = "<unmatched>"
QUIET_ROUTES = frozenset({"/healthz", "/readyz", "/metrics"})
"""Probed every few seconds: counted, but logged only at debug level."""
CLIENT_CLOSED = 499
"""The status logged for a request whose client left before an answer began (as nginx does)."""


@dataclass(slots=True)
class RequestInfo:
    """What handlers learn about a request that its log line and metrics should carry."""

    request_id: str
    mode: str | None = None
    usage_request_id: str | None = None
    """The id its usage records are keyed by, when it made model calls."""


_current: ContextVar[RequestInfo | None] = ContextVar("chorus_request", default=None)


def note_mode(mode: str) -> None:
    """Label the current request with the chat mode it runs."""
    info = _current.get()
    if info is not None:
        info.mode = mode


def usage_ids() -> tuple[str, str | None]:
    """A new id for the current request's usage records, and the access log's id of the
    request; the log line will carry the new id too, so either side joins the other."""
    usage_id = new_id("req")
    info = _current.get()
    if info is None:
        return usage_id, None
    info.usage_request_id = usage_id
    return usage_id, info.request_id


def request_id_of(scope: Scope) -> str:
    """The client's X-Request-ID when it is a sane token, else a new one."""
    for name, value in scope.get("headers", ()):
        if name == b"x-request-id":
            candidate: str = value.decode("latin-1")
            if ACCEPTED_REQUEST_ID.fullmatch(candidate):
                return candidate
            break
    return new_id("req")


def _is_event_stream(headers: list[tuple[bytes, bytes]]) -> bool:
    for name, value in headers:
        if name.lower() == b"content-type":
            return value.startswith(b"text/event-stream")
    return False


def route_of(scope: Scope) -> str | None:
    """The matched route's template (`/v1/sessions/{session_id}`), never the raw path."""
    path = getattr(scope.get("route"), "path", None)
    return path if isinstance(path, str) else None


class AccessMiddleware:
    def __init__(self, app: ASGIApp, metrics: Metrics) -> None:
        self.app = app
        self.metrics = metrics
        self._templates: list[tuple[re.Pattern[str], str]] | None = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        info = RequestInfo(request_id_of(scope))
        token = _current.set(info)
        state = scope.setdefault("state", {})
        started = time.perf_counter()
        status: int | None = None
        streaming = False

        async def send_with_id(message: Message) -> None:
            nonlocal status, streaming
            if message["type"] == "http.response.start":
                status = message["status"]
                headers = message["headers"] = [  # as MutableHeaders would, for half of it
                    *message.get("headers", ()), (_REQUEST_ID_HEADER, info.request_id.encode())]
                if _is_event_stream(headers):
                    streaming = True
                    self.metrics.active_streams.inc()
            await send(message)

        failed: BaseException | None = None
        # bound_contextvars, without its walk over every context variable
        bound = structlog.contextvars.bind_contextvars(request_id=info.request_id)
        try:
            await self.app(scope, receive, send_with_id)
        except BaseException as exc:
            failed = exc
            raise
        finally:
            structlog.contextvars.reset_contextvars(**bound)
            _current.reset(token)
            if streaming:
                self.metrics.active_streams.dec()
            if status is None:
                status = CLIENT_CLOSED if isinstance(failed, asyncio.CancelledError) else 500
            self._record(scope, state, info, status, time.perf_counter() - started)

    def _record(self, scope: Scope, state: dict[str, object], info: RequestInfo, status: int,
                seconds: float) -> None:
        route = route_of(scope) or self._template_of(scope)
        method: str = scope["method"]
        self.metrics.request(method, route, status, info.mode, seconds)
        level = logging.DEBUG if route in QUIET_ROUTES else logging.INFO
        if not log.isEnabledFor(level):
            return
        principal = state.get("principal")
        key = getattr(principal, "key", None)
        extra = {
            "request_id": info.request_id, "method": method, "route": route,
            "path": scope.get("path", ""), "status": status,
            "latency_ms": round(seconds * 1000, 1), "mode": info.mode,
            "user_id": getattr(key, "user_id", None), "key_id": getattr(key, "id", None),
        }
        if info.usage_request_id is not None:
            extra["usage_request_id"] = info.usage_request_id
        log_line(log, level, "request", extra)

    def _template_of(self, scope: Scope) -> str:
        """For answers given before routing (a guard's 413 or 429): the documented path that
        matches, so they count under their route; labels stay bounded either way."""
        if self._templates is None:
            paths = scope["app"].openapi().get("paths", {})
            self._templates = [(compile_path(path)[0], path) for path in paths]
        for pattern, template in self._templates:
            if pattern.match(scope["path"]):
                return template
        return UNMATCHED
