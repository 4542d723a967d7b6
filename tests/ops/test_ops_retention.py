"""Chat history retention: old messages and sessions are purged, recent ones kept intact."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import sqlalchemy as sa

from chorus.store.ids import utcnow
from chorus.store.retention import Purged, purge
from chorus.store.schema import messages, response_items, responses, sessions
from chorus.store.summaries import SummaryRow, SummaryStore
from tests.conftest import Harness, harness_for


async def chat(h: Harness, headers: dict[str, str], message: str,
               session_id: str | None = None) -> str:
    body: dict[str, object] = {"message": message}
    if session_id:
        body["session_id"] = session_id
    response = await h.client.post("/v1/chat", headers=headers, json=body)
    assert response.status_code == 200, response.text
    return str(response.json()["session_id"])


async def backdate(h: Harness, session_id: str, days: int, up_to_seq: int | None = None,
                   session_too: bool = True) -> None:
    """Move a session's messages (those up to `up_to_seq`, or all) `days` into the past."""
    then = utcnow() - timedelta(days=days)
    where = [messages.c.session_id == session_id]
    if up_to_seq is not None:
        where.append(messages.c.seq <= up_to_seq)
    async with h.services.store.engine.begin() as conn:
        await conn.execute(messages.update().where(*where).values(created_at=then))
        values = {"created_at": then, **({"updated_at": then} if session_too else {})}
        await conn.execute(sessions.update().where(sessions.c.id == session_id).values(**values))


async def detail(h: Harness, headers: dict[str, str], session_id: str) -> dict:
    response = await h.client.get(f"/v1/sessions/{session_id}", headers=headers)
    return response.json() if response.status_code == 200 else {"status": response.status_code}


async def test_one_pass_purges_old_history_and_keeps_the_rest(harness: Harness) -> None:
    h = harness
    headers = await h.headers()
    old = await chat(h, headers, "old question")
    await chat(h, headers, "old follow-up", old)
    mixed = await chat(h, headers, "first, long ago")
    await chat(h, headers, "second, recent", mixed)
    await chat(h, headers, "third, recent", mixed)
    split = await chat(h, headers, "asked long ago, answered now")
    await chat(h, headers, "and recent", split)
    recent = await chat(h, headers, "brand new")
    await backdate(h, old, 100)
    await backdate(h, mixed, 100, up_to_seq=2, session_too=False)
    await backdate(h, split, 100, up_to_seq=1, session_too=False)

    purged = await purge(h.services.store.engine, utcnow() - timedelta(days=90))

    assert purged == Purged(sessions=1, messages=4 + 2 + 2)
    assert await detail(h, headers, old) == {"status": 404}
    kept = await detail(h, headers, mixed)
    assert kept["message_count"] == len(kept["messages"]) == 4
    assert [m["content"] for m in kept["messages"][::2]] == ["second, recent", "third, recent"]
    # The answer of an old question goes with it: no conversation starts with an answer.
    after_split = await detail(h, headers, split)
    assert [m["role"] for m in after_split["messages"]] == ["user", "assistant"]
    assert after_split["messages"][0]["content"] == "and recent"
    assert (await detail(h, headers, recent))["message_count"] == 2
    # A purged session goes on: new messages follow the kept ones, the count stays exact.
    await chat(h, headers, "fourth", mixed)
    again = await detail(h, headers, mixed)
    assert again["message_count"] == len(again["messages"]) == 6
    assert [m["content"] for m in again["messages"][::2]] == [
        "second, recent", "third, recent", "fourth"]
    assert await purge(h.services.store.engine, utcnow() - timedelta(days=90)) == Purged()


async def test_nothing_of_purged_history_is_left_anywhere(harness: Harness) -> None:
    h = harness
    headers = await h.headers()
    old = await chat(h, headers, "forget me entirely")
    mixed = await chat(h, headers, "hello there")
    await chat(h, headers, "forget this old question about cooking and a zebra", mixed)
    await chat(h, headers, "keep this one", mixed)
    summaries = SummaryStore(h.services.store.engine)
    for session_id in (old, mixed):
        await summaries.put(SummaryRow(session_id, 2, "d" * 64, "they asked to forget",
                                       "gpt-4o-mini", utcnow()))
    await backdate(h, old, 400)
    await backdate(h, mixed, 400, up_to_seq=4, session_too=False)
    await purge(h.services.store.engine, utcnow() - timedelta(days=90))
    async with h.services.store.engine.connect() as conn:
        left = (await conn.execute(sa.select(sa.func.count()).select_from(messages)
                                   .where(messages.c.session_id == old))).scalar_one()
    assert left == 0
    assert await summaries.get(old) is None and await summaries.get(mixed) is None
    found = await h.client.get("/v1/sessions/search", headers=headers,
                               params={"q": "zebra"})
    assert found.status_code == 200 and found.json()["data"] == []
    kept = await h.client.get("/v1/sessions/search", headers=headers, params={"q": "keep"})
    assert len(kept.json()["data"]) == 1


async def test_the_lifespan_task_purges_periodically(tmp_path: object) -> None:
    async with harness_for(f"sqlite:///{tmp_path}/r.db", retention_days=30,
                           retention_interval=0.05) as h:
        headers = await h.headers()
        old = await chat(h, headers, "stale")
        fresh = await chat(h, headers, "fresh")
        await backdate(h, old, 31)
        for _ in range(100):
            if (await detail(h, headers, old)) == {"status": 404}:
                break
            await asyncio.sleep(0.05)
        assert await detail(h, headers, old) == {"status": 404}
        assert (await detail(h, headers, fresh))["message_count"] == 2
        text = (await h.client.get("/metrics")).text
        assert 'chorus_retention_purged_total{kind="sessions"} 1.0' in text


async def test_zero_days_keeps_everything(tmp_path: object) -> None:
    async with harness_for(f"sqlite:///{tmp_path}/r.db", retention_days=0,
                           retention_interval=0.05) as h:
        headers = await h.headers()
        old = await chat(h, headers, "keep me")
        await backdate(h, old, 10_000)
        await asyncio.sleep(0.3)
        assert (await detail(h, headers, old))["message_count"] == 2


async def test_old_stored_responses_go_with_their_messages(harness: Harness) -> None:
    h = harness
    headers = await h.headers()
    old = (await h.client.post("/v1/responses", headers=headers,
                               json={"model": "gpt-4o", "input": "old question"})).json()
    new = (await h.client.post("/v1/responses", headers=headers, json={
        "model": "gpt-4o", "input": "new question"})).json()
    await backdate(h, old["konnect"]["session_id"], 100, session_too=False)
    async with h.services.store.engine.begin() as conn:
        await conn.execute(responses.update().where(responses.c.id == old["id"])
                           .values(created_at=utcnow() - timedelta(days=100)))
    await purge(h.services.store.engine, utcnow() - timedelta(days=90))
    gone = await h.client.get(f"/v1/responses/{old['id']}", headers=headers)
    assert gone.status_code == 404
    assert (await h.client.get(f"/v1/responses/{new['id']}", headers=headers)).status_code \
        == 200
    async with h.services.store.engine.connect() as conn:
        items = (await conn.execute(sa.select(response_items.c.id).where(
            response_items.c.response_id == old["id"]))).all()
    assert items == []


async def test_no_purge_transaction_deletes_more_than_a_batch(harness: Harness) -> None:
    h = harness
    headers = await h.headers()
    long_ago = await chat(h, headers, "question 1")
    for n in range(2, 7):
        await chat(h, headers, f"question {n}", long_ago)
    others = [await chat(h, headers, f"another {n}") for n in range(3)]
    for session_id in (long_ago, *others):
        await backdate(h, session_id, 100)
    deleted: list[int] = []

    def count_deletes(conn: object, cursor: object, statement: str, *_: object) -> None:
        if statement.lstrip().upper().startswith("DELETE FROM MESSAGES"):
            deleted.append(int(getattr(cursor, "rowcount", 0)))

    sync_engine = h.services.store.engine.sync_engine
    sa.event.listen(sync_engine, "after_cursor_execute", count_deletes)
    try:
        purged = await purge(h.services.store.engine, utcnow() - timedelta(days=90), batch=2)
    finally:
        sa.event.remove(sync_engine, "after_cursor_execute", count_deletes)
    assert purged == Purged(sessions=4, messages=12 + 3 * 2)
    assert sum(deleted) == 18 and max(deleted) <= 2


async def test_old_messages_are_found_by_an_index(harness: Harness) -> None:
    def indexes(conn: sa.Connection) -> dict[str, list[str | None]]:
        return {str(index["name"]): list(index["column_names"])
                for index in sa.inspect(conn).get_indexes("messages")}

    async with harness.services.store.engine.connect() as conn:
        found = await conn.run_sync(indexes)
    assert found["ix_messages_created"] == ["created_at"]
