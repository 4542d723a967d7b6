"""Multi-model answers in sessions, on SQLite and PostgreSQL: details stored, mode fixed."""

from __future__ import annotations

import asyncio

import sqlalchemy as sa

from chorus.store.schema import usage_records
from tests.conftest import Harness
from tests.modes.conftest import A, B, C, chat
from tests.modes.script import Reply, Script


async def test_the_answer_stores_models_used_and_details(harness: Harness) -> None:
    headers = await harness.headers()
    for body in ({"mode": "ensemble", "models": [A, B], "aggregation": "union"},
                 {"mode": "debate", "models": [A, B, C]},
                 {"mode": "council", "models": [A, B]}):
        answer = await chat(harness, headers, "Should we adopt a four-day week?", **body)
        stored = (await harness.client.get(f"/v1/sessions/{answer['session_id']}",
                                           headers=headers)).json()
        assert stored["mode"] == body["mode"]
        message = stored["messages"][1]
        assert message["content"] == answer["content"]
        assert message["models_used"] == answer["models_used"]
        assert message["details"] == answer["details"]


async def test_a_session_keeps_its_mode_and_aggregation(harness: Harness) -> None:
    headers = await harness.headers()
    first = await chat(harness, headers, "Best way to learn Go?", mode="ensemble",
                       models=[A, B], aggregation="best_of_n")
    session = first["session_id"]
    for change, param in (({"mode": "debate"}, "mode"),
                          ({"aggregation": "union"}, "aggregation"),
                          ({"mode": "smart_chat"}, "mode")):
        error = (await chat(harness, headers, "and then?", status=409, session_id=session,
                            **change))["error"]
        assert error["code"] == "session_mode_mismatch" and error["status"] == 409, param
    follow = await chat(harness, headers, "and then?", session_id=session, models=[A, C])
    assert follow["mode"] == "ensemble" and follow["details"]["aggregation"] == "best_of_n"
    stored = (await harness.client.get(f"/v1/sessions/{session}", headers=headers)).json()
    assert stored["message_count"] == 4, "refused turns store nothing"


async def test_a_session_deleted_while_its_answer_runs_keeps_the_usage_record(
        h: Harness, script: Script) -> None:
    """Every upstream call is recorded, whatever happens to the session meanwhile."""
    deleted = asyncio.Event()
    script.default = Reply("A slow answer in several words", until=deleted)
    headers = await h.headers()
    asked = asyncio.create_task(h.client.post("/v1/chat", headers=headers,
                                              json={"message": "Why?"}))
    await script.called.wait()  # the question is stored before the model is called
    listed = (await h.client.get("/v1/sessions", headers=headers)).json()["data"]
    session_id = listed[0]["id"]
    gone = await h.client.delete(f"/v1/sessions/{session_id}", headers=headers)
    assert gone.status_code == 200
    deleted.set()
    answer = await asked
    assert answer.status_code == 404, answer.text  # nowhere to store the answer
    await h.services.store.usage.flush()
    async with h.services.store.engine.connect() as conn:
        rows = list(await conn.execute(sa.select(usage_records).where(
            usage_records.c.session_id == session_id)))
    assert len(rows) == 1 and rows[0].ok and rows[0].completion_tokens > 0
