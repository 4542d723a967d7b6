"""Running summaries of long sessions: one row per session, with the watermark it covers."""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncEngine

from chorus.records import as_values, field_names, record
from chorus.store.schema import session_summaries


@record
class SummaryRow:
    session_id: str
    covered: int
    """How many of the earlier messages, from the first, the summary stands for."""
    digest: str
    """A hash of those messages: a summary of another history is not reused."""
    summary: str
    model: str
    updated_at: datetime


_COLUMNS = [session_summaries.c[name] for name in field_names(SummaryRow)]


class SummaryStore:
    def __init__(self, engine: AsyncEngine) -> None:
        self.engine = engine

    async def get(self, session_id: str) -> SummaryRow | None:
        query = sa.select(*_COLUMNS).where(session_summaries.c.session_id == session_id)
        async with self.engine.connect() as conn:
            row = (await conn.execute(query)).first()
        return SummaryRow(*row) if row is not None else None

    async def put(self, row: SummaryRow) -> None:
        """Write the session's summary; two writers racing both succeed, the last one stays."""
        values = as_values(row)
        update = (session_summaries.update()
                  .where(session_summaries.c.session_id == row.session_id).values(**values))
        try:
            async with self.engine.begin() as conn:
                if (await conn.execute(update)).rowcount == 0:
                    await conn.execute(session_summaries.insert().values(**values))
        except IntegrityError:
            async with self.engine.begin() as conn:
                await conn.execute(update)
