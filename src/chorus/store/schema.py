"""The tables, as the migrations leave them; queries are written against these."""

from __future__ import annotations

import sqlalchemy as sa

metadata = sa.MetaData()

users = sa.Table(
    "users", metadata,
    sa.Column("id", sa.String(40), primary_key=True),
    sa.Column("name", sa.String(200), nullable=False, unique=True),
    sa.Column("tier", sa.String(40), nullable=False),
    sa.Column("settings", sa.JSON, nullable=False),
    sa.Column("created_at", sa.DateTime, nullable=False),
)

api_keys = sa.Table(
    "api_keys", metadata,
    sa.Column("id", sa.String(40), primary_key=True),
    sa.Column("user_id", sa.String(40), sa.ForeignKey("users.id", ondelete="CASCADE"),
              nullable=False, index=True),
    sa.Column("name", sa.String(200), nullable=False),
    sa.Column("prefix", sa.String(20), nullable=False),
    sa.Column("hash", sa.String(64), nullable=False, unique=True),
    sa.Column("test", sa.Boolean, nullable=False),
    sa.Column("created_at", sa.DateTime, nullable=False),
    sa.Column("last_used_at", sa.DateTime),
    sa.Column("revoked_at", sa.DateTime),
)

sessions = sa.Table(
    "sessions", metadata,
    sa.Column("id", sa.String(40), primary_key=True),
    sa.Column("user_id", sa.String(40), sa.ForeignKey("users.id", ondelete="CASCADE"),
              nullable=False),
    sa.Column("title", sa.String(200), nullable=False),
    sa.Column("title_source", sa.String(10), nullable=False),
    sa.Column("mode", sa.String(20), nullable=False),
    sa.Column("aggregation", sa.String(20)),
    sa.Column("message_count", sa.Integer, nullable=False),
    sa.Column("created_at", sa.DateTime, nullable=False),
    sa.Column("updated_at", sa.DateTime, nullable=False),
    sa.Index("ix_sessions_user_updated", "user_id", "updated_at", "id"),
)

messages = sa.Table(
    "messages", metadata,
    sa.Column("id", sa.String(40), primary_key=True),
    sa.Column("session_id", sa.String(40), sa.ForeignKey("sessions.id", ondelete="CASCADE"),
              nullable=False),
    sa.Column("seq", sa.Integer, nullable=False),
    sa.Column("role", sa.String(20), nullable=False),
    sa.Column("content", sa.Text, nullable=False),
    sa.Column("models_used", sa.JSON),
    sa.Column("details", sa.JSON),
    sa.Column("error", sa.JSON),
    sa.Column("created_at", sa.DateTime, nullable=False),
    # An answer's question (its `seq`): an answer follows its own question, whenever it came.
    sa.Column("reply_to", sa.Integer),
    # A question's running instance until its answer or failure is stored (instances.id).
    sa.Column("owner", sa.String(40)),
    sa.UniqueConstraint("session_id", "seq", name="uq_messages_session_seq"),
    sa.Index("ix_messages_created", "created_at"),
    sa.Index("ix_messages_owner", "owner", sqlite_where=sa.text("owner IS NOT NULL"),
             postgresql_where=sa.text("owner IS NOT NULL")),
)

usage_records = sa.Table(
    "usage_records", metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("request_id", sa.String(40), nullable=False),
    # The access log's id of the request (the client's X-Request-ID when it sent one).
    sa.Column("access_request_id", sa.String(128)),
    sa.Column("user_id", sa.String(40), nullable=False),
    sa.Column("key_id", sa.String(40), nullable=False),
    sa.Column("session_id", sa.String(40)),
    sa.Column("mode", sa.String(20), nullable=False),
    sa.Column("model", sa.String(200), nullable=False),
    sa.Column("provider", sa.String(100), nullable=False),
    sa.Column("prompt_tokens", sa.Integer, nullable=False),
    sa.Column("completion_tokens", sa.Integer, nullable=False),
    sa.Column("cost_usd", sa.Float, nullable=False),
    sa.Column("latency_ms", sa.Integer, nullable=False),
    sa.Column("ok", sa.Boolean, nullable=False),
    sa.Column("created_at", sa.DateTime, nullable=False),
    sa.Index("ix_usage_user_created", "user_id", "created_at"),
    sa.Index("ix_usage_access_request", "access_request_id"),
)

instances = sa.Table(
    "instances", metadata,
    sa.Column("id", sa.String(40), primary_key=True),
    sa.Column("started_at", sa.DateTime, nullable=False),
    sa.Column("beat_at", sa.DateTime, nullable=False),
)

personas = sa.Table(
    "personas", metadata,
    sa.Column("user_id", sa.String(40), sa.ForeignKey("users.id", ondelete="CASCADE"),
              primary_key=True),
    sa.Column("id", sa.String(64), primary_key=True),
    sa.Column("name", sa.String(200), nullable=False),
    sa.Column("description", sa.Text, nullable=False),
    sa.Column("system_prompt", sa.Text, nullable=False),
    sa.Column("created_at", sa.DateTime, nullable=False),
)

session_summaries = sa.Table(
    "session_summaries", metadata,
    sa.Column("session_id", sa.String(40), sa.ForeignKey("sessions.id", ondelete="CASCADE"),
              primary_key=True),
    sa.Column("covered", sa.Integer, nullable=False),
    sa.Column("digest", sa.String(64), nullable=False),
    sa.Column("summary", sa.Text, nullable=False),
    sa.Column("model", sa.String(200), nullable=False),
    sa.Column("updated_at", sa.DateTime, nullable=False),
)

responses = sa.Table(
    "responses", metadata,
    sa.Column("id", sa.String(40), primary_key=True),
    sa.Column("user_id", sa.String(40), sa.ForeignKey("users.id", ondelete="CASCADE"),
              nullable=False),
    sa.Column("session_id", sa.String(40), sa.ForeignKey("sessions.id", ondelete="CASCADE"),
              nullable=False, index=True),
    sa.Column("message_id", sa.String(40)),
    sa.Column("body", sa.JSON, nullable=False),
    sa.Column("input_items", sa.JSON, nullable=False),
    sa.Column("created_at", sa.DateTime, nullable=False),
)

response_items = sa.Table(
    "response_items", metadata,
    sa.Column("id", sa.String(40), primary_key=True),
    sa.Column("response_id", sa.String(40), sa.ForeignKey("responses.id", ondelete="CASCADE"),
              nullable=False, index=True),
    sa.Column("user_id", sa.String(40), nullable=False),
    sa.Column("item", sa.JSON, nullable=False),
)
