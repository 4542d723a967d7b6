"""OpenAI-compatible chat: `POST /v1/chat/completions`, with the konnect extensions."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Iterator
from typing import Annotated, Any, Literal

import orjson
from fastapi import APIRouter, Depends, Request
from pydantic import BaseModel, ConfigDict, Field

from chorus import streaming
from chorus.api import JSONBytes, RequestBody, openai_error, services_of
from chorus.api.direct import DirectRoute
from chorus.api.doors import (
    KONNECT_PARAMS,
    DoorBody,
    mode_of,
    start,
    whole,
)
from chorus.api.hangup import CLIENT_CLOSED, EventStream
from chorus.api.parts import (
    ContentPart,
    NamedTool,
    ResponseFormat,
    SamplingFields,
    ToolIn,
    content_of,
    openai_tools,
    output_of,
)
from chorus.auth import Principal, principal
from chorus.chat.request import TurnRequest
from chorus.chat.turn import Finished, Turn, TurnResult
from chorus.errors import ChorusError, InvalidRequest
from chorus.modes import ModeOptions
from chorus.modes.details import Details
from chorus.store.ids import base62
from chorus.types import JSON, AnswerDelta, Message, ModeName, Role, ToolCall

router = APIRouter(prefix="/v1", tags=["openai"], route_class=DirectRoute)

NEW_SESSION = "new"
ROLES: dict[str, Role] = {"system": "system", "developer": "system", "user": "user",
                          "assistant": "assistant", "tool": "tool"}
REFUSED = {
    "logit_bias": "logit_bias is not supported: token ids differ between the models Chorus "
                  "routes to",
    "functions": "functions is not supported: use tools",
    "function_call": "function_call is not supported: use tool_choice",
    "audio": "audio output is not supported",
    "prediction": "predicted outputs are not supported",
    "web_search_options": "web_search_options is not supported: Chorus searches the web "
                          "itself when konnect.enable_tools is true and a backend is configured",
    "reasoning_effort": "reasoning_effort is not supported",
}
"""OpenAI fields that would change the answer and that no dialect here honours."""


class ToolCallFunction(RequestBody):
    name: str = Field(min_length=1, max_length=64)
    arguments: str = Field(max_length=500_000)


class ToolCallIn(RequestBody):
    id: str = Field(min_length=1, max_length=200)
    type: Literal["function"]
    function: ToolCallFunction


class ChatMessageIn(RequestBody):
    role: str = Field(max_length=40)
    content: str | list[ContentPart] | None = None
    tool_calls: list[ToolCallIn] | None = Field(None, max_length=128)
    tool_call_id: str | None = Field(None, max_length=200)


class StreamOptions(RequestBody):
    include_usage: bool | None = None


class CompletionBody(SamplingFields, DoorBody):
    REFUSED = REFUSED
    model: str = Field(min_length=1, max_length=200)
    messages: list[ChatMessageIn] = Field(min_length=1, max_length=10_000)
    stream: bool | None = None
    stream_options: StreamOptions | None = None
    n: int | None = Field(None, ge=1, le=128)
    max_completion_tokens: int | None = Field(None, ge=1, le=1_000_000)
    logprobs: bool | None = None
    top_logprobs: int | None = Field(None, ge=0, le=20)
    tools: list[ToolIn] | None = Field(None, max_length=128)
    tool_choice: Literal["auto", "none", "required"] | NamedTool | None = None
    parallel_tool_calls: bool | None = None
    response_format: ResponseFormat | None = None
    modalities: list[str] | None = None


class ToolCallFunctionOut(BaseModel):
    name: str
    arguments: str


class ToolCallOut(BaseModel):
    id: str
    type: Literal["function"]
    function: ToolCallFunctionOut


class AnswerMessage(BaseModel):
    role: Literal["assistant"]
    content: str | None
    refusal: None = None
    tool_calls: list[ToolCallOut] | None = None


class Choice(BaseModel):
    index: int
    message: AnswerMessage
    logprobs: dict[str, Any] | None = None
    finish_reason: str


class CompletionUsage(BaseModel):
    prompt_tokens: int
    completion_tokens: int
    total_tokens: int


class KonnectAnswer(BaseModel):
    model_config = ConfigDict(extra="allow")

    mode: ModeName
    models_used: list[str]
    details: Details
    cost_usd: float
    session_id: str | None = Field(None, description="only when the turn was stored")
    message_id: str | None = Field(None, description="only when the turn was stored")


class ChatCompletion(BaseModel):
    """The answer without `stream`; with it, `chat.completion.chunk` events (see the docs)."""

    id: str
    object: Literal["chat.completion"]
    created: int
    model: str
    choices: list[Choice]
    usage: CompletionUsage
    konnect: KonnectAnswer


ANSWERS: dict[int | str, dict[str, Any]] = {200: {
    "model": ChatCompletion,
    "description": "a chat.completion, or with stream: chat.completion.chunk events",
    "content": {streaming.MEDIA_TYPE: {"schema": {"type": "string"}}}}}


def message_of(message: ChatMessageIn, index: int) -> Message:
    param = f"messages[{index}]"
    role = ROLES.get(message.role)
    if role is None:
        raise InvalidRequest(f"{param}.role {message.role!r} is not supported: use system, "
                             "developer, user, assistant or tool", param="messages")
    text, images = content_of(message.content, f"{param}.content", "messages")
    if images and role != "user":
        raise InvalidRequest(f"{param}: only user messages may carry images", param="messages")
    if role == "tool":
        if not message.tool_call_id:
            raise InvalidRequest(f"{param}: a tool message needs tool_call_id",
                                 param="messages")
        return Message("tool", text, tool_call_id=message.tool_call_id)
    calls = tuple(ToolCall(c.id, c.function.name, _arguments(c.function.arguments, param))
                  for c in message.tool_calls or ()) if role == "assistant" else ()
    return Message(role, text, tool_calls=calls, images=images)


def _arguments(raw: str, param: str) -> JSON:
    try:
        value = orjson.loads(raw or "{}")
    except orjson.JSONDecodeError as exc:
        raise InvalidRequest(f"{param}: tool call arguments are not JSON",
                             param="messages") from exc
    if not isinstance(value, dict):
        raise InvalidRequest(f"{param}: tool call arguments are not a JSON object",
                             param="messages")
    return value


def conversation_of(messages: list[ChatMessageIn], max_chars: int) -> tuple[Message, ...]:
    converted = tuple(message_of(m, i) for i, m in enumerate(messages))
    last = converted[-1]
    if last.role not in ("user", "tool"):
        raise InvalidRequest("messages: the last message must be the user's question, or a "
                             "tool's result", param="messages")
    asked = next((m for m in reversed(converted) if m.role == "user"), None)
    if asked is None or (not asked.content.strip() and not asked.images):
        raise InvalidRequest("messages: the last user message is empty", param="messages")
    if len(asked.content) > max_chars:
        raise InvalidRequest(f"messages: the question may have at most {max_chars} characters",
                             param="messages")
    return converted


def options_of(body: CompletionBody, pinned: str | None) -> ModeOptions:
    ext = body.konnect
    format_ = body.response_format
    if body.top_logprobs is not None and not body.logprobs:
        raise InvalidRequest("top_logprobs: needs logprobs true", param="top_logprobs")
    if body.modalities is not None and body.modalities != ["text"]:
        raise InvalidRequest("modalities: only text answers are supported", param="modalities")
    return ext.mode_options(
        pinned, body.sampling(body.max_completion_tokens, body.logprobs, body.top_logprobs),
        openai_tools(body.tools, body.tool_choice, body.parallel_tool_calls),
        output_of(format_.type, format_.json_schema, "response_format") if format_ else None)


def turn_request(body: CompletionBody, conversation: tuple[Message, ...], mode: ModeName,
                 options: ModeOptions) -> TurnRequest:
    """Stateless without a session. With one, the session holds the history: the request's
    system messages come first, and its messages after its last assistant message are the
    turn's (the question, or the results of the tools the stored answer called)."""
    session_id = body.konnect.session_id
    stream = bool(body.stream)
    if session_id is None:
        return TurnRequest(conversation, mode, None, options, persist=False, stream=stream)
    last_answer = max((i for i, m in enumerate(conversation) if m.role == "assistant"),
                      default=-1)
    new = tuple(m for m in conversation[last_answer + 1:] if m.role != "system")
    system = tuple(m for m in conversation if m.role == "system")
    stored = None if session_id == NEW_SESSION else session_id
    return TurnRequest(new, mode, stored, options, context=system, stream=stream)


@router.post("/chat/completions", response_model=None, responses=ANSWERS)
async def completions(request: Request, body: CompletionBody,
                      caller: Annotated[Principal, Depends(principal)]
                      ) -> JSONBytes | EventStream:
    services = services_of(request)
    if body.n is not None and body.n > 1:
        raise InvalidRequest("n: only one choice per request is supported", param="n")
    conversation = conversation_of(body.messages, services.settings.max_message_chars)
    mode, pinned = mode_of(body.model, body.konnect, services, caller.test)
    turn = await start(request, caller, turn_request(body, conversation, mode,
                                                     options_of(body, pinned)), KONNECT_PARAMS)
    head: JSON = {"id": f"chatcmpl-{base62(16)}", "object": "chat.completion.chunk",
                  "created": int(time.time()), "model": body.model}
    if body.stream:
        include_usage = bool(body.stream_options and body.stream_options.include_usage)
        return EventStream(_chunks(turn, head, include_usage))
    result = await whole(request, turn)
    if result is None:
        return JSONBytes({}, status_code=CLIENT_CLOSED)
    message: JSON = {"role": "assistant",
                     "content": result.content or (None if result.tool_calls else ""),
                     "refusal": None}
    if result.tool_calls:
        message["tool_calls"] = [_tool_call_json(c) for c in result.tool_calls]
    logprobs = {"content": list(result.logprobs), "refusal": None} if body.logprobs else None
    return JSONBytes({
        **head, "object": "chat.completion",
        "choices": [{"index": 0, "message": message, "logprobs": logprobs,
                     "finish_reason": result.finish_reason}],
        "usage": usage_of(result), "konnect": konnect_of(result),
    })


def _tool_call_json(call: ToolCall) -> JSON:
    return {"id": call.id, "type": "function",
            "function": {"name": call.name, "arguments": orjson.dumps(call.arguments).decode()}}


def usage_of(result: TurnResult) -> JSON:
    usage = result.usage
    return {"prompt_tokens": usage.prompt_tokens, "completion_tokens": usage.completion_tokens,
            "total_tokens": usage.total_tokens}


def konnect_of(result: TurnResult) -> JSON:
    out: JSON = {"mode": result.mode, "models_used": list(result.models_used),
                 "details": result.details, "cost_usd": round(result.usage.cost_usd, 8)}
    if result.session_id is not None:
        out["session_id"] = result.session_id
        out["message_id"] = result.id
    return out


def _chunk(head: JSON, delta: JSON, finish: str | None = None,
           logprobs: JSON | None = None) -> JSON:
    return {**head, "choices": [{"index": 0, "delta": delta, "logprobs": logprobs,
                                 "finish_reason": finish}]}


def _tool_call_chunks(head: JSON, calls: tuple[ToolCall, ...]) -> Iterator[bytes]:
    """OpenAI's tool-call deltas: each call's id and name, then its arguments."""
    for index, call in enumerate(calls):
        start_ = {"index": index, "id": call.id, "type": "function",
                  "function": {"name": call.name, "arguments": ""}}
        yield streaming.data(_chunk(head, {"tool_calls": [start_]}))
        arguments = {"index": index,
                     "function": {"arguments": orjson.dumps(call.arguments).decode()}}
        yield streaming.data(_chunk(head, {"tool_calls": [arguments]}))


async def _chunks(turn: Turn, head: JSON, include_usage: bool) -> AsyncIterator[bytes]:
    """Answer text in `delta.content`; everything else in chunks whose `delta` is empty."""
    started: JSON = {"event": "session", "mode": turn.mode}
    if turn.session is not None:
        started["session_id"] = turn.session.id
    yield streaming.data({**_chunk(head, {"role": "assistant", "content": ""}),
                          "konnect": started})
    try:
        async for item in turn.run():
            if isinstance(item, AnswerDelta):
                logprobs = {"content": list(item.logprobs)} if item.logprobs else None
                yield streaming.data(_chunk(head, {"content": item.text}, logprobs=logprobs))
            elif isinstance(item, Finished):
                result = item.result
                for frame in _tool_call_chunks(head, result.tool_calls):
                    yield frame
                yield streaming.data({**_chunk(head, {}, result.finish_reason),
                                      "konnect": konnect_of(result)})
                if include_usage:
                    yield streaming.data({**head, "choices": [], "usage": usage_of(result)})
            else:
                named = streaming.event_payload(item)
                if named is not None:
                    yield streaming.data({**_chunk(head, {}),
                                          "konnect": {"event": named[0], **named[1]}})
    except ChorusError as exc:
        yield streaming.data({"error": openai_error(exc)})
        return
    yield streaming.DONE
