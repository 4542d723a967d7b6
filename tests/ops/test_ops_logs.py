"""Structured logs: one line per request with its id, and never a secret."""

from __future__ import annotations

import asyncio
import io
import logging
import os
import re
import select
import socket
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import orjson
import pytest
import structlog

from chorus import logs, lull
from chorus.config import FileConfig, ModelConfig, ProviderConfig, load_settings
from tests.conftest import FakeUpstream, harness_for

PROVIDER_SECRET = "prov-Zq8xY2mW7vK4nB1cR9tL"
"""A provider key in no well-known shape: only the configured-secret scrubbing can catch it."""


class Writes(io.StringIO):
    """A stream that counts its writes."""

    writes = 0

    def write(self, text: str) -> int:
        self.writes += 1
        return super().write(text)


@pytest.fixture
def captured() -> Iterator[Writes]:
    """Every log record of the process, rendered as JSON lines at debug level."""
    root = logging.getLogger()
    level = root.level
    out = Writes()
    handler = logs.configure("debug", "json", [PROVIDER_SECRET], stream=out)
    try:
        yield out
    finally:
        root.removeHandler(handler)
        root.setLevel(level)
        structlog.reset_defaults()


async def a_lull() -> None:
    """The loop waits on an upstream, as after the HTTP client sends a request: what it held
    (the log lines) runs."""
    lull.waiting()
    await asyncio.sleep(0)


def lines_of(out: io.StringIO) -> list[dict[str, object]]:
    return [orjson.loads(line) for line in out.getvalue().splitlines() if line.strip()]


async def test_each_request_logs_one_line_with_its_id_and_no_secret(
        tmp_path: object, fake_llm: FakeUpstream, captured: Writes) -> None:
    file = FileConfig(
        providers=[ProviderConfig(name="fake", base_url=f"{fake_llm.url}/v1",
                                  api_key=PROVIDER_SECRET, max_retries=0)],
        models=[ModelConfig(id="ok", provider="fake", upstream="small"),
                ModelConfig(id="denied", provider="fake", upstream="small@fault=401")])
    async with harness_for(f"sqlite:///{tmp_path}/logs.db", file=file) as h:
        headers = await h.headers(test=False)
        secret = headers["authorization"].removeprefix("Bearer ")
        ok = await h.client.post("/v1/chat", headers={**headers, "x-request-id": "rid-1"},
                                 json={"message": "hello", "model": "ok"})
        denied = await h.client.post("/v1/chat", headers=headers,
                                     json={"message": "hello", "model": "denied"})
        wrong = await h.client.get("/v1/sessions",
                                   headers={"authorization": f"Bearer {secret[:-4]}AAAA"})
    assert (ok.status_code, denied.status_code, wrong.status_code) == (200, 502, 401)
    assert fake_llm.requests[0]["headers"]["authorization"] == f"Bearer {PROVIDER_SECRET}"
    text = captured.getvalue()
    assert secret not in text and secret[:-4] not in text
    assert PROVIDER_SECRET not in text
    assert headers["authorization"] not in text
    access = [line for line in lines_of(captured) if line.get("logger") == "chorus.access"]
    assert [line["status"] for line in access] == [200, 502, 401]
    first = access[0]
    assert first["request_id"] == "rid-1" and first["event"] == "request"
    assert first["method"] == "POST" and first["route"] == "/v1/chat"
    assert first["mode"] == "smart_chat" and isinstance(first["latency_ms"], float)
    assert str(first["user_id"]).startswith("usr_") and str(first["key_id"]).startswith("key_")
    assert {"timestamp", "level"} <= set(first)
    assert access[2]["key_id"] is None
    assert all(str(line["request_id"]).startswith(("req_", "rid-1")) for line in access)
    # Lines logged anywhere while a request is served carry its id: here, the upstream call.
    upstream = [line for line in lines_of(captured) if line.get("logger") ==
                "chorus.providers.http" and fake_llm.url in str(line["event"])]
    assert upstream[0]["request_id"] == "rid-1"
    assert upstream[1]["request_id"] == access[1]["request_id"]


def test_secrets_are_scrubbed_from_any_message(captured: Writes) -> None:
    ours = "sk_live_" + "a1B2" * 11
    log = logging.getLogger("chorus.test")
    log.warning("upstream said: bad key %s", PROVIDER_SECRET)
    log.warning("header was Authorization: Bearer %s", ours)
    log.warning("client sent %s", ours.replace("live", "test"))
    log.warning("openai key sk-proj-abcdefghijklmnop1234 and google AIzaSyA1234567890abcdefghijkl")
    log.warning("fields too", extra={"detail": {"key": ours, "list": [PROVIDER_SECRET]}})
    try:
        raise ValueError(f"failed with {PROVIDER_SECRET}")
    except ValueError:
        log.exception("with a traceback")
    text = captured.getvalue()
    for leaked in (PROVIDER_SECRET, ours, ours.replace("live", "test"), "abcdefghijklmnop1234",
                   "SyA1234567890abcdefghijkl"):
        assert leaked not in text
    assert text.count("[redacted]") >= 8
    assert "ValueError" in text


def test_serve_configures_logs_with_every_provider_key() -> None:
    settings = load_settings(None, openai_api_key="sk-openai-secret-value",
                             file=FileConfig(providers=[ProviderConfig(
                                 name="x", base_url="http://127.0.0.1:1", api_key="xsecret1")]))
    assert set(logs.secrets_of(settings)) == {"sk-openai-secret-value", "xsecret1"}


@contextmanager
def alone() -> Iterator[None]:
    """Only Chorus's handler on the root logger, as in `chorus serve` (pytest adds its own
    when a test starts)."""
    root = logging.getLogger()
    before = root.handlers[:]
    root.handlers = [h for h in before if isinstance(h, logs.Handler)]
    try:
        yield
    finally:
        root.handlers = before


def _without_timestamp(line: str) -> str:
    return re.sub(r'"timestamp":"[^"]+"', '"timestamp":"T"', line)


def test_a_direct_line_is_the_line_the_formatter_renders(captured: Writes) -> None:
    log = logging.getLogger("chorus.access")
    fields = {"request_id": "rid-7", "method": "POST", "status": 200, "latency_ms": 1.5,
              "mode": None, "detail": f"key {PROVIDER_SECRET}", "nested": {"k": [1, "x"]}}
    with alone(), structlog.contextvars.bound_contextvars(request_id="bound", other="ctx"):
        assert logs._direct(log, logging.INFO) is not None
        log.info("request", extra=fields)
        logs.log_line(log, logging.INFO, "request", fields)
    ordinary, direct = captured.getvalue().splitlines()
    assert _without_timestamp(direct) == _without_timestamp(ordinary)
    assert PROVIDER_SECRET not in direct and '"request_id":"rid-7"' in direct
    assert list(orjson.loads(direct)) == list(orjson.loads(ordinary))  # the same key order


class Seen(logging.Handler):
    def __init__(self) -> None:
        super().__init__()
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


def test_a_line_goes_the_ordinary_way_when_another_handler_listens(
        captured: Writes) -> None:
    log = logging.getLogger("chorus.access")
    other = Seen()
    with alone():
        assert logs._direct(log, logging.INFO) is not None
        logging.getLogger().addHandler(other)
        assert logs._direct(log, logging.INFO) is None
        logs.log_line(log, logging.INFO, "request", {"status": 200})
        logging.getLogger().removeHandler(other)
        logs.log_line(log, logging.DEBUG - 1, "below the level", {})
    assert [record.__dict__["status"] for record in other.records] == [200]
    assert '"status":200' in captured.getvalue()
    assert "below the level" not in captured.getvalue()


def test_what_orjson_refuses_is_still_logged(captured: Writes) -> None:
    log = logging.getLogger("chorus.access")
    with alone():
        logs.log_line(log, logging.INFO, "request", {"big": 2**70, "by_id": {7: "x"}})
        log.info("ordinary", extra={"big": 2**70})
    direct, ordinary = lines_of(captured)
    assert direct["big"] == 2**70 and direct["by_id"] == {"7": "x"}
    assert ordinary["big"] == 2**70


async def test_lines_logged_together_in_a_loop_are_written_together_in_order(
        captured: Writes) -> None:
    log = logging.getLogger("chorus.access")
    captured.writes, before = 0, captured.getvalue()  # (asyncio's debug line of its start)
    with alone():
        for n in range(3):
            logs.log_line(log, logging.INFO, "request", {"n": n, "detail": PROVIDER_SECRET})
        for _ in range(3):
            await asyncio.sleep(0)
        assert captured.getvalue() == before  # held until the loop waits on an upstream
        await a_lull()
        assert captured.writes == 1
        logs.log_line(log, logging.INFO, "request", {"n": 3})
        log.warning("ordinary")  # written after the line held before it
        logs.log_line(log, logging.INFO, "request", {"n": 4})
        handler = logging.getLogger().handlers[0]
        handler.flush()  # as logging.shutdown does at exit
        logs.log_line(log, logging.INFO, "request", {"n": 5})
        handler.close()  # a handler closed writes what it held
    lines = lines_of(Writes(captured.getvalue().removeprefix(before)))
    assert [line.get("n", line["event"]) for line in lines] == [0, 1, 2, 3, "ordinary", 4, 5]
    assert PROVIDER_SECRET not in captured.getvalue()
    assert all(re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d{6})?Z", str(line["timestamp"]))
               for line in lines)


class SlowReader:
    """A stream on a pipe or a stream socket that nobody reads until `read` (to its end, once
    the stream and every other handle on it are closed) or `leave`."""

    def __init__(self, kind: str) -> None:
        if kind == "pipe":
            self._r, w = os.pipe()
            self._sock: socket.socket | None = None
        else:
            ours, self._sock = socket.socketpair()
            w = ours.detach()
        self.stream = open(w, "w", encoding="utf-8")  # noqa: SIM115 (closed by close)

    def read(self) -> bytes:
        if self._sock is None:
            with open(self._r, "rb") as reader:
                return reader.read()
        parts = []
        while part := self._sock.recv(1 << 16):
            parts.append(part)
        self._sock.close()
        return b"".join(parts)

    def leave(self) -> None:
        """The reader is gone: the pipe is broken."""
        assert self._sock is None
        os.close(self._r)

    def close(self) -> None:
        self.stream.close()


@contextmanager
def slow_reader(kind: str) -> Iterator[SlowReader]:
    reader = SlowReader(kind)
    try:
        yield reader
    finally:
        reader.close()


async def until_written(outlet: logs.Outlet) -> None:
    """Turns of the loop until the outlet holds nothing (the loop writes as room appears)."""
    deadline = time.monotonic() + 30
    # no event to wait on: the loop's own callback writes when the handle has room
    while outlet.held and time.monotonic() < deadline:  # noqa: ASYNC110
        await asyncio.sleep(0)


@contextmanager
def logging_to(stream: io.TextIOWrapper) -> Iterator[logs.Handler]:
    root = logging.getLogger()
    level = root.level
    handler = logs.configure("info", "json", stream=stream)
    assert isinstance(handler, logs.Handler) and handler.lines is not None
    try:
        with alone():
            yield handler
    finally:
        root.removeHandler(handler)
        root.setLevel(level)
        structlog.reset_defaults()


def _read_in_background(read: Callable[[], bytes]) -> tuple[threading.Thread, list[bytes]]:
    got: list[bytes] = []
    reader = threading.Thread(target=lambda: got.append(read()), daemon=True)
    reader.start()
    return reader, got


LINES = 6000
"""About one and a half megabytes of access lines: more than a pipe's or a socket pair's buffer."""


@pytest.mark.parametrize("kind", ["pipe", "socket"])
async def test_a_reader_that_falls_behind_does_not_hold_up_the_loop(kind: str) -> None:
    log = logging.getLogger("chorus.access")
    with slow_reader(kind) as slow, logging_to(slow.stream) as handler:
        outlet = handler.lines.outlet  # type: ignore[union-attr]
        # a loop that waits for the reader would hang: after 10 s it is read, and fails below
        watchdog = threading.Timer(10, _read_in_background, [slow.read])
        watchdog.daemon = True
        watchdog.start()
        started = time.monotonic()
        for turn in range(LINES // 100):
            for n in range(100):
                logs.log_line(log, logging.INFO, "request", {"n": turn * 100 + n, "pad": "x" * 200})
            await a_lull()  # the turn ends: its lines go out as far as there is room
        log.warning("ordinary")  # the handler's own record waits behind them too
        watchdog.cancel()
        assert time.monotonic() - started < 5, "the loop waited for the reader"
        assert len(outlet.held) > 100_000 and b'"event":"ordinary"' in outlet.held
        reader, got = _read_in_background(slow.read)
        await until_written(outlet)
        assert not outlet.held
        handler.close()
        slow.close()
        reader.join(30)
    lines = [orjson.loads(line) for line in got[0].splitlines()]
    assert [line.get("n", line["event"]) for line in lines] == [*range(LINES), "ordinary"]


async def test_past_what_it_may_hold_the_loop_waits_rather_than_lose_lines(
        monkeypatch: pytest.MonkeyPatch) -> None:
    log = logging.getLogger("chorus.access")
    waits: list[int] = []
    readers: list[tuple[threading.Thread, list[bytes]]] = []
    wait = logs.Outlet._drain

    def waited(outlet: logs.Outlet, handle: logs._Handle) -> None:
        waits.append(len(outlet.held))
        if not readers:  # the reader comes back once the loop waits for it
            readers.append(_read_in_background(slow.read))
        wait(outlet, handle)

    monkeypatch.setattr(logs.Outlet, "_drain", waited)
    with slow_reader("pipe") as slow, logging_to(slow.stream) as handler:
        outlet = handler.lines.outlet  # type: ignore[union-attr]
        outlet.hold = 10_000
        for turn in range(LINES // 100):
            for n in range(100):
                logs.log_line(log, logging.INFO, "request", {"n": turn * 100 + n, "pad": "x" * 200})
            await a_lull()
            assert len(outlet.held) <= outlet.hold
        in_the_loop = list(waits)
        handler.close()
        slow.close()
        reader, got = readers[0]
        reader.join(30)
    assert in_the_loop and all(held > outlet.hold for held in in_the_loop)
    assert [orjson.loads(line)["n"] for line in got[0].splitlines()] == list(range(LINES))


async def test_a_reader_that_is_gone_costs_its_lines_not_the_server(
        capsys: pytest.CaptureFixture[str]) -> None:
    log = logging.getLogger("chorus.access")
    with slow_reader("pipe") as slow, logging_to(slow.stream) as handler:
        outlet = handler.lines.outlet  # type: ignore[union-attr]
        for n in range(LINES):
            logs.log_line(log, logging.INFO, "request", {"n": n, "pad": "x" * 200})
        await a_lull()
        assert outlet.held
        slow.leave()
        await until_written(outlet)  # (written off: nobody can read them)
        assert not outlet.held
        logs.log_line(log, logging.INFO, "request", {"n": LINES})
        await a_lull()
        handler.close()
    assert "BrokenPipeError" in capsys.readouterr().err  # logging's report of a failed write


class Handle:
    """A pipe's handle that takes `room` bytes, then refuses, recording each write."""

    def __init__(self, room: int) -> None:
        self.room = room
        self.writes: list[bytes] = []

    def send(self, data: bytearray) -> int:
        if len(data) > self.room:
            if len(data) <= select.PIPE_BUF:
                raise BlockingIOError  # a pipe takes a small write whole or not at all
            data = data[:self.room]
        self.room -= len(data)
        self.writes.append(bytes(data))
        return len(data)


def test_held_lines_go_out_whole_in_writes_a_pipe_does_not_split() -> None:
    handler = logs.Handler(io.StringIO())
    outlet = logs.Outlet(handler)
    lines = [f'{{"n":{n},"pad":"{"x" * (n % 300)}"}}\n'.encode() for n in range(200)]
    lines.insert(50, b'{"long":"' + b"y" * 10_000 + b'"}\n')
    outlet.held = bytearray(b"".join(lines))
    handle = Handle(room=30_000)
    outlet._push(handle)  # type: ignore[arg-type]
    assert handle.writes and all(w.endswith(b"\n") for w in handle.writes[:-1])
    assert all(len(w) <= select.PIPE_BUF or w.count(b"\n") == 1 for w in handle.writes)
    handle.room = 10**9
    outlet._push(handle)  # type: ignore[arg-type]
    assert not outlet.held and b"".join(handle.writes) == b"".join(lines)


def test_the_next_loop_writes_what_a_closed_loop_held() -> None:
    log = logging.getLogger("chorus.access")

    async def burst(start: int) -> None:
        for n in range(start, start + LINES // 2):
            logs.log_line(log, logging.INFO, "request", {"n": n, "pad": "x" * 200})
        await a_lull()

    with slow_reader("pipe") as slow, logging_to(slow.stream) as handler:
        outlet = handler.lines.outlet  # type: ignore[union-attr]
        asyncio.run(burst(0))  # a loop that ends with lines held
        assert outlet.held
        reader, got = _read_in_background(slow.read)

        async def next_loop() -> None:
            await burst(LINES // 2)
            await until_written(outlet)

        asyncio.run(next_loop())
        assert not outlet.held
        handler.close()
        slow.close()
        reader.join(30)
    assert [orjson.loads(line)["n"] for line in got[0].splitlines()] == list(range(LINES))
