"""Native chat: `POST /v1/chat`, answered whole or streamed as events."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Annotated

from fastapi import APIRouter, Depends, Request
from fastapi.responses import StreamingResponse
from pydantic import Field

from chorus import streaming
from chorus.api import JSONBytes, RequestBody
from chorus.api.hangup import CLIENT_CLOSED, ClientGone, answer_unless_hung_up
from chorus.api.turns import Turn, TurnInput
from chorus.app import Services
from chorus.auth import Principal, principal
from chorus.errors import ChorusError, InvalidRequest
from chorus.modes import ExpertRole, ModeOptions
from chorus.types import Aggregation, ModeName

router = APIRouter(prefix="/v1", tags=["chat"])


class PersonaSlot(RequestBody):
    personaId: str = Field(min_length=1, max_length=64)
    modelId: str = Field(min_length=1, max_length=200)


class RoleIn(RequestBody):
    name: str = Field(min_length=1, max_length=100)
    perspective: str = Field(min_length=1, max_length=2000)


class ChatBody(RequestBody):
    message: str = Field(min_length=1)
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
    temperature: float | None = Field(None, ge=0, le=2)
    max_tokens: int | None = Field(None, ge=1, le=1_000_000)


def options_of(body: ChatBody) -> ModeOptions:
    return ModeOptions(
        model=body.model,
        models=tuple(body.models) if body.models else None,
        aggregation=body.aggregation,
        personas={p.modelId: p.personaId for p in body.personas or ()},
        roles=tuple(ExpertRole(r.name, r.perspective) for r in body.roles) if body.roles else None,
        cost_preference=body.cost_preference,
        enable_tools=body.enable_tools,
        temperature=body.temperature,
        max_tokens=body.max_tokens,
    )


@router.post("/chat", response_model=None)
async def chat(request: Request, body: ChatBody,
               caller: Annotated[Principal, Depends(principal)]
               ) -> JSONBytes | StreamingResponse:
    services: Services = request.app.state.services
    if len(body.message) > services.settings.max_message_chars:
        raise InvalidRequest(
            f"message: at most {services.settings.max_message_chars} characters", param="message")
    turn = Turn(services, caller, TurnInput(body.message, body.mode, body.session_id,
                                            options_of(body), stream=body.stream))
    await turn.prepare()
    if body.stream:
        return StreamingResponse(_events(turn), media_type=streaming.MEDIA_TYPE,
                                 headers=streaming.HEADERS)
    try:
        await answer_unless_hung_up(request, turn)
    except ClientGone:
        return JSONBytes({}, status_code=CLIENT_CLOSED)
    return JSONBytes(turn.response)


async def _events(turn: Turn) -> AsyncIterator[bytes]:
    assert turn.session is not None
    yield streaming.event("session", {"session_id": turn.session.id, "mode": turn.mode})
    try:
        async for item in turn.run():
            frame = streaming.mode_event(item)
            if frame is not None:
                yield frame
        yield streaming.event("message.completed", turn.response)
    except ChorusError as exc:
        yield streaming.event("error", exc.as_json())
    yield streaming.event("done", {})
