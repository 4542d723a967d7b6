"""The modes: compositions of model calls that emit one event vocabulary.

Each mode module has `plan(ctx)`, which checks the request and decides who plays which part
(raising InvalidRequest before anything is stored), and `run`, the mode's script: ensemble,
debate and council await their stages in order and return the Outcome (chorus.modes.stages
runs them and yields their events); smart_chat, one model's answer with no stages, yields
that answer's events itself, sparing the hot path a task and a queue.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from functools import partial

from chorus.modes.base import ExpertRole, ModeContext, ModeOptions, Sampling

# isort: split
# The mode modules import the names above from this package, so they come after them.
from chorus.modes import council, debate, ensemble, smart_chat
from chorus.modes.stages import events
from chorus.types import ModeEvent, ModeName

__all__ = ["ExpertRole", "ModeContext", "ModeOptions", "Planned", "Sampling", "planned"]

Script = Callable[[], AsyncIterator[ModeEvent]]


class Planned:
    """A mode's plan, made once, and the script that runs it."""

    def __init__(self, models: tuple[str, ...], script: Script) -> None:
        self.models = models
        """Every model the plan may call, in order of parts (duplicates removed)."""
        self.script = script


def planned(name: ModeName, ctx: ModeContext) -> Planned:
    """Check the request and plan the mode; InvalidRequest when it cannot run."""
    caller = ctx.caller
    if name == "smart_chat":
        routed = smart_chat.plan(ctx)
        return Planned((routed.model,), lambda: smart_chat.run(ctx, routed))
    if name == "ensemble":
        members = ensemble.plan(ctx)
        return Planned(_unique(*members.models, members.aggregator),
                       lambda: events(caller, partial(ensemble.run, ctx, members)))
    if name == "debate":
        sides = debate.plan(ctx)
        return Planned(_unique(sides.pro, sides.con, sides.judge),
                       lambda: events(caller, partial(debate.run, ctx, sides)))
    panel = council.plan(ctx)
    return Planned(_unique(*(m for _, m in panel.experts), panel.synthesizer),
                   lambda: events(caller, partial(council.run, ctx, panel)))


def _unique(*models: str) -> tuple[str, ...]:
    return tuple(dict.fromkeys(models))
