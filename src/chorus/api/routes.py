"""The API's routes and the one error renderer: what `create_app` installs."""

from __future__ import annotations

import logging
from typing import Any
from urllib.parse import quote

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import Response
from starlette.exceptions import HTTPException
from starlette.routing import Match

from chorus.api import (
    ANTHROPIC_PATHS,
    JSONBytes,
    anthropic_error,
    chat,
    completions,
    direct,
    error_response,
    export,
    health,
    keys,
    messages,
    models,
    openai_error,
    openapi,
    personas,
    responses,
    search,
    sessions,
    usage,
    user_settings,
    web,
)
from chorus.api.middleware import RateLimits, RequestGuard
from chorus.api.openapi import ERROR_RESPONSES, allowed_methods
from chorus.config import Settings
from chorus.errors import ChorusError, InternalError, InvalidRequest, NotFound

log = logging.getLogger(__name__)


def install(app: FastAPI, settings: Settings) -> None:
    """Every route, the middleware that guards them, and the error handlers."""
    # Routes are matched in order: the two chat endpoints first, as nearly every request is
    # one of them; search before sessions, so `/v1/sessions/search` is not read as a session id.
    for module in (completions, chat, search, export, sessions, keys, models, user_settings,
                   personas, usage, responses, messages):
        app.include_router(module.router, responses=ERROR_RESPONSES)
    app.include_router(health.router)
    app.add_middleware(RequestGuard, max_bytes=settings.max_body_bytes)
    app.add_middleware(RateLimits)  # added last, so outermost: its headers reach every answer
    app.add_exception_handler(ChorusError, _chorus_error)  # type: ignore[arg-type]
    app.add_exception_handler(RequestValidationError, _validation_error)  # type: ignore[arg-type]
    app.add_exception_handler(HTTPException, _http_error)  # type: ignore[arg-type]
    app.add_exception_handler(Exception, _unexpected)
    app.include_router(web.router)  # the web app at `/`, outside the API's schema
    app.router.redirect_slashes = False  # Starlette's echoes the Host header: see _slash_redirect
    direct.install(app.router)  # once every route is in
    openapi.install(app)


async def _chorus_error(request: Request, exc: ChorusError) -> Response:
    return error_response(request, exc)


def _is_type_tag(part: object) -> bool:
    """Pydantic names the branch of a union it tried (`str`, `list[str]`) in the location."""
    return isinstance(part, str) and (part in ("str", "int", "float", "bool") or "[" in part)


def _relevant(errors: list[dict[str, Any]]) -> dict[str, Any]:
    """The error to report: for a union, the branch of the type the client actually sent."""
    for error in errors:
        tags = [p for p in error.get("loc", ()) if _is_type_tag(p)]
        if tags and str(tags[-1]).startswith(type(error.get("input")).__name__):
            return error
    return errors[0] if errors else {}


async def _validation_error(request: Request, exc: RequestValidationError) -> Response:
    first = _relevant(list(exc.errors()))
    location = [str(part) for part in first.get("loc", ())
                if part not in ("body", "query") and not _is_type_tag(part)]
    where = ".".join(location)
    message = first.get("msg", "invalid request")
    if first.get("type") == "json_invalid":
        message, where = "the body is not valid JSON", ""
    text = f"{where}: {message}" if where else message
    text = text.encode("utf-8", "replace").decode()  # a field name may hold a lone surrogate
    return error_response(request, InvalidRequest(text, param=where or None))


async def _http_error(request: Request, exc: HTTPException) -> Response:
    """404 and 405 (and any other HTTP error) in the envelope, with OpenAI's `type` and
    `param` (Anthropic's shape on its paths): a client calling a route Chorus does not have
    gets its SDK's typed error."""
    if exc.status_code == 404:
        missing = NotFound(f"no route {request.url.path}")
        if request.url.path.startswith(ANTHROPIC_PATHS):
            return error_response(request, missing)
        return _slash_redirect(request) or JSONBytes(
            {"error": openai_error(missing)}, status_code=404)
    headers = dict(exc.headers or {})
    if exc.status_code == 405:
        headers["Allow"] = ", ".join(_allowed_methods(request))
    error = InvalidRequest(str(exc.detail))
    if request.url.path.startswith(ANTHROPIC_PATHS):
        return JSONBytes(anthropic_error(error), status_code=exc.status_code, headers=headers)
    body = {**openai_error(error),
            "code": "invalid_request" if exc.status_code < 500 else "internal_error",
            "status": exc.status_code}
    return JSONBytes({"error": body}, status_code=exc.status_code, headers=headers)


def _slash_redirect(request: Request) -> Response | None:
    """A redirect to the same path with its trailing slash added or removed, when a route takes
    that one. The target is a path, never built from the `Host` header: a client choosing the
    host must not choose where the answer points."""
    path: str = request.scope["path"]
    other = path.rstrip("/") if path.endswith("/") else path + "/"
    if not other.startswith("/") or other.startswith("//"):  # `//host` would leave the server
        return None
    scope = {**request.scope, "path": other}
    if not any(route.matches(scope)[0] != Match.NONE for route in request.app.router.routes):
        return None
    query = request.scope.get("query_string", b"").decode("latin-1")
    target = quote(request.scope.get("root_path", "") + other) + (f"?{query}" if query else "")
    return Response(status_code=307, headers={"location": target})


def _allowed_methods(request: Request) -> list[str]:
    """The methods the path's resource takes, as documented: Starlette names only those of the
    first route it matched, and `/v1/sessions/search` also matches `/v1/sessions/{id}`."""
    documented = allowed_methods(request.app.openapi(), request.url.path)
    if documented is not None:
        return documented
    return [method for method in ("GET", "POST", "PUT", "PATCH", "DELETE")
            if any(route.matches({**request.scope, "method": method})[0] == Match.FULL
                   for route in request.app.router.routes)]


async def _unexpected(request: Request, exc: Exception) -> Response:
    log.error("unhandled error on %s %s", request.method, request.url.path, exc_info=exc)
    return error_response(request, InternalError("internal error; the server log has details"))
