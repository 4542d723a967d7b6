"""A mode's script run as events: emitted at once, errors unchanged, cancelled with its consumer."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from chorus.errors import InvalidModelOutput
from chorus.modes.stages import Stages, events
from chorus.types import AnswerDelta, Outcome, Stage, Usage

CALLER: Any = None
"""The scripts here call no model."""


async def test_events_arrive_while_the_script_runs_and_end_with_its_outcome() -> None:
    go_on = asyncio.Event()

    async def script(stages: Stages) -> Outcome:
        with stages.stage("thinking"):
            stages.say("first")
            await go_on.wait()
        return Outcome("first", [], {}, Usage())

    stream = events(CALLER, script)
    assert await anext(stream) == Stage("thinking", "started")
    assert await anext(stream) == AnswerDelta("first"), "sent before the script goes on"
    go_on.set()
    assert [e async for e in stream] == [Stage("thinking", "completed"),
                                         Outcome("first", [], {}, Usage())]


async def test_the_scripts_error_reaches_the_consumer_unchanged_and_ends_the_stage() -> None:
    raised = InvalidModelOutput("not JSON")

    async def script(stages: Stages) -> Outcome:
        with stages.stage("synthesis"):
            raise raised

    seen: list[object] = []
    with pytest.raises(InvalidModelOutput) as caught:
        async for event in events(CALLER, script):
            seen.append(event)
    assert caught.value is raised
    assert seen == [Stage("synthesis", "started")], "a failed stage never completes"


async def test_closing_the_events_cancels_the_script_and_waits_for_it() -> None:
    unwound = asyncio.Event()

    async def script(stages: Stages) -> Outcome:
        stages.say("partial")
        try:
            await asyncio.Event().wait()
        finally:
            unwound.set()
        raise AssertionError("never reached")

    stream = events(CALLER, script)
    assert await anext(stream) == AnswerDelta("partial")
    await stream.aclose()
    assert unwound.is_set(), "the script has unwound by the time closing returns"
