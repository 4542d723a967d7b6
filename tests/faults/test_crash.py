"""SIGKILL in the middle of streams: the database stays sound and completed turns are intact."""

from __future__ import annotations

import asyncio
import signal
import sqlite3
import time
from pathlib import Path

import httpx2 as httpx

from tests.processes import chorus_env, chorus_serve, create_test_key
from tests.sse import events_as_they_come


async def stream_until_killed(client: httpx.AsyncClient, body: dict[str, object],
                              started: asyncio.Event) -> str | None:
    """Stream a chat; set `started` at its first words; the session id, once announced."""
    session_id = None
    try:
        async with client.stream("POST", "/v1/chat", json={**body, "stream": True}) as response:
            assert response.status_code == 200
            async for name, data in events_as_they_come(response):
                if name == "session":
                    session_id = data["session_id"]
                if name == "message.delta":
                    started.set()
    except httpx.TransportError:
        pass
    return session_id


async def test_sigkill_mid_stream_keeps_the_database_sound(tmp_path: Path) -> None:
    database = tmp_path / "crash.db"
    env = chorus_env(database)
    headers = {"authorization": f"Bearer {create_test_key(env)}"}
    completed: dict[str, list[str]] = {}  # session id -> answers received whole
    in_flight: dict[str, str] = {}  # session id -> the question being answered at the kill

    with chorus_serve(env) as (process, url):
        async with httpx.AsyncClient(base_url=url, headers=headers, timeout=30) as client:
            async def finished_turns(questions: list[str]) -> None:
                session_id = None
                for question in questions:
                    body = {"message": question, "session_id": session_id, "max_tokens": 20}
                    answer = (await client.post("/v1/chat", json=body)).json()
                    session_id = answer["session_id"]
                    completed.setdefault(session_id, []).append(answer["content"])

            await asyncio.gather(finished_turns(["What is SQLite?", "And its WAL mode?"]),
                                 finished_turns(["Write a haiku about crashes"]))
            starts = [asyncio.Event() for _ in range(4)]
            continued = list(completed)
            questions = [(f"long question {n}: explain databases in depth",
                          continued[n] if n < len(continued) else None) for n in range(4)]
            streams = [asyncio.create_task(stream_until_killed(
                client, {"message": q, "session_id": s}, started))
                for (q, s), started in zip(questions, starts, strict=True)]
            await asyncio.wait_for(asyncio.gather(*(s.wait() for s in starts)), 30)
            process.send_signal(signal.SIGKILL)
            for (question, _), session_id in zip(questions, await asyncio.gather(*streams),
                                                 strict=True):
                assert session_id is not None
                in_flight[session_id] = question

    with sqlite3.connect(database) as db:
        assert db.execute("PRAGMA integrity_check").fetchall() == [("ok",)]

    with chorus_serve(env) as (_, url):
        async with httpx.AsyncClient(base_url=url, headers=headers, timeout=30) as client:
            listed = (await client.get("/v1/sessions")).json()
            assert listed["total"] == len(set(completed) | set(in_flight))
            for session_id in set(completed) | set(in_flight):
                detail = (await client.get(f"/v1/sessions/{session_id}")).json()
                stored = detail["messages"]
                assert detail["message_count"] == len(stored)
                answers = [m["content"] for m in stored if m["role"] == "assistant"]
                assert answers == completed.get(session_id, [])
                questions_stored = [m["content"] for m in stored if m["role"] == "user"]
                assert questions_stored[-1] == in_flight.get(session_id, questions_stored[-1])
            # The server goes on: an interrupted session takes new questions.
            interrupted = next(iter(in_flight))
            after = await client.post("/v1/chat", json={
                "message": "still there?", "session_id": interrupted, "max_tokens": 5})
            assert after.status_code == 200 and after.json()["content"]


def stored_count(database: Path, session_id: str) -> int:
    with sqlite3.connect(database) as db:
        return int(db.execute("SELECT count(*) FROM messages WHERE session_id = ?",
                              (session_id,)).fetchone()[0])


async def test_a_question_left_by_a_killed_server_is_marked_interrupted(tmp_path: Path) -> None:
    env = {**chorus_env(tmp_path / "crash.db"), "CHORUS_HEARTBEAT_INTERVAL": "0.1",
           "CHORUS_INSTANCE_TIMEOUT": "1"}
    headers = {"authorization": f"Bearer {create_test_key(env)}"}
    with chorus_serve(env) as (process, url):
        async with httpx.AsyncClient(base_url=url, headers=headers, timeout=30) as client:
            done = (await client.post("/v1/chat", json={"message": "What is SQLite?",
                                                         "max_tokens": 20})).json()
            started = asyncio.Event()
            stream = asyncio.create_task(stream_until_killed(client, {
                "message": "explain databases in depth", "session_id": done["session_id"]},
                started))
            await asyncio.wait_for(started.wait(), 30)
            process.send_signal(signal.SIGKILL)
            assert await stream == done["session_id"]

    with chorus_serve(env) as (_, url):
        async with httpx.AsyncClient(base_url=url, headers=headers, timeout=30) as client:
            deadline = time.monotonic() + 20
            while stored_count(tmp_path / "crash.db", done["session_id"]) < 4:
                assert time.monotonic() < deadline, "the question was never marked"
                await asyncio.sleep(0.1)
            detail = (await client.get(f"/v1/sessions/{done['session_id']}")).json()
    stored = detail["messages"]
    assert [m["role"] for m in stored] == ["user", "assistant", "user", "assistant"]
    assert stored[1]["content"] == done["content"] and "error" not in stored[1]
    assert stored[3]["error"]["code"] == "interrupted" and stored[3]["content"] == ""
    assert detail["message_count"] == 4
    # Marking is bookkeeping, not activity: the session keeps its place in the list.
    assert detail["updated_at"] == stored[2]["created_at"]
