"""The Sessions API, field for field as the seed shows it, on SQLite and PostgreSQL."""

from __future__ import annotations

import re
from datetime import datetime, timedelta

import sqlalchemy as sa

from chorus.store.schema import sessions as sessions_table
from tests.conftest import Harness

ISO = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$")
SUMMARY_FIELDS = {"id", "title", "mode", "message_count", "created_at", "updated_at"}


async def chat(h: Harness, headers: dict[str, str], message: str, **extra: object) -> dict:
    response = await h.client.post("/v1/chat", headers=headers,
                                   json={"message": message, **extra})
    assert response.status_code == 200, response.text
    return response.json()


async def test_list_shape_matches_the_seed(harness: Harness) -> None:
    headers = await harness.headers()
    await chat(harness, headers, "What is quantum computing?")
    body = (await harness.client.get("/v1/sessions", headers=headers)).json()
    assert set(body) == {"object", "data", "has_more", "total"}
    assert body["object"] == "list" and body["has_more"] is False and body["total"] == 1
    (summary,) = body["data"]
    assert set(summary) == SUMMARY_FIELDS
    assert summary["id"].startswith("sess_") and len(summary["id"]) >= 5 + 16
    assert summary["title"] == "What is quantum computing?"
    assert summary["mode"] == "smart_chat"
    assert summary["message_count"] == 2
    assert ISO.match(summary["created_at"]) and ISO.match(summary["updated_at"])


async def test_get_returns_every_message_in_order(harness: Harness) -> None:
    headers = await harness.headers()
    first = await chat(harness, headers, "What is quantum computing?")
    await chat(harness, headers, "Can you elaborate on that?", session_id=first["session_id"])
    response = await harness.client.get(f"/v1/sessions/{first['session_id']}", headers=headers)
    body = response.json()
    assert SUMMARY_FIELDS | {"messages"} <= set(body)
    assert body["message_count"] == 4
    roles = [m["role"] for m in body["messages"]]
    assert roles == ["user", "assistant", "user", "assistant"]
    assert [m["content"] for m in body["messages"][::2]] == [
        "What is quantum computing?", "Can you elaborate on that?"]
    for message in body["messages"]:
        assert message["id"].startswith("msg_") and ISO.match(message["created_at"])
        if message["role"] == "assistant":
            assert message["models_used"] == [first["models_used"][0]]
            assert message["content"]
        else:
            assert set(message) == {"id", "role", "content", "created_at"}


async def test_pagination_newest_first_with_has_more_and_total(harness: Harness) -> None:
    headers = await harness.headers()
    ids = [(await chat(harness, headers, f"question number {i}"))["session_id"]
           for i in range(5)]
    seen: list[str] = []
    for offset in (0, 2, 4):
        page = (await harness.client.get(f"/v1/sessions?limit=2&offset={offset}",
                                         headers=headers)).json()
        assert page["total"] == 5
        assert page["has_more"] is (offset + 2 < 5)
        seen += [s["id"] for s in page["data"]]
    assert seen == ids[::-1]
    beyond = (await harness.client.get("/v1/sessions?offset=10", headers=headers)).json()
    assert beyond["data"] == [] and beyond["has_more"] is False and beyond["total"] == 5
    default = (await harness.client.get("/v1/sessions", headers=headers)).json()
    assert len(default["data"]) == 5


async def test_default_limit_is_twenty_and_max_is_one_hundred(harness: Harness) -> None:
    headers = await harness.headers()
    user = harness.services.store.users
    principal = await harness.services.auth.resolve(headers["authorization"])
    assert (await user.get(principal.user.id)).name
    for i in range(23):
        await harness.services.store.sessions.create(principal.user.id, f"s{i}", "smart_chat",
                                                     None)
    page = (await harness.client.get("/v1/sessions", headers=headers)).json()
    assert len(page["data"]) == 20 and page["has_more"] is True and page["total"] == 23
    page = (await harness.client.get("/v1/sessions?limit=100", headers=headers)).json()
    assert len(page["data"]) == 23 and page["has_more"] is False


async def test_bad_limit_and_offset_are_400_in_the_envelope(harness: Harness) -> None:
    headers = await harness.headers()
    for query in ("limit=0", "limit=101", "limit=-1", "limit=abc", "offset=-1", "offset=x",
                  "limit=1.5"):
        response = await harness.client.get(f"/v1/sessions?{query}", headers=headers)
        assert response.status_code == 400, query
        error = response.json()["error"]
        assert error["code"] == "invalid_request" and error["status"] == 400
        assert query.split("=")[0] in error["message"]


async def test_patch_renames_and_bumps_updated_at(harness: Harness) -> None:
    headers = await harness.headers()
    session_id = (await chat(harness, headers, "Python best practices"))["session_id"]
    past = datetime(2025, 1, 15, 10, 30)
    async with harness.services.store.engine.begin() as conn:
        await conn.execute(sa.update(sessions_table).where(sessions_table.c.id == session_id)
                           .values(created_at=past, updated_at=past + timedelta(minutes=5)))
    response = await harness.client.patch(f"/v1/sessions/{session_id}", headers=headers,
                                          json={"title": "Updated Session Title"})
    assert response.status_code == 200
    body = response.json()
    assert set(body) == SUMMARY_FIELDS
    assert body["title"] == "Updated Session Title"
    assert body["created_at"] == "2025-01-15T10:30:00Z"
    assert body["updated_at"] > "2025-01-15T10:35:00Z"
    assert body["message_count"] == 2
    got = (await harness.client.get(f"/v1/sessions/{session_id}", headers=headers)).json()
    assert got["title"] == "Updated Session Title"


async def test_patch_title_must_be_1_to_200_characters(harness: Harness) -> None:
    headers = await harness.headers()
    session_id = (await chat(harness, headers, "hello there"))["session_id"]
    for body in ({"title": ""}, {"title": "x" * 201}, {}, {"title": 5}, {"title": "   "}):
        response = await harness.client.patch(f"/v1/sessions/{session_id}", headers=headers,
                                              json=body)
        assert response.status_code == 400, body
        assert response.json()["error"]["code"] == "invalid_request"
    ok = await harness.client.patch(f"/v1/sessions/{session_id}", headers=headers,
                                    json={"title": "x" * 200})
    assert ok.status_code == 200 and ok.json()["title"] == "x" * 200


async def test_delete_removes_the_session_and_its_messages(harness: Harness) -> None:
    headers = await harness.headers()
    session_id = (await chat(harness, headers, "to be deleted"))["session_id"]
    response = await harness.client.delete(f"/v1/sessions/{session_id}", headers=headers)
    assert response.json() == {"id": session_id, "object": "session.deleted", "deleted": True}
    again = await harness.client.get(f"/v1/sessions/{session_id}", headers=headers)
    assert again.status_code == 404 and again.json()["error"]["code"] == "not_found"
    second = await harness.client.delete(f"/v1/sessions/{session_id}", headers=headers)
    assert second.status_code == 404
    async with harness.services.store.engine.connect() as conn:
        left = (await conn.execute(sa.text(
            "SELECT count(*) FROM messages WHERE session_id = :s"), {"s": session_id})).scalar()
    assert left == 0
    listing = (await harness.client.get("/v1/sessions", headers=headers)).json()
    assert listing["total"] == 0


async def test_users_see_only_their_own_sessions(harness: Harness) -> None:
    alice, bob = await harness.headers(), await harness.headers()
    session_id = (await chat(harness, alice, "alice's secret plan"))["session_id"]
    assert (await harness.client.get("/v1/sessions", headers=bob)).json()["total"] == 0
    missing = await harness.client.get("/v1/sessions/sess_doesnotexist", headers=bob)
    for response in (
        await harness.client.get(f"/v1/sessions/{session_id}", headers=bob),
        await harness.client.patch(f"/v1/sessions/{session_id}", headers=bob,
                                   json={"title": "mine now"}),
        await harness.client.delete(f"/v1/sessions/{session_id}", headers=bob),
        await harness.client.post("/v1/chat", headers=bob,
                                  json={"message": "hi", "session_id": session_id}),
    ):
        assert response.status_code == 404
        assert response.json()["error"]["code"] == missing.json()["error"]["code"]
    still = (await harness.client.get(f"/v1/sessions/{session_id}", headers=alice)).json()
    assert still["title"] == "alice's secret plan" and still["message_count"] == 2


async def test_a_question_with_images_shows_them_without_their_bytes(harness: Harness) -> None:
    """An https image is kept as its URL; a data: image only by its type and size."""
    headers = await harness.headers()
    png = "data:image/png;base64," + "iVBORw0KGgo" + "A" * 1000
    answer = await harness.client.post("/v1/chat", headers=headers, json={"message": [
        {"type": "text", "text": "What is in these pictures?"},
        {"type": "image_url", "image_url": {"url": "https://example.com/cat.png"}},
        {"type": "image_url", "image_url": {"url": png}}]})
    assert answer.status_code == 200, answer.text
    assert "image" in answer.json()["content"].lower()
    session = (await harness.client.get(f"/v1/sessions/{answer.json()['session_id']}",
                                        headers=headers)).json()
    question = session["messages"][0]
    assert question["content"] == "What is in these pictures?"
    assert question["images"] == [{"url": "https://example.com/cat.png", "detail": None},
                                  {"media_type": "image/png", "bytes": 758}]
