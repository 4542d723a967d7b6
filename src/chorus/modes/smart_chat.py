"""smart_chat: one model answers, chosen for the question."""

from __future__ import annotations

from collections.abc import AsyncIterator

from chorus.modes import ModeContext, router
from chorus.types import (
    JSON,
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


def _named(ctx: ModeContext) -> tuple[str, str] | None:
    """The model the request or the user's settings name, and why; None: the router picks."""
    for model, why in ((ctx.options.model, "the request names this model"),
                       (ctx.defaults.default_model, "the default model from settings")):
        if model:
            return model, why
    return None


def plan(ctx: ModeContext) -> None:
    """Checked before the question is stored: there is a model to answer it."""
    named = _named(ctx)
    if named:
        ctx.caller.entry(named[0])
    else:
        router.require_models(ctx.caller.models())


def choose(ctx: ModeContext) -> tuple[str, JSON]:
    """The explicit model, else the default model from settings, else the router's pick.

    `plan` has checked that the model exists, or that the pool is not empty."""
    analysis = router.analyse(ctx.question, ctx.history)
    named = _named(ctx)
    if named:
        model, why = named
        return model, {
            "routed_to": model, "category": analysis.category,
            "difficulty": round(analysis.difficulty, 3),
            "reason": f"{why}, so routing was skipped (a {router.NEEDS[analysis.category]} "
                      f"question, {router.hardness(analysis.difficulty)})."}
    preference = (ctx.options.cost_preference if ctx.options.cost_preference is not None
                  else ctx.defaults.cost_preference)
    decision = router.route(analysis, ctx.caller.models(), preference, ctx.options.max_tokens)
    return decision.model, decision.details()


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
    finish_reason = "stop"
    async for chunk in ctx.caller.stream(model, request):
        if isinstance(chunk, StreamEnd):
            usage, finish_reason = chunk.usage, chunk.finish_reason
        else:
            parts.append(chunk.text)
            yield AnswerDelta(chunk.text)
    content = "".join(parts)
    yield MemberDone(MemberResult(slot, "ok", content, usage=usage))
    yield Outcome(content, [model], details, usage, finish_reason)
