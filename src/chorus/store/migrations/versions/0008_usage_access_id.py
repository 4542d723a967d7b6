"""Usage records keep the request id of the access log (the client's X-Request-ID when it sent
one) beside their own: a bill line joins the log line of its request.

Revision ID: 0008
"""

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"


def upgrade() -> None:
    op.add_column("usage_records", sa.Column("access_request_id", sa.String(128)))
    op.create_index("ix_usage_access_request", "usage_records", ["access_request_id"])


def downgrade() -> None:
    op.drop_index("ix_usage_access_request", "usage_records")
    op.drop_column("usage_records", "access_request_id")
