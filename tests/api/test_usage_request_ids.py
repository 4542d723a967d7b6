"""Usage records carry their own request id and the access log's: a bill line joins its log
line, even when clients reuse an X-Request-ID."""

from __future__ import annotations

import io
import uuid

import sqlalchemy as sa

from chorus.store.schema import usage_records
from tests.conftest import Harness
from tests.ops.test_ops_logs import captured, lines_of

__all__ = ["captured"]  # the fixture, imported for pytest


async def records(h: Harness, user_id: str) -> list[tuple[str, str | None]]:
    await h.services.store.usage.flush()
    async with h.services.store.engine.connect() as conn:
        found = await conn.execute(sa.select(usage_records.c.request_id,
                                             usage_records.c.access_request_id)
                                   .where(usage_records.c.user_id == user_id)
                                   .order_by(usage_records.c.id))
        return [(str(own), access) for own, access in found]


async def test_usage_records_keep_their_own_id_and_the_access_logs(
        harness: Harness, captured: io.StringIO) -> None:
    h = harness
    user = await h.services.store.users.ensure(f"ids-{uuid.uuid4().hex[:8]}", "power")
    headers = await h.headers(user=user.name)
    for _ in range(2):  # the same client id twice: two requests all the same
        response = await h.client.post("/v1/chat", headers={**headers, "x-request-id": "job-7"},
                                       json={"message": "hello"})
        assert response.status_code == 200
    unnamed = await h.client.post("/v1/chat", headers=headers, json={"message": "hi"})
    found = await records(h, user.id)
    assert len(found) == 3
    (first, a), (second, b), (third, c) = found
    assert a == b == "job-7"
    assert len({first, second, third}) == 3 and "job-7" not in (first, second, third)
    assert all(own.startswith("req_") for own in (first, second, third))
    assert c == unnamed.headers["x-request-id"] and c != third
    chats = [line for line in lines_of(captured)
             if line.get("logger") == "chorus.access" and line.get("route") == "/v1/chat"]
    assert [(line["request_id"], line["usage_request_id"]) for line in chats] == [
        ("job-7", first), ("job-7", second), (c, third)]
