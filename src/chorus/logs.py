"""Structured logs: stdlib loggers rendered by structlog, one line each, scrubbed of secrets."""

from __future__ import annotations

import logging
import sys
from collections.abc import Iterable, MutableMapping
from typing import Any, Literal, TextIO

import structlog

from chorus.config import Settings
from chorus.redact import redact, scrubbable

LogFormat = Literal["auto", "json", "console"]

class Redactor:
    """A structlog processor that replaces secrets in every string of an event."""

    def __init__(self, secrets: Iterable[str] = ()) -> None:
        self.secrets = scrubbable(secrets)

    def __call__(self, _logger: object, _method: str,
                 event: MutableMapping[str, Any]) -> MutableMapping[str, Any]:
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
    renderer: structlog.types.Processor = (
        structlog.dev.ConsoleRenderer(colors=False) if fmt == "console"
        else structlog.processors.JSONRenderer(sort_keys=False))
    stamp = structlog.processors.TimeStamper(fmt="iso", utc=True)
    shared: list[structlog.types.Processor] = [
        structlog.contextvars.merge_contextvars, structlog.stdlib.add_log_level,
        structlog.stdlib.add_logger_name, stamp]
    handler = logging.StreamHandler(out)
    handler.setFormatter(structlog.stdlib.ProcessorFormatter(
        foreign_pre_chain=[*shared, structlog.stdlib.ExtraAdder(), _drop_terminal_copies],
        processors=[structlog.stdlib.ProcessorFormatter.remove_processors_meta,
                    structlog.processors.format_exc_info, Redactor(secrets), renderer]))
    structlog.configure(
        processors=[*shared, structlog.stdlib.ProcessorFormatter.wrap_for_formatter],
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.stdlib.BoundLogger, cache_logger_on_first_use=True)
    root = logging.getLogger()
    for old in [h for h in root.handlers if getattr(h, "chorus", False)]:
        root.removeHandler(old)
    handler.chorus = True  # type: ignore[attr-defined]
    root.addHandler(handler)
    root.setLevel(level.upper())
    return handler


def configure_for(settings: Settings) -> logging.Handler:
    return configure(settings.log_level, settings.log_format, secrets_of(settings))
