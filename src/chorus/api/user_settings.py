"""`GET`/`PATCH /v1/settings`: the caller's model preferences; null means the server default.

Live keys and test keys each have their own: a test key's models are simulated twins, checked
against what test keys are offered, and must not become the defaults of the live keys (on a
server without that provider's key, every default live chat would be a 400).
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Request
from pydantic import Field

from chorus.api import RequestBody, services_of
from chorus.auth import Principal, principal
from chorus.types import JSON, Aggregation

router = APIRouter(prefix="/v1", tags=["settings"])


class DebateChoice(RequestBody):
    pro: str | None = None
    con: str | None = None
    judge: str | None = None


class UserSettings(RequestBody):
    default_model: str | None = None
    cost_preference: float | None = Field(None, ge=0, le=1)
    ensemble_models: list[str] | None = Field(None, min_length=2, max_length=5)
    ensemble_aggregation: Aggregation | None = None
    debate_models: DebateChoice | None = None
    council_models: list[str] | None = Field(None, min_length=1, max_length=8)


def _current(caller: Principal) -> UserSettings:
    return UserSettings.model_validate(
        {k: v for k, v in caller.user.settings.items() if k in UserSettings.model_fields})


@router.get("/settings")
async def get_settings(caller: Annotated[Principal, Depends(principal)]) -> JSON:
    return {"object": "settings", **_current(caller).model_dump()}


@router.patch("/settings")
async def patch_settings(request: Request, body: UserSettings,
                         caller: Annotated[Principal, Depends(principal)]) -> JSON:
    services = services_of(request)
    for model in [body.default_model, *(body.ensemble_models or ()),
                  *(body.council_models or ()),
                  *(body.debate_models.model_dump().values() if body.debate_models else ())]:
        if model:
            services.catalog.get(model, caller.test)
    merged = {**_current(caller).model_dump(), **body.model_dump(exclude_unset=True)}
    await services.store.users.update_settings(caller.user.id, caller.test, merged)
    services.auth.forget(user_id=caller.user.id)
    return {"object": "settings", **merged}
