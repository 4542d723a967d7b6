"""Finding a user's sessions by words in their titles and messages, ranked; two dialects.

SQLite uses the FTS5 tables of migration 0002 (bm25); PostgreSQL the stored tsvector of
messages (migration 0004) and an expression index on titles, both GIN (ts_rank). A session's
score is its best message's score plus twice its title's score, so a title match lifts a
session above one that only mentions the words in passing.
"""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from chorus.records import field_names, record
from chorus.store.schema import sessions
from chorus.store.sessions import SessionRow

MARK = "**"
"""Matched words in a snippet are wrapped in this (Markdown bold)."""
SNIPPET_WORDS = 16

_SESSION_COLUMNS = ", ".join(f"s.{name}" for name in field_names(SessionRow))
# Typed result columns, so timestamps come back as datetimes from a textual query too.
_RESULT_COLUMNS = (*(sessions.c[name] for name in field_names(SessionRow)),
                   sa.column("score", sa.Float), sa.column("hit"),
                   sa.column("total", sa.Integer))

_SQLITE_RANKED = sa.text(f"""
WITH hits AS (
  SELECT m.session_id AS sid, -bm25(messages_fts) AS msg_score, NULL AS title_score,
         messages_fts.rowid AS hit
  FROM messages_fts
  JOIN messages m ON m.rowid = messages_fts.rowid
  JOIN sessions s ON s.id = m.session_id
  WHERE messages_fts MATCH :query AND s.user_id = :user_id
  UNION ALL
  SELECT s.id, NULL, -2.0 * bm25(sessions_fts), NULL
  FROM sessions_fts
  JOIN sessions s ON s.rowid = sessions_fts.rowid
  WHERE sessions_fts MATCH :query AND s.user_id = :user_id
),
ranked AS (
  -- SQLite takes the bare column `hit` from the row holding max(msg_score)
  SELECT sid, coalesce(max(msg_score), 0) + coalesce(sum(title_score), 0) AS score, hit
  FROM hits GROUP BY sid
)
SELECT {_SESSION_COLUMNS}, ranked.score, ranked.hit, count(*) OVER () AS total
FROM ranked JOIN sessions s ON s.id = ranked.sid
ORDER BY ranked.score DESC, s.updated_at DESC, s.id DESC
LIMIT :limit OFFSET :offset
""").columns(*_RESULT_COLUMNS)

_SQLITE_SNIPPETS = sa.text(f"""
SELECT messages_fts.rowid, m.id,
       snippet(messages_fts, 0, '{MARK}', '{MARK}', '…', {SNIPPET_WORDS})
FROM messages_fts JOIN messages m ON m.rowid = messages_fts.rowid
WHERE messages_fts MATCH :query AND messages_fts.rowid IN :hits
""").bindparams(sa.bindparam("hits", expanding=True))

_POSTGRES_RANKED = sa.text(f"""
WITH query AS (SELECT plainto_tsquery('english', :query) AS tsq),
msg AS (
  SELECT DISTINCT ON (m.session_id) m.session_id AS sid, m.id AS hit,
         ts_rank(m.content_tsv, query.tsq) AS score
  FROM messages m JOIN sessions s ON s.id = m.session_id, query
  WHERE s.user_id = :user_id AND m.content_tsv @@ query.tsq
  ORDER BY m.session_id, score DESC, m.seq DESC
),
title AS (
  SELECT s.id AS sid, 2 * ts_rank(to_tsvector('english', s.title), query.tsq) AS score
  FROM sessions s, query
  WHERE s.user_id = :user_id AND to_tsvector('english', s.title) @@ query.tsq
),
ranked AS (
  SELECT coalesce(msg.sid, title.sid) AS sid,
         coalesce(msg.score, 0) + coalesce(title.score, 0) AS score, msg.hit
  FROM msg FULL OUTER JOIN title ON title.sid = msg.sid
)
SELECT {_SESSION_COLUMNS}, ranked.score, ranked.hit, count(*) OVER () AS total
FROM ranked JOIN sessions s ON s.id = ranked.sid
ORDER BY ranked.score DESC, s.updated_at DESC, s.id DESC
LIMIT :limit OFFSET :offset
""").columns(*_RESULT_COLUMNS)

_POSTGRES_SNIPPETS = sa.text(f"""
SELECT m.id, m.id, ts_headline('english', m.content, plainto_tsquery('english', :query),
       'StartSel={MARK}, StopSel={MARK}, MaxWords={SNIPPET_WORDS}, MinWords=6, MaxFragments=1,
        FragmentDelimiter=" … "')
FROM messages m WHERE m.id IN :hits
""").bindparams(sa.bindparam("hits", expanding=True))


@record
class SearchHit:
    session: SessionRow
    score: float
    message_id: str | None
    """The best matching message; None when only the title matched."""
    snippet: str | None


class SearchStore:
    def __init__(self, engine: AsyncEngine) -> None:
        self.engine = engine
        self.postgres = engine.dialect.name == "postgresql"

    async def search(self, user_id: str, words: list[str], limit: int, offset: int
                     ) -> tuple[list[SearchHit], int]:
        """Sessions holding every word (stemmed), best first, and how many match in all."""
        query = _postgres_query(words) if self.postgres else _fts5_query(words)
        ranked = _POSTGRES_RANKED if self.postgres else _SQLITE_RANKED
        width = len(field_names(SessionRow))
        params = {"query": query, "user_id": user_id, "limit": limit, "offset": offset}
        async with self.engine.connect() as conn:
            rows = (await conn.execute(ranked, params)).all()
            if not rows and offset > 0:
                # past the last match: the page is empty, but the total is still the total
                first = (await conn.execute(ranked, {**params, "limit": 1, "offset": 0})).all()
                total = int(first[0][-1]) if first else 0
                return [], total
            snippets = await self._snippets(conn, query, [r[width + 1] for r in rows])
        hits = []
        for row in rows:
            message_id, snippet = snippets.get(row[width + 1], (None, None))
            hits.append(SearchHit(SessionRow(*row[:width]), round(float(row[width]), 6),
                                  message_id, snippet))
        total = int(rows[0][-1]) if rows else 0
        return hits, total

    async def _snippets(self, conn: AsyncConnection, query: str, hits: list[object]
                        ) -> dict[object, tuple[str, str]]:
        """Only the page's best messages get a snippet: building one costs a re-tokenisation."""
        wanted = [hit for hit in hits if hit is not None]
        if not wanted:
            return {}
        statement = _POSTGRES_SNIPPETS if self.postgres else _SQLITE_SNIPPETS
        rows = await conn.execute(statement, {"query": query, "hits": wanted})
        return {hit: (message_id, " ".join(text.split())) for hit, message_id, text in rows}


def _fts5_query(words: list[str]) -> str:
    """Every word as a quoted FTS5 string, so no word is read as query syntax; all must match."""
    return " ".join('"' + word.replace('"', '""') + '"' for word in words)


def _postgres_query(words: list[str]) -> str:
    return " ".join(words)
