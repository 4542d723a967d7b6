"""What a client's hanging up cancels: its answer, whole or streamed, upstream calls and all.

A plain request handler is not cancelled by the server when its client leaves: it runs the
answer in a task and waits for whichever comes first, the answer or the disconnect. Starlette's
StreamingResponse watches for it with an anyio task group (two tasks and a cancel scope per
stream, as uvicorn speaks ASGI 2.3); EventStream streams in the handler's own task and spends
one more on waiting for the disconnect, which cancels the handler's task.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterable, Coroutine
from typing import Any, TypeVar

from fastapi import Request
from fastapi.responses import StreamingResponse
from starlette.types import Receive, Scope, Send

from chorus import streaming

T = TypeVar("T")
CLIENT_CLOSED = 499
"""Nobody reads it: the status a hung-up request is logged with (nginx's convention)."""


class ClientGone(Exception):
    """The client disconnected before its answer was ready; the work was cancelled."""


async def disconnected(receive: Receive) -> None:
    """Returns once the client has hung up."""
    # The body has been read, so the next message can only be the disconnect.
    while (await receive())["type"] != "http.disconnect":
        continue


async def unless_hung_up(request: Request, work: Coroutine[Any, Any, T]) -> T:
    """The result of `work`, or ClientGone once the client disconnects (and `work` is cancelled).

    `work` gets a task of its own: run in the handler's (as EventStream streams), it cost 10 %
    more CPU per request and tripled p99 latency at concurrency 64 (bench/ab.py)."""
    task = asyncio.ensure_future(work)
    watch = asyncio.ensure_future(disconnected(request.receive))
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


class EventStream(StreamingResponse):
    """A stream of server-sent events, given as bytes; stopped when its client hangs up."""

    def __init__(self, content: AsyncIterable[bytes]) -> None:
        super().__init__(content, media_type=streaming.MEDIA_TYPE, headers=streaming.HEADERS)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        streaming_task = asyncio.current_task()
        if streaming_task is None:
            raise RuntimeError("an EventStream is sent from a task")
        gone = False

        async def watch() -> None:
            nonlocal gone
            await disconnected(receive)
            gone = True
            streaming_task.cancel()

        watcher = asyncio.ensure_future(watch())
        try:
            await self.stream_response(send)
        except asyncio.CancelledError:
            if not gone or streaming_task.uncancel() > 0:  # the server's cancellation too
                raise
        finally:
            watcher.cancel()
