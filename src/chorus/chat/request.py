"""A chat turn in Chorus's terms, whatever front door it came through."""

from __future__ import annotations

from chorus.modes import ModeOptions
from chorus.records import record
from chorus.types import Message, ModeName


@record
class TurnRequest:
    new: tuple[Message, ...]
    """What this turn adds to the conversation: the user's question, or the results of the
    tools the model called (after the client's own assistant message that called them)."""
    mode: ModeName | None
    session_id: str | None
    options: ModeOptions
    context: tuple[Message, ...] = ()
    """Messages placed before the session's history: system prompts, a stateless history."""
    persist: bool = True
    """False answers without storing anything (only with no session_id)."""
    stream: bool = True
    """False when the client takes the answer whole (then so do the model calls)."""
