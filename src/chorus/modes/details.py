"""Each mode's `details`: typed where the modes build them, JSON once, at the Outcome.

These shapes are the contract too: chorus.chat.answer puts them in the answer's model, so
`/openapi.json` shows them, and tests/chat/test_answer_shapes.py checks real answers against them.
A field with a default is one that may be absent from the JSON; every other field is always
there, null or not.
"""

from __future__ import annotations

from dataclasses import field, fields, is_dataclass
from typing import Any, Literal

from chorus.modes.agreement import Point
from chorus.records import record
from chorus.types import JSON, Aggregation, MemberResult, Usage

Status = Literal["ok", "failed"]
ABSENT_IF_NONE = {"absent_if_none": True}
"""The metadata of a field left out of the JSON while it is None."""


def as_json(value: object) -> Any:
    """A shape (and what it holds) as JSON, its fields in the order they are declared."""
    if isinstance(value, _SEQUENCES):
        return [item if type(item) in _PLAIN else as_json(item) for item in value]
    spec = _spec(type(value))
    if spec is None:
        return value
    out: JSON = {}
    for name, absent_if_none in spec:
        item = getattr(value, name)
        if item is None:
            if not absent_if_none:
                out[name] = None
        elif type(item) in _PLAIN:
            out[name] = item
        else:
            out[name] = as_json(item)
    return out


_PLAIN = frozenset({str, int, float, bool})
_SEQUENCES = (list, tuple)
_SPECS: dict[type, tuple[tuple[str, bool], ...] | None] = {}


def _spec(cls: type) -> tuple[tuple[str, bool], ...] | None:
    """A dataclass's field names, each with whether it is left out while None; None for any
    other type. Read once per class: serialising runs on every answer."""
    try:
        return _SPECS[cls]
    except KeyError:
        spec = tuple((f.name, bool(f.metadata.get("absent_if_none")))
                     for f in fields(cls)) if is_dataclass(cls) else None
        return _SPECS.setdefault(cls, spec)


@record
class UsageOut:
    prompt_tokens: int
    completion_tokens: int
    total_tokens: int
    cost_usd: float

    @classmethod
    def of(cls, usage: Usage) -> UsageOut:
        return cls(usage.prompt_tokens, usage.completion_tokens, usage.total_tokens,
                   round(usage.cost_usd, 8))


@record
class ErrorOut:
    code: str
    message: str

    @classmethod
    def of(cls, error: JSON | None) -> ErrorOut | None:
        return None if error is None else cls(str(error["code"]), str(error["message"]))


@record(kw_only=True)
class WebSearches:
    """What the turn adds to every mode's details: whether tools were on and, with web search
    on, every search made and every source given."""

    tools: str | None = field(default=None, metadata=ABSENT_IF_NONE)
    """`on`, or `off: ` and why."""
    sources: list[dict[str, str]] | None = field(default=None, metadata=ABSENT_IF_NONE)
    searches: list[dict[str, object]] | None = field(default=None, metadata=ABSENT_IF_NONE)


# ---- smart_chat ------------------------------------------------------------------------------


@record(kw_only=True)
class SmartChatDetails(WebSearches):
    routed_to: str
    category: str
    difficulty: float
    """The calibrated probability that a small, cheap model answers wrongly."""
    reason: str


# ---- ensemble --------------------------------------------------------------------------------


@record(kw_only=True)
class Member:
    """A member's answer."""

    model: str
    persona: str | None
    status: Status
    content: str
    error: ErrorOut | None
    latency_ms: int
    usage: UsageOut

    @classmethod
    def of(cls, result: MemberResult) -> Member:
        return cls(model=result.slot.model, persona=result.slot.persona, status=result.status,
                   content=result.content, error=ErrorOut.of(result.error),
                   latency_ms=result.latency_ms, usage=UsageOut.of(result.usage))


@record(kw_only=True)
class Step:
    """The aggregator's or judge's call (its text is the answer or the verdict)."""

    model: str
    role: str | None
    status: Status
    error: ErrorOut | None
    latency_ms: int
    usage: UsageOut

    @classmethod
    def of(cls, result: MemberResult) -> Step:
        return cls(model=result.slot.model, role=result.slot.role, status=result.status,
                   error=ErrorOut.of(result.error), latency_ms=result.latency_ms,
                   usage=UsageOut.of(result.usage))


@record(kw_only=True)
class EnsembleCommon(WebSearches):
    """What every aggregation's details hold."""

    aggregation: Aggregation
    members: list[Member]
    failed: list[str]
    """The members that failed."""
    aggregator: Step | None
    """None when no aggregator or judge was called."""
    fallback: str | None
    """Why a documented fallback rule made the answer, when one did."""


@record(kw_only=True)
class SynthesisDetails(EnsembleCommon):
    pass


@record(kw_only=True)
class BestOfNDetails(EnsembleCommon):
    winner: str
    reason: str | None
    verdict_method: str


@record(kw_only=True)
class ConsensusDetails(EnsembleCommon):
    winner: str
    agreement: float
    agreement_level: str
    agreeing: list[str]
    method: str
    reason: str | None


@record(kw_only=True)
class UnionDetails(EnsembleCommon):
    points: list[Point]


@record(kw_only=True)
class MergedDetails(EnsembleCommon):
    """Consensus or union of JSON answers, merged field by field."""

    method: Literal["fields", "fallback"]


EnsembleDetails = (SynthesisDetails | BestOfNDetails | ConsensusDetails | UnionDetails
                   | MergedDetails)


# ---- debate ----------------------------------------------------------------------------------


@record(kw_only=True)
class Speech:
    """A side's speech in a round (0: the openings)."""

    model: str
    persona: str | None
    side: Literal["pro", "con"]
    round: int
    status: Status
    content: str
    error: ErrorOut | None
    latency_ms: int
    usage: UsageOut


@record(kw_only=True)
class JudgeCall:
    """A call of the Judge: the verdict, or the answer in the requested format."""

    model: str
    persona: str | None
    role: str | None
    status: Status
    content: str
    error: ErrorOut | None
    latency_ms: int
    usage: UsageOut


@record(kw_only=True)
class Round:
    """A round's speeches; a side that failed earlier is no longer called, so is absent."""

    round: int
    pro: Speech | None = field(default=None, metadata=ABSENT_IF_NONE)
    con: Speech | None = field(default=None, metadata=ABSENT_IF_NONE)


@record
class DebateModels:
    pro: str
    con: str
    judge: str


@record(kw_only=True)
class Verdict:
    winner: Literal["pro", "con", "draw"] | None
    reasoning: str | None
    method: str | None
    error: ErrorOut | None


@record(kw_only=True)
class DebateDetails(WebSearches):
    models: DebateModels
    rounds: list[Round]
    verdict: Verdict
    judge: JudgeCall
    answer: JudgeCall | None = field(default=None, metadata=ABSENT_IF_NONE)
    """With structured output: the Judge's answer in the requested format."""


# ---- council ---------------------------------------------------------------------------------


@record(kw_only=True)
class Expert:
    name: str
    perspective: str
    model: str
    persona: str | None
    status: Status
    content: str
    error: ErrorOut | None
    latency_ms: int


@record(kw_only=True)
class CouncilDetails(WebSearches):
    experts: list[Expert]
    synthesizer: str
    synthesizer_status: Status
    synthesizer_error: ErrorOut | None
    fallback: str | None


Details = SmartChatDetails | EnsembleDetails | DebateDetails | CouncilDetails
"""Any mode's details: the `details` of an answer, in every door."""
