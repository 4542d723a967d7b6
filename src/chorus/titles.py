"""Session titles: one from the first message at once, a better one by a cheap model later."""

from __future__ import annotations

import asyncio
import logging
import re

from chorus.calls import Caller
from chorus.errors import ChorusError
from chorus.providers.base import collect
from chorus.providers.registry import Registry
from chorus.records import record
from chorus.store.ids import new_id
from chorus.store.sessions import SessionStore
from chorus.store.usage import RequestContext, UsageWriter
from chorus.types import Message, ModelRequest

log = logging.getLogger(__name__)

TITLE_CHARS = 60
MODEL_TITLE_WORDS = 12
"""A longer answer is the model chatting, not a title; the first-message title stays."""
PROMPT_CHARS = 2000
USAGE_MODE = "title"
"""The `mode` of the usage records of title calls, so they can be told apart from queries."""

TITLE_PROMPT = (
    "Write a short title for a chat conversation that begins with the user's message below. "
    "Answer with the title only: 3 to 7 words, in the language of the message, no quotes, "
    "no final punctuation.")

_MARKUP = re.compile(r"^(?:#{1,6}\s+|>\s*|[-*+]\s+|\d+[.)]\s+)+")
_TITLE_PREFIX = re.compile(r"^(?:title|titre|titel|título)\s*:\s*", re.IGNORECASE)
_QUOTES = "\"'`“”\u2018\u2019«»*_"


def title_from(message: str) -> str:
    """A readable title from the first message: its first line of prose, cut at a word."""
    line = ""
    for raw in message.splitlines():
        if raw.lstrip().startswith("```"):
            continue
        line = " ".join(_MARKUP.sub("", raw.strip()).split())
        if line:
            break
    if not line:
        return "New chat"
    return _shorten(line, TITLE_CHARS)


def _shorten(line: str, limit: int) -> str:
    if len(line) <= limit:
        return line
    cut = line[:limit].rsplit(" ", 1)[0] or line[:limit]
    return cut.rstrip(",;:.-") + "…"


def clean_model_title(answer: str) -> str | None:
    """The model's answer as a title, or None when it is not one."""
    lines = [line for line in answer.strip().splitlines() if line.strip()]
    if not lines:
        return None
    title = _TITLE_PREFIX.sub("", _MARKUP.sub("", lines[0].strip()))
    title = " ".join(title.strip(_QUOTES + " ").rstrip(".!;:,").strip(_QUOTES + " ").split())
    if not title or len(title.split()) > MODEL_TITLE_WORDS:
        return None
    return _shorten(title, 200)


@record
class TitleJob:
    session_id: str
    user_id: str
    key_id: str
    test: bool
    first_message: str


class Titler:
    """Asks the configured title model for a better title; its tasks end when the app does."""

    def __init__(self, registry: Registry, sessions: SessionStore, usage: UsageWriter,
                 model: str | None) -> None:
        self.registry = registry
        self.sessions = sessions
        self.usage = usage
        self.model = model
        self._tasks: set[asyncio.Task[None]] = set()

    def request(self, job: TitleJob) -> None:
        """Start writing a model title for a new session, if a title model is configured."""
        if not self.model:
            return
        task = asyncio.create_task(self._write(self.model, job), name=f"title-{job.session_id}")
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _write(self, model: str, job: TitleJob) -> None:
        caller = Caller(self.registry, job.test)
        request = ModelRequest(
            messages=(Message("system", TITLE_PROMPT),
                      Message("user", job.first_message[:PROMPT_CHARS])),
            temperature=0.2, max_tokens=24)
        try:
            answer = await collect(caller.stream(model, request))
        except ChorusError as exc:
            log.warning("title model %s failed for %s: %s", model, job.session_id, exc.message)
            return
        finally:
            if caller.calls:
                context = RequestContext(new_id("req"), job.user_id, job.key_id,
                                         job.session_id, USAGE_MODE)
                await self.usage.record(context, caller.calls)
        title = clean_model_title(answer.text)
        if title is None:
            log.info("title model %s gave no usable title for %s", model, job.session_id)
            return
        await self.sessions.set_model_title(job.session_id, title)

    @property
    def pending(self) -> int:
        """Titles still being written."""
        return len(self._tasks)

    async def idle(self) -> None:
        """Wait until every title in progress is written (tests, graceful stops)."""
        while self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)

    async def close(self) -> None:
        """Cancel the titles still being written: a title is not worth delaying a shutdown."""
        tasks = list(self._tasks)
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
