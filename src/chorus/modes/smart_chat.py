"""smart_chat: one model answers, chosen for the question."""

from __future__ import annotations

from collections.abc import AsyncIterator

from chorus.errors import InvalidRequest
from chorus.modes import ModeContext
from chorus.types import (
    AnswerDelta,
    MemberDone,
    MemberResult,
    MemberStarted,
    Message,
    ModeEvent,
    ModelRequest,
    Outcome,
    Slot,
    StreamEnd,
    Usage,
)


def choose(ctx: ModeContext) -> tuple[str, dict[str, object]]:
    """The explicit model, else the user's or server's default, else the first of the pool."""
    for model, reason in ((ctx.options.model, "requested by the client"),
                          (ctx.defaults.default_model, "the configured default model")):
        if model:
            ctx.caller.entry(model)
            return model, {"routed_to": model, "category": None, "difficulty": None,
                           "reason": reason}
    pool = ctx.caller.models()
    if not pool:
        raise InvalidRequest("no model is configured: set a provider key or use a sk_test_ key")
    model = pool[0].id
    return model, {"routed_to": model, "category": None, "difficulty": None,
                   "reason": "the first model of the pool"}


async def run(ctx: ModeContext) -> AsyncIterator[ModeEvent]:
    model, details = choose(ctx)
    persona = ctx.options.personas.get(model)
    slot = Slot(model, persona=persona)
    options = ctx.options
    request = ModelRequest(
        messages=(*ctx.system_for(persona), *ctx.history, Message("user", ctx.question)),
        temperature=options.temperature, max_tokens=options.max_tokens, stop=options.stop)
    yield MemberStarted(slot)
    parts: list[str] = []
    usage = Usage()
    async for chunk in ctx.caller.stream(model, request):
        if isinstance(chunk, StreamEnd):
            usage = chunk.usage
        else:
            parts.append(chunk.text)
            yield AnswerDelta(chunk.text)
    content = "".join(parts)
    yield MemberDone(MemberResult(slot, "ok", content, usage=usage))
    yield Outcome(content, [model], details, usage)
