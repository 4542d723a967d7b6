"""What a client's hanging up cancels: its answer, whole or streamed, upstream calls and all.

A plain request handler is not cancelled by the server when its client leaves: it runs the
answer in a task and waits for whichever comes first, the answer or the hang-up. Starlette's
StreamingResponse watches for it with an anyio task group (two tasks and a cancel scope per
stream, as uvicorn speaks ASGI 2.3); EventStream streams in the handler's own task, and the
hang-up cancels that task (and the one that writes the frames held while the body made them
without waiting). Under `chorus serve` the hang-up is the connection's own future (HANGUP, a
scope extension); under another server, a task waiting for the disconnect message.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterable, Callable, Coroutine
from typing import Any, TypeVar

from fastapi import Request
from fastapi.responses import StreamingResponse
from starlette.types import Message, Receive, Scope, Send

from chorus import streaming

T = TypeVar("T")
CLIENT_CLOSED = 499
"""Nobody reads it: the status a hung-up request is logged with (nginx's convention)."""


class ClientGone(Exception):
    """The client disconnected before its answer was ready; the work was cancelled."""


HANGUP = "chorus.hangup"
"""The scope extension `chorus serve` adds (serving.GuardedProtocol): `{"gone": future}`, the
future of the request's connection, done once the connection is lost."""


async def disconnected(receive: Receive) -> None:
    """Returns once the client has hung up."""
    # The body has been read, so the next message can only be the disconnect.
    while (await receive())["type"] != "http.disconnect":
        continue


def on_hang_up(scope: Scope, receive: Receive, callback: Callable[[], object]
               ) -> Callable[[], object]:
    """Call `callback` once the client hangs up (its body read); returns what stops watching.

    Under `chorus serve` the connection's own future is watched; under another server a task
    waits for the disconnect message: one more task per request, which cost 1 to 3 % more
    CPU per chat completion (bench/ab.py)."""
    gone: asyncio.Future[None] | None = (
        (scope.get("extensions") or {}).get(HANGUP) or {}).get("gone")
    if gone is not None:
        def fire(_: object) -> None:
            callback()
        gone.add_done_callback(fire)
        return lambda: gone.remove_done_callback(fire)
    watch = asyncio.create_task(disconnected(receive))
    watch.add_done_callback(lambda done: None if done.cancelled() else callback())
    return watch.cancel


async def unless_hung_up(request: Request, work: Coroutine[Any, Any, T]) -> T:
    """The result of `work`, or ClientGone once the client disconnects (and `work` is cancelled).

    `work` gets a task of its own: run in the handler's (as EventStream streams), it cost 10 %
    more CPU per request and tripled p99 latency at concurrency 64 (bench/ab.py). The hang-up
    cancels it from a callback: `asyncio.wait` on the two took twice the time (20 against 14 us
    of a minimal pair)."""
    task = asyncio.create_task(work)
    gone = False

    def hang_up() -> None:
        nonlocal gone
        gone = True
        task.cancel()  # once `work` is done, this does nothing

    stop = on_hang_up(request.scope, request.receive, hang_up)
    try:
        return await task  # a cancelled handler cancels `task` and waits for it to end
    except asyncio.CancelledError:
        handler = asyncio.current_task()
        if not gone or (handler and handler.cancelling()):
            raise  # the server's cancellation, not the client's leaving
        raise ClientGone from None
    finally:
        stop()


HELD_BYTES = 65_536
"""Frames held for a writer still busy with a slow client, at most: then the body waits too."""


class EventStream(StreamingResponse):
    """A stream of server-sent events, given as bytes; stopped when its client hangs up.

    Frames go out in as few writes as keep them timely. The first frame after the body has
    waited (for the model, say) is sent at once: a token is never held back. Frames the body
    makes after it without waiting (a burst of tokens read in one go, an ensemble's members
    answering together) are held, and written together, one write, once the body next waits.
    One send per frame cost a pass through every middleware and a system call each (bench/ab.py).

    The response's start and the frames made before the body first waits (the events that open
    a turn) go out at that first wait: for a chat, once the model has been asked rather than
    before, which took 0.04-0.06 ms off the time to first token. A body that fails before it
    ever waits has sent nothing, so the error handlers still answer with a status of their
    own."""

    def __init__(self, content: AsyncIterable[bytes]) -> None:
        super().__init__(content, media_type=streaming.MEDIA_TYPE, headers=streaming.HEADERS)
        self.frames = content

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        streaming_task = asyncio.current_task()
        if streaming_task is None:
            raise RuntimeError("an EventStream is sent from a task")
        gone = False

        def hang_up() -> None:
            nonlocal gone
            gone = True
            streaming_task.cancel()

        stop = on_hang_up(scope, receive, hang_up)
        try:
            await _Frames(send, {"type": "http.response.start", "status": self.status_code,
                                 "headers": self.raw_headers}).relay(self.frames)
        except asyncio.CancelledError:
            if not gone or streaming_task.uncancel() > 0:  # the server's cancellation too
                raise
        finally:
            stop()


class _Frames:
    """One stream's frames on their way out (see EventStream): those held until the body
    waits, and the task that writes them then."""

    def __init__(self, send: Send, start: Message) -> None:
        self.send = send
        self.start: Message | None = start
        """The response's start, until it is sent with the first frames."""
        self.held: list[bytes] = []
        self.held_bytes = 0
        self.writer: asyncio.Task[None] | None = None
        """Writes what is held; made when a frame is held, it first runs when the body waits."""
        self.busy = False
        """A frame went out or was held since the body last waited."""

    async def relay(self, body: AsyncIterable[bytes]) -> None:
        loop = asyncio.get_running_loop()
        try:
            async for chunk in body:
                writer = self.writer
                if writer is not None and writer.done():
                    writer.result()  # a write that failed fails the stream
                    writer = self.writer = None
                if not (self.busy or writer is not None or self.held or self.start is not None):
                    await self._body(chunk)  # the first frame since the body waited: at once
                else:
                    self.held.append(chunk)
                    self.held_bytes += len(chunk)
                    if writer is None:
                        self.writer = asyncio.create_task(self._write())
                    elif self.held_bytes > HELD_BYTES:
                        await writer  # a slow client: the body waits for it
                if not self.busy:
                    self.busy = True
                    loop.call_soon(self._waited)
            if self.writer is not None:
                await self.writer
            await self._write()
            await self.send({"type": "http.response.body", "body": b"", "more_body": False})
        finally:
            if self.writer is not None:
                self.writer.cancel()  # not yet run: a failed body has sent nothing

    def _waited(self) -> None:
        """Runs once the body waits: the next frame may go out at once."""
        self.busy = False

    async def _write(self) -> None:
        if self.start is not None:
            start, self.start = self.start, None
            await self.send(start)
        while self.held:
            frames, self.held, self.held_bytes = self.held, [], 0
            await self._body(b"".join(frames))

    async def _body(self, chunk: bytes) -> None:
        await self.send({"type": "http.response.body", "body": chunk, "more_body": True})
