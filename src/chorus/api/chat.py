"""Native chat: `POST /v1/chat`, answered whole or streamed as events."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Annotated

from fastapi import APIRouter, Depends, Request
from pydantic import Field

from chorus import streaming
from chorus.api import JSONBytes, services_of
from chorus.api.direct import DirectRoute
from chorus.api.doors import PersonaSlot, RoleIn, personas_of, roles_of, start, whole
from chorus.api.hangup import CLIENT_CLOSED, EventStream
from chorus.api.parts import ContentPart, ResponseFormat, SamplingFields, content_of, output_of
from chorus.auth import Principal, principal
from chorus.chat.answer import ChatAnswer
from chorus.chat.request import TurnRequest
from chorus.chat.turn import Finished, Turn, TurnResult
from chorus.errors import ChorusError, InvalidRequest
from chorus.modes import ModeOptions
from chorus.store.ids import iso
from chorus.types import JSON, Aggregation, Message, ModeName

router = APIRouter(prefix="/v1", tags=["chat"], route_class=DirectRoute)


class ChatBody(SamplingFields):
    message: str | list[ContentPart] = Field(
        min_length=1, description="the question: text, or OpenAI content parts (text, image_url)")
    mode: ModeName | None = None
    session_id: str | None = Field(None, max_length=64)
    model: str | None = Field(None, max_length=200)
    cost_preference: float | None = Field(None, ge=0, le=1)
    models: list[str] | None = Field(None, min_length=1, max_length=8)
    aggregation: Aggregation | None = None
    personas: list[PersonaSlot] | None = Field(None, max_length=8)
    roles: list[RoleIn] | None = Field(None, min_length=2, max_length=8)
    stream: bool = False
    enable_tools: bool = True
    response_format: ResponseFormat | None = None


def options_of(body: ChatBody) -> ModeOptions:
    format_ = body.response_format
    return ModeOptions(
        model=body.model,
        models=tuple(body.models) if body.models else None,
        aggregation=body.aggregation,
        personas=personas_of(body.personas),
        roles=roles_of(body.roles),
        cost_preference=body.cost_preference,
        enable_tools=body.enable_tools,
        sampling=body.sampling(),
        output=output_of(format_.type, format_.json_schema, "response_format")
        if format_ else None,
    )


def question_of(body: ChatBody, max_chars: int) -> Message:
    text, images = content_of(body.message, "message", "message")
    if not text.strip() and not images:
        raise InvalidRequest("message: the question is empty", param="message")
    if len(text) > max_chars:
        raise InvalidRequest(f"message: at most {max_chars} characters", param="message")
    return Message("user", text, images=images)


def answer_json(result: TurnResult) -> JSON:
    return {
        "id": result.id, "object": "chat.message", "session_id": result.session_id,
        "mode": result.mode, "role": "assistant", "content": result.content,
        "models_used": list(result.models_used), "created_at": iso(result.created_at),
        "details": result.details, "usage": result.usage.as_json(),
        "latency_ms": result.latency_ms,
    }


ANSWERS: dict[int | str, dict[str, object]] = {200: {
    "model": ChatAnswer,
    "description": "the answer, or with stream: server-sent events (docs/api.md, Streaming)",
    "content": {streaming.MEDIA_TYPE: {"schema": {"type": "string"}}}}}


@router.post("/chat", response_model=None, responses=ANSWERS)
async def chat(request: Request, body: ChatBody,
               caller: Annotated[Principal, Depends(principal)]
               ) -> JSONBytes | EventStream:
    question = question_of(body, services_of(request).settings.max_message_chars)
    turn = await start(request, caller, TurnRequest(
        (question,), body.mode, body.session_id, options_of(body), stream=body.stream))
    if body.stream:
        return EventStream(_events(turn))
    result = await whole(request, turn)
    if result is None:
        return JSONBytes({}, status_code=CLIENT_CLOSED)
    return JSONBytes(answer_json(result))


async def _events(turn: Turn) -> AsyncIterator[bytes]:
    assert turn.session is not None, "the native endpoint always stores its turns"
    yield streaming.event("session", {"session_id": turn.session.id, "mode": turn.mode})
    try:
        async for item in turn.run():
            if isinstance(item, Finished):
                yield streaming.event("message.completed", answer_json(item.result))
                continue
            frame = streaming.mode_event(item)
            if frame is not None:
                yield frame
    except ChorusError as exc:
        yield streaming.event("error", {"error": exc.as_json()})
    yield streaming.event("done", {})
