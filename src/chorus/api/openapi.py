"""The OpenAPI document: error envelopes on every route, and SSE where an answer streams.

FastAPI's generated document is close; this fills in what it cannot know, so that clients and
schemathesis see every answer the server really gives.
"""

from __future__ import annotations

import re
from typing import Any

from fastapi import FastAPI
from pydantic import BaseModel, Field


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
        (405, "invalid_request: the path does not take this method"),
        (409, "session_mode_mismatch"),
        (413, "payload_too_large: the body is over the limit"),
        (500, "internal_error"),
        (502, "upstream_error"),
        (504, "upstream_timeout"),
    )
}
ERROR_RESPONSES[429] = {"model": ErrorEnvelope, "headers": _LIMIT_HEADERS,
                        "description": "rate_limit_exceeded or quota_exceeded"}

SSE = {"schema": {"type": "string"},
       "description": "with `stream: true`: server-sent events (see docs/api.md, Streaming)"}


def install(app: FastAPI) -> None:
    """Finish the generated document once, the first time it is asked for."""
    generate = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            finish(generate())
        return app.openapi_schema  # type: ignore[return-value]

    app.openapi = openapi  # type: ignore[method-assign]


def finish(document: dict[str, Any]) -> None:
    for operations in document.get("paths", {}).values():
        for operation in operations.values():
            # Validation errors answer 400 in the envelope (declared above), never 422.
            operation.get("responses", {}).pop("422", None)
            if _streams(operation, document):
                ok = operation["responses"].get("200", {})
                ok.setdefault("content", {})["text/event-stream"] = SSE
    for unused in ("HTTPValidationError", "ValidationError"):
        document.get("components", {}).get("schemas", {}).pop(unused, None)
    _add_links(document)


def _link(operation: str, parameter: str, pointer: str) -> dict[str, Any]:
    return {"operationId": operation, "parameters": {parameter: f"$response.body#/{pointer}"}}


def _add_links(document: dict[str, Any]) -> None:
    """What a created id leads to: lets clients (and schemathesis) follow real resources."""
    ids = {op["operationId"]: (path, method) for path, ops in document.get("paths", {}).items()
           for method, op in ops.items() if isinstance(op, dict) and "operationId" in op}
    session = [op for op in ids if ids[op][0].startswith("/v1/sessions/{session_id}")]
    for source, status, targets in (
        (("/v1/chat", "post"), "200", [(op, "session_id", "session_id") for op in session]),
        (("/v1/keys", "post"), "201",
         [(op, "key_id", "id") for op in ids if ids[op][0] == "/v1/keys/{key_id}"]),
        (("/v1/personas", "post"), "201",
         [(op, "persona_id", "id") for op in ids if ids[op][0] == "/v1/personas/{persona_id}"]),
    ):
        response = document["paths"].get(source[0], {}).get(source[1], {}).get(
            "responses", {}).get(status)
        if response is not None:
            response["links"] = {op: _link(op, name, pointer) for op, name, pointer in targets}


HTTP = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})


def allowed_methods(document: dict[str, Any], path: str) -> list[str] | None:
    """The methods documented for `path`: those of the first path template it matches (a
    literal segment before a parameter, as the routes are ordered), or None if none does."""
    for template, operations in document.get("paths", {}).items():
        if re.fullmatch(re.sub(r"\\\{[^/]+?\\\}", "[^/]+", re.escape(template)), path):
            return sorted(method.upper() for method in operations if method.upper() in HTTP)
    return None


def _streams(operation: dict[str, Any], document: dict[str, Any]) -> bool:
    """True when the operation's JSON body has a `stream` flag: it may answer with SSE."""
    body = operation.get("requestBody", {}).get("content", {}).get("application/json", {})
    schema = body.get("schema", {})
    ref = schema.get("$ref", "")
    if ref.startswith("#/components/schemas/"):
        schema = document["components"]["schemas"][ref.rsplit("/", 1)[1]]
    return "stream" in schema.get("properties", {})
