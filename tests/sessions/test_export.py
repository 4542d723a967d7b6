"""Session export: JSON round-trips what GET shows; Markdown is readable; errors are 4xx."""

from __future__ import annotations

from tests.conftest import Harness

DETAILS = {"aggregation": "synthesis", "members": [
    {"model": "gpt-4o", "status": "ok", "content": "```py\nprint(1)\n```"}]}


async def _session(h: Harness, headers: dict[str, str]) -> str:
    first = await h.client.post("/v1/chat", headers=headers,
                                json={"message": "How do I print in Python?"})
    session = str(first.json()["session_id"])
    store = h.services.store.sessions
    await store.add_message(session, "user", "And with\n\n# a heading inside?")
    await store.add_message(session, "assistant", "Use `print`.", models_used=["gpt-4o"],
                            details=DETAILS)
    await store.add_message(session, "user", "one more")
    await store.add_message(session, "assistant", "", models_used=[],
                            error={"code": "upstream_error", "message": "boom", "status": 502})
    return session


async def test_json_export_round_trips_the_conversation(harness: Harness) -> None:
    headers = await harness.headers()
    session = await _session(harness, headers)
    response = await harness.client.get(f"/v1/sessions/{session}/export?format=json",
                                        headers=headers)
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/json"
    assert response.headers["content-disposition"] == (
        'attachment; filename="how-do-i-print-in-python.json"')
    exported = response.json()
    shown = (await harness.client.get(f"/v1/sessions/{session}", headers=headers)).json()
    assert exported["object"] == "session.export" and exported["exported_at"].endswith("Z")
    assert exported["aggregation"] is None
    for key in ("id", "title", "mode", "message_count", "created_at", "updated_at", "messages"):
        assert exported[key] == shown[key], key
    messages = exported["messages"]
    assert [m["role"] for m in messages] == ["user", "assistant"] * 3
    assert messages[2]["content"] == "And with\n\n# a heading inside?"
    assert messages[3]["models_used"] == ["gpt-4o"] and messages[3]["details"] == DETAILS
    assert messages[5]["error"]["message"] == "boom"
    assert all(m["created_at"].endswith("Z") for m in messages)
    default = await harness.client.get(f"/v1/sessions/{session}/export", headers=headers)
    assert default.json()["messages"] == messages


async def test_markdown_export_is_readable(harness: Harness) -> None:
    headers = await harness.headers()
    session = await _session(harness, headers)
    response = await harness.client.get(f"/v1/sessions/{session}/export?format=markdown",
                                        headers=headers)
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/markdown")
    assert response.headers["content-disposition"].endswith('.md"')
    text = response.text
    assert text.startswith("# How do I print in Python?\n")
    assert f"- Session: `{session}`" in text and "- Mode: smart_chat" in text
    assert text.count("### User · ") == 3 and text.count("### Assistant · ") == 3
    assert "### Assistant · gpt-4o · " in text and "Use `print`." in text
    assert "And with\n\n# a heading inside?" in text
    assert "> Failed: boom" in text
    # the details hold a ``` fence, so the block around them needs a longer one
    assert "<details><summary>Details</summary>" in text and "````json" in text


async def test_export_errors(harness: Harness) -> None:
    alice, bob = await harness.headers(), await harness.headers()
    session = await _session(harness, alice)
    bad = await harness.client.get(f"/v1/sessions/{session}/export?format=pdf", headers=alice)
    assert bad.status_code == 400 and bad.json()["error"]["code"] == "invalid_request"
    for headers in (bob, alice):
        missing = await harness.client.get("/v1/sessions/sess_nope/export", headers=headers)
        assert missing.status_code == 404
    other = await harness.client.get(f"/v1/sessions/{session}/export", headers=bob)
    assert other.status_code == 404 and other.json()["error"]["code"] == "not_found"
