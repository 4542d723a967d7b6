"""PostgreSQL: message search reads a stored tsvector instead of recomputing one per match.

With only the expression index of 0002, ranking a word found in 100,000 of a user's messages
ran to_tsvector 200,000 times (recheck and ts_rank) and took 7 s; with the stored column, the
same search takes a fraction of that (docs/conversations.md). SQLite is unchanged.

Revision ID: 0004
"""

from alembic import op

revision = "0004"
down_revision = "0003"


def upgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute("ALTER TABLE messages ADD COLUMN content_tsv tsvector "
               "GENERATED ALWAYS AS (to_tsvector('english', content)) STORED")
    op.execute("CREATE INDEX ix_messages_content_tsv ON messages USING gin (content_tsv)")
    op.execute("DROP INDEX IF EXISTS ix_messages_content_fts")


def downgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute("CREATE INDEX ix_messages_content_fts ON messages "
               "USING gin (to_tsvector('english', content))")
    op.execute("DROP INDEX IF EXISTS ix_messages_content_tsv")
    op.execute("ALTER TABLE messages DROP COLUMN content_tsv")
