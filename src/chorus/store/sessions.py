"""Sessions and their messages: one row per message, ordered by a per-session sequence."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from chorus.errors import NotFound
from chorus.store.ids import new_id, utcnow
from chorus.store.schema import messages, sessions
from chorus.types import JSON

TitleSource = str
"""`auto` (from the first message), `model` (written by a model), `user` (renamed)."""


@dataclass(frozen=True, slots=True)
class SessionRow:
    id: str
    user_id: str
    title: str
    title_source: str
    mode: str
    aggregation: str | None
    message_count: int
    created_at: datetime
    updated_at: datetime


@dataclass(slots=True)  # not frozen: its __init__ cost 1.5 ms of every 1,000-message session
class MessageRow:
    id: str
    session_id: str
    seq: int
    role: str
    content: str
    models_used: list[str] | None
    details: JSON | None
    error: JSON | None
    created_at: datetime


_SESSION_COLUMNS = [sessions.c[name] for name in SessionRow.__slots__]
_MESSAGE_COLUMNS = [messages.c[name] for name in MessageRow.__slots__]

# The hot statements are built once, with bound parameters: building and keying the
# page query for every request took longer than running it (0.9 ms, bench/store.py).
_NEWEST_FIRST = (sessions.c.updated_at.desc(), sessions.c.id.desc())
_PAGE_IDS = (sa.select(sessions.c.id).where(sessions.c.user_id == sa.bindparam("user_id"))
             .order_by(*_NEWEST_FIRST).limit(sa.bindparam("limit", type_=sa.Integer))
             .offset(sa.bindparam("offset", type_=sa.Integer)).subquery())
# The offset is walked in the (user_id, updated_at, id) index alone, then only the page's rows
# are read; at offset 9,980 PostgreSQL had read and sorted every session of the user.
_PAGE = (sa.select(*_SESSION_COLUMNS).join(_PAGE_IDS, _PAGE_IDS.c.id == sessions.c.id)
         .order_by(*_NEWEST_FIRST))
_COUNT = (sa.select(sa.func.count()).select_from(sessions)
          .where(sessions.c.user_id == sa.bindparam("user_id")))
_SESSION = sa.select(*_SESSION_COLUMNS).where(sessions.c.id == sa.bindparam("session_id"),
                                              sessions.c.user_id == sa.bindparam("user_id"))
_MESSAGES = (sa.select(*_MESSAGE_COLUMNS)
             .where(messages.c.session_id == sa.bindparam("session_id")).order_by(messages.c.seq))
_INSERT_MESSAGE = messages.insert()


def _session_not_found(session_id: str) -> NotFound:
    return NotFound(f"session {session_id!r} not found", param="session_id")


class SessionStore:
    def __init__(self, engine: AsyncEngine) -> None:
        self.engine = engine

    async def create(self, user_id: str, title: str, mode: str, aggregation: str | None,
                     session_id: str | None = None) -> SessionRow:
        now = utcnow()
        row = SessionRow(session_id or new_id("sess"), user_id, title, "auto", mode,
                         aggregation, 0, now, now)
        async with self.engine.begin() as conn:
            await conn.execute(sessions.insert().values(**_as_values(row)))
        return row

    async def get(self, user_id: str, session_id: str) -> SessionRow:
        async with self.engine.connect() as conn:
            return await self._get(conn, user_id, session_id)

    async def _get(self, conn: AsyncConnection, user_id: str, session_id: str) -> SessionRow:
        row = (await conn.execute(_SESSION, {"session_id": session_id,
                                             "user_id": user_id})).first()
        if row is None:
            raise _session_not_found(session_id)
        return SessionRow(*row)

    async def page(self, user_id: str, limit: int, offset: int) -> tuple[list[SessionRow], int]:
        """Newest `updated_at` first, and how many sessions the user has in all."""
        async with self.engine.connect() as conn:
            found = await conn.execute(_PAGE, {"user_id": user_id, "limit": limit,
                                               "offset": offset})
            rows = [SessionRow(*r) for r in found]
            total = (await conn.execute(_COUNT, {"user_id": user_id})).scalar_one()
        return rows, total

    async def with_messages(self, user_id: str, session_id: str
                            ) -> tuple[SessionRow, list[MessageRow]]:
        async with self.engine.connect() as conn:
            session = await self._get(conn, user_id, session_id)
            found = await conn.execute(_MESSAGES, {"session_id": session_id})
            rows = [MessageRow(*r) for r in found]
        return session, rows

    async def rename(self, user_id: str, session_id: str, title: str,
                     source: TitleSource = "user") -> SessionRow:
        async with self.engine.begin() as conn:
            result = await conn.execute(
                sessions.update()
                .where(sessions.c.id == session_id, sessions.c.user_id == user_id)
                .values(title=title, title_source=source, updated_at=utcnow()))
            if result.rowcount == 0:
                raise _session_not_found(session_id)
            return await self._get(conn, user_id, session_id)

    async def set_model_title(self, session_id: str, title: str) -> bool:
        """Replace a first-message title; one the user chose meanwhile is left alone."""
        async with self.engine.begin() as conn:
            result = await conn.execute(
                sessions.update()
                .where(sessions.c.id == session_id, sessions.c.title_source == "auto")
                .values(title=title, title_source="model"))
        return bool(result.rowcount)

    async def delete(self, user_id: str, session_id: str) -> None:
        async with self.engine.begin() as conn:
            await self._get(conn, user_id, session_id)
            await conn.execute(messages.delete().where(messages.c.session_id == session_id))
            await conn.execute(sessions.delete().where(sessions.c.id == session_id))

    async def add_message(self, session_id: str, role: str, content: str, *,
                          models_used: list[str] | None = None, details: JSON | None = None,
                          error: JSON | None = None) -> MessageRow:
        """Append a message; the counter update orders concurrent writers into one sequence."""
        async with self.engine.begin() as conn:
            # The first update locks the session row, so concurrent writers of a session take
            # turns: the number (after the last message; retention lowers the count) and the
            # time are read only once the lock is held, and both follow the order of commits.
            found = (await conn.execute(
                sessions.update().where(sessions.c.id == session_id)
                .values(message_count=sessions.c.message_count + 1)
                .returning(sessions.c.id))).scalar()
            if found is None:
                raise _session_not_found(session_id)
            seq = (await conn.execute(
                sa.select(sa.func.coalesce(sa.func.max(messages.c.seq), 0) + 1)
                .where(messages.c.session_id == session_id))).scalar_one()
            now = utcnow()
            await conn.execute(sessions.update().where(sessions.c.id == session_id)
                               .values(updated_at=now))
            row = MessageRow(new_id("msg"), session_id, seq, role, content, models_used,
                             details, error, now)
            await conn.execute(_INSERT_MESSAGE, _as_values(row))
        return row


def _as_values(row: SessionRow | MessageRow) -> dict[str, object]:
    return {name: getattr(row, name) for name in row.__slots__}
