"""Each dialect reads answers, streams and errors shaped as the provider's own docs show them.

A small replay server sends a fixture file back over a real socket, so the samples go through
the same HTTP path as real answers.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from chorus.config import Dialect
from chorus.errors import UpstreamError
from chorus.httpclient import Client
from chorus.providers.http import HttpProvider
from chorus.providers.registry import DIALECTS
from chorus.types import StreamEnd, TextDelta
from tests.conftest import ServerThread
from tests.providers.conftest import ask, chunks_of, complete, provider_config

FIXTURES = Path(__file__).parent / "fixtures"


@dataclass
class Replay:
    """Answers every POST with the scripted status, content type and fixture file."""

    status: int = 200
    media_type: str = "application/json"
    body: bytes = b"{}"
    headers: dict[str, str] = field(default_factory=dict)
    hits: int = 0

    def script(self, fixture: str, status: int = 200, **headers: str) -> None:
        self.body = (FIXTURES / fixture).read_bytes()
        self.status = status
        self.media_type = "text/event-stream" if fixture.endswith(".txt") else "application/json"
        self.headers = headers
        self.hits = 0

    def app(self) -> Starlette:
        async def answer(request: Request) -> Response:
            self.hits += 1
            return Response(self.body, self.status, self.headers, media_type=self.media_type)
        return Starlette(routes=[Route("/{path:path}", answer, methods=["POST"])])


@pytest.fixture(scope="module")
def replay_server() -> Iterator[tuple[str, Replay]]:
    replay = Replay()
    with ServerThread(replay.app()) as server:
        yield server.url, replay


@pytest.fixture
async def replay(replay_server: tuple[str, Replay], dialect: Dialect,
                 http_client: Client) -> tuple[HttpProvider, Replay]:
    url, script = replay_server
    provider = HttpProvider(provider_config(dialect, url, max_retries=2), DIALECTS[dialect](),
                            http_client, backoff_base=0.01)
    return provider, script


ANSWERS = {
    "openai": ("The image shows a wooden boardwalk path running through a lush green field or "
               "meadow.", (1117, 46), "stop"),
    "anthropic": ("Hi! My name is Claude.", (2095, 503), "stop"),
    "gemini": ("AI, or artificial intelligence, refers to computer systems that learn from "
               "data.", (5, 47 + 559), "stop"),
}
STREAMS = {
    "openai": (["Hello", "!"], (9, 2), "stop"),
    "anthropic": (["Hello", "!"], (25, 15), "stop"),
    "gemini": (["The", " quick brown fox", " jumps."], (8, 5 + 2), "stop"),
}


async def test_documented_answer(dialect: Dialect, replay: tuple[HttpProvider, Replay]) -> None:
    provider, script = replay
    script.script(f"{dialect}_answer.json")
    answer = await complete(provider, "m", ask(stream=False))
    text, usage, finish = ANSWERS[dialect]
    assert answer.text == text
    assert (answer.usage.prompt_tokens, answer.usage.completion_tokens) == usage
    assert answer.finish_reason == finish


async def test_documented_stream(dialect: Dialect, replay: tuple[HttpProvider, Replay]) -> None:
    provider, script = replay
    script.script(f"{dialect}_stream.txt")
    chunks = await chunks_of(provider, "m", ask(stream=True))
    pieces, usage, finish = STREAMS[dialect]
    assert [c.text for c in chunks if isinstance(c, TextDelta)] == pieces
    end = chunks[-1]
    assert isinstance(end, StreamEnd)
    assert (end.usage.prompt_tokens, end.usage.completion_tokens) == usage
    assert end.finish_reason == finish


@pytest.mark.parametrize(("dialect", "fixture", "status"), [
    ("openai", "openai_error_401.json", 401),
    ("gemini", "gemini_error_key_invalid.json", 400),
])
async def test_documented_bad_key_answers_blame_the_server_credentials(
        replay: tuple[HttpProvider, Replay], fixture: str, status: int) -> None:
    provider, script = replay
    script.script(fixture, status)
    with pytest.raises(UpstreamError) as caught:
        await complete(provider, "m", ask())
    assert "this server's credentials" in caught.value.message
    assert ("Incorrect API key provided" in caught.value.message
            or "API key not valid" in caught.value.message)
    assert script.hits == 1


@pytest.mark.parametrize("dialect", ["anthropic"])
async def test_anthropic_overloaded_529_is_retried(replay: tuple[HttpProvider, Replay]) -> None:
    provider, script = replay
    script.script("anthropic_error_529.json", 529)
    with pytest.raises(UpstreamError) as caught:
        await complete(provider, "m", ask())
    assert caught.value.message.endswith("HTTP 529: overloaded_error: Overloaded")
    assert script.hits == 3


@pytest.mark.parametrize("dialect", ["anthropic"])
async def test_anthropic_error_event_mid_stream_keeps_its_message(
        replay: tuple[HttpProvider, Replay]) -> None:
    provider, script = replay
    script.script("anthropic_stream_error.txt")
    received: list[str] = []
    with pytest.raises(UpstreamError) as caught:
        async for chunk in provider.stream("m", ask()):
            assert isinstance(chunk, TextDelta)
            received.append(chunk.text)
    assert received == ["Hello"]
    assert "overloaded_error: Overloaded" in caught.value.message
    assert script.hits == 1


@pytest.mark.parametrize("dialect", ["gemini"])
async def test_gemini_429_retry_delay_from_the_body_is_honoured(
        replay: tuple[HttpProvider, Replay]) -> None:
    provider, script = replay
    script.script("gemini_error_429.json", 429)
    with pytest.raises(UpstreamError) as caught:
        await complete(provider, "m", ask())
    assert caught.value.retry_after == 0.2
    assert "RESOURCE_EXHAUSTED: You exceeded your current quota" in caught.value.message
    assert script.hits == 3


@pytest.mark.parametrize("dialect", ["gemini"])
async def test_gemini_blocked_prompt_is_a_content_filter_finish(
        replay: tuple[HttpProvider, Replay]) -> None:
    provider, script = replay
    script.script("gemini_blocked_prompt.json")
    answer = await complete(provider, "m", ask(stream=False))
    assert (answer.text, answer.finish_reason, answer.usage.prompt_tokens) == (
        "", "content_filter", 7)
