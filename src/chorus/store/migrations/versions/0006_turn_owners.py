"""Running turns: the instance that owns a question until its answer is stored, the question an
answer replies to, and the instances' heartbeats (chorus.store.instances).

Revision ID: 0006
"""

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"


def upgrade() -> None:
    op.add_column("messages", sa.Column("reply_to", sa.Integer))
    op.add_column("messages", sa.Column("owner", sa.String(40)))
    # Only running questions have an owner: the partial index stays as small as they are few.
    op.create_index("ix_messages_owner", "messages", ["owner"],
                    postgresql_where=sa.text("owner IS NOT NULL"),
                    sqlite_where=sa.text("owner IS NOT NULL"))
    op.create_table(
        "instances",
        sa.Column("id", sa.String(40), primary_key=True),
        sa.Column("started_at", sa.DateTime, nullable=False),
        sa.Column("beat_at", sa.DateTime, nullable=False),
    )


def downgrade() -> None:
    op.drop_table("instances")
    op.drop_index("ix_messages_owner", "messages")
    op.drop_column("messages", "owner")
    op.drop_column("messages", "reply_to")
