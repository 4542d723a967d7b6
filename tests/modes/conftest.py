"""Mode tests: the app in process (SQLite) with a scripted provider behind every model."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest

from tests.conftest import Harness, harness_for
from tests.modes.script import Script
from tests.sse import stream_events

A, B, C, D = "gpt-4o-mini", "gemini-2.5-flash", "claude-haiku-4-5-20251001", "gpt-4o"
STRONG = "claude-opus-4-1-20250805"
"""The priciest model in the simulated catalog: the default aggregator of a request naming it."""


@pytest.fixture
async def h(tmp_path: Any) -> AsyncIterator[Harness]:
    async with harness_for(f"sqlite:///{tmp_path}/chorus.db") as harness:
        yield harness


@pytest.fixture
def script(h: Harness) -> Iterator[Script]:
    """Every model of the harness answers from this script instead of the simulator."""
    scripted = Script()
    h.services.registry.register("simulated", scripted)
    yield scripted
    h.services.registry.register("simulated", None)


async def chat(h: Harness, headers: dict[str, str], message: str = "Why is the sky blue?",
               status: int = 200, **body: Any) -> dict[str, Any]:
    response = await h.client.post("/v1/chat", headers=headers,
                                   json={"message": message, **body})
    assert response.status_code == status, response.text
    data: dict[str, Any] = response.json()
    return data


async def events(h: Harness, headers: dict[str, str], message: str = "Why is the sky blue?",
                 **body: Any) -> list[tuple[str, dict[str, Any]]]:
    """The SSE events of a streamed chat, in order, as (name, payload)."""
    return await stream_events(h.client, "/v1/chat", {"message": message, **body}, headers)
