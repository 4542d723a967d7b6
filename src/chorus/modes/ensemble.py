"""ensemble: 2 to 5 models answer at once; an aggregation turns their answers into one."""

from __future__ import annotations

from chorus.errors import InvalidRequest
from chorus.modes import ModeContext, aggregations, lineup
from chorus.modes.fanout import Call, all_failed, succeeded
from chorus.modes.stages import Stages
from chorus.records import record
from chorus.types import Aggregation, Outcome, Slot

MIN_MODELS, MAX_MODELS = 2, 5
DEFAULT_COUNT = 2


@record
class EnsemblePlan:
    models: tuple[str, ...]
    aggregation: Aggregation
    aggregator: str
    """The aggregator of synthesis and union, the judge of best_of_n and consensus."""


def plan(ctx: ModeContext) -> EnsemblePlan:
    """The models and the aggregation this request runs with; 400 when they cannot work."""
    if ctx.options.models:
        models, source = ctx.options.models, "models"
    elif ctx.defaults.ensemble_models:
        models, source = tuple(ctx.defaults.ensemble_models), "ensemble_models (settings)"
    else:
        models, source = tuple(lineup.ranked_pool(ctx)[:DEFAULT_COUNT]), "the model pool"
    if not MIN_MODELS <= len(models) <= MAX_MODELS:
        raise InvalidRequest(f"ensemble needs {MIN_MODELS} to {MAX_MODELS} models; "
                             f"{source} gives {len(models)}", param="models")
    lineup.check_known(ctx, models, source)
    lineup.check_personas(ctx, models)
    aggregation = ctx.options.aggregation or ctx.defaults.ensemble_aggregation
    return EnsemblePlan(models, aggregation, lineup.aggregator(
        ctx, models, pooled=source == "the model pool"))


async def run(ctx: ModeContext, chosen: EnsemblePlan, stages: Stages) -> Outcome:
    calls = []
    for model in chosen.models:
        persona = ctx.options.personas.get(model)
        request = ctx.request(*ctx.system_for(persona), *ctx.conversation, output=True)
        calls.append(Call(Slot(model, persona=persona), request))
    members = await stages.run("members", calls)
    if not succeeded(members):
        raise all_failed(members)
    aggregate = aggregations.RUNNERS[chosen.aggregation]
    return await aggregate(ctx, chosen.aggregator, members, stages)
