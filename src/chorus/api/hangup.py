"""A whole (non-streamed) answer is abandoned, upstream calls and all, when its client hangs up.

Streamed answers get this from the server already: a disconnect cancels the response's
generator. A plain request handler is not cancelled, so it watches for the disconnect itself.
"""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine
from typing import Any, TypeVar

from fastapi import Request

T = TypeVar("T")
CLIENT_CLOSED = 499
"""Nobody reads it: the status a hung-up request is logged with (nginx's convention)."""


class ClientGone(Exception):
    """The client disconnected before its answer was ready; the work was cancelled."""


async def unless_hung_up(request: Request, work: Coroutine[Any, Any, T]) -> T:
    """The result of `work`, or ClientGone once the client disconnects (and `work` is cancelled)."""
    task = asyncio.ensure_future(work)
    watch = asyncio.ensure_future(_hang_up(request))
    try:
        await asyncio.wait({task, watch}, return_when=asyncio.FIRST_COMPLETED)
    finally:
        watch.cancel()
        if not task.done():
            task.cancel()
            # let the turn record the cancellation before the handler returns
            await asyncio.wait({task})
    if task.cancelled():
        raise ClientGone
    return task.result()


async def _hang_up(request: Request) -> None:
    # The body has been read, so the next message can only be the disconnect.
    while (await request.receive())["type"] != "http.disconnect":
        continue
