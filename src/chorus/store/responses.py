"""Stored responses of OpenAI's Responses API: the response object as it was answered and its
input items, tied to the session that holds the conversation (deleting the session deletes
them); their output items by id, for the `item_reference` input items that name them."""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine

from chorus.errors import NotFound
from chorus.records import as_values, field_names, record
from chorus.store.schema import response_items, responses
from chorus.types import JSON


@record
class ResponseRow:
    id: str
    user_id: str
    session_id: str
    message_id: str | None
    """The session's answer message; None when the response failed."""
    body: JSON
    """The response object as the client received it."""
    input_items: list[JSON]
    """The request's input items, each with its id."""
    created_at: datetime


_COLUMNS = [responses.c[name] for name in field_names(ResponseRow)]


def response_not_found(response_id: str, param: str = "response_id") -> NotFound:
    return NotFound(f"response {response_id!r} not found", param=param)


class ResponseStore:
    def __init__(self, engine: AsyncEngine) -> None:
        self.engine = engine

    async def add(self, row: ResponseRow) -> None:
        values = as_values(row)
        outputs = [{"id": item["id"], "response_id": row.id, "user_id": row.user_id,
                    "item": item} for item in row.body.get("output", ())]
        async with self.engine.begin() as conn:
            await conn.execute(responses.insert().values(**values))
            if outputs:
                await conn.execute(response_items.insert(), outputs)

    async def output_items(self, user_id: str, item_ids: set[str]) -> dict[str, JSON]:
        """The user's stored output items among `item_ids`, by id."""
        if not item_ids:
            return {}
        query = sa.select(response_items.c.id, response_items.c.item).where(
            response_items.c.id.in_(sorted(item_ids)), response_items.c.user_id == user_id)
        async with self.engine.connect() as conn:
            return {row.id: row.item for row in await conn.execute(query)}

    async def get(self, user_id: str, response_id: str, param: str = "response_id"
                  ) -> ResponseRow:
        """The user's response; another user's is as unknown as one that never was."""
        query = sa.select(*_COLUMNS).where(responses.c.id == response_id,
                                           responses.c.user_id == user_id)
        async with self.engine.connect() as conn:
            row = (await conn.execute(query)).first()
        if row is None:
            raise response_not_found(response_id, param)
        return ResponseRow(*row)

    async def delete(self, user_id: str, response_id: str) -> None:
        async with self.engine.begin() as conn:
            result = await conn.execute(responses.delete().where(
                responses.c.id == response_id, responses.c.user_id == user_id))
        if result.rowcount == 0:
            raise response_not_found(response_id)
