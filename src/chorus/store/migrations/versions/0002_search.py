"""Full-text search over session titles and messages: FTS5 on SQLite, GIN on PostgreSQL.

Revision ID: 0002
"""

from alembic import op

revision = "0002"
down_revision = "0001"

# External-content FTS5 tables hold only the index, not a second copy of the text; triggers keep
# them in step with every insert, delete and edit, whoever makes it (the API, a purge, a script).
# Empty contents (a failed answer) are not indexed; the delete trigger mirrors that condition,
# because deleting a row an external-content index never held corrupts the index.
_TOKENIZE = "porter unicode61 remove_diacritics 2"
_SQLITE = [
    f"CREATE VIRTUAL TABLE messages_fts USING fts5(content, content='messages', "
    f"tokenize='{_TOKENIZE}')",
    f"CREATE VIRTUAL TABLE sessions_fts USING fts5(title, content='sessions', "
    f"tokenize='{_TOKENIZE}')",
    """CREATE TRIGGER messages_fts_insert AFTER INSERT ON messages WHEN new.content <> '' BEGIN
         INSERT INTO messages_fts(rowid, content) VALUES (new.rowid, new.content);
       END""",
    """CREATE TRIGGER messages_fts_delete AFTER DELETE ON messages WHEN old.content <> '' BEGIN
         INSERT INTO messages_fts(messages_fts, rowid, content)
         VALUES ('delete', old.rowid, old.content);
       END""",
    """CREATE TRIGGER messages_fts_update AFTER UPDATE OF content ON messages BEGIN
         INSERT INTO messages_fts(messages_fts, rowid, content)
         SELECT 'delete', old.rowid, old.content WHERE old.content <> '';
         INSERT INTO messages_fts(rowid, content)
         SELECT new.rowid, new.content WHERE new.content <> '';
       END""",
    """CREATE TRIGGER sessions_fts_insert AFTER INSERT ON sessions BEGIN
         INSERT INTO sessions_fts(rowid, title) VALUES (new.rowid, new.title);
       END""",
    """CREATE TRIGGER sessions_fts_delete AFTER DELETE ON sessions BEGIN
         INSERT INTO sessions_fts(sessions_fts, rowid, title)
         VALUES ('delete', old.rowid, old.title);
       END""",
    """CREATE TRIGGER sessions_fts_update AFTER UPDATE OF title ON sessions BEGIN
         INSERT INTO sessions_fts(sessions_fts, rowid, title)
         VALUES ('delete', old.rowid, old.title);
         INSERT INTO sessions_fts(rowid, title) VALUES (new.rowid, new.title);
       END""",
]
# 'rebuild' reads the content tables, so rows written before this revision are indexed too;
# it skips nothing, so empty messages are removed again to match what the triggers maintain.
_SQLITE_FILL = [
    "INSERT INTO messages_fts(messages_fts) VALUES ('rebuild')",
    "INSERT INTO sessions_fts(sessions_fts) VALUES ('rebuild')",
    """INSERT INTO messages_fts(messages_fts, rowid, content)
       SELECT 'delete', rowid, content FROM messages WHERE content = ''""",
]
# Expression indexes: no stored tsvector column to keep in step, and the queries in
# chorus.store.search spell the same expressions so the planner uses them.
_POSTGRES = [
    "CREATE INDEX ix_messages_content_fts ON messages "
    "USING gin (to_tsvector('english', content))",
    "CREATE INDEX ix_sessions_title_fts ON sessions USING gin (to_tsvector('english', title))",
]


def upgrade() -> None:
    name = op.get_bind().dialect.name
    statements = _SQLITE + _SQLITE_FILL if name == "sqlite" else _POSTGRES
    for statement in statements:
        op.execute(statement)


def downgrade() -> None:
    if op.get_bind().dialect.name != "sqlite":
        op.execute("DROP INDEX IF EXISTS ix_messages_content_fts")
        op.execute("DROP INDEX IF EXISTS ix_sessions_title_fts")
        return
    for trigger in ("messages_fts_insert", "messages_fts_delete", "messages_fts_update",
                    "sessions_fts_insert", "sessions_fts_delete", "sessions_fts_update"):
        op.execute(f"DROP TRIGGER IF EXISTS {trigger}")
    op.execute("DROP TABLE IF EXISTS messages_fts")
    op.execute("DROP TABLE IF EXISTS sessions_fts")
