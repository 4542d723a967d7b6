"""smart_chat: one model answers, chosen for the question."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

from chorus.errors import InvalidRequest
from chorus.modes import ModeContext, router
from chorus.modes.base import CAPABILITY_PARAMS, lacks
from chorus.modes.details import SmartChatDetails, as_json
from chorus.modes.fanout import repaired
from chorus.records import record
from chorus.types import (
    JSON,
    AnswerDelta,
    MemberDone,
    MemberResult,
    MemberStarted,
    ModeEvent,
    Outcome,
    Slot,
    StreamEnd,
    TextDelta,
    ToolCall,
    Usage,
)


@record
class Routed:
    """The model that answers, and why: the router's `details`, or for a model the request or
    the settings name, `named` (why it was named); its details are read while it answers."""

    model: str
    details: SmartChatDetails | None
    named: str = ""


def _named(ctx: ModeContext) -> tuple[str, str] | None:
    """The model the request or the user's settings name, and why; None: the router picks."""
    for model, why in ((ctx.options.model, "the request names this model"),
                       (ctx.defaults.default_model, "the default model from settings")):
        if model:
            return model, why
    return None


def plan(ctx: ModeContext) -> Routed:
    """The explicit model, else the default model from settings, else the router's pick.

    Only models that can do what the request needs (tools, images, a JSON schema) are picked;
    a named model that cannot is a 400."""
    named = _named(ctx)
    if named:
        model, why = named
        entry = ctx.caller.entry(model)
        missing = lacks(entry, ctx.needs)
        if missing is not None:
            raise InvalidRequest(f"model {model!r} does not support {missing}",
                                 param=CAPABILITY_PARAMS[missing])
        return Routed(model, None, why)
    analysis = router.analyse(ctx.question, ctx.history)
    pool = [e for e in ctx.caller.models() if lacks(e, ctx.needs) is None]
    if not pool and ctx.caller.models() and ctx.needs:
        raise InvalidRequest(f"no model can do what this request needs "
                             f"({', '.join(sorted(ctx.needs))})",
                             param=CAPABILITY_PARAMS[min(ctx.needs)])
    router.require_models(pool)
    preference = (ctx.options.cost_preference if ctx.options.cost_preference is not None
                  else ctx.defaults.cost_preference)
    decision = router.route(analysis, pool, preference, ctx.options.max_tokens)
    return Routed(decision.model, _details(decision.model, decision.analysis, decision.reason))


def _details(model: str, analysis: router.Analysis, reason: str) -> SmartChatDetails:
    return SmartChatDetails(routed_to=model, category=analysis.category,
                            difficulty=round(analysis.difficulty, 3), reason=reason)


def _named_details(ctx: ModeContext, routed: Routed) -> SmartChatDetails:
    """What the router reads in the question, for a model it did not pick."""
    analysis = router.analyse(ctx.question, ctx.history, routing=False)
    return _details(routed.model, analysis, (
        f"{routed.named}, so routing was skipped (a {router.NEEDS[analysis.category]} "
        f"question, {router.hardness(analysis.difficulty)})."))


async def run(ctx: ModeContext, routed: Routed) -> AsyncIterator[ModeEvent]:
    model = routed.model
    persona = ctx.options.personas.get(model)
    slot = Slot(model, persona=persona)
    request = ctx.answering(*ctx.system_for(persona), *ctx.conversation, role="member")
    yield MemberStarted(slot)
    read: list[SmartChatDetails] = []
    if routed.details is None:  # read while the model answers: the loop waits for it anyway
        asyncio.get_running_loop().call_soon(lambda: read.append(_named_details(ctx, routed)))
    parts: list[str] = []
    calls: list[ToolCall] = []
    logprobs: list[JSON] = []
    end = StreamEnd(Usage())
    async for chunk in ctx.caller.stream(model, request):
        if isinstance(chunk, StreamEnd):
            end = chunk
        elif isinstance(chunk, ToolCall):
            calls.append(chunk)
        elif isinstance(chunk, TextDelta):
            parts.append(chunk.text)
            logprobs.extend(chunk.logprobs)
            yield AnswerDelta(chunk.text, chunk.logprobs)
    content, usage = "".join(parts), end.usage
    if request.output is not None and not calls:
        content, spent = await repaired(ctx.caller, model, request, content)
        usage.add(spent)
    finish = "tool_calls" if calls else end.finish_reason
    yield MemberDone(MemberResult(slot, "ok", content, usage=usage, finish_reason=finish))
    details = routed.details or (read[0] if read else _named_details(ctx, routed))
    yield Outcome(content, [model], as_json(details), usage, finish, tuple(calls),
                  tuple(logprobs))
