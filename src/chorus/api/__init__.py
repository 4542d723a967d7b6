"""The thin HTTP layer: one module per resource, and the one error renderer."""

from __future__ import annotations

import logging

import orjson
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import Response
from starlette.exceptions import HTTPException

from chorus.config import Settings
from chorus.errors import ChorusError, InternalError, InvalidRequest, NotFound

log = logging.getLogger(__name__)

OPENAI_PATHS = ("/v1/chat/completions",)


def install(app: FastAPI, settings: Settings) -> None:
    from chorus.api import (
        chat,
        completions,
        export,
        keys,
        models,
        search,
        sessions,
        usage,
        user_settings,
    )

    # search before sessions: `/v1/sessions/search` must not be read as a session id
    for module in (chat, search, export, sessions, keys, models, user_settings):
        app.include_router(module.router)
    app.include_router(completions.router)
    app.include_router(usage.router)
    app.add_exception_handler(ChorusError, _chorus_error)  # type: ignore[arg-type]
    app.add_exception_handler(RequestValidationError, _validation_error)  # type: ignore[arg-type]
    app.add_exception_handler(HTTPException, _http_error)  # type: ignore[arg-type]
    app.add_exception_handler(Exception, _unexpected)


class JSONBytes(Response):
    """JSON encoded by orjson, for answers built as plain data."""

    media_type = "application/json"

    def render(self, content: object) -> bytes:
        return orjson.dumps(content)


def openai_error(error: ChorusError) -> dict[str, object]:
    """The envelope's error object with OpenAI's `type` and `param`, for the SDKs' typed errors."""
    return {**error.as_json(), "type": error.openai_type, "param": error.param}


def error_response(request: Request, error: ChorusError) -> Response:
    body = error.as_json()
    if request.url.path.startswith(OPENAI_PATHS):
        body = openai_error(error)
    return JSONBytes({"error": body}, status_code=error.status, headers=error.headers)


async def _chorus_error(request: Request, exc: ChorusError) -> Response:
    return error_response(request, exc)


async def _validation_error(request: Request, exc: RequestValidationError) -> Response:
    first = exc.errors()[0] if exc.errors() else {}
    location = [str(part) for part in first.get("loc", ()) if part not in ("body", "query")]
    where = ".".join(location)
    message = first.get("msg", "invalid request")
    if first.get("type") == "json_invalid":
        message, where = "the body is not valid JSON", ""
    text = f"{where}: {message}" if where else message
    return error_response(request, InvalidRequest(text, param=where or None))


async def _http_error(request: Request, exc: HTTPException) -> Response:
    if exc.status_code == 404:
        return error_response(request, NotFound(f"no route {request.url.path}"))
    error = InvalidRequest(str(exc.detail))
    body = {"code": "invalid_request" if exc.status_code < 500 else "internal_error",
            "message": error.message, "status": exc.status_code}
    return JSONBytes({"error": body}, status_code=exc.status_code, headers=exc.headers)


async def _unexpected(request: Request, exc: Exception) -> Response:
    log.error("unhandled error on %s %s", request.method, request.url.path, exc_info=exc)
    return error_response(request, InternalError("internal error; the server log has details"))
