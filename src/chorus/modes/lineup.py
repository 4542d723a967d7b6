"""Who plays which part: models from the request, the user's settings, the server, or the pool."""

from __future__ import annotations

from collections.abc import Sequence

from chorus.errors import InvalidRequest
from chorus.modes import ModeContext
from chorus.providers.catalog import KNOWN_MODELS, SIMULATED, ModelEntry


def preference(ctx: ModeContext) -> float:
    """The request's cost preference, else the user's, else the server's (as smart_chat)."""
    chosen = ctx.options.cost_preference
    return chosen if chosen is not None else ctx.defaults.cost_preference


def ranked_pool(ctx: ModeContext) -> list[str]:
    """The pool ranked for this request's cost preference (see `ranked`)."""
    return [entry.id for entry in ranked(ctx.caller.models(), preference(ctx))]


def ranked(pool: Sequence[ModelEntry], cost_preference: float) -> list[ModelEntry]:
    """Best value first, one model of each provider family before any second one.

    Value is quality traded linearly against price: `(1 - c) * quality - c * price / top`
    (blended price, `top` the pool's highest). Any prefix of this ranking is the subset of
    its size with the highest summed value among those with the most families, so its summed
    price can only fall as `c` rises: a raised cost preference never makes a lineup dearer.
    Answers from different families disagree in more useful ways than two models of one.
    """
    top = max((entry.blended_price for entry in pool), default=0.0) or 1.0
    c = cost_preference

    def value(entry: ModelEntry) -> float:
        return (1 - c) * entry.quality - c * entry.blended_price / top

    ordered = sorted(pool, key=lambda e: (-value(e), e.blended_price, e.id))
    seen: set[str] = set()
    first: list[ModelEntry] = []
    rest: list[ModelEntry] = []
    for entry in ordered:
        family = _family(entry)
        (rest if family in seen else first).append(entry)
        seen.add(family)
    return first + rest


def lineup_price(pool: Sequence[ModelEntry], members: int, aggregated: bool,
                 cost_preference: float) -> float:
    """The summed blended price of a default lineup's seats: `members` from the ranking
    (cycled when the pool is smaller), plus its best value again as aggregator if `aggregated`."""
    order = ranked(pool, cost_preference)
    if not order:
        return 0.0
    price = sum(order[i % len(order)].blended_price for i in range(members))
    return price + (order[0].blended_price if aggregated else 0.0)


def picks(ctx: ModeContext, count: int, what: str) -> tuple[str, ...]:
    """`count` models from the pool, cycled when the pool is smaller; 400 if it is empty."""
    ranked = ranked_pool(ctx)
    if not ranked:
        raise InvalidRequest(f"no model is configured for {what}: set a provider key or use a "
                             "sk_test_ key", param="models")
    return tuple(ranked[i % len(ranked)] for i in range(count))


def check_known(ctx: ModeContext, models: Sequence[str], source: str) -> None:
    for model in models:
        try:
            ctx.caller.entry(model)
        except InvalidRequest as exc:
            raise InvalidRequest(f"{source}: {exc.message}", param="models") from exc


def strongest(ctx: ModeContext, models: Sequence[str]) -> str:
    """The model with the highest catalog price (quality breaks ties): the likely best judge."""
    entries = [ctx.caller.entry(m) for m in models]
    return max(entries, key=lambda e: (e.blended_price, e.quality, e.id)).id


def aggregator(ctx: ModeContext, models: Sequence[str], pooled: bool = False) -> str:
    """The configured aggregator if this key may use it; for a lineup taken from the pool
    (`pooled`) its best-value member, else the strongest of `models` the request named."""
    configured = ctx.defaults.aggregator_model
    if configured and any(e.id == configured for e in ctx.caller.models()):
        return configured
    if pooled:  # the pool's best value, the first of the lineup: its price falls with `c` too
        return next(m for m in ranked_pool(ctx) if m in models)
    return strongest(ctx, models)


def check_personas(ctx: ModeContext, models: Sequence[str]) -> None:
    """Every persona slot must name a model that plays in this request."""
    for model, persona in ctx.options.personas.items():
        if model not in models:
            raise InvalidRequest(
                f"personas: {persona!r} is for model {model!r}, which has no slot in this "
                f"request (models: {', '.join(dict.fromkeys(models))})", param="personas")


def _family(entry: ModelEntry) -> str:
    """The vendor behind a model: its provider, or for a simulated twin the original's."""
    if entry.provider is SIMULATED:
        known = next((k for k in KNOWN_MODELS if k.id == entry.id), None)
        return known.dialect if known else entry.id
    return entry.provider.name
