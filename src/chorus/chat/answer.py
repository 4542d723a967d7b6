"""The native answer, as the OpenAPI schema describes it.

Each mode's `details` are the shapes the modes build (chorus.modes.details), so `/openapi.json`
shows what the code writes; tests/chat/test_answer_shapes.py checks every mode's real answers
against them.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel

from chorus.modes.details import (
    CouncilDetails,
    DebateDetails,
    Details,
    EnsembleDetails,
    SmartChatDetails,
    UsageOut,
)

DETAILS: dict[str, Any] = {
    "smart_chat": SmartChatDetails, "ensemble": EnsembleDetails, "debate": DebateDetails,
    "council": CouncilDetails}
"""Each mode's details: a shape, or a union of shapes (ensemble: one per aggregation)."""


class ChatAnswer(BaseModel):
    """`POST /v1/chat`'s answer (and the `message.completed` event of its stream)."""

    id: str
    object: Literal["chat.message"]
    session_id: str | None
    mode: Literal["smart_chat", "ensemble", "debate", "council"]
    role: Literal["assistant"]
    content: str
    models_used: list[str]
    created_at: str
    details: Details
    usage: UsageOut
    latency_ms: int
