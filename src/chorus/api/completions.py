"""OpenAI-compatible chat: `POST /v1/chat/completions`, with the konnect extensions."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Request
from fastapi.responses import StreamingResponse
from pydantic import BaseModel, ConfigDict, Field, model_validator

from chorus import streaming
from chorus.api import JSONBytes, RequestBody, openai_error
from chorus.api.chat import PersonaSlot, RoleIn
from chorus.api.hangup import CLIENT_CLOSED, ClientGone, answer_unless_hung_up
from chorus.api.models import PATTERN_MODELS
from chorus.api.turns import Turn, TurnInput
from chorus.app import Services
from chorus.auth import Principal, principal
from chorus.errors import ChorusError, InvalidRequest
from chorus.modes import ExpertRole, ModeOptions
from chorus.store.ids import base62
from chorus.types import JSON, MODES, Aggregation, AnswerDelta, Message, ModeName, Role

router = APIRouter(prefix="/v1", tags=["openai"])

EXTENSION_PREFIX = "konnect."
NEW_SESSION = "new"
PARAMS = {"mode": "model", "models": "konnect.models", "aggregation": "konnect.aggregation",
          "personas": "konnect.personas", "roles": "konnect.roles",
          "session_id": "konnect.session_id"}
"""The native endpoint's field names in errors, as this request spells them."""
ROLES: dict[str, Role] = {"system": "system", "developer": "system", "user": "user",
                          "assistant": "assistant"}


class ContentPart(RequestBody):
    type: str
    text: str | None = None


class ChatMessageIn(RequestBody):
    role: str = Field(max_length=40)
    content: str | list[ContentPart] | None = None


class StreamOptions(RequestBody):
    include_usage: bool | None = None


class KonnectOptions(RequestBody):
    """The extensions, sent as dotted top-level keys or as one nested `konnect` object."""

    pattern: str | None = Field(None, max_length=40)
    models: list[str] | None = Field(None, min_length=1, max_length=8)
    aggregation: Aggregation | None = None
    personas: list[PersonaSlot] | None = Field(None, max_length=8)
    enable_tools: bool | None = None
    roles: list[RoleIn] | None = Field(None, min_length=2, max_length=8)
    session_id: str | None = Field(None, min_length=1, max_length=64)
    cost_preference: float | None = Field(None, ge=0, le=1)


class CompletionBody(RequestBody):
    model: str = Field(min_length=1, max_length=200)
    messages: list[ChatMessageIn] = Field(min_length=1, max_length=10_000)
    stream: bool | None = None
    stream_options: StreamOptions | None = None
    n: int | None = Field(None, ge=1, le=128)
    temperature: float | None = Field(None, ge=0, le=2)
    max_tokens: int | None = Field(None, ge=1, le=1_000_000)
    max_completion_tokens: int | None = Field(None, ge=1, le=1_000_000)
    stop: str | Annotated[list[str], Field(max_length=4)] | None = Field(
        None, description="one stop string or a list of up to four")
    konnect: KonnectOptions = Field(default_factory=KonnectOptions)

    @model_validator(mode="before")
    @classmethod
    def _gather_dotted(cls, data: Any) -> Any:
        """Fold `konnect.x` keys into the nested object; a dotted key wins over a nested one."""
        if not isinstance(data, dict):
            return data
        dotted = {k[len(EXTENSION_PREFIX):]: v for k, v in data.items()
                  if isinstance(k, str) and k.startswith(EXTENSION_PREFIX)}
        nested = data.get("konnect")
        if not dotted or not isinstance(nested, dict | None):
            return data
        rest = {k: v for k, v in data.items()
                if not (isinstance(k, str) and k.startswith(EXTENSION_PREFIX))}
        return {**rest, "konnect": {**(nested or {}), **dotted}}


class AnswerMessage(BaseModel):
    role: Literal["assistant"]
    content: str
    refusal: None = None


class Choice(BaseModel):
    index: int
    message: AnswerMessage
    logprobs: None = None
    finish_reason: str


class CompletionUsage(BaseModel):
    prompt_tokens: int
    completion_tokens: int
    total_tokens: int


class KonnectAnswer(BaseModel):
    model_config = ConfigDict(extra="allow")

    mode: ModeName
    models_used: list[str]
    details: dict[str, Any]
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


@dataclass(frozen=True, slots=True)
class Conversation:
    """The request's messages in our terms: the question and everything before it."""

    question: str
    earlier: tuple[Message, ...]

    @property
    def system(self) -> tuple[Message, ...]:
        return tuple(m for m in self.earlier if m.role == "system")


def text_of(content: str | list[ContentPart] | None, index: int) -> str:
    if content is None or isinstance(content, str):
        return content or ""
    for part in content:
        if part.type != "text":
            raise InvalidRequest(f"messages[{index}].content: only text parts are supported, "
                                 f"not {part.type!r}", param="messages")
    return "\n".join(part.text or "" for part in content)


def conversation_of(messages: list[ChatMessageIn], max_chars: int) -> Conversation:
    converted: list[Message] = []
    for index, message in enumerate(messages):
        role = ROLES.get(message.role)
        if role is None:
            why = ("Chorus runs no client-side tools" if message.role in ("tool", "function")
                   else "use system, developer, user or assistant")
            raise InvalidRequest(f"messages[{index}].role {message.role!r} is not supported: "
                                 f"{why}", param="messages")
        text = text_of(message.content, index)
        if role == "assistant" and not text:
            continue  # an assistant turn that only called tools says nothing we can pass on
        converted.append(Message(role, text))
    if not converted or converted[-1].role != "user":
        raise InvalidRequest("messages: the last message must be the user's question",
                             param="messages")
    question = converted[-1].content
    if not question.strip():
        raise InvalidRequest("messages: the last user message is empty", param="messages")
    if len(question) > max_chars:
        raise InvalidRequest(f"messages: the question may have at most {max_chars} characters",
                             param="messages")
    return Conversation(question, tuple(converted[:-1]))


def pattern_mode(name: str) -> ModeName:
    """`ensemble`, `konnect-ensemble`, `smart` and `smart_chat` style names to a mode."""
    short = name.strip().lower().removeprefix("konnect-")
    short = "smart_chat" if short == "smart" else short
    for mode in MODES:
        if mode == short:
            return mode
    raise InvalidRequest(f"konnect.pattern: unknown pattern {name!r}; one of "
                         "smart_chat, ensemble, debate, council", param="konnect.pattern")


def mode_of(body: CompletionBody, services: Services, test: bool) -> tuple[ModeName, str | None]:
    """The mode to run and the model to pin (a concrete `model` in smart_chat)."""
    by_model = PATTERN_MODELS.get(body.model)
    from_model = pattern_mode(by_model) if by_model else None
    requested = pattern_mode(body.konnect.pattern) if body.konnect.pattern else None
    if from_model and requested and from_model != requested:
        raise InvalidRequest(f"model {body.model!r} runs {from_model} but konnect.pattern asks "
                             f"for {requested}", param="konnect.pattern")
    if from_model is None:
        services.catalog.get(body.model, test)
    for name in body.konnect.models or ():
        try:
            services.catalog.get(name, test)
        except InvalidRequest as exc:
            raise InvalidRequest(f"konnect.models: {exc.message}", param="konnect.models") from exc
    mode = requested or from_model or "smart_chat"
    return mode, body.model if from_model is None and mode == "smart_chat" else None


def options_of(body: CompletionBody, pinned: str | None) -> ModeOptions:
    ext = body.konnect
    stop = (body.stop,) if isinstance(body.stop, str) else tuple(body.stop or ())
    return ModeOptions(
        model=pinned,
        models=tuple(ext.models) if ext.models else None,
        aggregation=ext.aggregation,
        personas={p.modelId: p.personaId for p in ext.personas or ()},
        roles=tuple(ExpertRole(r.name, r.perspective) for r in ext.roles) if ext.roles else None,
        cost_preference=ext.cost_preference,
        enable_tools=ext.enable_tools is not False,
        temperature=body.temperature,
        max_tokens=body.max_completion_tokens or body.max_tokens,
        stop=stop or None,
    )


def turn_input(body: CompletionBody, conversation: Conversation, mode: ModeName,
               options: ModeOptions) -> TurnInput:
    """Stateless without a session; with one, its stored history is the context."""
    session_id = body.konnect.session_id
    if session_id is None:
        return TurnInput(conversation.question, mode, None, options,
                         context=conversation.earlier, persist=False, stream=bool(body.stream))
    stored = None if session_id == NEW_SESSION else session_id
    return TurnInput(conversation.question, mode, stored, options, context=conversation.system,
                     stream=bool(body.stream))


@router.post("/chat/completions", response_model=None, responses=ANSWERS)
async def completions(request: Request, body: CompletionBody,
                      caller: Annotated[Principal, Depends(principal)]
                      ) -> JSONBytes | StreamingResponse:
    services: Services = request.app.state.services
    if body.n is not None and body.n > 1:
        raise InvalidRequest("n: only one choice per request is supported", param="n")
    conversation = conversation_of(body.messages, services.settings.max_message_chars)
    mode, pinned = mode_of(body, services, caller.test)
    turn = Turn(services, caller, turn_input(body, conversation, mode, options_of(body, pinned)))
    try:
        await turn.prepare()
    except ChorusError as exc:
        exc.param = PARAMS.get(exc.param or "", exc.param)
        raise
    head: JSON = {"id": f"chatcmpl-{base62(16)}", "object": "chat.completion.chunk",
                  "created": int(time.time()), "model": body.model}
    if body.stream:
        include_usage = bool(body.stream_options and body.stream_options.include_usage)
        return StreamingResponse(_chunks(turn, head, include_usage),
                                 media_type=streaming.MEDIA_TYPE, headers=streaming.HEADERS)
    try:
        await answer_unless_hung_up(request, turn)
    except ClientGone:
        return JSONBytes({}, status_code=CLIENT_CLOSED)
    message = {"role": "assistant", "content": turn.response["content"], "refusal": None}
    return JSONBytes({
        **head, "object": "chat.completion",
        "choices": [{"index": 0, "message": message, "logprobs": None,
                     "finish_reason": turn.finish_reason}],
        "usage": usage_of(turn), "konnect": konnect_of(turn),
    })


def usage_of(turn: Turn) -> JSON:
    usage = turn.response["usage"]
    return {k: usage[k] for k in ("prompt_tokens", "completion_tokens", "total_tokens")}


def konnect_of(turn: Turn) -> JSON:
    answer = turn.response
    out: JSON = {"mode": answer["mode"], "models_used": answer["models_used"],
                 "details": answer["details"], "cost_usd": answer["usage"]["cost_usd"]}
    if answer["session_id"] is not None:
        out["session_id"] = answer["session_id"]
        out["message_id"] = answer["id"]
    return out


def _chunk(head: JSON, delta: JSON, finish: str | None = None) -> JSON:
    return {**head, "choices": [{"index": 0, "delta": delta, "logprobs": None,
                                 "finish_reason": finish}]}


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
                yield streaming.data(_chunk(head, {"content": item.text}))
                continue
            named = streaming.event_payload(item)
            if named is not None:
                yield streaming.data({**_chunk(head, {}),
                                      "konnect": {"event": named[0], **named[1]}})
    except ChorusError as exc:
        yield streaming.data({"error": openai_error(exc)})
        return
    yield streaming.data({**_chunk(head, {}, turn.finish_reason), "konnect": konnect_of(turn)})
    if include_usage:
        yield streaming.data({**head, "choices": [], "usage": usage_of(turn)})
    yield streaming.DONE
