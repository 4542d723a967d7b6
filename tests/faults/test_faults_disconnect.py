"""A client that goes away: upstream calls stop and the question still gets a recorded end."""

from __future__ import annotations

import asyncio
import socket
import time
from collections.abc import Iterator
from typing import Any

import httpx2 as httpx
import orjson
import pytest
import sqlalchemy as sa

from chorus.app import create_app
from chorus.config import load_settings
from chorus.store import Store
from chorus.store.db import create_engine
from chorus.store.schema import messages, sessions
from chorus.store.sessions import SessionStore
from tests.conftest import FakeUpstream, ServerThread, key_headers
from tests.faults.conftest import assert_every_question_settled, upstream_config
from tests.sse import events_as_they_come

SLOW = "small@tps=20,tokens=200"
SHORTER = "small@tps=20,tokens=30"
"""Ten seconds of answer: long enough to leave in the middle."""


@pytest.fixture
def server(tmp_path: Any, fake_llm: FakeUpstream) -> Iterator[tuple[ServerThread, str]]:
    url = f"sqlite:///{tmp_path}/disconnect.db"
    file = upstream_config(fake_llm.url, {"slow": SLOW, "shorter": SHORTER},
                           first_byte_timeout=30, total_timeout=60)
    settings = load_settings(None, database_url=url, file=file)
    with ServerThread(create_app(settings), settings) as running:
        yield running, url


async def settled_messages(database_url: str, deadline: float = 5.0) -> list[dict]:
    """The only session's messages, once its last question has an answer or a failure.

    Read from the database, not the API: polling through the API would hit the rate limit.
    """
    engine = create_engine(database_url)
    stop = time.monotonic() + deadline
    try:
        while True:
            async with engine.connect() as conn:
                rows = (await conn.execute(
                    sa.select(messages.c.role, messages.c.content, messages.c.error)
                    .order_by(messages.c.seq))).all()
                # Read after the rows: once the last answer is in, nothing writes any more.
                count = (await conn.execute(sa.select(sessions.c.message_count))).scalars().all()
            found = [{"role": r, "content": c, "error": e} for r, c, e in rows]
            if found and found[-1]["role"] == "assistant":
                assert count == [len(found)]
                return found
            if time.monotonic() > stop:
                return found
            await asyncio.sleep(0.05)
    finally:
        await engine.dispose()


async def test_leaving_mid_stream_cancels_upstream_and_records_it(
        server: tuple[ServerThread, str], fake_llm: FakeUpstream) -> None:
    running, url = server
    headers = await key_headers(url)
    question = {"message": "tell me a long story", "model": "slow", "stream": True}
    async with httpx.AsyncClient(base_url=running.url, timeout=10) as client, \
            client.stream("POST", "/v1/chat", headers=headers, json=question) as response:
        async for name, _ in events_as_they_come(response):
            if name == "message.delta":
                break
    messages = await settled_messages(url)
    assert [m["role"] for m in messages] == ["user", "assistant"]
    assert messages[1]["error"]["code"] == "cancelled"
    assert_every_question_settled(messages)
    for _ in range(100):
        if fake_llm.requests[-1]["cancelled"]:
            break
        await asyncio.sleep(0.05)
    assert fake_llm.requests[-1]["cancelled"] and not fake_llm.requests[-1]["completed"]


async def test_leaving_right_after_asking_leaves_no_dangling_question(
        server: tuple[ServerThread, str]) -> None:
    running, url = server
    headers = await key_headers(url)
    body = orjson.dumps({"message": "gone at once", "model": "slow", "stream": True})
    request = (f"POST /v1/chat HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\n"
               f"authorization: {headers['authorization']}\r\n"
               f"content-length: {len(body)}\r\n\r\n").encode() + body
    with socket.create_connection(("127.0.0.1", running.port)) as raw:
        raw.sendall(request)
        raw.shutdown(socket.SHUT_WR)
    # The server may drop the request unread, or store the question and record its end.
    assert_every_question_settled(await settled_messages(url, deadline=2.0))


async def test_leaving_a_plain_request_still_stores_its_end(
        server: tuple[ServerThread, str]) -> None:
    running, url = server
    headers = await key_headers(url)
    async with httpx.AsyncClient(base_url=running.url, timeout=0.5) as client:
        with pytest.raises(httpx.ReadTimeout):
            await client.post("/v1/chat", headers=headers,
                              json={"message": "will not wait", "model": "shorter"})
    messages = await settled_messages(url)
    assert [m["role"] for m in messages] == ["user", "assistant"]
    assert_every_question_settled(messages)


async def test_leaving_while_the_answer_is_stored_keeps_the_answer(
        tmp_path: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    """The client leaves after the last words, while the answer is being written."""
    url = f"sqlite:///{tmp_path}/late.db"
    app = create_app(load_settings(None, database_url=url, simulated_speed=0))
    original = SessionStore.add_message
    storing = asyncio.Event()

    async def slow_answer(self: SessionStore, session_id: str, role: str, *args: Any,
                          **kwargs: Any) -> Any:
        if role == "assistant":
            storing.set()
            await asyncio.sleep(0.2)
        return await original(self, session_id, role, *args, **kwargs)

    monkeypatch.setattr(SessionStore, "add_message", slow_answer)
    async with app.router.lifespan_context(app):
        headers = await key_headers(url, test=True)
        sent: list[bytes] = []
        body = orjson.dumps({"message": "short one", "stream": True})
        incoming = [{"type": "http.request", "body": body, "more_body": False}]

        async def receive() -> dict[str, Any]:
            if incoming:
                return incoming.pop(0)
            await storing.wait()
            return {"type": "http.disconnect"}

        async def send(message: dict[str, Any]) -> None:
            sent.append(message.get("body", b""))

        await app(asgi_post("/v1/chat", body, headers), receive, send)
        store = app.services.store
        deadline = time.monotonic() + 5
        while True:  # the answer is stored after the client left
            rows = await store.sessions.with_messages(*await only_session(store))
            if len(rows[1]) == 2 or time.monotonic() > deadline:
                break
            await asyncio.sleep(0.02)
    assert not any(b"message.completed" in chunk for chunk in sent)
    assert [(m.role, m.error) for m in rows[1]] == [("user", None), ("assistant", None)]
    assert rows[1][1].content


def asgi_post(path: str, body: bytes, headers: dict[str, str]) -> dict[str, Any]:
    """The scope uvicorn gives the app for a JSON POST."""
    raw = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
    raw += [(k.encode(), v.encode()) for k, v in headers.items()]
    return {"type": "http", "asgi": {"version": "3.0", "spec_version": "2.3"},
            "http_version": "1.1", "method": "POST", "scheme": "http", "path": path,
            "raw_path": path.encode(), "query_string": b"", "root_path": "",
            "server": ("127.0.0.1", 80), "client": ("127.0.0.1", 1), "headers": raw}


async def only_session(store: Store) -> tuple[str, str]:
    """(user id, session id) of the one session in the database."""
    async with store.engine.connect() as conn:
        row = (await conn.execute(sa.select(sessions.c.user_id, sessions.c.id))).one()
    return str(row[0]), str(row[1])
