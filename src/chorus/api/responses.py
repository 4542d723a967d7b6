"""OpenAI's Responses API: `POST /v1/responses`, and a stored response's `GET`, `DELETE` and
`input_items`; a thin adapter over the chat turn.

A stored response (the default, `store` true) belongs to a Chorus session: the first one
starts a session, `previous_response_id` continues it, so the conversation is listed by
`/v1/sessions` and shown in the web app (docs/openai-compat.md).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Query, Request

from chorus import streaming
from chorus.api import JSONBytes, services_of
from chorus.api.doors import (
    KONNECT_PARAMS,
    mode_of,
    start,
    whole,
)
from chorus.api.hangup import CLIENT_CLOSED, EventStream
from chorus.api.responses_input import (
    Input,
    ResponseBody,
    input_of,
    output_format,
    referenced,
    sampling_of,
    tools_of,
)
from chorus.api.responses_wire import EventWriter, Frame, ItemIds, failed_json, finished_json
from chorus.auth import Principal, principal
from chorus.chat.history import history_of
from chorus.chat.request import TurnRequest
from chorus.chat.services import Services
from chorus.chat.turn import Finished, Turn, TurnResult
from chorus.errors import ChorusError, InvalidRequest
from chorus.modes import ModeOptions
from chorus.records import record
from chorus.store.ids import new_id, utcnow
from chorus.store.responses import ResponseRow
from chorus.types import JSON, AnswerDelta, Message, ModeName

router = APIRouter(prefix="/v1", tags=["openai"])

PARAMS = {**KONNECT_PARAMS, "messages": "input", "response_format": "text.format"}
"""The turn's field names in errors, as the Responses API spells them."""
NEW_SESSION = "new"


@record
class Previous:
    """The response a request continues, with its session's conversation."""

    row: ResponseRow
    history: tuple[Message, ...]
    calls: frozenset[str]
    """The call ids of its function_call items, which this request's outputs may answer."""


async def previous_of(services: Services, caller: Principal, body: ResponseBody
                      ) -> Previous | None:
    """The stored response named by `previous_response_id`; it must be the latest answer of
    its conversation (a session is one line of turns, not a tree)."""
    if body.previous_response_id is None:
        return None
    if body.konnect.session_id is not None:
        raise InvalidRequest("konnect.session_id: previous_response_id already names the "
                             "conversation", param="konnect.session_id")
    row = await services.store.responses.get(caller.user.id, body.previous_response_id,
                                             param="previous_response_id")
    if row.message_id is None:
        raise InvalidRequest(f"previous_response_id: response {row.id!r} failed; continue "
                             "from the response before it", param="previous_response_id")
    _, rows = await services.store.sessions.with_messages(caller.user.id, row.session_id)
    latest = next((r for r in reversed(rows) if r.role == "assistant" and r.error is None),
                  None)
    if latest is None or latest.id != row.message_id:
        raise InvalidRequest(
            f"previous_response_id: response {row.id!r} is not the latest answer of its "
            f"conversation (session {row.session_id}); Chorus continues a conversation from "
            "its latest answer", param="previous_response_id")
    calls = frozenset(str(item["call_id"]) for item in row.body.get("output", ())
                      if item.get("type") == "function_call")
    return Previous(row, history_of(rows), calls)


def options_of(body: ResponseBody, pinned: str | None) -> ModeOptions:
    return body.konnect.mode_options(pinned, sampling_of(body), tools_of(body),
                                     output_format(body))


def turn_request(body: ResponseBody, given: Input, mode: ModeName, options: ModeOptions,
                 previous: Previous | None) -> TurnRequest:
    """Stored: a new session, or the previous response's. Not stored: nothing is kept, and
    the previous response's conversation goes as context."""
    stream = bool(body.stream)
    session_id = body.konnect.session_id
    if not body.stored:
        if session_id is not None:
            raise InvalidRequest("konnect.session_id: store false keeps nothing, so it "
                                 "cannot continue a session", param="konnect.session_id")
        history = previous.history if previous else ()
        return TurnRequest(given.messages, mode, None, options,
                           context=(*given.system, *history), persist=False, stream=stream)
    if previous is not None:
        session_id = previous.row.session_id
    elif session_id == NEW_SESSION:
        session_id = None
    return TurnRequest(given.messages, mode, session_id, options, context=given.system,
                       stream=stream)


def echo_of(body: ResponseBody) -> JSON:
    """The request's fields as the response object repeats them."""
    format_: JSON = {"type": "text"}
    if body.text is not None and body.text.format is not None:
        format_ = body.text.format.model_dump(by_alias=True, exclude_none=True)
    return {
        "instructions": body.instructions, "max_output_tokens": body.max_output_tokens,
        "metadata": body.metadata or {}, "model": body.model,
        "parallel_tool_calls": body.parallel_tool_calls is not False,
        "previous_response_id": body.previous_response_id,
        "reasoning": {"effort": None, "summary": None}, "store": body.stored,
        "temperature": body.temperature, "text": {"format": format_},
        "tool_choice": (body.tool_choice.model_dump(exclude_none=True)
                        if not isinstance(body.tool_choice, str | None)
                        else body.tool_choice or "auto"),
        "tools": [t.model_dump(exclude_none=True) for t in body.tools or ()],
        "top_p": body.top_p, "truncation": body.truncation or "disabled",
        "user": body.user,
    }


async def save(services: Services, caller: Principal, turn: Turn, frame: Frame,
               response: JSON, given: Input, result: TurnResult | None) -> None:
    """Keep the response with its session; nothing when the turn is not stored."""
    if turn.session is None:
        return
    # Shielded: a client leaving as a finished answer is kept must not lose its response.
    await asyncio.shield(services.store.responses.add(ResponseRow(
        frame.id, caller.user.id, turn.session.id, result.id if result else None, response,
        list(given.items), utcnow())))


def _known_calls(body: ResponseBody, previous: Previous | None) -> frozenset[str] | None:
    """The calls a `function_call_output` may answer besides the input's own: the previous
    response's; None when continuing a session by `konnect.session_id` (the turn checks)."""
    if previous is not None:
        return previous.calls
    return None if body.konnect.session_id else frozenset()


@router.post("/responses", response_model=None, responses={200: {
    "description": "a response object, or with stream: the Responses API's events",
    "content": {streaming.MEDIA_TYPE: {"schema": {"type": "string"}}}}})
async def create(request: Request, body: ResponseBody,
                 caller: Annotated[Principal, Depends(principal)]
                 ) -> JSONBytes | EventStream:
    services = services_of(request)
    previous = await previous_of(services, caller, body)
    stored = await services.store.responses.output_items(caller.user.id, referenced(body))
    given = input_of(body, _known_calls(body, previous), services.settings.max_message_chars,
                     stored)
    mode, pinned = mode_of(body.model, body.konnect, services, caller.test)
    turn = await start(request, caller, turn_request(body, given, mode,
                                                     options_of(body, pinned), previous),
                       PARAMS)
    frame = Frame(new_id("resp"), int(time.time()), echo_of(body))
    if body.stream:
        return EventStream(_events(services, caller, turn, frame, given))
    result = await whole(request, turn)  # a failure is the HTTP error: no id was sent yet
    if result is None:
        return JSONBytes({}, status_code=CLIENT_CLOSED)
    response = finished_json(frame, result, ItemIds())
    await save(services, caller, turn, frame, response, given, result)
    return JSONBytes(response)


async def _events(services: Services, caller: Principal, turn: Turn, frame: Frame,
                  given: Input) -> AsyncIterator[bytes]:
    """The answer's text as it comes; the modes' other progress is in the final `konnect`."""
    writer = EventWriter(frame)
    for event in writer.opening():
        yield event
    try:
        async for item in turn.run():
            if isinstance(item, AnswerDelta):
                for event in writer.delta(item.text):
                    yield event
            elif isinstance(item, Finished):
                events = list(writer.finished(item.result))
                response = finished_json(frame, item.result, writer.ids)
                await save(services, caller, turn, frame, response, given, item.result)
                for event in events:
                    yield event
    except ChorusError as exc:
        await save(services, caller, turn, frame, failed_json(frame, exc), given, None)
        yield writer.failed(exc)


@router.get("/responses/{response_id}", response_model=None)
async def retrieve(request: Request, response_id: str,
                   caller: Annotated[Principal, Depends(principal)]) -> JSONBytes:
    row = await services_of(request).store.responses.get(caller.user.id, response_id)
    return JSONBytes(row.body)


@router.delete("/responses/{response_id}", response_model=None)
async def delete(request: Request, response_id: str,
                 caller: Annotated[Principal, Depends(principal)]) -> JSONBytes:
    """Deletes the stored response (its object and input items); the conversation's messages
    stay in its session (`DELETE /v1/sessions/{id}` removes them)."""
    await services_of(request).store.responses.delete(caller.user.id, response_id)
    return JSONBytes({"id": response_id, "object": "response", "deleted": True})


@router.get("/responses/{response_id}/input_items", response_model=None)
async def input_items(request: Request, response_id: str,
                      caller: Annotated[Principal, Depends(principal)],
                      limit: Annotated[int, Query(ge=1, le=100)] = 20,
                      order: Literal["asc", "desc"] = "desc",
                      after: Annotated[str | None, Query(max_length=200)] = None,
                      ) -> JSONBytes:
    """The response's input items, newest first unless `order=asc`, a page at a time."""
    row = await services_of(request).store.responses.get(caller.user.id, response_id)
    items: list[Any] = list(reversed(row.input_items)) if order == "desc" \
        else list(row.input_items)
    if after is not None:
        at = next((i for i, item in enumerate(items) if item.get("id") == after), None)
        if at is None:
            raise InvalidRequest(f"after: no input item {after!r} in response {row.id}",
                                 param="after")
        items = items[at + 1:]
    page = items[:limit]
    return JSONBytes({"object": "list", "data": page,
                      "first_id": page[0]["id"] if page else None,
                      "last_id": page[-1]["id"] if page else None,
                      "has_more": len(items) > limit})
