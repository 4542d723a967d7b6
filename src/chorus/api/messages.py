"""Anthropic's Messages API: `POST /v1/messages` and `/v1/messages/count_tokens`, stateless.

A thin adapter: the request is read into a TurnRequest (docs/messages.md), the turn's events and
result are written back as Anthropic's message object or its server-sent event sequence.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Annotated, Any, Literal

import orjson
from fastapi import APIRouter, Depends, Request, Security
from fastapi.security import APIKeyHeader
from pydantic import BaseModel, ConfigDict, Field, model_validator

from chorus import streaming, tokens
from chorus.api import JSONBytes, RequestBody, anthropic_error, services_of
from chorus.api.anthropic_parts import (
    BlockIn,
    MessageIn,
    ToolChoiceIn,
    ToolIn,
    conversation_of,
    tools_of,
)
from chorus.api.doors import (
    KONNECT_PARAMS,
    DoorBody,
    mode_of,
    start,
    whole,
)
from chorus.api.hangup import CLIENT_CLOSED, EventStream
from chorus.api.openapi import ERROR_RESPONSES
from chorus.auth import BEARER, Principal, known_caller, remember_caller
from chorus.chat.request import TurnRequest
from chorus.chat.turn import Finished, Turn, TurnResult
from chorus.errors import ChorusError, InvalidApiKey, InvalidRequest
from chorus.modes import ModeOptions, Sampling
from chorus.modes.base import ClientTools
from chorus.records import record
from chorus.store.ids import new_id
from chorus.types import JSON, AnswerDelta, Message

router = APIRouter(prefix="/v1", tags=["anthropic"])

PARAMS = {**KONNECT_PARAMS, "response_format": "output_config", "logprobs": "messages"}
"""Chorus's field names in errors, as this request spells them."""
REFUSED = {
    "top_k": "top_k is not supported: not every model Chorus routes to can sample that way",
    "output_config": "output_config is not supported on /v1/messages: use "
                     "response_format on /v1/chat/completions for structured output",
    "output_format": "output_format is not supported on /v1/messages",
    "container": "container is not supported: Chorus runs no code execution container",
    "mcp_servers": "mcp_servers is not supported: Chorus connects to no MCP server",
    "context_management": "context_management is not supported",
}
"""Anthropic fields that would change the answer and that Chorus cannot honour."""
STOP_REASONS = {"stop": "end_turn", "length": "max_tokens", "tool_calls": "tool_use"}
IMAGE_TOKENS = 1600
"""An image's estimate in count_tokens: Anthropic's bound for an image it does not shrink."""
X_API_KEY = APIKeyHeader(name="x-api-key", auto_error=False, scheme_name="x-api-key",
                         description="an API key, as Anthropic's clients send it")


class MetadataIn(RequestBody):
    user_id: str | None = Field(None, max_length=256)


class CountBody(DoorBody):
    REFUSED = REFUSED
    model: str = Field(min_length=1, max_length=200)
    messages: list[MessageIn] = Field(min_length=1, max_length=100_000)
    system: str | list[BlockIn] | None = None
    tools: list[ToolIn] | None = Field(None, max_length=128)
    tool_choice: ToolChoiceIn | None = None
    @model_validator(mode="before")
    @classmethod
    def _refuse_thinking(cls, data: Any) -> Any:
        """Extended thinking, unless switched off: Chorus returns no thinking blocks."""
        if isinstance(data, dict):
            thinking = data.get("thinking")
            if thinking is not None and thinking != {"type": "disabled"}:
                raise InvalidRequest("thinking is not supported: Chorus returns no thinking "
                                     "blocks", param="thinking")
        return data

    def conversation(self, max_chars: int) -> tuple[Message, ...]:
        return conversation_of(self.system, self.messages, max_chars)

    def client_tools(self) -> ClientTools | None:
        return tools_of(self.tools, self.tool_choice)


class MessagesBody(CountBody):
    max_tokens: int = Field(ge=1, le=1_000_000)
    stop_sequences: list[str] | None = Field(None, max_length=16)
    temperature: float | None = Field(None, ge=0, le=1)
    top_p: float | None = Field(None, ge=0, le=1)
    metadata: MetadataIn | None = None
    stream: bool | None = None


class TokenCount(BaseModel):
    input_tokens: int


class AnthropicMessage(BaseModel):
    """The answer without `stream`; with it, Anthropic's events (see docs/messages.md)."""

    model_config = ConfigDict(extra="allow")

    id: str
    type: Literal["message"]
    role: Literal["assistant"]
    content: list[dict[str, Any]]
    model: str
    stop_reason: Literal["end_turn", "max_tokens", "tool_use"]
    stop_sequence: None
    usage: dict[str, int]
    konnect: dict[str, Any]


class AnthropicErrorBody(BaseModel):
    type: str
    message: str
    code: str
    status: int
    param: str | None


class AnthropicErrorEnvelope(BaseModel):
    type: Literal["error"]
    error: AnthropicErrorBody


ERRORS: dict[int | str, dict[str, Any]] = {
    status: {**answer, "model": AnthropicErrorEnvelope} for status, answer in
    ERROR_RESPONSES.items()}
"""The envelope's statuses, each in Anthropic's error shape."""


async def caller(request: Request, _bearer: Annotated[object, Security(BEARER)] = None,
                 _key: Annotated[object, Security(X_API_KEY)] = None) -> Principal:
    """The caller by `x-api-key`, as Anthropic's clients send it, or `Authorization: Bearer`."""
    known = known_caller(request.scope)
    if known is not None:
        return known
    authorization = request.headers.get("authorization")
    api_key = request.headers.get("x-api-key")
    if authorization is None and api_key is not None:
        authorization = f"Bearer {api_key.strip()}"
    if authorization is None:
        raise InvalidApiKey("missing API key: send 'x-api-key: sk_...' or "
                            "'Authorization: Bearer sk_...'")
    found = await services_of(request).auth.resolve(authorization)
    remember_caller(request.scope, found)
    return found


def options_of(body: MessagesBody, pinned: str | None) -> ModeOptions:
    ext = body.konnect
    if ext.session_id is not None:
        raise InvalidRequest("konnect.session_id: /v1/messages is stateless; send the whole "
                             "conversation in messages", param="konnect.session_id")
    sampling = Sampling(temperature=body.temperature, max_tokens=body.max_tokens,
                        stop=tuple(body.stop_sequences) if body.stop_sequences else None,
                        top_p=body.top_p, user=body.metadata.user_id if body.metadata else None)
    return ext.mode_options(pinned, sampling, body.client_tools())


def input_tokens(conversation: tuple[Message, ...], tools: ClientTools | None) -> int:
    """A local estimate of the prompt: the messages, their tool calls, images and the tools."""
    texts = [m.content + "".join(orjson.dumps(c.arguments).decode() + c.name
                                 for c in m.tool_calls) for m in conversation]
    images = sum(len(m.images) for m in conversation)
    offered = sum(tokens.count(t.name + t.description + orjson.dumps(t.parameters).decode())
                  for t in tools.tools) if tools else 0
    return tokens.count_messages(texts) + images * IMAGE_TOKENS + offered


@router.post("/messages/count_tokens", response_model=TokenCount, responses=ERRORS)
async def count_tokens(request: Request, body: CountBody,
                       who: Annotated[Principal, Depends(caller)]) -> JSONBytes:
    services = services_of(request)
    mode_of(body.model, body.konnect, services, who.test)
    conversation = body.conversation(services.settings.max_message_chars)
    return JSONBytes({"input_tokens": input_tokens(conversation, body.client_tools())})


@router.post("/messages", response_model=None, responses={
    **ERRORS, 200: {"model": AnthropicMessage, "description": "a message, or with stream: "
                    "Anthropic's events", "content": {streaming.MEDIA_TYPE: {
                        "schema": {"type": "string"}}}}})
async def messages(request: Request, body: MessagesBody,
                   who: Annotated[Principal, Depends(caller)]) -> JSONBytes | EventStream:
    services = services_of(request)
    conversation = body.conversation(services.settings.max_message_chars)
    mode, pinned = mode_of(body.model, body.konnect, services, who.test)
    options = options_of(body, pinned)
    turn = await start(request, who, TurnRequest(conversation, mode, None, options,
                                                 persist=False, stream=bool(body.stream)),
                       PARAMS)
    if body.stream:
        head = Head(new_id("msg"), body.model, input_tokens(conversation, options.tools))
        return EventStream(_events(turn, head))
    result = await whole(request, turn)
    if result is None:
        return JSONBytes({}, status_code=CLIENT_CLOSED)
    return JSONBytes({"id": result.id, "type": "message", "role": "assistant",
                      "content": blocks_of(result), "model": body.model,
                      **stop_of(result), "usage": usage_of(result), "konnect": konnect_of(result)})


def blocks_of(result: TurnResult) -> list[JSON]:
    """The answer's content blocks: its text (when there is any, or nothing else), its calls."""
    blocks: list[JSON] = []
    if result.content or not result.tool_calls:
        blocks.append({"type": "text", "text": result.content})
    blocks.extend({"type": "tool_use", "id": c.id, "name": c.name, "input": c.arguments}
                  for c in result.tool_calls)
    return blocks


def stop_of(result: TurnResult) -> JSON:
    """Why the answer ended; a stop sequence reads as end_turn (the providers do not say)."""
    return {"stop_reason": STOP_REASONS.get(result.finish_reason, "end_turn"),
            "stop_sequence": None}


def usage_of(result: TurnResult) -> JSON:
    return {"input_tokens": result.usage.prompt_tokens,
            "output_tokens": result.usage.completion_tokens}


def konnect_of(result: TurnResult) -> JSON:
    return {"mode": result.mode, "models_used": list(result.models_used),
            "details": result.details, "cost_usd": round(result.usage.cost_usd, 8)}


@record
class Head:
    """What the first event says about a streamed message."""

    id: str
    model: str
    input_tokens: int


def _event(name: str, payload: JSON) -> bytes:
    return streaming.event(name, {"type": name, **payload})


def _block(index: int, block: JSON, delta: JSON | None) -> list[bytes]:
    frames = [_event("content_block_start", {"index": index, "content_block": block})]
    if delta is not None:
        frames.append(_event("content_block_delta", {"index": index, "delta": delta}))
    frames.append(_event("content_block_stop", {"index": index}))
    return frames


def _ending(result: TurnResult, index: int, text_open: bool) -> list[bytes]:
    """The text block's end, the tool_use blocks, and the message's stop reason and usage."""
    frames = [_event("content_block_stop", {"index": index})] if text_open else []
    index += text_open
    if not text_open and not result.tool_calls:
        frames += _block(index, {"type": "text", "text": ""}, None)
    for offset, call in enumerate(result.tool_calls):
        frames += _block(index + offset,
                         {"type": "tool_use", "id": call.id, "name": call.name, "input": {}},
                         {"type": "input_json_delta",
                          "partial_json": orjson.dumps(call.arguments).decode()})
    frames.append(_event("message_delta", {"delta": stop_of(result), "usage": usage_of(result),
                                           "konnect": konnect_of(result)}))
    return frames


async def _events(turn: Turn, head: Head) -> AsyncIterator[bytes]:
    """Anthropic's sequence; a mode's progress rides in `ping` events, which clients skip."""
    yield _event("message_start", {"message": {
        "id": head.id, "type": "message", "role": "assistant", "content": [],
        "model": head.model, "stop_reason": None, "stop_sequence": None,
        "usage": {"input_tokens": head.input_tokens, "output_tokens": 0}}})
    yield _event("ping", {"konnect": {"event": "session", "mode": turn.mode}})
    text_open = False
    try:
        async for item in turn.run():
            if isinstance(item, AnswerDelta):
                if not text_open:
                    text_open = True
                    yield _event("content_block_start", {
                        "index": 0, "content_block": {"type": "text", "text": ""}})
                yield _event("content_block_delta", {
                    "index": 0, "delta": {"type": "text_delta", "text": item.text}})
            elif isinstance(item, Finished):
                for frame in _ending(item.result, 0, text_open):
                    yield frame
            else:
                named = streaming.event_payload(item)
                if named is not None:
                    yield _event("ping", {"konnect": {"event": named[0], **named[1]}})
    except ChorusError as exc:
        yield streaming.event("error", anthropic_error(exc))
        return
    yield _event("message_stop", {})
