"""The responses of OpenAI's Responses API (`/v1/responses`): each belongs to a session; their
output items by id, for the `item_reference` input items that name them.

Revision ID: 0005
"""

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"


def upgrade() -> None:
    op.create_table(
        "responses",
        sa.Column("id", sa.String(40), primary_key=True),
        sa.Column("user_id", sa.String(40), sa.ForeignKey("users.id", ondelete="CASCADE"),
                  nullable=False),
        sa.Column("session_id", sa.String(40),
                  sa.ForeignKey("sessions.id", ondelete="CASCADE"), nullable=False),
        sa.Column("message_id", sa.String(40)),
        sa.Column("body", sa.JSON, nullable=False),
        sa.Column("input_items", sa.JSON, nullable=False),
        sa.Column("created_at", sa.DateTime, nullable=False),
    )
    op.create_index("ix_responses_session_id", "responses", ["session_id"])
    op.create_table(
        "response_items",
        sa.Column("id", sa.String(40), primary_key=True),
        sa.Column("response_id", sa.String(40),
                  sa.ForeignKey("responses.id", ondelete="CASCADE"), nullable=False),
        sa.Column("user_id", sa.String(40), nullable=False),
        sa.Column("item", sa.JSON, nullable=False),
    )
    op.create_index("ix_response_items_response_id", "response_items", ["response_id"])


def downgrade() -> None:
    op.drop_index("ix_response_items_response_id", "response_items")
    op.drop_table("response_items")
    op.drop_index("ix_responses_session_id", "responses")
    op.drop_table("responses")
