"""EventStream: the frames made before the body first waits go out at that wait, in order."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import pytest

from chorus.api.hangup import HANGUP, ClientGone, EventStream, unless_hung_up


class Wire:
    """A connection's two ends for one response: what was sent, and a client that stays until
    `leave`. `served`: as `chorus serve` serves it, with the connection's future in the scope
    (HANGUP), and no disconnect message ever: the future is what must be watched."""

    def __init__(self, served: bool = False) -> None:
        self.sent: list[dict[str, Any]] = []
        self.gone = asyncio.Event()
        self.scope: dict[str, Any] = {"type": "http"}
        self.lost: asyncio.Future[None] | None = None
        if served:
            self.lost = asyncio.get_running_loop().create_future()
            self.scope["extensions"] = {HANGUP: {"gone": self.lost}}

    def leave(self) -> None:
        self.gone.set()
        if self.lost is not None:
            self.lost.set_result(None)

    async def send(self, message: dict[str, Any]) -> None:
        self.sent.append(message)

    async def receive(self) -> dict[str, Any]:
        await (self.gone.wait() if self.lost is None else asyncio.Event().wait())
        return {"type": "http.disconnect"}

    def bodies(self) -> list[bytes]:
        return [m["body"] for m in self.sent if m["type"] == "http.response.body"]


async def test_the_first_frames_go_out_when_the_body_first_waits() -> None:
    wire, asked = Wire(), asyncio.Event()
    seen_before_wait: list[int] = []

    async def body() -> AsyncIterator[bytes]:
        yield b"data: opening\n\n"
        yield b"data: member started\n\n"
        seen_before_wait.append(len(wire.sent))
        asked.set()
        await asyncio.sleep(0)  # the model is asked: the first wait
        yield b"data: first token\n\n"
        yield b"data: [DONE]\n\n"

    await EventStream(body())({"type": "http"}, wire.receive, wire.send)
    assert seen_before_wait == [0], "nothing is sent before the body waits"
    assert wire.sent[0]["type"] == "http.response.start" and wire.sent[0]["status"] == 200
    assert wire.bodies() == [b"data: opening\n\ndata: member started\n\n",
                             b"data: first token\n\n", b"data: [DONE]\n\n", b""]
    assert wire.sent[-1]["more_body"] is False


async def test_a_token_goes_out_at_once_and_a_burst_after_it_in_one_write() -> None:
    wire = Wire()
    sent_when: list[int] = []

    async def body() -> AsyncIterator[bytes]:
        yield b"data: opening\n\n"
        await asyncio.sleep(0)
        for burst in (1, 2):  # each read from the model brings three tokens
            for token in range(3):
                yield f"data: {burst}.{token}\n\n".encode()
                sent_when.append(len(wire.bodies()))
            await asyncio.sleep(0)
        yield b"data: [DONE]\n\n"

    await EventStream(body())({"type": "http"}, wire.receive, wire.send)
    assert sent_when == [2, 2, 2, 4, 4, 4], "the first of each burst is out before the next"
    assert wire.bodies() == [b"data: opening\n\n", b"data: 1.0\n\n",
                             b"data: 1.1\n\ndata: 1.2\n\n", b"data: 2.0\n\n",
                             b"data: 2.1\n\ndata: 2.2\n\n", b"data: [DONE]\n\n", b""]


async def test_a_body_that_never_waits_is_sent_whole() -> None:
    wire = Wire()

    async def body() -> AsyncIterator[bytes]:
        yield b"data: a\n\n"
        yield b"data: b\n\n"

    await EventStream(body())({"type": "http"}, wire.receive, wire.send)
    assert [m["type"] for m in wire.sent] == ["http.response.start", *["http.response.body"] * 2]
    assert wire.bodies() == [b"data: a\n\ndata: b\n\n", b""]


async def test_a_slow_client_holds_the_body_back_once_enough_is_held() -> None:
    wire, release = Wire(), asyncio.Event()
    made = 0

    async def slow_send(message: dict[str, Any]) -> None:
        if message["type"] == "http.response.body" and message["body"].startswith(b"data: 1"):
            await release.wait()  # the client stops reading after the first token
        wire.sent.append(message)

    frame = b"data: " + b"x" * 1000 + b"\n\n"

    async def body() -> AsyncIterator[bytes]:
        nonlocal made
        yield b"data: opening\n\n"
        await asyncio.sleep(0)
        for i in range(200):  # a burst: the first goes out at once, the rest are held
            yield b"data: %d" % i + frame[6:]
            made += 1

    streaming = asyncio.ensure_future(EventStream(body())({"type": "http"}, wire.receive,
                                                          slow_send))
    for _ in range(300):
        await asyncio.sleep(0)
    assert 60 < made < 80, "about HELD_BYTES of frames are held for a client that is stuck"
    release.set()
    await streaming
    assert b"".join(wire.bodies()).count(b"data: ") == 201


async def test_a_body_that_fails_before_it_waits_has_sent_nothing() -> None:
    wire = Wire()

    async def body() -> AsyncIterator[bytes]:
        yield b"data: opening\n\n"
        raise RuntimeError("the turn failed at once")

    with pytest.raises(RuntimeError):
        await EventStream(body())({"type": "http"}, wire.receive, wire.send)
    await asyncio.sleep(0)  # the writer, had it not been cancelled, would run now
    assert wire.sent == []  # so the error handlers can still answer with a status


@pytest.mark.parametrize("served", [False, True], ids=["asgi", "chorus-serve"])
async def test_hanging_up_stops_the_body_and_ends_the_response(served: bool) -> None:
    wire, closed = Wire(served), asyncio.Event()

    async def body() -> AsyncIterator[bytes]:
        try:
            yield b"data: opening\n\n"
            wire.leave()  # the client leaves while the model thinks
            await asyncio.sleep(5)
            yield b"data: never\n\n"
        finally:
            closed.set()

    await asyncio.wait_for(EventStream(body())(wire.scope, wire.receive, wire.send), 2)
    assert closed.is_set()
    assert b"data: never\n\n" not in wire.bodies()


class Asked:
    """The handler's side of unless_hung_up: a request whose client leaves on `wire.gone`."""

    def __init__(self, wire: Wire) -> None:
        self.receive = wire.receive
        self.scope = wire.scope


@pytest.mark.parametrize("served", [False, True], ids=["asgi", "chorus-serve"])
async def test_a_whole_answer_is_returned_cancelled_on_hang_up_and_by_the_server(
        served: bool) -> None:
    async def answer(started: asyncio.Event, ended: list[str]) -> str:
        started.set()
        try:
            await asyncio.sleep(3600)
        except asyncio.CancelledError:
            await asyncio.sleep(0)  # its cleanup finishes before the handler goes on
            ended.append("cancelled")
            raise
        return "never"

    async def quick() -> str:
        return "the answer"

    assert await unless_hung_up(Asked(Wire(served)), quick()) == "the answer"

    wire, started, ended = Wire(served), asyncio.Event(), []
    waiting = asyncio.ensure_future(unless_hung_up(Asked(wire), answer(started, ended)))
    await started.wait()
    wire.leave()
    with pytest.raises(ClientGone):
        await waiting
    assert ended == ["cancelled"]

    started, ended = asyncio.Event(), []
    wire = Wire(served)
    waiting = asyncio.ensure_future(unless_hung_up(Asked(wire), answer(started, ended)))
    await started.wait()
    waiting.cancel()  # the server stops the handler: its cancellation, not ClientGone
    with pytest.raises(asyncio.CancelledError):
        await waiting
    assert ended == ["cancelled"]
    if wire.lost is not None:
        assert not wire.lost._callbacks  # type: ignore[attr-defined]  # nothing left watching


async def test_a_write_that_fails_fails_the_stream() -> None:
    wire = Wire()

    async def failing_send(message: dict[str, Any]) -> None:
        if message.get("body", b"").startswith(b"data: 21"):
            raise RuntimeError("the server could not write")
        wire.sent.append(message)

    async def body() -> AsyncIterator[bytes]:
        yield b"data: opening\n\n"
        await asyncio.sleep(0)
        for burst in range(4):  # the third burst's held frame cannot be written
            for token in range(2):
                yield f"data: {burst}{token}\n\n".encode()
            await asyncio.sleep(0)

    with pytest.raises(RuntimeError, match="could not write"):
        await EventStream(body())({"type": "http"}, wire.receive, failing_send)
    assert b"data: 30" not in b"".join(wire.bodies())
