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
    """The result of `work`, or ClientGone once the client disconnects (and `work` is cancelled).

    `work` runs in the handler's own task; one more task waits for the disconnect and cancels
    the handler's, so the turn records the cancellation before the handler goes on."""
    handler = asyncio.current_task()
    if handler is None:
        raise RuntimeError("unless_hung_up runs in a task")
    gone = False

    async def watch() -> None:
        nonlocal gone
        # The body has been read, so the next message can only be the disconnect.
        while (await request.receive())["type"] != "http.disconnect":
            continue
        gone = True
        handler.cancel()

    watcher = asyncio.ensure_future(watch())
    try:
        return await work
    except asyncio.CancelledError:
        if gone and handler.uncancel() == 0:  # else the server cancelled it too: it stops
            raise ClientGone from None
        raise
    finally:
        watcher.cancel()
