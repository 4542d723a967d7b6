"""Sessions and their messages: one row per message, ordered by a per-session sequence."""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from chorus.errors import NotFound
from chorus.records import as_values, field_names, record
from chorus.store.ids import new_id, utcnow
from chorus.store.schema import messages, sessions
from chorus.types import JSON

TitleSource = str
"""`auto` (from the first message), `model` (written by a model), `user` (renamed)."""


@record
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


@record
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
    reply_to: int | None = None
    """An answer's question (its `seq`)."""


@record
class RunningQuestion:
    """A stored question whose answer is not: `owner` is the instance answering it."""

    id: str
    session_id: str
    seq: int
    owner: str


INTERRUPTED: JSON = {"code": "interrupted", "status": 503,
                     "message": "the server answering this question stopped before the answer"}
"""The failure recorded for a question whose instance died (chorus.store.instances)."""


_SESSION_COLUMNS = [sessions.c[name] for name in field_names(SessionRow)]
_MESSAGE_COLUMNS = [messages.c[name] for name in field_names(MessageRow)]

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
# Each answer right after its own question, whatever order concurrent turns finished in.
_TURN_ORDER = (sa.func.coalesce(messages.c.reply_to, messages.c.seq), messages.c.seq)
_MESSAGES = (sa.select(*_MESSAGE_COLUMNS)
             .where(messages.c.session_id == sa.bindparam("session_id")).order_by(*_TURN_ORDER))
_INSERT_MESSAGE = messages.insert()


def _session_not_found(session_id: str) -> NotFound:
    return NotFound(f"session {session_id!r} not found", param="session_id")


class SessionStore:
    def __init__(self, engine: AsyncEngine, instance_id: str | None = None) -> None:
        self.engine = engine
        self.instance_id = instance_id
        """Owner of the questions this process answers (chorus.store.instances)."""

    async def create(self, user_id: str, title: str, mode: str, aggregation: str | None,
                     session_id: str | None = None) -> SessionRow:
        now = utcnow()
        row = SessionRow(session_id or new_id("sess"), user_id, title, "auto", mode,
                         aggregation, 0, now, now)
        async with self.engine.begin() as conn:
            await conn.execute(sessions.insert().values(**as_values(row)))
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

    async def add_question(self, session_id: str, content: str, role: str = "user",
                           details: JSON | None = None) -> MessageRow:
        """Store the message a turn answers (a question, or the last tool result) as running
        on this instance until `add_message` answers it."""
        return await self.add_message(session_id, role, content, details=details,
                                      owner=self.instance_id)

    async def add_message(self, session_id: str, role: str, content: str, *,
                          models_used: list[str] | None = None, details: JSON | None = None,
                          error: JSON | None = None, reply_to: int | None = None,
                          owner: str | None = None) -> MessageRow:
        """Append a message; the counter update orders concurrent writers into one sequence.

        An answer (or failure) names its question by `reply_to`, which ends that question's
        ownership in the same transaction.
        """
        async with self.engine.begin() as conn:
            row = await _append(conn, session_id, role, content, models_used, details, error,
                                reply_to, owner)
            if row is None:
                raise _session_not_found(session_id)
        return row

    async def orphans(self, live: sa.Select[str]) -> list[RunningQuestion]:
        """Questions still owned by an instance that the query `live` does not list."""
        query = (sa.select(messages.c.id, messages.c.session_id, messages.c.seq,
                           messages.c.owner)
                 .where(messages.c.owner.is_not(None), messages.c.owner.not_in(live)))
        async with self.engine.connect() as conn:
            return [RunningQuestion(*row) for row in await conn.execute(query)]

    async def interrupt(self, question: RunningQuestion) -> bool:
        """Record the `interrupted` failure of a question its owner left running; False if it
        was answered or marked meanwhile. The session's `updated_at` is left as it was."""
        async with self.engine.begin() as conn:
            taken = await conn.execute(messages.update().where(
                messages.c.id == question.id, messages.c.owner == question.owner)
                .values(owner=None))
            if not taken.rowcount:
                return False
            await _append(conn, question.session_id, "assistant", "", [], None, INTERRUPTED,
                          question.seq, None, touch=False)
        return True


async def _append(conn: AsyncConnection, session_id: str, role: str, content: str,
                  models_used: list[str] | None, details: JSON | None, error: JSON | None,
                  reply_to: int | None, owner: str | None, touch: bool = True
                  ) -> MessageRow | None:
    """The insert of `add_message` in the caller's transaction; None if the session is gone."""
    # The first update locks the session row, so concurrent writers of a session take
    # turns: the number (after the last message; retention lowers the count) and the
    # time are read only once the lock is held, and both follow the order of commits.
    found = (await conn.execute(
        sessions.update().where(sessions.c.id == session_id)
        .values(message_count=sessions.c.message_count + 1)
        .returning(sessions.c.id))).scalar()
    if found is None:
        return None
    seq = (await conn.execute(
        sa.select(sa.func.coalesce(sa.func.max(messages.c.seq), 0) + 1)
        .where(messages.c.session_id == session_id))).scalar_one()
    now = utcnow()
    if touch:
        await conn.execute(sessions.update().where(sessions.c.id == session_id)
                           .values(updated_at=now))
    if reply_to is not None:
        await conn.execute(messages.update().where(
            messages.c.session_id == session_id, messages.c.seq == reply_to,
            messages.c.owner.is_not(None)).values(owner=None))
    row = MessageRow(new_id("msg"), session_id, seq, role, content, models_used, details,
                     error, now, reply_to)
    await conn.execute(_INSERT_MESSAGE, {**as_values(row), "owner": owner})
    return row
