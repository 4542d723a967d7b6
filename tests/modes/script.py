"""A scripted provider: every model (in every role) answers as a test says, and is recorded."""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field

from chorus.errors import ChorusError, UpstreamError
from chorus.types import ModelRequest, StreamEnd, TextDelta, Usage

Text = str | Callable[[ModelRequest], str]


@dataclass
class Reply:
    """What a model says: text (or a function of the request), when, and how it fails."""

    text: Text = "An answer."
    delay: float = 0.0
    until: asyncio.Event | None = None
    """Held until this is set (a test's moment, not a guess at timing)."""
    fail: ChorusError | None = None
    after: int = 0
    """Pieces streamed before `fail` is raised."""


@dataclass
class Record:
    model: str
    role: str
    request: ModelRequest
    started: float
    cancelled: bool = False
    finished: bool = False

    @property
    def prompt(self) -> str:
        return self.request.messages[-1].content

    @property
    def system(self) -> str:
        return " ".join(m.content for m in self.request.messages if m.role == "system")


def role_of(request: ModelRequest) -> str:
    """The part the call plays, as the mode that made it says."""
    return request.role or "member"


def fails(message: str = "boom") -> Reply:
    return Reply(fail=UpstreamError(message))


@dataclass
class Script:
    """Replies by (model, role), then role, then model, then `default`."""

    replies: dict[str | tuple[str, str], Reply] = field(default_factory=dict)
    default: Reply = field(default_factory=Reply)
    records: list[Record] = field(default_factory=list)
    called: asyncio.Event = field(default_factory=asyncio.Event)
    """Set once a model is called."""

    def reply_for(self, model: str, role: str) -> Reply:
        for key in ((model, role), role, model):
            if key in self.replies:
                return self.replies[key]
        return self.default

    def calls(self, role: str | None = None) -> list[Record]:
        return [r for r in self.records if role is None or r.role == role]

    def unsupported(self, upstream: str, request: ModelRequest) -> None:
        """A scripted model takes every field (the Provider protocol)."""
        return None

    async def stream(self, model: str, request: ModelRequest
                     ) -> AsyncIterator[TextDelta | StreamEnd]:
        """Answer as the script says (the Provider protocol)."""
        role = role_of(request)
        reply = self.reply_for(model, role)
        record = Record(model, role, request, asyncio.get_running_loop().time())
        self.records.append(record)
        self.called.set()
        try:
            if reply.delay:
                await asyncio.sleep(reply.delay)
            if reply.until is not None:
                await reply.until.wait()
            text = reply.text(request) if callable(reply.text) else reply.text
            parts = re.findall(r"\s*\S+", text) or [text]
            for index, part in enumerate(parts):
                if reply.fail is not None and index == reply.after:
                    raise reply.fail
                yield TextDelta(part)
                await asyncio.sleep(0)
            if reply.fail is not None:
                raise reply.fail
            yield StreamEnd(Usage(10, len(parts)))
            record.finished = True
        except asyncio.CancelledError:
            record.cancelled = True
            raise
