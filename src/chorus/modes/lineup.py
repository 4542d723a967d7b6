"""Who plays which part: models from the request, the user's settings, the server, or the pool."""

from __future__ import annotations

from collections.abc import Sequence

from chorus.errors import InvalidRequest
from chorus.modes import ModeContext
from chorus.providers.catalog import KNOWN_MODELS, SIMULATED, ModelEntry


def ranked_pool(ctx: ModeContext) -> list[str]:
    """The pool strongest first, one model of each provider family before any second one.

    Answers from different families disagree in more useful ways than two models of one.
    """
    pool = sorted(ctx.caller.models(), key=lambda e: (-e.quality, e.blended_price, e.id))
    seen: set[str] = set()
    first: list[str] = []
    rest: list[str] = []
    for entry in pool:
        family = _family(entry)
        (rest if family in seen else first).append(entry.id)
        seen.add(family)
    return first + rest


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


def aggregator(ctx: ModeContext, models: Sequence[str]) -> str:
    """The configured aggregator if this key may use it, else the strongest of `models`."""
    configured = ctx.defaults.aggregator_model
    if configured and any(e.id == configured for e in ctx.caller.models()):
        return configured
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
