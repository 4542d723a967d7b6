"""Sessions API: list, get with messages, rename, delete."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request
from pydantic import BaseModel, ConfigDict, Field

from chorus.api import JSONBytes, RequestBody, services_of
from chorus.auth import Principal, principal
from chorus.errors import InvalidRequest
from chorus.store.ids import iso
from chorus.store.sessions import MessageRow, SessionRow, SessionStore
from chorus.types import JSON

router = APIRouter(prefix="/v1/sessions", tags=["sessions"])
MAX_OFFSET = 2**31 - 1  # far past any list; a larger one would overflow the databases' integers


class SessionSummary(BaseModel):
    id: str
    title: str
    mode: str
    message_count: int
    created_at: str
    updated_at: str


class SessionList(BaseModel):
    object: str = "list"
    data: list[SessionSummary]
    has_more: bool
    total: int


class MessageOut(BaseModel):
    model_config = ConfigDict(extra="allow")

    id: str
    role: str
    content: str
    created_at: str


class SessionDetail(SessionSummary):
    messages: list[MessageOut]


class Rename(RequestBody):
    title: str = Field(min_length=1, max_length=200)


class Deleted(BaseModel):
    id: str
    object: str = "session.deleted"
    deleted: bool = True


def summary(row: SessionRow) -> JSON:
    return {"id": row.id, "title": row.title, "mode": row.mode,
            "message_count": row.message_count, "created_at": iso(row.created_at),
            "updated_at": iso(row.updated_at)}


def message_json(row: MessageRow) -> JSON:
    out: JSON = {"id": row.id, "role": row.role, "content": row.content,
                 "created_at": iso(row.created_at)}
    if row.role == "assistant":
        out["models_used"] = row.models_used or []
        out["details"] = row.details
        if row.error is not None:
            out["error"] = row.error
    elif row.details:  # a question's images; a tool result's call id and tool name
        out.update(row.details)
    return out


def _sessions(request: Request) -> SessionStore:
    store = services_of(request).store.sessions
    return store


Caller = Annotated[Principal, Depends(principal)]


# Handlers return JSONBytes: the response models document the shapes in OpenAPI, and the
# answers are built to match them, so validating thousands of messages again is skipped.


@router.get("", response_model=SessionList)
async def list_sessions(
    request: Request,
    caller: Caller,
    limit: Annotated[int, Query(ge=1, le=100)] = 20,
    offset: Annotated[int, Query(ge=0, le=MAX_OFFSET)] = 0,
) -> JSONBytes:
    rows, total = await _sessions(request).page(caller.user.id, limit, offset)
    return JSONBytes({"object": "list", "data": [summary(r) for r in rows],
                      "has_more": offset + len(rows) < total, "total": total})


@router.get("/{session_id}", response_model=SessionDetail)
async def get_session(request: Request, session_id: str, caller: Caller) -> JSONBytes:
    session, messages = await _sessions(request).with_messages(caller.user.id, session_id)
    return JSONBytes({**summary(session), "messages": [message_json(m) for m in messages]})


@router.patch("/{session_id}", response_model=SessionSummary)
async def rename_session(request: Request, session_id: str, body: Rename,
                         caller: Caller) -> JSON:
    title = " ".join(body.title.split())
    if not title:
        raise InvalidRequest("title: must contain visible characters", param="title")
    return summary(await _sessions(request).rename(caller.user.id, session_id, title))


@router.delete("/{session_id}", response_model=Deleted)
async def delete_session(request: Request, session_id: str, caller: Caller) -> JSON:
    await _sessions(request).delete(caller.user.id, session_id)
    return {"id": session_id, "object": "session.deleted", "deleted": True}
