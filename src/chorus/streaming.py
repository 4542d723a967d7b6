"""The only place that frames Server-Sent Events."""

from __future__ import annotations

import orjson

from chorus.types import (
    JSON,
    AnswerDelta,
    MemberDelta,
    MemberDone,
    MemberStarted,
    ModeEvent,
    Outcome,
    Stage,
)

DONE = b"data: [DONE]\n\n"
HEADERS = {"cache-control": "no-cache", "x-accel-buffering": "no"}
MEDIA_TYPE = "text/event-stream"


def event(name: str, payload: JSON) -> bytes:
    return b"event: " + name.encode() + b"\ndata: " + orjson.dumps(payload) + b"\n\n"


def data(payload: JSON) -> bytes:
    """An unnamed event, as OpenAI streams use."""
    return b"data: " + orjson.dumps(payload) + b"\n\n"


def mode_event(item: ModeEvent) -> bytes | None:
    """The wire form of a mode's event; the Outcome is framed by the caller once it is stored."""
    named = event_payload(item)
    return None if named is None else event(*named)


def event_payload(item: ModeEvent) -> tuple[str, JSON] | None:
    """A mode's event as its name and payload; None for the Outcome."""
    match item:
        case MemberStarted(slot=slot):
            return "member.started", slot.as_json()
        case MemberDelta(slot=slot, text=text):
            return "member.delta", {**slot.as_json(), "delta": text}
        case MemberDone(result=result):
            name = "member.completed" if result.status == "ok" else "member.failed"
            return name, result.as_json()
        case Stage(name=stage, status=status, round=round_):
            payload: JSON = {"stage": stage, "status": status}
            if round_ is not None:
                payload["round"] = round_
            return "stage", payload
        case AnswerDelta(text=text):
            return "message.delta", {"delta": text}
        case Outcome():
            return None
