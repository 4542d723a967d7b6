"""A mode's script and the stages it awaits, so a mode's file reads as its algorithm.

A mode's `run` is a coroutine that awaits its steps in order: `await stages.run("experts",
calls)` emits the stage's start, every member's events as they happen and the stage's end,
then returns the members' results; it ends by returning the Outcome. `events(caller, script)`
runs the script as a task and yields what it emits, the moment it is emitted, then the
Outcome. Closing or cancelling that iteration (the client went away) cancels the script and
every member call under it, and waits for them; an error the script raises reaches the
consumer unchanged.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable, Coroutine, Iterator, Sequence
from contextlib import contextmanager
from typing import Any

from chorus.calls import Caller
from chorus.modes.fanout import Call, Emit, run_all, run_member, stop
from chorus.types import AnswerDelta, MemberResult, ModeEvent, Outcome, Stage


class Stages:
    """What a script awaits: stages of model calls, and the answer's text as it is written."""

    def __init__(self, caller: Caller, emit: Emit) -> None:
        self.caller = caller
        self.emit = emit

    @contextmanager
    def stage(self, name: str, round: int | None = None) -> Iterator[None]:
        """A named stage around the steps in its block; it completes only if they do."""
        self.emit(Stage(name, "started", round=round))
        yield
        self.emit(Stage(name, "completed", round=round))

    async def run(self, name: str, calls: Sequence[Call], round: int | None = None
                  ) -> list[MemberResult]:
        """The calls at once, as one stage; their results in call order."""
        with self.stage(name, round):
            return await run_all(self.caller, calls, self.emit)

    async def one(self, name: str, call: Call) -> MemberResult:
        """One call as a stage of its own."""
        with self.stage(name):
            return await run_member(self.caller, call, self.emit)

    async def call(self, call: Call) -> MemberResult:
        """One call within the current stage."""
        return await run_member(self.caller, call, self.emit)

    def say(self, text: str) -> None:
        """Text of the final answer, sent as it is written."""
        self.emit(AnswerDelta(text))


Script = Callable[[Stages], Coroutine[Any, Any, Outcome]]


async def events(caller: Caller, script: Script) -> AsyncIterator[ModeEvent]:
    """The script's events as they happen, then its Outcome."""
    queue: asyncio.Queue[ModeEvent | asyncio.Task[Outcome]] = asyncio.Queue()
    task = asyncio.create_task(script(Stages(caller, queue.put_nowait)))
    # The done callback runs after the script's last event was queued, so the task arrives on
    # the queue only once every event is there.
    task.add_done_callback(queue.put_nowait)
    try:
        while not isinstance(item := await queue.get(), asyncio.Task):
            yield item
        yield item.result()
    finally:
        await stop([task])
