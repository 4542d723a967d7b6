"""The thin HTTP layer, one module per resource; here the pieces they share: the request body's
base, the JSON answer, and the error envelope in each door's shape (routes.py installs them)."""

from __future__ import annotations

from typing import TYPE_CHECKING

import orjson
from fastapi import Request
from fastapi.responses import Response
from pydantic import BaseModel, ConfigDict, ValidationInfo, model_validator
from pydantic_core import PydanticCustomError

from chorus.errors import ChorusError

if TYPE_CHECKING:
    from chorus.chat.services import Services

OPENAI_PATHS = ("/v1/chat/completions", "/v1/responses", "/v1/models")
"""Paths OpenAI's SDKs call: their errors carry OpenAI's `type` and `param` too."""
ANTHROPIC_PATHS = ("/v1/messages",)


class RequestBody(BaseModel):
    """Base of every JSON request body: a value of the wrong type is refused, never coerced
    ("5" is not a number, "true" not a boolean); unknown fields are ignored."""

    model_config = ConfigDict(strict=True, extra="ignore")

    @model_validator(mode="before")
    @classmethod
    def _storable_text(cls, data: object, info: ValidationInfo) -> object:
        if info.context is STORABLE:
            return data
        found = unstorable_text(data)
        if found is not None:
            where, why = found
            raise PydanticCustomError("invalid_text", "{where}must {why}",
                                      {"where": f"{where}: " if where else "", "why": why})
        return data


STORABLE = {"storable": True}
"""The validation context of a body whose JSON text `storable_json` cleared: each nested body
would otherwise walk its part of the text again."""


def storable_json(raw: bytes) -> bool:
    """Whether JSON text, once parsed, can hold no unstorable text: as UTF-8 (no NUL byte, which
    UTF-16 and UTF-32 have) without `\\u` escapes, it can spell neither NUL (raw control
    characters are not JSON) nor a lone surrogate (UTF-8 cannot encode one)."""
    # find, not `in`: bytes' `in` first tries its operand as an integer, and formats the
    # TypeError it then drops (1,200 instructions of 3,300, bench/notes.md)
    return raw.find(b"\\u") < 0 and raw.find(b"\x00") < 0


def unstorable_text(value: object, where: str = "") -> tuple[str, str] | None:
    """The first text no database can store, as (field path, why): NUL characters, and lone
    UTF-16 surrogates, which JSON's escapes can spell but UTF-8 cannot."""
    pending: list[tuple[str, object]] = [(where, value)]  # a stack, not recursion: any depth
    while pending:
        path, item = pending.pop()
        if isinstance(item, str):
            why = _unstorable(item)
            if why is not None:
                return path, why
        else:
            pending.extend(reversed(_children(path, item)))
    return None


def _unstorable(text: str) -> str | None:
    if "\x00" in text:
        return "not contain NUL characters"
    try:
        text.encode()
    except UnicodeEncodeError:
        return "be valid Unicode (no lone surrogates)"
    return None


def _children(where: str, value: object) -> list[tuple[str, object]]:
    """A container's parts in the order they are checked, each with its field path."""
    if isinstance(value, dict):  # keys first: a clean key is safe to name in a message
        items: list[tuple[str, object]] = [(where, k) for k in value]
        return items + [(f"{where}.{k}" if where else str(k), v) for k, v in value.items()]
    if isinstance(value, list):
        return [(f"{where}.{i}" if where else str(i), v) for i, v in enumerate(value)]
    return []


class JSONBytes(Response):
    """JSON encoded by orjson, for answers built as plain data."""

    media_type = "application/json"

    def render(self, content: object) -> bytes:
        return orjson.dumps(content)


def openai_error(error: ChorusError) -> dict[str, object]:
    """The envelope's error object with OpenAI's `type` and `param`, for the SDKs' typed errors."""
    return {**error.as_json(), "type": error.openai_type, "param": error.param}


def anthropic_error(error: ChorusError) -> dict[str, object]:
    """Anthropic's error shape, for its SDKs' typed errors; the envelope's fields inside."""
    return {"type": "error", "error": {"type": error.openai_type, **error.as_json(),
                                       "param": error.param}}


def error_response(request: Request, error: ChorusError) -> Response:
    if request.url.path.startswith(ANTHROPIC_PATHS):
        return JSONBytes(anthropic_error(error), status_code=error.status, headers=error.headers)
    body = error.as_json()
    if request.url.path.startswith(OPENAI_PATHS):
        body = openai_error(error)
    return JSONBytes({"error": body}, status_code=error.status, headers=error.headers)


def services_of(request: Request) -> Services:
    """The server's services, which the app's lifespan set up (`ChorusApp.services`)."""
    services: Services = request.app.services
    return services
