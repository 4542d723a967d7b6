"""Personas: the built-ins and the caller's own, at `/v1/personas` and `/api/personas`."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Request
from pydantic import Field

from chorus import limits
from chorus.api import RequestBody, services_of
from chorus.auth import Principal, principal
from chorus.errors import InvalidRequest, NotFound
from chorus.modes import personas
from chorus.store.personas import PersonaRow
from chorus.types import JSON

router = APIRouter(tags=["personas"])
Caller = Annotated[Principal, Depends(principal)]
MAX_CUSTOM = 200
"""Custom personas a user may keep; enough for any real use, small enough to list at once."""


class PersonaIn(RequestBody):
    id: str = Field(min_length=1, max_length=64, pattern=r"^[a-z0-9_]+$")
    name: str = Field(min_length=1, max_length=200)
    description: str = Field("", max_length=2000)
    systemPrompt: str = Field(min_length=1, max_length=20_000)


class PersonaPatch(RequestBody):
    """The fields to change; an absent field keeps its value."""

    name: str | None = Field(None, min_length=1, max_length=200)
    description: str | None = Field(None, max_length=2000)
    systemPrompt: str | None = Field(None, min_length=1, max_length=20_000)


def custom(row: PersonaRow) -> personas.Persona:
    return personas.Persona(row.id, row.name, row.description, "custom", row.system_prompt,
                            built_in=False)


@router.get("/v1/personas")
@router.get("/api/personas")
async def list_personas(request: Request, caller: Caller) -> JSON:
    services = services_of(request)
    own = await services.store.personas.all(caller.user.id)
    return {"personas": [p.as_json() for p in (*personas.BUILT_IN, *map(custom, own))]}


@router.post("/v1/personas", status_code=201)
@router.post("/api/personas", status_code=201)
async def create_persona(request: Request, body: PersonaIn, caller: Caller) -> JSON:
    services = services_of(request)
    limits.check_custom_personas(services.settings, caller)
    if body.id in personas.BY_ID:
        raise InvalidRequest(f"{body.id!r} is a built-in persona; choose another id",
                             param="id")
    row = await services.store.personas.create(
        caller.user.id, body.id, body.name.strip(), body.description.strip(),
        body.systemPrompt.strip(), cap=MAX_CUSTOM)
    return custom(row).as_json()


@router.get("/v1/personas/{persona_id}")
@router.get("/api/personas/{persona_id}")
async def get_persona(request: Request, persona_id: str, caller: Caller) -> JSON:
    """A built-in persona, or one of the caller's own; another user's is a 404."""
    if persona_id in personas.BY_ID:
        return personas.BY_ID[persona_id].as_json()
    services = services_of(request)
    found = await services.store.personas.some(caller.user.id, [persona_id])
    if not found:
        raise NotFound(f"persona {persona_id!r} not found", param="id")
    return custom(found[0]).as_json()


@router.patch("/v1/personas/{persona_id}")
@router.patch("/api/personas/{persona_id}")
async def update_persona(request: Request, persona_id: str, body: PersonaPatch,
                         caller: Caller) -> JSON:
    """Change a custom persona's name, description or system prompt; built-ins are fixed."""
    if persona_id in personas.BY_ID:
        raise InvalidRequest(f"{persona_id!r} is built in and cannot be changed", param="id")
    changes = {column: value.strip() for column, value in (
        ("name", body.name), ("description", body.description),
        ("system_prompt", body.systemPrompt)) if value is not None}
    services = services_of(request)
    row = await services.store.personas.update(caller.user.id, persona_id, changes)
    return custom(row).as_json()


@router.delete("/v1/personas/{persona_id}")
@router.delete("/api/personas/{persona_id}")
async def delete_persona(request: Request, persona_id: str, caller: Caller) -> JSON:
    if persona_id in personas.BY_ID:
        raise InvalidRequest(f"{persona_id!r} is built in and cannot be deleted", param="id")
    services = services_of(request)
    await services.store.personas.delete(caller.user.id, persona_id)
    return {"id": persona_id, "object": "persona.deleted", "deleted": True}
