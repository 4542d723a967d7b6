"""What a client's hanging up cancels: its answer, whole or streamed, upstream calls and all.

A plain request handler is not cancelled by the server when its client leaves, and Starlette's
StreamingResponse watches for it with an anyio task group (two tasks and a cancel scope per
stream, as uvicorn speaks ASGI 2.3). Both here run the work in the handler's own task and
spend one more task on waiting for the disconnect, which cancels the handler's task; the work
sees the cancellation (and records it) before the handler goes on.
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


class HangUp:
    """Within `with HangUp(receive)`, the client's hanging up cancels the current task;
    `cancelled_us` tells whether it did."""

    def __init__(self, receive: Receive) -> None:
        task = asyncio.current_task()
        if task is None:
            raise RuntimeError("a hang-up is watched from a task")
        self.task = task
        self.gone = False
        self.receive = receive
        self.watcher: asyncio.Future[None] | None = None

    def __enter__(self) -> HangUp:
        self.watcher = asyncio.ensure_future(self._watch(self.receive))
        return self

    def __exit__(self, *_: object) -> None:
        if self.watcher is not None:
            self.watcher.cancel()

    async def _watch(self, receive: Receive) -> None:
        # The body has been read, so the next message can only be the disconnect.
        while (await receive())["type"] != "http.disconnect":
            continue
        self.gone = True
        self.task.cancel()

    def cancelled_us(self) -> bool:
        """Whether the disconnect alone cancelled the task (then it goes on), not the server."""
        return self.gone and self.task.uncancel() == 0


async def unless_hung_up(request: Request, work: Coroutine[Any, Any, T]) -> T:
    """The result of `work`, or ClientGone once the client disconnects (and `work` is cancelled)."""
    with HangUp(request.receive) as hang_up:
        try:
            return await work
        except asyncio.CancelledError:
            if hang_up.cancelled_us():
                raise ClientGone from None
            raise


class EventStream(StreamingResponse):
    """A stream of server-sent events, given as bytes; stopped when its client hangs up."""

    def __init__(self, content: AsyncIterable[bytes]) -> None:
        super().__init__(content, media_type=streaming.MEDIA_TYPE, headers=streaming.HEADERS)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        with HangUp(receive) as hang_up:
            try:
                await self.stream_response(send)
            except asyncio.CancelledError:
                if not hang_up.cancelled_us():
                    raise
