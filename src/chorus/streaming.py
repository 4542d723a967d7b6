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
    match item:
        case MemberStarted(slot=slot):
            return event("member.started", slot.as_json())
        case MemberDelta(slot=slot, text=text):
            return event("member.delta", {**slot.as_json(), "delta": text})
        case MemberDone(result=result):
            name = "member.completed" if result.status == "ok" else "member.failed"
            return event(name, result.as_json())
        case Stage(name=stage, status=status, round=round_):
            payload: JSON = {"stage": stage, "status": status}
            if round_ is not None:
                payload["round"] = round_
            return event("stage", payload)
        case AnswerDelta(text=text):
            return event("message.delta", {"delta": text})
        case Outcome():
            return None
