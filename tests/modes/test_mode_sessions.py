"""Multi-model answers in sessions, on SQLite and PostgreSQL: details stored, mode fixed."""

from __future__ import annotations

from tests.conftest import Harness
from tests.modes.conftest import A, B, C, chat


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
