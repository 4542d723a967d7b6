"""`GET /v1/models`: the catalog in OpenAI's list shape, with a `konnect` object per model."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Request

from chorus.auth import Principal, principal
from chorus.chat.services import Services
from chorus.errors import NotFound
from chorus.providers.catalog import ModelEntry
from chorus.types import JSON, MODES

router = APIRouter(prefix="/v1", tags=["models"])

PATTERN_MODELS: dict[str, str] = {
    "konnect-smart": "smart_chat",
    "konnect-ensemble": "ensemble",
    "konnect-debate": "debate",
    "konnect-council": "council",
}
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


@router.get("/models")
async def list_models(request: Request,
                      caller: Annotated[Principal, Depends(principal)]) -> JSON:
    services: Services = request.app.state.services
    data = [model_json(e, caller.test) for e in services.catalog.models(caller.test)]
    data += [pattern_json(name, mode) for name, mode in PATTERN_MODELS.items()]
    return {"object": "list", "data": data}


def pattern_json(name: str, mode: str) -> JSON:
    return {"id": name, "object": "model", "created": CREATED, "owned_by": "chorus",
            "konnect": {"pattern": mode, "modes": [mode]}}


@router.get("/models/{model_id:path}")
async def get_model(request: Request, model_id: str,
                    caller: Annotated[Principal, Depends(principal)]) -> JSON:
    """One model of the catalog, or a pattern model; 404 for an id this key cannot use."""
    services: Services = request.app.state.services
    if model_id in PATTERN_MODELS:
        return pattern_json(model_id, PATTERN_MODELS[model_id])
    entry = next((e for e in services.catalog.models(caller.test) if e.id == model_id), None)
    if entry is None:
        raise NotFound(f"model {model_id!r} not found; GET /v1/models lists them",
                       param="model")
    return model_json(entry, caller.test)
