"""Routes for the wire formats beyond OpenAI's (Anthropic, Gemini)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from starlette.routing import Route

if TYPE_CHECKING:
    from chorus.fakellm.server import FakeLLM


def routes(fake: FakeLLM) -> list[Route]:
    return []
