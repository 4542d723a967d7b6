"""The thin HTTP layer: one module per resource, and the one error renderer."""

from __future__ import annotations

import logging
from typing import Any

import orjson
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import Response
from pydantic import BaseModel, Field
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
        personas,
        search,
        sessions,
        usage,
        user_settings,
    )
    from chorus.api.middleware import BodyLimit, RateLimits

    # search before sessions: `/v1/sessions/search` must not be read as a session id
    for module in (chat, search, export, sessions, keys, models, user_settings,
                   personas):
        app.include_router(module.router, responses=ERROR_RESPONSES)
    app.include_router(completions.router, responses=ERROR_RESPONSES)
    app.include_router(usage.router, responses=ERROR_RESPONSES)
    app.add_middleware(BodyLimit, max_bytes=settings.max_body_bytes)
    app.add_middleware(RateLimits)  # added last, so outermost: its headers reach every answer
    app.add_exception_handler(ChorusError, _chorus_error)  # type: ignore[arg-type]
    app.add_exception_handler(RequestValidationError, _validation_error)  # type: ignore[arg-type]
    app.add_exception_handler(HTTPException, _http_error)  # type: ignore[arg-type]
    app.add_exception_handler(Exception, _unexpected)


class ErrorBody(BaseModel):
    code: str
    message: str
    status: int
    type: str | None = Field(None, description="on /v1/chat/completions: OpenAI's error type")
    param: str | None = Field(None, description="on /v1/chat/completions: the field at fault")


class ErrorEnvelope(BaseModel):
    """Every error, on every route."""

    error: ErrorBody


_LIMIT_HEADERS = {name: {"description": text, "schema": {"type": "integer"}, "required": True}
                  for name, text in (
                      ("Retry-After", "seconds to wait before trying again"),
                      ("X-RateLimit-Limit", "requests allowed per minute for this key"),
                      ("X-RateLimit-Remaining", "requests left in the current window"),
                      ("X-RateLimit-Reset", "when the window ends, in epoch seconds"))}

ERROR_RESPONSES: dict[int | str, dict[str, Any]] = {
    status: {"model": ErrorEnvelope, "description": text}
    for status, text in (
        (400, "invalid_request: malformed JSON, wrong types, values out of range"),
        (401, "invalid_api_key"),
        (403, "tier_required or forbidden"),
        (404, "not_found (another user's resources answer the same)"),
        (409, "session_mode_mismatch"),
        (413, "payload_too_large: the body is over the limit"),
        (500, "internal_error"),
        (502, "upstream_error"),
        (504, "upstream_timeout"),
    )
}
ERROR_RESPONSES[429] = {"model": ErrorEnvelope, "headers": _LIMIT_HEADERS,
                        "description": "rate_limit_exceeded or quota_exceeded"}


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
