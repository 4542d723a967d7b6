"""`GET /v1/models`: the catalog in OpenAI's list shape, with a `konnect` object per model."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Request

from chorus.api import services_of
from chorus.auth import Principal, principal
from chorus.errors import NotFound
from chorus.modes import council, ensemble
from chorus.modes.lineup import lineup_price
from chorus.providers.catalog import ModelEntry
from chorus.types import JSON, MODES

router = APIRouter(prefix="/v1", tags=["models"])

PATTERN_MODELS: dict[str, str] = {
    "konnect-smart": "smart_chat",
    "konnect-ensemble": "ensemble",
    "konnect-debate": "debate",
    "konnect-council": "council",
}
SEATS: dict[str, tuple[int, bool]] = {
    "ensemble": (ensemble.DEFAULT_COUNT, True),
    "council": (len(council.DEFAULT_EXPERTS), True),
    "debate": (3, False),
}
"""A default lineup's members, and whether an aggregator (synthesizer) sits beside them."""
CREATED = 1_735_689_600  # 2025-01-01, a fixed date: the catalog has no creation times


def model_json(entry: ModelEntry, test: bool) -> JSON:
    return {
        "id": entry.id, "object": "model", "created": CREATED,
        "owned_by": "simulated" if test else entry.provider.name,
        "konnect": {
            "provider": "simulated" if test else entry.provider.name,
            "dialect": entry.dialect,
            "context_window": entry.context_window,
            "price_per_million": {"input": entry.price_in, "output": entry.price_out},
            "strengths": sorted(entry.strengths),
            "capabilities": {"tools": entry.tools, "vision": entry.vision,
                             "json_schema": entry.json_schema},
            "modes": list(MODES),
            "simulated": test,
        },
    }


def expected_price(pool: list[ModelEntry], mode: str) -> JSON:
    """USD per million tokens (three parts input, one output) summed over the seats of the
    default lineup, from cost_preference 1 (`min`) to 0 (`max`); smart_chat routes to one model
    of the pool."""
    if mode == "smart_chat":
        prices = [entry.blended_price for entry in pool] or [0.0]
        low, high = min(prices), max(prices)
    else:
        members, aggregated = SEATS[mode]
        low = lineup_price(pool, members, aggregated, 1.0)
        high = lineup_price(pool, members, aggregated, 0.0)
    return {"min": round(low, 4), "max": round(high, 4)}


@router.get("/models")
async def list_models(request: Request,
                      caller: Annotated[Principal, Depends(principal)]) -> JSON:
    services = services_of(request)
    pool = services.catalog.models(caller.test)
    data = [model_json(e, caller.test) for e in pool]
    data += [pattern_json(name, mode, pool) for name, mode in PATTERN_MODELS.items()]
    return {"object": "list", "data": data}


def pattern_json(name: str, mode: str, pool: list[ModelEntry]) -> JSON:
    return {"id": name, "object": "model", "created": CREATED, "owned_by": "chorus",
            "konnect": {"pattern": mode, "modes": [mode],
                        "expected_price_per_million": expected_price(pool, mode)}}


@router.get("/models/{model_id:path}")
async def get_model(request: Request, model_id: str,
                    caller: Annotated[Principal, Depends(principal)]) -> JSON:
    """One model of the catalog, or a pattern model; 404 for an id this key cannot use."""
    services = services_of(request)
    pool = services.catalog.models(caller.test)
    if model_id in PATTERN_MODELS:
        return pattern_json(model_id, PATTERN_MODELS[model_id], pool)
    entry = next((e for e in pool if e.id == model_id), None)
    if entry is None:
        raise NotFound(f"model {model_id!r} not found; GET /v1/models lists them",
                       param="model")
    return model_json(entry, caller.test)
