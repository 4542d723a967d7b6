"""Structured logs: stdlib loggers rendered by structlog, one line each, scrubbed of secrets."""

from __future__ import annotations

import asyncio
import io
import json
import logging
import os
import select
import socket
import stat
import sys
import time
from collections.abc import Callable, Iterable, MutableMapping
from datetime import UTC, datetime
from functools import partial
from typing import Any, Literal, TextIO

import orjson
import structlog

from chorus import lull
from chorus.config import Settings
from chorus.redact import redact, scrubbable, suspect

LogFormat = Literal["auto", "json", "console"]

class Redactor:
    """A structlog processor that replaces secrets in every string of an event."""

    def __init__(self, secrets: Iterable[str] = ()) -> None:
        self.secrets = scrubbable(secrets)

    def __call__(self, _logger: object, _method: str,
                 event: MutableMapping[str, Any]) -> MutableMapping[str, Any]:
        # An event of flat fields (an access line's) is searched once, joined; a match across
        # the join only costs the field-by-field pass below
        texts = []
        for value in event.values():
            if isinstance(value, str):
                texts.append(value)
            elif isinstance(value, (dict, list, tuple)):
                break
        else:
            if not suspect("\n".join(texts), self.secrets):
                return event
        for key, value in event.items():
            event[key] = self.clean(value)
        return event

    def clean(self, value: object) -> object:
        if isinstance(value, str):
            return redact(value, self.secrets)
        if isinstance(value, dict):
            return {k: self.clean(v) for k, v in value.items()}
        if isinstance(value, list | tuple):
            return [self.clean(v) for v in value]
        return value


def _drop_terminal_copies(_logger: object, _method: str,
                          event: MutableMapping[str, Any]) -> MutableMapping[str, Any]:
    """Uvicorn adds a `color_message` (the message with ANSI colours) to its records."""
    event.pop("color_message", None)
    return event


def _dumps(value: object, default: Callable[[Any], Any] | None = None, **_: object) -> str:
    """JSON for a log line: orjson's (a tenth of `json.dumps`'s CPU for an access line), and
    the standard library's for what orjson refuses (an integer over 64 bits)."""
    try:
        return orjson.dumps(value, default=default, option=orjson.OPT_NON_STR_KEYS).decode()
    except orjson.JSONEncodeError:
        return json.dumps(value, default=default)


def secrets_of(settings: Settings) -> list[str]:
    """Every upstream credential the settings hold."""
    found = [settings.openai_api_key, settings.anthropic_api_key, settings.gemini_api_key]
    found += [provider.api_key for provider in settings.file.providers]
    return [secret for secret in found if secret]


def configure(level: str = "info", fmt: LogFormat = "auto", secrets: Iterable[str] = (),
              stream: TextIO | None = None) -> logging.Handler:
    """Send every log record of the process through one structlog formatter; returns its handler.

    Code logs with plain `logging`; fields go in `extra=`, and the request id bound by the
    access middleware is added to every line logged while a request is served.
    """
    out = stream or sys.stderr
    if fmt == "auto":
        fmt = "console" if out.isatty() else "json"
    json_renderer = (structlog.processors.JSONRenderer(_dumps) if fmt == "json"
                     else None)
    renderer: structlog.types.Processor = (
        json_renderer or structlog.dev.ConsoleRenderer(colors=False))
    stamp = structlog.processors.TimeStamper(fmt="iso", utc=True)
    shared: list[structlog.types.Processor] = [
        structlog.contextvars.merge_contextvars, structlog.stdlib.add_log_level,
        structlog.stdlib.add_logger_name, stamp]
    handler = Handler(out)
    redactor = Redactor(secrets)
    handler.setFormatter(structlog.stdlib.ProcessorFormatter(
        foreign_pre_chain=[*shared, structlog.stdlib.ExtraAdder(), _drop_terminal_copies],
        processors=[structlog.stdlib.ProcessorFormatter.remove_processors_meta,
                    structlog.processors.format_exc_info, redactor, renderer]))
    if json_renderer is not None:
        handler.lines = Lines(handler, redactor, json_renderer)
    structlog.configure(
        processors=[*shared, structlog.stdlib.ProcessorFormatter.wrap_for_formatter],
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.stdlib.BoundLogger, cache_logger_on_first_use=True)
    root = logging.getLogger()
    for old in [h for h in root.handlers if getattr(h, "chorus", False)]:
        root.removeHandler(old)
        old.flush()  # its held lines
    handler.chorus = True  # type: ignore[attr-defined]
    root.addHandler(handler)
    root.setLevel(level.upper())
    return handler


class Handler(logging.StreamHandler[TextIO]):
    lines: Lines | None = None
    """With the JSON format: its lines, for `log_line`; the handler's own records go out
    through them too, after the lines held before them."""

    def emit(self, record: logging.LogRecord) -> None:
        if self.lines is None:
            super().emit(record)
            return
        try:
            self.lines.write_now(self.format(record) + self.terminator)
        except Exception:
            self.handleError(record)

    def flush(self) -> None:
        if self.lines is None:
            super().flush()
        else:
            self.lines.flush()  # the held lines, then the stream's own flush

    def close(self) -> None:
        self.flush()
        if self.lines is not None:
            self.lines.outlet.close()
        super().close()


class Lines:
    """The JSON line the handler's formatter renders for a record of plain `logging`, built
    from the same processors without the record: no LogRecord, no copy of it, no pre-chain.

    In an event loop a line is held, with its context and time, until the loop's next lull
    (`chorus.lull`: while it waits on an upstream, so that no request waits for the lines of
    the requests before it): the lines held are then rendered one after the other (their code
    and tables stay in the CPU's caches) and written together, through an `Outlet` that does
    not wait for a slow reader. The handler's own records, its `flush` and `close` write the
    held lines first, so nothing is reordered or lost at exit."""

    def __init__(self, handler: Handler, redactor: Redactor,
                 renderer: structlog.processors.JSONRenderer) -> None:
        self.handler = handler
        self.redactor = redactor
        self.renderer = renderer
        self.outlet = Outlet(handler)
        self._held: list[MutableMapping[str, Any]] = []
        self._due: asyncio.AbstractEventLoop | None = None
        """The loop a flush of the held lines is scheduled on."""

    def write(self, name: str, level: int, message: str, fields: dict[str, Any]) -> None:
        method = logging.getLevelName(level).lower()
        event: MutableMapping[str, Any] = structlog.contextvars.merge_contextvars(
            None, method, {"event": message})
        event["level"] = method
        event["logger"] = name
        event["timestamp"] = time.time()  # rendered as TimeStamper(fmt="iso", utc=True) does
        event.update(fields)
        loop = asyncio.events._get_running_loop()
        with self.handler.lock:  # type: ignore[union-attr]
            self._held.append(event)
            if loop is None:
                self.flush()
            elif self._due is not loop:
                self._due = loop
                lull.later(loop, partial(self._send, loop))

    def flush(self) -> None:
        """Render and write the held lines, in the order they were logged, and wait until
        the outlet has written everything."""
        self._send(None)

    def write_now(self, text: str) -> None:
        """Write an already rendered line after the held ones."""
        self._send(asyncio.events._get_running_loop(), text)

    def _send(self, loop: asyncio.AbstractEventLoop | None, after: str = "") -> None:
        handler = self.handler
        with handler.lock:  # type: ignore[union-attr]
            held, self._held, self._due = self._held, [], None
            texts = []
            for event in held:
                method = event["level"]
                event["timestamp"] = _iso(event["timestamp"])
                line = self.renderer(None, method, self.redactor(None, method, event))
                texts.append(line if isinstance(line, str) else line.decode())
            text = (handler.terminator.join(texts) + handler.terminator if texts else "") + after
            try:
                self.outlet.write(text, loop)
            except Exception:
                if after:
                    raise  # write_now's: the caller reports it with its record
                first = held[0] if held else {"logger": "chorus.logs", "level": "info",
                                              "event": "held log lines"}
                handler.handleError(logging.makeLogRecord(
                    {"name": first["logger"], "levelname": first["level"].upper(),
                     "msg": first["event"]}))


HOLD = 8 * 1024 * 1024
"""Bytes of log lines an `Outlet` holds for a reader that has fallen behind; past them the
event loop waits for the reader rather than drop lines."""


class Outlet:
    """The handler's stream, written from the event loop without waiting for its reader.

    A pipe (a container's log driver, a shell's `|`) or a stream socket (journald) whose
    reader falls behind fills up, and a blocking write then stops every request the loop
    serves. From the loop, text goes through a non-blocking handle on the same pipe or socket;
    what does not fit is held, in order, and written as the reader makes room (the loop
    watches the handle). Past `hold` bytes held, the loop waits for the reader: lines are not
    dropped. Written from elsewhere (no loop, a flush, at exit), everything held is written
    before the call returns. A regular file, a terminal or a stream without a file descriptor
    is written the stream's own way.
    """

    def __init__(self, handler: logging.StreamHandler[TextIO], hold: int = HOLD) -> None:
        self.handler = handler
        self.hold = hold
        self.held = bytearray()
        self._handle: _Handle | None = None
        self._opened = False
        self._watching: asyncio.AbstractEventLoop | None = None
        """The loop that watches the handle for room."""

    def write(self, text: str, loop: asyncio.AbstractEventLoop | None) -> None:
        """Write `text` after what is held: from `loop` (the caller's running loop) without
        waiting for the reader, else before returning."""
        stream = self.handler.stream
        handle = self._open()
        if handle is None:
            if text:
                stream.write(text)
            logging.StreamHandler.flush(self.handler)
            return
        stream.flush()  # what was written to the stream itself goes first
        self.held += text.encode(stream.encoding or "utf-8", stream.errors or "strict")
        self._push(handle)
        if not self.held:
            return
        if loop is None or len(self.held) > self.hold:
            self._drain(handle)
        elif self._watching is None or self._watching.is_closed():
            self._watching = loop
            loop.add_writer(handle.fd, self._room)

    def close(self) -> None:
        """Close the outlet's own handle (the stream stays open)."""
        handle, self._handle = self._handle, None
        if handle is not None:
            if self._watching is not None and not self._watching.is_closed():
                self._watching.remove_writer(handle.fd)
            self._watching = None
            handle.close()

    def _open(self) -> _Handle | None:
        if not self._opened:
            self._opened = True
            self._handle = _Handle.of(self.handler.stream)
        return self._handle

    def _push(self, handle: _Handle) -> None:
        """Write what the reader has room for now, in whole lines: a pipe takes a write of up
        to PIPE_BUF bytes whole or not at all, so lines of other processes on the same pipe
        (the workers') never land inside one of ours."""
        held = self.held
        while held:
            end = (len(held) if len(held) <= select.PIPE_BUF
                   else held.rfind(b"\n", 0, select.PIPE_BUF) + 1 or held.find(b"\n") + 1
                   or len(held))  # a line longer than PIPE_BUF goes as one write
            try:
                sent = handle.send(held[:end])
            except BlockingIOError:
                return
            except OSError:
                held.clear()  # a reader that is gone: nothing held can be written
                raise
            del held[:sent]
            if sent < end:
                return

    def _drain(self, handle: _Handle) -> None:
        room = select.poll()  # (select's sets stop at descriptor 1023)
        room.register(handle.fd, select.POLLOUT)
        while self.held:
            room.poll()
            self._push(handle)

    def _room(self) -> None:
        """The loop's callback when the handle can take more."""
        handler, handle = self.handler, self._handle
        assert handle is not None and self._watching is not None
        with handler.lock:  # type: ignore[union-attr]
            try:
                self._push(handle)
            except Exception:
                handler.handleError(logging.makeLogRecord({"msg": "held log lines"}))
            if not self.held:
                self._watching.remove_writer(handle.fd)
                self._watching = None


class _Handle:
    """A non-blocking way to write to a stream's pipe or stream socket, without changing
    how the stream itself writes (its file descriptor's flags are shared by every copy)."""

    def __init__(self, fd: int, send: Callable[[bytearray], int],
                 close: Callable[[], None]) -> None:
        self.fd = fd
        self.send = send
        self.close = close

    @classmethod
    def of(cls, stream: TextIO) -> _Handle | None:
        try:
            fd = stream.fileno()
            mode = os.fstat(fd).st_mode
            if stat.S_ISFIFO(mode):  # a handle of its own on the pipe, from /proc (Linux)
                own = os.open(f"/proc/self/fd/{fd}", os.O_WRONLY | os.O_NONBLOCK | os.O_CLOEXEC)
                return cls(own, lambda data: os.write(own, data), lambda: os.close(own))
            if stat.S_ISSOCK(mode):
                sock = socket.socket(fileno=os.dup(fd))
                if sock.type == socket.SOCK_STREAM:
                    return cls(sock.fileno(), lambda data: sock.send(data, socket.MSG_DONTWAIT),
                               sock.close)
                sock.close()
        except (OSError, ValueError, AttributeError, io.UnsupportedOperation):
            pass
        return None


def _iso(seconds: float) -> str:
    """`structlog.processors.TimeStamper(fmt="iso", utc=True)`'s text for a moment."""
    return datetime.fromtimestamp(seconds, UTC).isoformat().replace("+00:00", "Z")


def log_line(logger: logging.Logger, level: int, message: str, fields: dict[str, Any]) -> None:
    """`logger.log(level, message, extra=fields)`, for a line logged on every request: when
    the record would reach `configure`'s JSON handler alone, that handler's line is built
    directly, for about half the CPU (bench/accesslog.py), and in an event loop rendered at the
    end of the loop's turn (`Lines`): `fields` must not change after the call. Else the
    ordinary way."""
    if not logger.isEnabledFor(level):
        return
    lines = _direct(logger, level)
    if lines is None:
        logger.log(level, message, extra=fields)
    else:
        lines.write(logger.name, level, message, fields)


def _direct(logger: logging.Logger, level: int) -> Lines | None:
    """The handler's Lines when nothing but it would see the record: no filter on the logger,
    no other handler up to the root, and the root's one handler is `configure`'s JSON one."""
    if logger.filters:
        return None
    current: logging.Logger | None = logger
    while current is not None and current is not logging.root:
        if current.handlers or not current.propagate:
            return None
        current = current.parent
    handlers = logging.root.handlers
    if len(handlers) != 1:
        return None
    handler = handlers[0]
    if not isinstance(handler, Handler) or handler.filters or level < handler.level:
        return None
    return handler.lines


def configure_for(settings: Settings) -> logging.Handler:
    return configure(settings.log_level, settings.log_format, secrets_of(settings))
