"""The chat doors' fast lane: a well-formed request skips FastAPI's routing and dependency
solving, and anything else gets FastAPI's own answer, word for word."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi import routing
from starlette.requests import ClientDisconnect

from chorus.api import chat, completions
from chorus.api.direct import DirectRoute, DirectRoutes, _shape, json_body
from chorus.api.middleware import read_body
from chorus.app import create_app
from chorus.config import load_settings
from tests.conftest import Harness, harness_for

CHAT = {"message": "hi"}
COMPLETION = {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "hi"}]}


@pytest.fixture
async def h(tmp_path: Path) -> AsyncIterator[Harness]:
    async with harness_for(f"sqlite:///{tmp_path}/direct.db") as harness:
        yield harness


@pytest.fixture
def solved(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[int]]:
    """How many times FastAPI's general handler solved a route's dependencies."""
    calls: list[int] = []
    original = routing.solve_dependencies

    async def counting(*args: Any, **kwargs: Any) -> Any:
        calls.append(1)
        return await original(*args, **kwargs)

    monkeypatch.setattr(routing, "solve_dependencies", counting)
    yield calls


def test_both_chat_doors_are_direct(tmp_path: Path) -> None:
    for router in (chat.router, completions.router):
        route = router.routes[0]
        assert isinstance(route, DirectRoute) and _shape(route) is not None
    app = create_app(load_settings(None, database_url=f"sqlite:///{tmp_path}/direct.db"))
    lane = app.router.middleware_stack
    assert isinstance(lane, DirectRoutes)
    assert sorted(lane.lanes) == ["/v1/chat", "/v1/chat/completions"]


@pytest.mark.parametrize(("path", "body"), [("/v1/chat", CHAT),
                                            ("/v1/chat/completions", COMPLETION)])
async def test_a_well_formed_request_goes_straight_to_its_handler(
        h: Harness, solved: list[int], path: str, body: dict[str, Any]) -> None:
    headers = await h.headers()
    answer = await h.client.post(path, headers=headers, json=body)
    assert answer.status_code == 200, answer.text
    assert solved == []
    streamed = await h.client.post(path, headers=headers, json={**body, "stream": True})
    assert streamed.status_code == 200 and "data:" in streamed.text
    assert solved == []


@pytest.mark.parametrize("path", ["/v1/chat", "/v1/chat/completions"])
async def test_anything_else_gets_fastapis_answer(h: Harness, solved: list[int],
                                                   path: str) -> None:
    headers = await h.headers()
    body = CHAT if path == "/v1/chat" else COMPLETION
    wrong_type = await h.client.post(path, headers=headers, json={**body, "stream": "yes"})
    assert wrong_type.status_code == 400
    assert wrong_type.json()["error"]["message"].startswith("stream")
    not_json = await h.client.post(path, headers={**headers, "content-type": "application/json"},
                                   content=b'{"message": ')
    assert not_json.status_code == 400
    assert not_json.json()["error"]["message"] == "the body is not valid JSON"
    as_text = await h.client.post(path, headers={**headers, "content-type": "text/plain"},
                                  content=b'{"message": "hi"}')
    assert as_text.status_code == 400
    assert len(solved) == 2, "FastAPI answered each (a JSON error before solving anything)"
    no_key = await h.client.post(path, json=body)
    assert no_key.status_code == 401
    assert no_key.json()["error"]["code"] == "invalid_api_key"


@pytest.mark.parametrize("body", [
    b'{"seed": 12345678901234567890123, "n": -9223372036854775809, "m": 18446744073709551615}',
    b'{"user": "12345678901234567890123", "temperature": 0.1, "top_p": 1e-7, "x": -0.0}',
    b'{"temperature": NaN, "top_p": Infinity, "big": 1e400}', b'{"content": "\\ud800"}',
    b'\xef\xbb\xbf{"a": 1}', '{"a": [1, "\u00e9"]}'.encode("utf-16"), b'{"a": 1, "a": 2}',
    b' {"a": {"b": [true, false, null]}} \n'])
def test_the_body_is_parsed_as_fastapi_parses_it(body: bytes) -> None:
    """orjson where it reads the same as json.loads, json.loads where it does not."""
    assert repr(json_body(body)) == repr(json.loads(body))


@pytest.mark.parametrize("body", [b"", b'{"a": ', b"[" * 100_000, b'{"a": "\xff"}'])
def test_a_body_json_refuses_is_refused(body: bytes) -> None:
    with pytest.raises((ValueError, RecursionError)):
        json.loads(body)
    with pytest.raises((ValueError, RecursionError)):
        json_body(body)


async def test_the_body_is_read_as_starlette_reads_it() -> None:
    """In parts, past other messages; a client gone before its end is Starlette's
    ClientDisconnect."""
    def receiving(*messages: dict[str, Any]) -> Any:
        queue = list(messages)

        async def receive() -> dict[str, Any]:
            return queue.pop(0)
        return receive

    parts = receiving({"type": "http.request", "body": b'{"mes', "more_body": True},
                      {"type": "lifespan.noise"},
                      {"type": "http.request", "body": b'sage": "hi"}', "more_body": True},
                      {"type": "http.request"})
    assert await read_body(parts) == b'{"message": "hi"}'
    with pytest.raises(ClientDisconnect):
        await read_body(receiving({"type": "http.request", "body": b"{", "more_body": True},
                                  {"type": "http.disconnect"}))


async def test_a_body_sent_in_chunks_takes_the_fast_lane(h: Harness, solved: list[int]) -> None:
    async def chunks() -> AsyncIterator[bytes]:
        for part in (b'{"model": "gpt-4o-mini", "messages": [{"role": "user", ', b'"content":',
                     b' "hi"}]}'):
            yield part

    answer = await h.client.post("/v1/chat/completions", content=chunks(), headers={
        **await h.headers(), "content-type": "application/json"})
    assert answer.status_code == 200, answer.text
    assert answer.json()["choices"][0]["message"]["content"]
    assert solved == []
