"""Custom personas: each user's own system prompts, addressed by an id of their choice."""

from __future__ import annotations

from collections.abc import Collection
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine

from chorus.errors import InvalidRequest, NotFound
from chorus.records import as_values, field_names, record
from chorus.store.caps import insert_capped
from chorus.store.ids import utcnow
from chorus.store.schema import personas


@record
class PersonaRow:
    user_id: str
    id: str
    name: str
    description: str
    system_prompt: str
    created_at: datetime


_COLUMNS = [personas.c[name] for name in field_names(PersonaRow)]


class PersonaStore:
    def __init__(self, engine: AsyncEngine) -> None:
        self.engine = engine

    async def all(self, user_id: str) -> list[PersonaRow]:
        query = (sa.select(*_COLUMNS).where(personas.c.user_id == user_id)
                 .order_by(personas.c.created_at, personas.c.id))
        async with self.engine.connect() as conn:
            return [PersonaRow(*r) for r in await conn.execute(query)]

    async def some(self, user_id: str, ids: Collection[str]) -> list[PersonaRow]:
        if not ids:
            return []
        query = sa.select(*_COLUMNS).where(personas.c.user_id == user_id,
                                           personas.c.id.in_(list(ids)))
        async with self.engine.connect() as conn:
            return [PersonaRow(*r) for r in await conn.execute(query)]

    async def create(self, user_id: str, persona_id: str, name: str, description: str,
                     system_prompt: str, cap: int) -> PersonaRow:
        """A new persona, unless the user has `cap` of them already (checked atomically)."""
        row = PersonaRow(user_id, persona_id, name, description, system_prompt, utcnow())
        values = as_values(row)
        try:
            async with self.engine.begin() as conn:
                added = await insert_capped(conn, personas, values,
                                            personas.c.user_id == user_id, cap, user_id)
        except sa.exc.IntegrityError as exc:
            raise InvalidRequest(f"persona {persona_id!r} already exists; delete it first",
                                 param="id") from exc
        if not added:
            raise InvalidRequest(f"at most {cap} custom personas; delete one first")
        return row

    async def update(self, user_id: str, persona_id: str, changes: dict[str, str]
                     ) -> PersonaRow:
        """The persona with `changes` (name, description, system_prompt) applied; 404 if the
        user has no persona of that id."""
        async with self.engine.begin() as conn:
            if changes:
                await conn.execute(personas.update().where(
                    personas.c.user_id == user_id, personas.c.id == persona_id).values(**changes))
            found = (await conn.execute(sa.select(*_COLUMNS).where(
                personas.c.user_id == user_id, personas.c.id == persona_id))).first()
        if found is None:
            raise NotFound(f"persona {persona_id!r} not found", param="id")
        return PersonaRow(*found)

    async def delete(self, user_id: str, persona_id: str) -> None:
        async with self.engine.begin() as conn:
            result = await conn.execute(personas.delete().where(
                personas.c.user_id == user_id, personas.c.id == persona_id))
        if result.rowcount == 0:
            raise NotFound(f"persona {persona_id!r} not found", param="id")
