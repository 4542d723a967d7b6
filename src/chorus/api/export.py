"""Session export: `GET /v1/sessions/{id}/export?format=json|markdown`, as a download."""

from __future__ import annotations

import re
from typing import Annotated, Literal

import orjson
from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import Response

from chorus.api import JSONBytes, services_of
from chorus.api.sessions import message_json, summary
from chorus.auth import Principal, principal
from chorus.store.ids import iso, utcnow
from chorus.store.sessions import MessageRow, SessionRow
from chorus.types import JSON

router = APIRouter(prefix="/v1/sessions", tags=["sessions"])

ExportFormat = Literal["json", "markdown"]
_UNSAFE = re.compile(r"[^A-Za-z0-9]+")


def export_json(session: SessionRow, messages: list[MessageRow]) -> JSON:
    """The session as GET returns it, plus what a re-import would need."""
    return {"object": "session.export", "exported_at": iso(utcnow()), **summary(session),
            "aggregation": session.aggregation,
            "messages": [message_json(m) for m in messages]}


def export_markdown(session: SessionRow, messages: list[MessageRow]) -> str:
    mode = session.mode + (f" ({session.aggregation})" if session.aggregation else "")
    lines = [f"# {session.title}", "",
             f"- Session: `{session.id}`", f"- Mode: {mode}",
             f"- Created: {iso(session.created_at)}", f"- Updated: {iso(session.updated_at)}",
             f"- Messages: {session.message_count}", ""]
    for message in messages:
        lines += ["---", "", *_message_markdown(message)]
    return "\n".join(lines).rstrip() + "\n"


def _message_markdown(message: MessageRow) -> list[str]:
    when = iso(message.created_at)
    if message.role != "assistant":
        return [f"### {message.role.capitalize()} · {when}", "", message.content, ""]
    models = ", ".join(message.models_used or []) or "no model"
    lines = [f"### Assistant · {models} · {when}", ""]
    if message.error is not None:
        lines += [f"> Failed: {message.error.get('message', message.error)}", ""]
    if message.content:
        lines += [message.content, ""]
    if message.details:
        text = orjson.dumps(message.details, option=orjson.OPT_INDENT_2).decode()
        fence = "`" * max(3, _longest_backtick_run(text) + 1)
        lines += ["<details><summary>Details</summary>", "", f"{fence}json", text, fence, "",
                  "</details>", ""]
    return lines


def _longest_backtick_run(text: str) -> int:
    return max((len(run) for run in re.findall(r"`+", text)), default=0)


def _filename(session: SessionRow, extension: str) -> str:
    slug = _UNSAFE.sub("-", session.title).strip("-").lower()[:60].rstrip("-")
    return f"{slug or session.id}.{extension}"


EXPORTS: dict[int | str, dict[str, object]] = {200: {
    "description": "the session as JSON, or as Markdown with format=markdown",
    "content": {"application/json": {"schema": {"type": "object"}},
                "text/markdown": {"schema": {"type": "string"}}}}}


@router.get("/{session_id}/export", response_model=None, responses=EXPORTS)
async def export_session(
    request: Request,
    session_id: str,
    caller: Annotated[Principal, Depends(principal)],
    format: Annotated[ExportFormat, Query()] = "json",
) -> Response:
    sessions = services_of(request).store.sessions
    session, messages = await sessions.with_messages(caller.user.id, session_id)
    if format == "markdown":
        disposition = f'attachment; filename="{_filename(session, "md")}"'
        return Response(export_markdown(session, messages), media_type="text/markdown",
                        headers={"content-disposition": disposition})
    disposition = f'attachment; filename="{_filename(session, "json")}"'
    return JSONBytes(export_json(session, messages),
                     headers={"content-disposition": disposition})
