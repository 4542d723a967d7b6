"""The native answer and each mode's `details`, as the OpenAPI schema describes them.

Modes build `details` as plain JSON; these models are its contract: `/openapi.json` shows them,
and tests/test_answer_shapes.py checks every mode's real answers against them. Fields a mode
adds only in some cases are optional; `extra="allow"` leaves room for what a later version adds.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict


class Shape(BaseModel):
    model_config = ConfigDict(extra="allow")


class UsageOut(Shape):
    prompt_tokens: int
    completion_tokens: int
    total_tokens: int
    cost_usd: float


class ErrorOut(Shape):
    code: str
    message: str


class Member(Shape):
    """One model's part: a member, a debate speech, an aggregator, judge or synthesizer."""

    model: str
    persona: str | None = None
    side: Literal["pro", "con"] | None = None
    round: int | None = None
    expert: str | None = None
    role: str | None = None
    status: Literal["ok", "failed"]
    content: str | None = None
    error: ErrorOut | None = None
    latency_ms: int
    usage: UsageOut


class WebSearches(Shape):
    """With web search on: every search made and every source given."""

    tools: str
    """`on`, or `off: ` and why."""
    sources: list[dict[str, str]] | None = None
    searches: list[dict[str, object]] | None = None


class SmartChatDetails(WebSearches):
    routed_to: str
    category: str
    difficulty: float
    """The calibrated probability that a small, cheap model answers wrongly."""
    reason: str


class EnsembleDetails(WebSearches):
    aggregation: Literal["synthesis", "best_of_n", "consensus", "union"]
    members: list[Member]
    failed: list[str]
    aggregator: Member | None
    fallback: str | None
    winner: str | None = None
    reason: str | None = None
    verdict_method: str | None = None
    agreement: float | None = None
    agreement_level: str | None = None
    agreeing: list[str] | None = None
    method: str | None = None
    points: list[dict[str, object]] | None = None


class Verdict(Shape):
    winner: Literal["pro", "con", "draw"] | None
    reasoning: str | None
    method: str | None
    error: ErrorOut | None


class DebateDetails(WebSearches):
    models: dict[Literal["pro", "con", "judge"], str]
    rounds: list[dict[str, object]]
    """Per round (0 = openings): `round`, and `pro` and `con` as Members."""
    verdict: Verdict
    judge: Member
    answer: Member | None = None
    """With structured output: the Judge's answer in the requested format."""


class Expert(Shape):
    name: str
    perspective: str
    model: str
    persona: str | None
    status: Literal["ok", "failed"]
    content: str
    error: ErrorOut | None
    latency_ms: int


class CouncilDetails(WebSearches):
    experts: list[Expert]
    synthesizer: str
    synthesizer_status: Literal["ok", "failed"]
    synthesizer_error: ErrorOut | None
    fallback: str | None


DETAILS: dict[str, type[WebSearches]] = {
    "smart_chat": SmartChatDetails, "ensemble": EnsembleDetails, "debate": DebateDetails,
    "council": CouncilDetails}


class ChatAnswer(Shape):
    """`POST /v1/chat`'s answer (and the `message.completed` event of its stream)."""

    id: str
    object: Literal["chat.message"]
    session_id: str | None
    mode: Literal["smart_chat", "ensemble", "debate", "council"]
    role: Literal["assistant"]
    content: str
    models_used: list[str]
    created_at: str
    details: SmartChatDetails | EnsembleDetails | DebateDetails | CouncilDetails
    usage: UsageOut
    latency_ms: int
