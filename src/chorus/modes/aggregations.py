"""The four ways an ensemble turns its members' answers into one (api.md, exact meanings).

Each runner gets the members' results (at least one succeeded), runs the aggregator or judge
as the `aggregation` stage when it needs one, says the final answer's text and returns the
Outcome.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from typing import Any, TypedDict

from chorus.modes import ModeContext, agreement, prompts, structured, verdict
from chorus.modes.details import (
    BestOfNDetails,
    ConsensusDetails,
    EnsembleDetails,
    Member,
    MergedDetails,
    Step,
    SynthesisDetails,
    UnionDetails,
    as_json,
)
from chorus.modes.fanout import Call, finish_of, succeeded, total_usage
from chorus.modes.stages import Stages
from chorus.types import Aggregation, MemberResult, Outcome, Slot

Runner = Callable[[ModeContext, str, list[MemberResult], Stages], Awaitable[Outcome]]
ONLY_ONE = "only one model answered, so its answer is returned as it is"
ONLY_ONE_LISTED = "only one model answered, so its answer is listed sentence by sentence"


class Common(TypedDict):
    """The details every aggregation gives, from its members and its aggregator's call."""

    members: list[Member]
    failed: list[str]
    aggregator: Step | None


def common(members: Sequence[MemberResult], step: MemberResult | None) -> Common:
    return {"members": [Member.of(m) for m in members],
            "failed": [m.slot.model for m in members if m.status != "ok"],
            "aggregator": None if step is None else Step.of(step)}


def outcome(content: str, used: Sequence[str], members: Sequence[MemberResult],
            step: MemberResult | None, info: EnsembleDetails, sources: Sequence[MemberResult]
            ) -> Outcome:
    """The ensemble's answer; `sources` are the calls whose text `content` holds."""
    spent = [*members, *([step] if step else [])]
    return Outcome(content, list(dict.fromkeys(used)), as_json(info), total_usage(spent),
                   finish_of(sources))


def fallback_pick(ok: Sequence[MemberResult]) -> MemberResult:
    return ok[agreement.most_agreeing([m.content for m in ok]).index]


async def synthesis(ctx: ModeContext, model: str, members: list[MemberResult], stages: Stages
                   ) -> Outcome:
    ok = succeeded(members)
    if len(ok) == 1:
        stages.say(ok[0].content)
        info = SynthesisDetails(aggregation="synthesis", fallback=ONLY_ONE,
                                **common(members, None))
        return outcome(ok[0].content, [ok[0].slot.model], members, None, info, ok)
    instruction = prompts.synthesis(ctx.question, [m.content for m in ok])
    call = Call(Slot(model, role="aggregator"), ctx.task("", instruction, output=True),
                answer=True)
    step = await stages.one("aggregation", call)
    if step.status == "ok":
        used = [m.slot.model for m in ok] + [model]
        info = SynthesisDetails(aggregation="synthesis", fallback=None,
                                **common(members, step))
        return outcome(step.content, used, members, step, info, [step])
    pick = fallback_pick(ok)
    stages.say(pick.content)
    info = SynthesisDetails(aggregation="synthesis", fallback=(
        f"the aggregator failed; this is the answer of {pick.slot.model}, the one that agrees "
        "most with the others"), **common(members, step))
    return outcome(pick.content, [pick.slot.model], members, step, info, [pick])


async def best_of_n(ctx: ModeContext, model: str, members: list[MemberResult], stages: Stages
                   ) -> Outcome:
    ok = succeeded(members)
    step: MemberResult | None = None
    picked: verdict.Choice | None = None
    fallback: str | None = ONLY_ONE if len(ok) == 1 else None
    if len(ok) > 1:
        instruction = prompts.best_of_n(ctx.question, [m.content for m in ok])
        step = await stages.one("aggregation", Call(Slot(model, role="judge"),
                                                    ctx.task("", instruction)))
        picked = _choice(step, ok)
        if picked is None:
            fallback = _fallback_note(step, "chose the answer that agrees most with the others")
    winner = ok[picked.index] if picked else fallback_pick(ok)
    reason = picked.reason if picked else fallback
    stages.say(winner.content)
    info = BestOfNDetails(aggregation="best_of_n", fallback=fallback, winner=winner.slot.model,
                          reason=reason, verdict_method=picked.method if picked else "fallback",
                          **common(members, step))
    return outcome(winner.content, [winner.slot.model], members, step, info, [winner])


async def consensus(ctx: ModeContext, model: str, members: list[MemberResult], stages: Stages
                   ) -> Outcome:
    ok = succeeded(members)
    if ctx.options.output is not None and len(ok) > 1:
        return await merged_json(ctx, "consensus", members, structured.merge_majority, stages)
    texts = [m.content for m in ok]
    step: MemberResult | None = None
    reason: str | None = None
    fallback: str | None = None
    if len(ok) == 1:
        found, method, fallback = agreement.Agreement(0, (0,)), "single", ONLY_ONE
    elif agreement.is_short(texts):
        found, method = agreement.vote(texts, ctx.question), "vote"
    else:
        instruction = prompts.consensus(ctx.question, texts)
        step = await stages.one("aggregation", Call(Slot(model, role="judge"),
                                                    ctx.task("", instruction)))
        picked = _choice(step, ok)
        if picked is not None:
            found, method, reason = agreement.Agreement(picked.index, picked.agreeing), \
                "judge", picked.reason
        else:
            found, method = agreement.most_agreeing(texts), "similarity"
            fallback = _fallback_note(step, "measured agreement by word overlap")
    winner = ok[found.index]
    ratio = len(found.agreeing) / len(ok)
    stages.say(winner.content)
    info = ConsensusDetails(
        aggregation="consensus", fallback=fallback, winner=winner.slot.model,
        agreement=round(ratio, 3), agreement_level=agreement.level(len(found.agreeing), len(ok)),
        agreeing=[ok[i].slot.model for i in found.agreeing], method=method, reason=reason,
        **common(members, step))
    return outcome(winner.content, [winner.slot.model], members, step, info, [winner])


async def union(ctx: ModeContext, model: str, members: list[MemberResult], stages: Stages
               ) -> Outcome:
    ok = succeeded(members)
    if ctx.options.output is not None and len(ok) > 1:
        return await merged_json(ctx, "union", members, structured.merge_union, stages)
    labelled = [(m.slot.model, m.content) for m in ok]
    labels = [label for label, _ in labelled]
    step: MemberResult | None = None
    if len(ok) > 1:
        instruction = prompts.union(ctx.question, labelled)
        call = Call(Slot(model, role="aggregator"), ctx.task("", instruction), answer=True)
        step = await stages.one("aggregation", call)
        if step.status == "ok":
            points = agreement.parse_points(step.content, labels)
            named = [label for label in labels if any(label in p.models for p in points)]
            used = [*(named or labels), model]
            info = UnionDetails(aggregation="union", fallback=None, points=points,
                                **common(members, step))
            return outcome(step.content, used, members, step, info, [step])
    local = agreement.local_union(labelled)
    content = agreement.render(local)
    stages.say(content)
    note = ONLY_ONE_LISTED if step is None else _fallback_note(
        step, "listed the answers' distinct sentences instead")
    info = UnionDetails(aggregation="union", fallback=note, points=local,
                        **common(members, step))
    used = [label for label in labels if any(label in p.models for p in local)]
    return outcome(content, used, members, step, info, [m for m in ok if m.slot.model in used])


async def merged_json(ctx: ModeContext, aggregation: Aggregation,
                      members: list[MemberResult], merge: Callable[[list[Any]], Any],
                      stages: Stages) -> Outcome:
    """Structured answers merged field by field, with no model call: each member's JSON has
    been checked against the schema. A merge the schema rejects (two fields that must agree,
    say) falls back to the answer that agrees most with the others."""
    ok = succeeded(members)
    output = ctx.options.output
    assert output is not None, "only structured answers are merged as JSON"
    content = structured.dumps(merge([structured.parse(m.content) for m in ok]))
    rejected = structured.problems(output, content)
    if not rejected:
        stages.say(content)
        info = MergedDetails(aggregation=aggregation, fallback=None, method="fields",
                             **common(members, None))
        return outcome(content, [m.slot.model for m in ok], members, None, info, ok)
    pick = fallback_pick(ok)
    stages.say(pick.content)
    info = MergedDetails(aggregation=aggregation, method="fallback", fallback=(
        f"the field-by-field merge is not valid against the schema ({'; '.join(rejected)}); "
        f"this is the answer of {pick.slot.model}, the one that agrees most with the others"),
        **common(members, None))
    return outcome(pick.content, [pick.slot.model], members, None, info, [pick])


def _choice(step: MemberResult, ok: Sequence[MemberResult]) -> verdict.Choice | None:
    if step.status != "ok":
        return None
    return verdict.choice(step.content, [m.slot.model for m in ok])


def _fallback_note(step: MemberResult, rule: str) -> str:
    """Why the documented fallback rule ran, and what it did."""
    who = step.slot.role or "aggregator"
    if step.status != "ok":
        return f"the {who} failed, so Chorus {rule}"
    return f"the {who}'s answer could not be read, so Chorus {rule}"


RUNNERS: dict[Aggregation, Runner] = {
    "synthesis": synthesis, "best_of_n": best_of_n, "consensus": consensus, "union": union,
}
