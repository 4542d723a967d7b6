"""What a turn decides before anything is stored: the conversation around its question, the
user's defaults, personas, the mode's rules, and whether every model of the plan can answer.

Every function here raises a 4xx (InvalidRequest, SessionModeMismatch) or returns a value.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import replace
from typing import TypeVar

from chorus.auth import Principal
from chorus.chat.request import TurnRequest
from chorus.chat.services import Services
from chorus.config import ModeDefaults
from chorus.errors import InternalError, InvalidRequest, SessionModeMismatch
from chorus.modes import ModeContext, ModeOptions, Planned, personas
from chorus.modes.base import CAPABILITY_PARAMS, lacks
from chorus.records import record
from chorus.store.sessions import SessionRow
from chorus.types import MODES, Message, ModeName


@record
class Conversation:
    """The turn's conversation split around its question."""

    history: tuple[Message, ...]
    asked: Message
    after: tuple[Message, ...]


def defaults_for(services: Services, principal: Principal) -> ModeDefaults:
    """Server defaults with the user's own settings laid over them."""
    base = services.settings.file.defaults
    own = {key: value for key, value in principal.user.settings.items()
           if value is not None and key in ModeDefaults.model_fields}
    if not own:  # most users: the server's defaults as they are (read, never changed)
        return base
    merged = base.model_dump()
    for key, value in own.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            # debate_models: a side the user left null keeps the server's model
            value = {**merged[key], **{k: v for k, v in value.items() if v is not None}}
        merged[key] = value
    return ModeDefaults.model_validate(merged)


async def persona_prompts(services: Services, user_id: str, wanted: Collection[str]
                          ) -> dict[str, str]:
    """System prompts of the built-ins and of the wanted custom personas; 400 for unknown ids."""
    prompts = personas.built_in_prompts()
    missing = {p for p in wanted if p not in prompts}
    for row in await services.store.personas.some(user_id, missing):
        prompts[row.id] = row.system_prompt
    unknown = sorted(p for p in wanted if p not in prompts)
    if unknown:
        raise InvalidRequest(f"personas: unknown persona {', '.join(map(repr, unknown))}; "
                             "GET /v1/personas lists them", param="personas")
    return prompts


def split(messages: tuple[Message, ...]) -> Conversation:
    """Around the newest user message; tool results must answer calls made before them."""
    asked_at = max((i for i, m in enumerate(messages) if m.role == "user"), default=-1)
    if asked_at < 0:
        raise InvalidRequest("messages: the conversation has no user message", param="messages")
    called: dict[str, str] = {}
    out: list[Message] = []
    for index, message in enumerate(messages):
        for call in message.tool_calls:
            called[call.id] = call.name
        if message.role == "tool":
            name = called.get(message.tool_call_id or "")
            if name is None:
                raise InvalidRequest(
                    f"messages[{index}]: tool_call_id {message.tool_call_id!r} answers no "
                    "tool call made before it", param="messages")
            message = replace(message, name=name)
        out.append(message)
    return Conversation(tuple(out[:asked_at]), out[asked_at], tuple(out[asked_at + 1:]))


def check_multi_model(mode: ModeName, options: ModeOptions, conversation: Conversation) -> None:
    """Client tools and logprobs belong to one model's answer: smart_chat only (docs/modes.md)."""
    if mode == "smart_chat":
        return
    if options.tools is not None:
        raise InvalidRequest(f"tools: client tools are offered in smart_chat only, where one "
                             f"model answers; {mode} answers in text or structured output",
                             param="tools")
    if options.sampling.logprobs:
        raise InvalidRequest(f"logprobs: only smart_chat returns logprobs; in {mode} the "
                             "answer is not one model's text", param="logprobs")
    if any(m.role == "tool" or m.tool_calls for m in conversation.after):
        raise InvalidRequest(f"messages: tool calls and results continue a smart_chat "
                             f"answer; {mode} cannot take them", param="messages")


def session_mode(session: SessionRow, request: TurnRequest) -> ModeName:
    """The session's mode; asking for another mode or aggregation is a 409."""
    if request.mode is not None and request.mode != session.mode:
        raise SessionModeMismatch(
            f"session {session.id} is a {session.mode} session; its mode cannot change",
            param="mode")
    aggregation = request.options.aggregation
    if (aggregation is not None and session.aggregation is not None
            and aggregation != session.aggregation):
        raise SessionModeMismatch(f"session {session.id} uses aggregation {session.aggregation}",
                                  param="aggregation")
    return named(MODES, session.mode)


def session_aggregation(mode: ModeName, options: ModeOptions, defaults: ModeDefaults
                         ) -> str | None:
    if mode != "ensemble":
        return None
    return options.aggregation or defaults.ensemble_aggregation


N = TypeVar("N", bound=str)


def named(names: tuple[N, ...], stored: str) -> N:
    """A mode or aggregation name read back from the store."""
    for name in names:
        if name == stored:
            return name
    raise InternalError(f"the store holds an unknown name {stored!r}")


def check_capabilities(ctx: ModeContext, plan: Planned) -> None:
    """Every model of the plan can see the images and answer in the schema (smart_chat has
    routed by these already; a model named in `models` that cannot is a 400), and its
    provider can honour every field of the request (a 400 naming the one it cannot)."""
    needs = ctx.needs - {"tools"}
    probe = ctx.answering(*ctx.conversation)
    registry = ctx.caller.registry
    for model in plan.models:
        entry = ctx.caller.entry(model)
        missing = lacks(entry, needs)
        if missing is not None:
            raise InvalidRequest(f"model {model!r} does not support {missing}",
                                 param=CAPABILITY_PARAMS[missing])
        refusal = registry.provider(entry, ctx.caller.test).unsupported(entry.upstream, probe)
        if refusal is not None:
            raise InvalidRequest(f"{refusal.message} (model {model!r})", param=refusal.param)
