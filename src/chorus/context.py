"""Fitting a conversation into a model's context window, with room kept for the answer.

Every model call passes `Caller.stream`, which runs a fitter on its request first. The plan is
the same for every fitter: the leading system messages (persona) and the newest user message
always stay, then as many of the most recent earlier messages as fit. What is dropped becomes
one system note: a plain marker here, a running summary in `chorus.summaries`.
"""

from __future__ import annotations

import asyncio
import math
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import replace

from chorus import tokens
from chorus.config import Dialect
from chorus.providers.catalog import ModelEntry
from chorus.records import record
from chorus.types import Message, ModelRequest

TOKENS_PER_ESTIMATE: dict[Dialect, float] = {"openai": 1.0, "anthropic": 1.3, "gemini": 1.15}
"""The provider's tokens per o200k token, rounded to the safe side; see docs/conversations.md."""
MESSAGE_OVERHEAD = 4
PRIMING = 3
DEFAULT_RESERVE = 4096
"""Room kept for the answer when the request sets no max_tokens (at most half the window)."""
SAFETY = 0.95
"""The estimate is an estimate: only this share of the room left is filled."""
NOTE_TOKENS = 512
"""Room kept for the marker or summary that stands for dropped messages."""
THREAD_CHARS = 16_000
"""Uncached text beyond this is counted in a worker thread (tiktoken releases the GIL)."""
CHUNK = 128

Fitter = Callable[[ModelEntry, ModelRequest], Awaitable[ModelRequest]]


class TokenCounter:
    """Raw o200k counts, remembered by text hash so a long session is counted once."""

    def __init__(self, max_entries: int = 200_000) -> None:
        self.max_entries = max_entries
        self._known: dict[tuple[int, int], int] = {}

    async def counts(self, texts: Sequence[str]) -> list[int]:
        keys = [(hash(text), len(text)) for text in texts]
        missing = {key: text for key, text in zip(keys, texts, strict=True)
                   if key not in self._known}
        if missing:
            todo = list(missing.items())
            if sum(len(text) for _, text in todo) > THREAD_CHARS:
                found = await asyncio.to_thread(_count_all, [text for _, text in todo])
            else:
                found = _count_all([text for _, text in todo])
            self._remember({key: n for (key, _), n in zip(todo, found, strict=True)})
        return [self._known[key] for key in keys]

    def _remember(self, found: dict[tuple[int, int], int]) -> None:
        excess = len(self._known) + len(found) - self.max_entries
        if excess > 0:  # the oldest go first, and half the room is freed at once
            for key in list(self._known)[: excess + self.max_entries // 2]:
                del self._known[key]
        self._known.update(found)


def _count_all(texts: list[str]) -> list[int]:
    return [tokens.count(text) for text in texts]


COUNTER = TokenCounter()
"""One per process: counts are pure functions of the text."""


@record
class Plan:
    """Which messages of a request fit; `middle[first_kept:]` are the earlier ones kept."""

    head: tuple[Message, ...]
    middle: tuple[Message, ...]
    tail: tuple[Message, ...]
    first_kept: int
    note_room: int
    """Tokens left for a note when messages were dropped."""
    tail_cut: bool = False
    """The newest message alone did not fit and was shortened."""

    @property
    def dropped(self) -> int:
        return self.first_kept

    def messages(self, note: Message | None, start: int | None = None) -> tuple[Message, ...]:
        kept = self.middle[self.first_kept if start is None else start:]
        return (*self.head, *((note,) if note else ()), *kept, *self.tail)


def reserve_for(entry: ModelEntry, request: ModelRequest) -> int:
    if request.max_tokens is not None:
        return request.max_tokens
    return min(DEFAULT_RESERVE, entry.context_window // 2)


def prompt_budget(entry: ModelEntry, request: ModelRequest) -> int:
    """Tokens, in the provider's own count, the prompt may use."""
    return max(0, math.floor((entry.context_window - reserve_for(entry, request)) * SAFETY))


def split(messages: Sequence[Message]) -> tuple[tuple[Message, ...], ...]:
    """Leading system messages, earlier turns, and the newest user message with what follows."""
    head_end = 0
    while head_end < len(messages) - 1 and messages[head_end].role == "system":
        head_end += 1
    last_user = max((i for i, m in enumerate(messages) if m.role == "user"), default=-1)
    tail_start = max(head_end, last_user if last_user >= 0 else len(messages) - 1)
    return (tuple(messages[:head_end]), tuple(messages[head_end:tail_start]),
            tuple(messages[tail_start:]))


def _utf8_length(text: str) -> int:
    return len(text.encode())


async def plan(entry: ModelEntry, request: ModelRequest,
               counter: TokenCounter = COUNTER) -> Plan:
    """Keep the head and tail, then the newest earlier messages that fit the budget."""
    scale = TOKENS_PER_ESTIMATE.get(entry.dialect, 1.0)
    budget = prompt_budget(entry, request)
    note_room = min(NOTE_TOKENS, budget // 4)
    head, middle, tail = split(request.messages)

    def cost(raw: int) -> int:
        return math.ceil(raw * scale) + MESSAGE_OVERHEAD

    def fits(length: Callable[[str], int]) -> bool:
        return PRIMING + sum(cost(length(m.content)) for m in request.messages) <= budget

    # Fits even at one token per UTF-8 byte (a BPE token is at least one): nothing to count.
    # Characters first, fewer than bytes: a history too long for that is not encoded in vain.
    if fits(len) and fits(_utf8_length):
        return Plan(head, middle, tail, 0, note_room)
    used = PRIMING + sum(cost(n) for n in await counter.counts([m.content for m in head]))
    tail_costs = [cost(n) for n in await counter.counts([m.content for m in tail])]
    if used + sum(tail_costs) > budget:
        room = budget - used - sum(tail_costs[1:]) - note_room - MESSAGE_OVERHEAD
        newest = Message(tail[0].role, shorten(tail[0].content, max(16, int(room / scale))))
        return Plan(head, middle, (newest, *tail[1:]), len(middle), note_room, tail_cut=True)
    used += sum(tail_costs)
    kept: list[int] = []
    index, full = len(middle), False
    while index > 0 and not full:
        await asyncio.sleep(0)  # a long history is counted in chunks; others run in between
        start = max(0, index - CHUNK)
        for raw in reversed(await counter.counts([m.content for m in middle[start:index]])):
            if used + cost(raw) > budget:
                full = True
                break
            used += cost(raw)
            kept.append(cost(raw))
            index -= 1
    if index > 0:
        while kept and used + note_room > budget:
            used -= kept.pop()
            index += 1
        while index < len(middle) and middle[index].role != "user":
            index += 1
    return Plan(head, middle, tail, index, note_room)


def shorten(text: str, max_tokens: int) -> str:
    """The beginning and the end of `text`, within about `max_tokens` o200k tokens."""
    if tokens.count(text) <= max_tokens:
        return text
    chars = max(8, max_tokens * 3)
    while True:
        head, tail = text[: chars * 2 // 3], text[len(text) - chars // 3:]
        cut = f"{head}\n[… {len(text) - len(head) - len(tail)} characters omitted …]\n{tail}"
        if tokens.count(cut) <= max_tokens or chars <= 8:
            return cut
        chars = chars * 3 // 4


def marker(dropped: int) -> Message:
    return Message("system", f"{dropped} earlier messages of this conversation are not shown: "
                             "they do not fit this model's context window.")


async def fit_plain(entry: ModelEntry, request: ModelRequest) -> ModelRequest:
    """The default fitter: dropped messages are named by a plain marker."""
    fitted = await plan(entry, request)
    if not fitted.dropped and not fitted.tail_cut:
        return request
    note = marker(fitted.dropped) if fitted.dropped else None
    return replace(request, messages=fitted.messages(note))
