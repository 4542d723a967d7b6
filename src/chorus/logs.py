"""Structured logs: stdlib loggers rendered by structlog, one line each, scrubbed of secrets."""

from __future__ import annotations

import asyncio
import json
import logging
import sys
import time
from collections.abc import Callable, Iterable, MutableMapping
from datetime import UTC, datetime
from typing import Any, Literal, TextIO

import orjson
import structlog

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
    """With the JSON format: its lines, for `log_line`."""

    def emit(self, record: logging.LogRecord) -> None:
        if self.lines is not None:
            self.lines.flush()  # the lines logged before this record go out before it
        super().emit(record)

    def flush(self) -> None:
        if self.lines is not None:
            self.lines.flush()
        super().flush()

    def close(self) -> None:
        self.flush()
        super().close()


class Lines:
    """The JSON line the handler's formatter renders for a record of plain `logging`, built
    from the same processors without the record: no LogRecord, no copy of it, no pre-chain.

    In an event loop a line is held, with its context and time, until the loop has run what
    was ready with it: the lines of the requests answered together are then rendered one after
    the other (their code and tables stay in the CPU's caches) and written in one system call.
    The handler's own records, its `flush` and `close` write the held lines first, so nothing
    is reordered or lost at exit."""

    def __init__(self, handler: Handler, redactor: Redactor,
                 renderer: structlog.processors.JSONRenderer) -> None:
        self.handler = handler
        self.redactor = redactor
        self.renderer = renderer
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
        try:
            loop: asyncio.AbstractEventLoop | None = asyncio.get_running_loop()
        except RuntimeError:
            loop = None
        with self.handler.lock:  # type: ignore[union-attr]
            self._held.append(event)
            if loop is None:
                self.flush()
            elif self._due is not loop:
                self._due = loop
                loop.call_soon(self.flush)

    def flush(self) -> None:
        """Render and write the held lines, in the order they were logged."""
        handler = self.handler
        with handler.lock:  # type: ignore[union-attr]
            held, self._held, self._due = self._held, [], None
            if not held:
                return
            texts = []
            for event in held:
                method = event["level"]
                event["timestamp"] = _iso(event["timestamp"])
                line = self.renderer(None, method, self.redactor(None, method, event))
                texts.append(line if isinstance(line, str) else line.decode())
            texts.append("")
            try:
                handler.stream.write(handler.terminator.join(texts))
                logging.StreamHandler.flush(handler)
            except Exception:
                first = held[0]
                handler.handleError(logging.makeLogRecord(
                    {"name": first["logger"], "levelname": first["level"].upper(),
                     "msg": first["event"]}))


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
