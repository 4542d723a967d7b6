"""council: experts answer at once, each from a perspective; the Synthesizer integrates them."""

from __future__ import annotations

from itertools import cycle

from chorus.errors import InvalidModelOutput, InvalidRequest
from chorus.modes import ExpertRole, ModeContext, lineup, prompts
from chorus.modes.details import CouncilDetails, ErrorOut, Expert, as_json
from chorus.modes.fanout import Call, all_failed, finish_of, succeeded, total_usage
from chorus.modes.stages import Stages
from chorus.records import record
from chorus.types import Message, Outcome, Slot

DEFAULT_EXPERTS: tuple[ExpertRole, ...] = (
    ExpertRole("Domain Expert", "deep knowledge of the subject: what is true, what the "
               "evidence says and what best practice is."),
    ExpertRole("Devil's Advocate", "challenge the obvious answer: hidden assumptions, risks, "
               "failure modes and the strongest objections."),
    ExpertRole("Practical Implementer", "how to actually do it: concrete steps, effort, "
               "tools, costs and the pitfalls met on the way."),
    ExpertRole("Strategic Thinker", "the long view: goals, trade-offs, second-order effects "
               "and the alternatives worth keeping open."),
)
SYNTHESIZER = "Synthesizer"


@record
class CouncilPlan:
    experts: tuple[tuple[ExpertRole, str], ...]
    """Each expert and the model that speaks for it."""
    synthesizer: str


def plan(ctx: ModeContext) -> CouncilPlan:
    """Experts (default or custom roles) with models cycled over them, and the Synthesizer.

    `models` may name one model more than there are experts: that last one synthesizes.
    """
    roles = ctx.options.roles or DEFAULT_EXPERTS
    names = [r.name.strip().lower() for r in roles]
    if len(set(names)) != len(names):
        raise InvalidRequest("roles: each expert needs a name of its own", param="roles")
    synthesizer: str | None = None
    if ctx.options.models:
        models, source = ctx.options.models, "models"
        if len(models) > len(roles) + 1:
            raise InvalidRequest(
                f"council has {len(roles)} experts: models takes at most one per expert, "
                f"plus one for the Synthesizer ({len(roles) + 1}); it gives {len(models)}",
                param="models")
        if len(models) == len(roles) + 1:
            models, synthesizer = models[:-1], models[-1]
    elif ctx.defaults.council_models:
        models, source = tuple(ctx.defaults.council_models), "council_models (settings)"
    else:
        models, source = lineup.picks(ctx, len(roles), "council"), "the model pool"
    experts = tuple(zip(roles, cycle(models), strict=False))
    lineup.check_known(ctx, [*models, *([synthesizer] if synthesizer else [])], source)
    lineup.check_personas(ctx, [m for _, m in experts])
    return CouncilPlan(experts, synthesizer or lineup.aggregator(
        ctx, models, pooled=source == "the model pool"))


async def run(ctx: ModeContext, chosen: CouncilPlan, stages: Stages) -> Outcome:
    calls = []
    for role, model in chosen.experts:
        persona = ctx.options.personas.get(model)
        system = "\n\n".join(filter(None, (ctx.persona_prompts.get(persona or ""),
                                           prompts.expert(role))))
        request = ctx.request(Message("system", system), *ctx.conversation)
        calls.append(Call(Slot(model, persona=persona, expert=role.name), request))
    experts = await stages.run("experts", calls)
    if not succeeded(experts):
        raise all_failed(experts)
    ok = [(role, r) for (role, _), r in zip(chosen.experts, experts, strict=True)
          if r.status == "ok"]
    instruction = prompts.synthesizer(ctx.question, [(role, r.content) for role, r in ok])
    step = await stages.one("synthesis", Call(
        Slot(chosen.synthesizer, expert=SYNTHESIZER, role="synthesizer"),
        ctx.task("", instruction, output=True), answer=True))
    used = [r.slot.model for _, r in ok]
    content, fallback = step.content, None
    if step.status == "ok":
        used.append(chosen.synthesizer)
    elif ctx.options.output is not None:
        raise InvalidModelOutput("the Synthesizer could not answer in the requested format: "
                                 f"{(step.error or {}).get('message')}")
    else:
        content = "\n\n".join(f"### {role.name}\n\n{r.content.strip()}" for role, r in ok)
        fallback = ("the Synthesizer failed, so the answer gives each expert's view under its "
                    "name")
        stages.say(content)
    info = CouncilDetails(
        experts=[Expert(name=role.name, perspective=role.perspective, model=model,
                        persona=r.slot.persona, status=r.status, content=r.content,
                        error=ErrorOut.of(r.error), latency_ms=r.latency_ms)
                 for (role, model), r in zip(chosen.experts, experts, strict=True)],
        synthesizer=chosen.synthesizer, synthesizer_status=step.status,
        synthesizer_error=ErrorOut.of(step.error), fallback=fallback)
    sources = [step] if step.status == "ok" else [r for _, r in ok]
    return Outcome(content, list(dict.fromkeys(used)), as_json(info),
                   total_usage([*experts, step]), finish_of(sources))
