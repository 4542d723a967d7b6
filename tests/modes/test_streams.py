"""The event stream of every mode: api.md's events, in the order things happen."""

from __future__ import annotations

from typing import Any

from tests.conftest import Harness
from tests.modes.conftest import A, B, C, events
from tests.modes.script import Reply, Script, fails

Events = list[tuple[str, dict[str, Any]]]


def names(stream: Events) -> list[str]:
    """Event names with consecutive repeats collapsed (deltas come in runs)."""
    out: list[str] = []
    for name, _ in stream:
        if not out or out[-1] != name or name not in ("member.delta", "message.delta"):
            out.append(name)
    return out


def index(stream: Events, name: str, **match: object) -> int:
    return next(i for i, (n, p) in enumerate(stream)
                if n == name and all(p.get(k) == v for k, v in match.items()))


def stages(stream: Events) -> list[tuple[str, str, int | None]]:
    return [(p["stage"], p["status"], p.get("round")) for n, p in stream if n == "stage"]


async def test_ensemble_stream_order(h: Harness, script: Script) -> None:
    script.replies = {A: Reply("Alpha answer here.", delay=0.3),
                      B: Reply("Beta answer here."), "aggregator": Reply("The combined one.")}
    stream = await events(h, await h.headers(), mode="ensemble", models=[A, B])
    assert stream[0] == ("session", {"session_id": stream[0][1]["session_id"],
                                     "mode": "ensemble"})
    assert names(stream) == [
        "session", "stage", "member.started", "member.started",
        "member.delta", "member.completed",  # B, the fast one, first
        "member.delta", "member.completed",  # then A
        "stage", "stage", "member.started", "message.delta", "member.completed", "stage",
        "message.completed", "done"]
    assert stages(stream) == [("members", "started", None), ("members", "completed", None),
                              ("aggregation", "started", None),
                              ("aggregation", "completed", None)]
    assert index(stream, "member.completed", model=B) < index(stream, "member.delta", model=A)
    deltas = "".join(p["delta"] for n, p in stream if n == "message.delta")
    completed = dict(stream)["message.completed"]
    assert deltas == completed["content"] == "The combined one."
    assert completed["object"] == "chat.message" and completed["details"]["members"]
    aggregator = stream[index(stream, "member.started", role="aggregator")][1]
    assert aggregator["model"] == B, "the priciest of the request's models aggregates"


async def test_a_slow_member_never_holds_back_a_fast_one(h: Harness, script: Script) -> None:
    script.replies = {A: Reply("slow " * 5, delay=0.4), B: Reply("fast " * 5),
                      "judge": Reply('{"best": 1, "reason": "r"}')}
    stream = await events(h, await h.headers(), mode="ensemble", models=[A, B],
                          aggregation="best_of_n")
    fast_done = index(stream, "member.completed", model=B)
    assert fast_done < index(stream, "member.delta", model=A)
    (fast, slow) = (script.calls("member")[1], script.calls("member")[0])
    assert abs(fast.started - slow.started) < 0.2, "members start together"


async def test_member_failure_streams_member_failed_with_its_error(h: Harness,
                                                                  script: Script) -> None:
    script.replies = {A: fails("A broke"), B: Reply("B fine.")}
    stream = await events(h, await h.headers(), mode="ensemble", models=[A, B])
    failed = stream[index(stream, "member.failed")][1]
    assert failed["model"] == A and failed["status"] == "failed"
    assert failed["error"] == {"code": "upstream_error", "message": "A broke"}
    assert names(stream)[-2:] == ["message.completed", "done"]


async def test_all_failing_streams_error_then_done(h: Harness, script: Script) -> None:
    script.default = fails("down")
    stream = await events(h, await h.headers(), mode="ensemble", models=[A, B])
    assert names(stream)[-2:] == ["error", "done"]
    error = stream[-2][1]["error"]  # the envelope, as every error answer has it
    assert error["code"] == "upstream_error" and error["status"] == 502
    assert "message.completed" not in names(stream)


async def test_debate_stream_rounds_and_sides(h: Harness, script: Script) -> None:
    script.replies = {"judge": Reply('{"winner": "pro", "reasoning": "better"}')}
    stream = await events(h, await h.headers(), mode="debate", models=[A, B, C])
    assert stages(stream) == [
        ("openings", "started", 0), ("openings", "completed", 0),
        ("round", "started", 1), ("round", "completed", 1),
        ("round", "started", 2), ("round", "completed", 2),
        ("round", "started", 3), ("round", "completed", 3),
        ("verdict", "started", None), ("verdict", "completed", None)]
    started = [(p.get("side"), p.get("round"), p.get("role"), p["model"])
               for n, p in stream if n == "member.started"]
    assert started == [("pro", 0, None, A), ("con", 0, None, B),
                       ("pro", 1, None, A), ("con", 1, None, B),
                       ("pro", 2, None, A), ("con", 2, None, B),
                       ("pro", 3, None, A), ("con", 3, None, B), (None, None, "judge", C)]
    for name, payload in stream:
        if name.startswith("member.") and payload.get("role") is None:
            assert payload["side"] in ("pro", "con") and payload["round"] in range(4)
    opening_done = index(stream, "stage", stage="openings", status="completed")
    assert {p["side"] for n, p in stream[:opening_done] if n == "member.completed"} == \
        {"pro", "con"}
    text = "".join(p["delta"] for n, p in stream if n == "message.delta")
    assert text == dict(stream)["message.completed"]["content"]
    assert names(stream)[-2:] == ["message.completed", "done"]


async def test_council_stream_experts_then_synthesizer(h: Harness, script: Script) -> None:
    script.replies = {"synthesizer": Reply("Do this.")}
    stream = await events(h, await h.headers(), mode="council", models=[A, B])
    assert stages(stream) == [("experts", "started", None), ("experts", "completed", None),
                              ("synthesis", "started", None), ("synthesis", "completed", None)]
    experts = [p["expert"] for n, p in stream if n == "member.started"]
    assert experts == ["Domain Expert", "Devil's Advocate", "Practical Implementer",
                       "Strategic Thinker", "Synthesizer"]
    synth_start = index(stream, "member.started", role="synthesizer")
    assert all(n != "member.completed" or p.get("role") for n, p in stream[synth_start:])
    assert "".join(p["delta"] for n, p in stream if n == "message.delta") == "Do this."
