"""debate: Pro and Con open at once, argue three rounds in turn, then the Judge decides."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal

from chorus.errors import InvalidModelOutput, InvalidRequest
from chorus.modes import ModeContext, details, lineup, prompts, verdict
from chorus.modes.fanout import Call, all_failed, finish_of, total_usage
from chorus.modes.stages import Stages
from chorus.records import record
from chorus.types import MemberResult, Outcome, Slot

ROUNDS = 3
Side = Literal["pro", "con"]
SIDES: tuple[Side, ...] = ("pro", "con")
DEFAULT_PERSONAS = {"pro": "advocate", "con": "critic", "judge": "impartial_judge"}


@record
class DebatePlan:
    pro: str
    con: str
    judge: str

    def model(self, part: str) -> str:
        return {"pro": self.pro, "con": self.con, "judge": self.judge}[part]


@record
class Speech:
    round: int
    side: Side
    result: MemberResult

    @property
    def label(self) -> str:
        when = "opening" if self.round == 0 else f"round {self.round}"
        return f"{self.side.capitalize()}, {when}"

    @property
    def error_message(self) -> str:
        return str((self.result.error or {}).get("message", "no answer"))


def plan(ctx: ModeContext) -> DebatePlan:
    """Pro, Con and Judge: the request's three models, else settings, else the pool."""
    if ctx.options.models:
        models = ctx.options.models
        if len(models) != 3:
            raise InvalidRequest("debate needs exactly 3 models: pro, con and judge; "
                                 f"models gives {len(models)}", param="models")
        chosen, source = DebatePlan(*models), "models"
    else:
        configured = ctx.defaults.debate_models
        if configured.pro and configured.con and configured.judge:
            ranked: tuple[str, ...] = ()
        else:
            ranked = lineup.picks(ctx, 3, "debate")
        chosen = DebatePlan(configured.pro or ranked[1], configured.con or ranked[2],
                            configured.judge or ranked[0])
        source = "debate_models (settings)"
    parts = (chosen.pro, chosen.con, chosen.judge)
    lineup.check_known(ctx, parts, source)
    lineup.check_personas(ctx, parts)
    return chosen


def transcript(speeches: Sequence[Speech]) -> str:
    """The debate so far, as each side and the judge read it."""
    return "\n\n".join(
        f"**{s.label}:** {s.result.content.strip()}" if s.result.status == "ok"
        else f"**{s.label}:** (failed to answer: {s.error_message})" for s in speeches)


def section(speech: Speech) -> str:
    """A speech as part of the final answer."""
    body = (speech.result.content.strip() if speech.result.status == "ok"
            else f"_Failed to answer: {speech.error_message}_")
    return f"### {speech.label} ({speech.result.slot.model})\n\n{body}\n\n"


def _persona(ctx: ModeContext, chosen: DebatePlan, part: str) -> str:
    return ctx.options.personas.get(chosen.model(part)) or DEFAULT_PERSONAS[part]


def _turn(ctx: ModeContext, chosen: DebatePlan, side: Side, round_: int,
          speeches: Sequence[Speech]) -> Call:
    persona = _persona(ctx, chosen, side)
    instruction = prompts.debate_turn(ctx.question, side, transcript(speeches), round_)
    request = ctx.task(ctx.system_for(persona), instruction)
    return Call(Slot(chosen.model(side), persona=persona, side=side, round=round_), request)


async def run(ctx: ModeContext, chosen: DebatePlan, stages: Stages) -> Outcome:
    speeches: list[Speech] = []

    def spoken(speech: Speech) -> None:
        speeches.append(speech)
        stages.say(section(speech))

    openings = await stages.run("openings", [_turn(ctx, chosen, side, 0, ()) for side in SIDES],
                                round=0)
    if all(r.status != "ok" for r in openings):
        raise all_failed(openings)
    for side, result in zip(SIDES, openings, strict=True):
        spoken(Speech(0, side, result))
    for round_ in range(1, ROUNDS + 1):
        with stages.stage("round", round=round_):
            # A side that failed once is not called again: a hung model would cost a timeout
            # a turn.
            failed = {s.side for s in speeches if s.result.status != "ok"}
            for side in (side for side in SIDES if side not in failed):
                turn = _turn(ctx, chosen, side, round_, speeches)
                spoken(Speech(round_, side, await stages.call(turn)))
    judge = await stages.one("verdict", _judge_call(ctx, chosen, speeches))
    decision = _verdict(judge)
    closing = _verdict_section(judge, decision)
    stages.say(closing)
    used = [s.result.slot.model for s in speeches if s.result.status == "ok"]
    used += [judge.slot.model] if judge.status == "ok" else []
    spent = [*(s.result for s in speeches), judge]
    content = ("".join(map(section, speeches)) + closing).rstrip()
    sources, answer = spent, None
    if ctx.options.output is not None:
        # The client asked for structured output: the answer is the Judge's, in its format,
        # written after the verdict; the transcript stays in `details`.
        answer = await stages.call(_answer_call(ctx, chosen, speeches, decision))
        if answer.status != "ok":
            raise InvalidModelOutput(f"the judge could not answer in the requested format: "
                                     f"{(answer.error or {}).get('message')}")
        spent, sources, content = [*spent, answer], [answer], answer.content
    info = details.DebateDetails(
        models=details.DebateModels(chosen.pro, chosen.con, chosen.judge),
        rounds=[_round(speeches, r) for r in range(ROUNDS + 1)], verdict=decision,
        judge=_judge(judge), answer=None if answer is None else _judge(answer))
    return Outcome(content, list(dict.fromkeys(used)), details.as_json(info), total_usage(spent),
                   finish_of(sources))


def _answer_call(ctx: ModeContext, chosen: DebatePlan, speeches: Sequence[Speech],
                 decision: details.Verdict) -> Call:
    persona = _persona(ctx, chosen, "judge")
    instruction = prompts.debate_answer(ctx.question, transcript(speeches), decision)
    return Call(Slot(chosen.judge, persona=persona, role="answer"),
                ctx.task(ctx.system_for(persona), instruction, output=True))


def _judge_call(ctx: ModeContext, chosen: DebatePlan, speeches: Sequence[Speech]) -> Call:
    persona = _persona(ctx, chosen, "judge")
    failures = [f"{s.label} ({s.error_message})" for s in speeches if s.result.status != "ok"]
    instruction = prompts.debate_judge(ctx.question, transcript(speeches), failures)
    request = ctx.task(ctx.system_for(persona), instruction)
    return Call(Slot(chosen.judge, persona=persona, role="judge"), request)


def _verdict(judge: MemberResult) -> details.Verdict:
    """The verdict; a failed judge or an answer naming no winner gives winner None."""
    if judge.status != "ok":
        return details.Verdict(winner=None, reasoning=None, method=None,
                               error=details.ErrorOut.of(judge.error))
    found = verdict.debate(judge.content)
    if found is None:
        return details.Verdict(winner=None, reasoning=judge.content.strip(), method=None,
                               error=details.ErrorOut("unreadable_verdict",
                                                      "the judge's answer names no winner"))
    return details.Verdict(winner=found.winner, reasoning=found.reasoning, method=found.method,
                           error=None)


def _verdict_section(judge: MemberResult, decision: details.Verdict) -> str:
    title = f"### Verdict ({judge.slot.model})\n\n"
    winner = decision.winner
    if winner is None and judge.status != "ok":
        return f"{title}_The judge failed: {(judge.error or {}).get('message')}; no verdict._"
    if winner is None:
        return f"{title}_The judge's answer named no winner:_\n\n{decision.reasoning}"
    headline = "**Draw.**" if winner == "draw" else f"**{winner.capitalize()} wins.**"
    return f"{title}{headline} {decision.reasoning}".rstrip()


def _round(speeches: Sequence[Speech], round_: int) -> details.Round:
    said = {s.side: s for s in speeches if s.round == round_}
    return details.Round(round=round_, pro=_speech(said.get("pro")),
                         con=_speech(said.get("con")))


def _speech(speech: Speech | None) -> details.Speech | None:
    if speech is None:
        return None
    r = speech.result
    return details.Speech(model=r.slot.model, persona=r.slot.persona, side=speech.side,
                          round=speech.round, status=r.status, content=r.content,
                          error=details.ErrorOut.of(r.error), latency_ms=r.latency_ms,
                          usage=details.UsageOut.of(r.usage))


def _judge(r: MemberResult) -> details.JudgeCall:
    return details.JudgeCall(model=r.slot.model, persona=r.slot.persona, role=r.slot.role,
                             status=r.status, content=r.content,
                             error=details.ErrorOut.of(r.error), latency_ms=r.latency_ms,
                             usage=details.UsageOut.of(r.usage))
