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


def plan(ctx: ModeContext) -> None:
    """Checked before the question is stored: there is a model to answer it."""
    model = ctx.options.model or ctx.defaults.default_model
    if model:
        ctx.caller.entry(model)
    else:
        router.require_models(ctx.caller.models())


def choose(ctx: ModeContext) -> tuple[str, JSON]:
    """The explicit model, else the default model from settings, else the router's pick."""
    analysis = router.analyse(ctx.question, ctx.history)
    preference = (ctx.options.cost_preference if ctx.options.cost_preference is not None
                  else ctx.defaults.cost_preference)
    for model, why in ((ctx.options.model, "the request names this model"),
                       (ctx.defaults.default_model, "the default model from settings")):
        if model:
            ctx.caller.entry(model)
            return model, {
                "routed_to": model, "category": analysis.category,
                "difficulty": round(analysis.difficulty, 3),
                "reason": f"{why}, so routing was skipped (a {router.NEEDS[analysis.category]} "
                          f"question, difficulty {analysis.difficulty:.2f})."}
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
