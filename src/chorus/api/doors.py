"""What every chat front door shares: starting a turn, answering it whole unless the client
hangs up, and the konnect request parts (personas, roles) in Chorus's terms."""

from __future__ import annotations

from collections.abc import Mapping

from fastapi import Request
from pydantic import Field

from chorus.api import RequestBody
from chorus.api.access import note_mode
from chorus.api.hangup import ClientGone, unless_hung_up
from chorus.auth import Principal
from chorus.chat.request import TurnRequest
from chorus.chat.services import Services
from chorus.chat.turn import Turn, TurnResult
from chorus.errors import ChorusError
from chorus.modes import ExpertRole


class PersonaSlot(RequestBody):
    personaId: str = Field(min_length=1, max_length=64)
    modelId: str = Field(min_length=1, max_length=200)


class RoleIn(RequestBody):
    name: str = Field(min_length=1, max_length=100)
    perspective: str = Field(min_length=1, max_length=2000)


def personas_of(slots: list[PersonaSlot] | None) -> dict[str, str]:
    """Persona id per model id."""
    return {p.modelId: p.personaId for p in slots or ()}


def roles_of(roles: list[RoleIn] | None) -> tuple[ExpertRole, ...] | None:
    return tuple(ExpertRole(r.name, r.perspective) for r in roles) if roles else None


def services_of(request: Request) -> Services:
    services: Services = request.app.state.services
    return services


async def start(request: Request, principal: Principal, turn: TurnRequest,
                params: Mapping[str, str] | None = None) -> Turn:
    """Check, plan and store the turn; `params` renames the fields errors name, for a door
    whose request spells them differently (`models` is `konnect.models` on OpenAI's)."""
    try:
        return await Turn.start(services_of(request), principal, turn, on_mode=note_mode)
    except ChorusError as exc:
        if params and exc.param is not None:
            exc.param = params.get(exc.param, exc.param)
        raise


async def whole(request: Request, turn: Turn) -> TurnResult | None:
    """The turn's result, or None when the client hung up first (the turn was cancelled)."""
    try:
        return await unless_hung_up(request, turn.answer())
    except ClientGone:
        return None
