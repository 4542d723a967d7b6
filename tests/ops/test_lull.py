"""Held work (the access lines) runs while the loop waits on an upstream, or soon after."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from chorus import lull


async def test_held_work_waits_for_the_loop_to_wait_on_an_upstream() -> None:
    loop = asyncio.get_running_loop()
    ran: list[str] = []
    lull.later(loop, lambda: ran.append("first"))
    lull.later(loop, lambda: ran.append("second"))
    for _ in range(5):
        await asyncio.sleep(0)
    assert ran == []
    lull.waiting()
    lull.waiting()  # one run for both announcements
    lull.later(loop, lambda: ran.append("third"))  # held before the run: runs with it
    assert ran == []  # the run comes when the caller waits, not inside `waiting`
    await asyncio.sleep(0)
    assert ran == ["first", "second", "third"]
    lull.waiting()
    await asyncio.sleep(0)
    assert ran == ["first", "second", "third"]


async def test_without_a_lull_held_work_runs_within_latest() -> None:
    loop = asyncio.get_running_loop()
    done = loop.create_future()
    held_at = loop.time()
    lull.later(loop, lambda: done.set_result(loop.time()))
    ran_at = await asyncio.wait_for(done, 5)
    assert lull.LATEST <= ran_at - held_at + 0.001 < 1


async def test_work_that_fails_is_reported_and_the_rest_runs(
        monkeypatch: pytest.MonkeyPatch) -> None:
    loop = asyncio.get_running_loop()
    reported: list[dict[str, Any]] = []
    monkeypatch.setattr(loop, "call_exception_handler", reported.append)
    ran: list[int] = []
    lull.later(loop, lambda: 1 / 0)
    lull.later(loop, lambda: ran.append(1))
    lull.waiting()
    await asyncio.sleep(0)
    assert ran == [1]
    assert isinstance(reported[0]["exception"], ZeroDivisionError)


def test_each_loop_holds_its_own() -> None:
    ran: list[str] = []

    async def hold(name: str) -> None:
        lull.later(asyncio.get_running_loop(), lambda: ran.append(name))

    async def held_then_lull() -> None:
        await hold("second")
        lull.waiting()
        await asyncio.sleep(0)

    asyncio.run(hold("first"))  # a loop that ends holding work: it dies with the loop
    asyncio.run(held_then_lull())
    assert ran == ["second"]
