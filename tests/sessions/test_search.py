"""Session search on SQLite (FTS5) and PostgreSQL (full-text): words, ranking, paging, errors."""

from __future__ import annotations

from tests.conftest import Harness

RESULT_FIELDS = {"id", "title", "mode", "message_count", "created_at", "updated_at", "score",
                 "message_id", "snippet"}


async def chat(h: Harness, headers: dict[str, str], message: str, **extra: object) -> dict:
    response = await h.client.post("/v1/chat", headers=headers,
                                   json={"message": message, **extra})
    assert response.status_code == 200, response.text
    return response.json()


async def search(h: Harness, headers: dict[str, str], query: str, **params: object) -> dict:
    response = await h.client.get("/v1/sessions/search", headers=headers,
                                  params={"q": query, **params})
    assert response.status_code == 200, response.text
    return response.json()


async def test_finds_sessions_by_words_in_messages_with_a_snippet(harness: Harness) -> None:
    headers = await harness.headers()
    await chat(harness, headers, "Tell me about birds")
    wanted = await chat(harness, headers, "What do you know about quokkas?")
    follow = await chat(harness, headers, "And where do marsupials like the quokka live?",
                        session_id=wanted["session_id"])
    body = await search(harness, headers, "quokka marsupials")
    assert body["object"] == "list" and body["total"] == 1 and body["has_more"] is False
    (hit,) = body["data"]
    assert set(hit) == RESULT_FIELDS
    assert hit["id"] == wanted["session_id"] and hit["message_count"] == 4
    assert hit["score"] > 0
    messages = (await harness.client.get(f"/v1/sessions/{hit['id']}", headers=headers)).json()
    best = next(m for m in messages["messages"] if m["id"] == hit["message_id"])
    assert "marsupials" in best["content"].lower()
    assert "**marsupials**" in hit["snippet"] and "**quokka**" in hit["snippet"].lower()
    assert follow["session_id"] == wanted["session_id"]


async def test_finds_words_in_answers_and_stems_them(harness: Harness) -> None:
    headers = await harness.headers()
    session = (await chat(harness, headers, "first question"))["session_id"]
    await harness.services.store.sessions.add_message(
        session, "assistant", "Computers were computing long before transistors.",
        models_used=["gpt-4o"], details={})
    body = await search(harness, headers, "computer transistor")
    assert [s["id"] for s in body["data"]] == [session]


async def test_title_matches_rank_first_and_every_word_must_match(harness: Harness) -> None:
    headers = await harness.headers()
    passing = (await chat(harness, headers, "cooking dinner tonight"))["session_id"]
    await chat(harness, headers, "also what about ownership in rust?", session_id=passing)
    titled = (await chat(harness, headers, "Rust ownership explained"))["session_id"]
    only_one = (await chat(harness, headers, "rust on my bike"))["session_id"]
    body = await search(harness, headers, "rust ownership")
    ids = [s["id"] for s in body["data"]]
    assert body["total"] == 2 and only_one not in ids
    assert ids[0] == titled
    assert passing in ids
    scores = [s["score"] for s in body["data"]]
    assert scores == sorted(scores, reverse=True)


async def test_paging_is_like_the_list(harness: Harness) -> None:
    headers = await harness.headers()
    for i in range(5):
        await chat(harness, headers, f"pelican question number {i}")
    await chat(harness, headers, "nothing to see")
    seen: list[str] = []
    for offset in (0, 2, 4):
        page = await search(harness, headers, "pelican", limit=2, offset=offset)
        assert page["total"] == 5 and page["has_more"] is (offset + 2 < 5)
        seen += [s["id"] for s in page["data"]]
    assert len(set(seen)) == 5
    for offset in (5, 10):  # past the last match: no data, and still the true total
        beyond = await search(harness, headers, "pelican", offset=offset)
        assert beyond["data"] == [] and beyond["total"] == 5 and beyond["has_more"] is False
    listed = await harness.client.get("/v1/sessions", headers=headers, params={"offset": 10})
    assert listed.json()["total"] == 6 and listed.json()["data"] == []  # as the list does
    assert (await search(harness, headers, "walrus", offset=10))["total"] == 0
    assert len((await search(harness, headers, "pelican"))["data"]) == 5


async def test_only_the_callers_sessions_are_found(harness: Harness) -> None:
    alice, bob = await harness.headers(), await harness.headers()
    await chat(harness, alice, "alice plans the heist of the narwhal")
    assert (await search(harness, bob, "narwhal"))["total"] == 0
    assert (await search(harness, alice, "narwhal"))["total"] == 1


async def test_renames_and_deletes_keep_the_index_in_step(harness: Harness) -> None:
    headers = await harness.headers()
    session = (await chat(harness, headers, "hello there"))["session_id"]
    renamed = await harness.client.patch(f"/v1/sessions/{session}", headers=headers,
                                         json={"title": "Axolotl husbandry"})
    assert renamed.status_code == 200
    hit = (await search(harness, headers, "axolotl"))["data"]
    assert [s["id"] for s in hit] == [session]
    assert hit[0]["message_id"] is None and hit[0]["snippet"] is None
    await harness.client.patch(f"/v1/sessions/{session}", headers=headers,
                               json={"title": "Something else"})
    assert (await search(harness, headers, "axolotl"))["total"] == 0
    assert (await search(harness, headers, "hello"))["total"] == 1
    await harness.client.delete(f"/v1/sessions/{session}", headers=headers)
    assert (await search(harness, headers, "hello"))["total"] == 0
    assert (await search(harness, headers, "else"))["total"] == 0


async def test_failed_answers_are_stored_and_search_still_works(harness: Harness) -> None:
    headers = await harness.headers()
    session = (await chat(harness, headers, "wombat facts"))["session_id"]
    store = harness.services.store.sessions
    await store.add_message(session, "user", "more wombat facts")
    await store.add_message(session, "assistant", "", models_used=[],
                            error={"code": "upstream_error", "message": "boom", "status": 502})
    assert (await search(harness, headers, "wombat"))["total"] == 1
    await harness.client.delete(f"/v1/sessions/{session}", headers=headers)
    assert (await search(harness, headers, "wombat"))["total"] == 0


async def test_search_is_not_read_as_a_session_id(harness: Harness) -> None:
    headers = await harness.headers()
    response = await harness.client.get("/v1/sessions/search?q=anything", headers=headers)
    assert response.status_code == 200 and response.json()["object"] == "list"


async def test_bad_queries_are_400_in_the_envelope(harness: Harness) -> None:
    headers = await harness.headers()
    for query in ("", "q=", "q=%20%20", "q=!!!", "q=" + "x" * 201, "q=a&limit=0",
                  "q=a&limit=101", "q=a&offset=-1", "q=" + "+w" * 33):
        response = await harness.client.get(f"/v1/sessions/search?{query}", headers=headers)
        assert response.status_code == 400, query
        error = response.json()["error"]
        assert error["code"] == "invalid_request" and error["status"] == 400
    unauthenticated = await harness.client.get("/v1/sessions/search?q=a")
    assert unauthenticated.status_code == 401


async def test_query_syntax_is_taken_as_plain_words(harness: Harness) -> None:
    headers = await harness.headers()
    session = (await chat(harness, headers, "NEAR the OR gate, AND NOT the column"))["session_id"]
    for query in ('"NEAR', "OR gate*", "column: NOT", "AND (gate)", "title:near"):
        body = await search(harness, headers, query)
        assert [s["id"] for s in body["data"]] in ([session], []), query
    assert (await search(harness, headers, 'gate" OR "x'))["total"] == 0
    assert (await search(harness, headers, "(gate) column*"))["total"] == 1
