"""What every chat front door shares: starting a turn, answering it whole unless the client
hangs up, and the konnect request parts (personas, roles) in Chorus's terms."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar, Literal

from fastapi import Request
from pydantic import ConfigDict, Field, model_validator

from chorus.api import RequestBody, services_of
from chorus.api.access import note_mode, usage_ids
from chorus.api.hangup import ClientGone, unless_hung_up
from chorus.api.models import PATTERN_MODELS
from chorus.auth import Principal
from chorus.chat.request import TurnRequest
from chorus.chat.services import Services
from chorus.chat.turn import Turn, TurnHooks, TurnResult
from chorus.errors import ChorusError, InvalidRequest
from chorus.modes import ExpertRole, ModeOptions, Sampling
from chorus.modes.base import ClientTools
from chorus.types import MODES, ModeName, OutputFormat


class PersonaSlot(RequestBody):
    personaId: str = Field(min_length=1, max_length=64)
    modelId: str = Field(min_length=1, max_length=200)


class RoleIn(RequestBody):
    name: str = Field(min_length=1, max_length=100)
    perspective: str = Field(min_length=1, max_length=2000)


class KonnectOptions(RequestBody):
    """The extensions, sent as dotted top-level keys or as one nested `konnect` object."""

    model_config = ConfigDict(frozen=True)

    pattern: str | None = Field(None, max_length=40)
    models: list[str] | None = Field(None, min_length=1, max_length=8)
    aggregation: Literal["synthesis", "best_of_n", "consensus", "union"] | None = None
    personas: list[PersonaSlot] | None = Field(None, max_length=8)
    enable_tools: bool | None = None
    roles: list[RoleIn] | None = Field(None, min_length=2, max_length=8)
    session_id: str | None = Field(None, min_length=1, max_length=64)
    cost_preference: float | None = Field(None, ge=0, le=1)

    def mode_options(self, pinned: str | None, sampling: Sampling,
                     tools: ClientTools | None = None, output: OutputFormat | None = None
                     ) -> ModeOptions:
        """The turn's options: these extensions, with what the door's own fields ask for."""
        return ModeOptions(
            model=pinned,
            models=tuple(self.models) if self.models else None,
            aggregation=self.aggregation,
            personas=personas_of(self.personas),
            roles=roles_of(self.roles),
            cost_preference=self.cost_preference,
            enable_tools=self.enable_tools is not False,
            sampling=sampling,
            tools=tools,
            output=output,
        )


NO_OPTIONS = KonnectOptions()
"""A body without extensions shares this one (frozen): validating a new one each time cost
about 21,000 instructions, a third of a chat completion's body (bench/notes.md)."""
EXTENSION_PREFIX = "konnect."


def gather_dotted(cls: type, data: Any) -> Any:
    """Fold `konnect.x` keys into the nested object; a dotted key wins over a nested one.

    A `mode="before"` model validator of the bodies that take the extensions."""
    if not isinstance(data, dict):
        return data
    dotted = {k[len(EXTENSION_PREFIX):]: v for k, v in data.items()
              if isinstance(k, str) and k.startswith(EXTENSION_PREFIX)}
    nested = data.get("konnect")
    if not dotted or not isinstance(nested, dict | None):
        return data
    rest = {k: v for k, v in data.items()
            if not (isinstance(k, str) and k.startswith(EXTENSION_PREFIX))}
    return {**rest, "konnect": {**(nested or {}), **dotted}}


def pattern_mode(name: str) -> ModeName:
    """`ensemble`, `konnect-ensemble`, `smart` and `smart_chat` style names to a mode."""
    short = name.strip().lower().removeprefix("konnect-")
    short = "smart_chat" if short == "smart" else short
    for mode in MODES:
        if mode == short:
            return mode
    raise InvalidRequest(f"konnect.pattern: unknown pattern {name!r}; one of "
                         "smart_chat, ensemble, debate, council", param="konnect.pattern")


def mode_of(model: str, ext: KonnectOptions, services: Services, test: bool
            ) -> tuple[ModeName, str | None]:
    """The mode to run and the model to pin (a concrete `model` in smart_chat); `model` is a
    concrete model or a pattern model (`konnect-ensemble`)."""
    by_model = PATTERN_MODELS.get(model)
    from_model = pattern_mode(by_model) if by_model else None
    requested = pattern_mode(ext.pattern) if ext.pattern else None
    if from_model and requested and from_model != requested:
        raise InvalidRequest(f"model {model!r} runs {from_model} but konnect.pattern asks "
                             f"for {requested}", param="konnect.pattern")
    if from_model is None:
        services.catalog.get(model, test)
    for name in ext.models or ():
        try:
            services.catalog.get(name, test)
        except InvalidRequest as exc:
            raise InvalidRequest(f"konnect.models: {exc.message}", param="konnect.models") from exc
    mode = requested or from_model or "smart_chat"
    return mode, model if from_model is None and mode == "smart_chat" else None


class DoorBody(RequestBody):
    """The body of a chat door: the konnect extensions (as dotted keys too), and the door's
    API fields that would change the answer but that no dialect here honours (`REFUSED`,
    field -> why): a 400 naming the field, never a silent drop. A field sent empty (null,
    false, [] or {}) asks for nothing and passes."""

    REFUSED: ClassVar[dict[str, str]] = {}
    konnect: KonnectOptions = Field(default_factory=lambda: NO_OPTIONS)

    _gather_dotted = model_validator(mode="before")(gather_dotted)

    @model_validator(mode="before")
    @classmethod
    def _refuse_unsupported(cls, data: Any) -> Any:
        if isinstance(data, dict):
            for name, why in cls.REFUSED.items():
                if data.get(name) not in (None, False, [], {}):
                    raise InvalidRequest(why, param=name)
        return data


KONNECT_PARAMS = {"mode": "model", "models": "konnect.models",
                  "aggregation": "konnect.aggregation", "personas": "konnect.personas",
                  "roles": "konnect.roles", "session_id": "konnect.session_id"}
"""The native endpoint's field names in errors, as the konnect extensions spell them."""


def personas_of(slots: list[PersonaSlot] | None) -> dict[str, str]:
    """Persona id per model id."""
    return {p.modelId: p.personaId for p in slots or ()}


def roles_of(roles: list[RoleIn] | None) -> tuple[ExpertRole, ...] | None:
    return tuple(ExpertRole(r.name, r.perspective) for r in roles) if roles else None


HOOKS = TurnHooks(on_mode=note_mode, usage_ids=usage_ids)
"""The access log labels each turn's request with its mode and its usage records' id."""


async def start(request: Request, principal: Principal, turn: TurnRequest,
                params: Mapping[str, str] | None = None) -> Turn:
    """Check, plan and store the turn; `params` renames the fields errors name, for a door
    whose request spells them differently (`models` is `konnect.models` on OpenAI's)."""
    try:
        return await Turn.start(services_of(request), principal, turn, HOOKS)
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
