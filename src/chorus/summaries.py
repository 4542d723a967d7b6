"""A session's running summary: what no longer fits a model's window, told by a cheap model.

The summary is stored with a watermark (how many earlier messages it stands for, and a hash of
them), so it is reused turn after turn. When more must be dropped it is extended from where it
stopped, a few turns ahead (`AHEAD`), so the summary model runs every few turns, not every turn.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
from collections.abc import Sequence
from dataclasses import replace

from chorus import context
from chorus.calls import Caller
from chorus.context import Plan
from chorus.errors import ChorusError
from chorus.providers.base import collect
from chorus.providers.catalog import ModelEntry
from chorus.store.ids import utcnow
from chorus.store.summaries import SummaryRow, SummaryStore
from chorus.types import Message, ModelRequest

log = logging.getLogger(__name__)

AHEAD = 16
"""Messages summarised beyond what must be dropped, so the next turns reuse the summary."""
KEEP_VERBATIM = 2
"""The summary never swallows the last exchange when it still fits."""
SUMMARY_TOKENS = 400
MESSAGE_CHARS = 4000
"""Each message is cut to this in the summary model's input, so one long paste leaves room."""

SUMMARY_PROMPT = (
    "You keep a running summary of a long conversation between a user and an AI assistant, so "
    "the assistant can go on without the full history. Merge the summary so far and the new "
    "messages into one updated summary. Keep facts, names, numbers, decisions, the user's "
    "preferences and open questions; leave out small talk. Plain text, at most 200 words.")
SUMMARY_INTRO = "Summary of the earlier part of this conversation ({n} messages not shown):\n"


def digest(messages: Sequence[Message]) -> str:
    hasher = hashlib.sha256()
    for message in messages:
        hasher.update(message.role.encode())
        hasher.update(b"\0")
        hasher.update(message.content.encode())
        hasher.update(b"\0")
    return hasher.hexdigest()


class SessionFitter:
    """The fitter of one turn's calls: dropped messages become the session's running summary.

    Its `caller` makes the summary calls (fitted plainly, recorded with the turn's calls)."""

    def __init__(self, session_id: str, store: SummaryStore, caller: Caller, model: str) -> None:
        self.session_id = session_id
        self.store = store
        self.caller = caller
        self.model = model
        self._lock = asyncio.Lock()
        self._known: SummaryRow | None = None

    async def __call__(self, entry: ModelEntry, request: ModelRequest) -> ModelRequest:
        fitted = await context.plan(entry, request)
        if not fitted.dropped and not fitted.tail_cut:
            return request
        summary = await self._summary(fitted) if fitted.dropped else None
        if summary is None:
            note = context.marker(fitted.dropped) if fitted.dropped else None
            return replace(request, messages=fitted.messages(note))
        scale = context.TOKENS_PER_ESTIMATE.get(entry.dialect, 1.0)
        text = context.shorten(summary.summary, max(16, int(fitted.note_room / scale) - 24))
        note = Message("system", SUMMARY_INTRO.format(n=summary.covered) + text)
        return replace(request, messages=fitted.messages(note, start=summary.covered))

    async def _summary(self, fitted: Plan) -> SummaryRow | None:
        """A summary covering at least the dropped messages; one model call per turn at most."""
        middle = fitted.middle
        async with self._lock:
            known = self._known
            if known is not None and _covers(known, middle, fitted.dropped):
                return known
            stored = await self.store.get(self.session_id)
            base = stored if stored is not None and _valid(stored, middle) else None
            if base is not None and base.covered >= fitted.dropped:
                self._known = base
                return base
            start = base.covered if base else 0
            target = _target(middle, fitted.dropped)
            text = await self._summarize(base.summary if base else None, middle[start:target])
            if text is None:
                return None
            row = SummaryRow(self.session_id, target, digest(middle[:target]), text, self.model,
                             utcnow())
            await self.store.put(row)
            self._known = row
            return row

    async def _summarize(self, previous: str | None, messages: Sequence[Message]) -> str | None:
        try:
            entry = self.caller.entry(self.model)
            request = await _summary_request(entry, previous, messages)
            answer = await collect(self.caller.stream(self.model, request))
        except ChorusError as exc:
            log.warning("summary model %s failed for %s: %s", self.model, self.session_id,
                        exc.message)
            return None
        return answer.text.strip() or None


def _valid(row: SummaryRow, middle: Sequence[Message]) -> bool:
    return row.covered <= len(middle) and row.digest == digest(middle[:row.covered])


def _covers(row: SummaryRow, middle: Sequence[Message], dropped: int) -> bool:
    return row.covered >= dropped and _valid(row, middle)


def _target(middle: Sequence[Message], dropped: int) -> int:
    """Summarise a few turns beyond what must go, ending before a user message."""
    target = max(dropped, min(dropped + AHEAD, len(middle) - KEEP_VERBATIM))
    while target < len(middle) and middle[target].role != "user":
        target += 1
    return target


async def _summary_request(entry: ModelEntry, previous: str | None,
                           messages: Sequence[Message]) -> ModelRequest:
    """The previous summary and as many of the newest messages as the summary model takes."""
    lines = [f"{m.role.capitalize()}: {_cut(m.content)}" for m in messages]
    probe = ModelRequest((Message("system", SUMMARY_PROMPT),
                          *(Message("user", line) for line in lines),
                          Message("user", f"Summary so far:\n{previous or '(none yet)'}")),
                         max_tokens=SUMMARY_TOKENS)
    fitted = await context.plan(entry, probe)
    kept = lines[fitted.first_kept:]
    unread = len(lines) - len(kept)
    text = (f"Summary so far:\n{previous or '(none yet)'}\n\n"
            + (f"({unread} older messages could not be read and are lost.)\n\n" if unread else "")
            + "New messages:\n\n" + "\n\n".join(kept))
    return ModelRequest((Message("system", SUMMARY_PROMPT), Message("user", text)),
                        temperature=0.2, max_tokens=SUMMARY_TOKENS)


def _cut(text: str) -> str:
    if len(text) <= MESSAGE_CHARS:
        return text
    return text[: MESSAGE_CHARS * 3 // 4] + " […] " + text[-MESSAGE_CHARS // 4:]
