"""Session search: `GET /v1/sessions/search`, ranked and paged like the session list.

Registered before the sessions router, so `search` is never read as a session id.
"""

from __future__ import annotations

import re
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request
from pydantic import BaseModel

from chorus.api import services_of
from chorus.api.sessions import MAX_OFFSET, SessionSummary, summary
from chorus.auth import Principal, principal
from chorus.errors import InvalidRequest
from chorus.types import JSON

router = APIRouter(prefix="/v1/sessions", tags=["sessions"])

MAX_QUERY_CHARS = 200
MAX_WORDS = 32
_WORD = re.compile(r"\w+")


class SearchResult(SessionSummary):
    score: float
    message_id: str | None
    snippet: str | None


class SearchList(BaseModel):
    object: str = "list"
    data: list[SearchResult]
    has_more: bool
    total: int


def words_of(q: str) -> list[str]:
    """The words to look for; punctuation is dropped, as both indexes drop it."""
    words = _WORD.findall(q)
    if not words:
        raise InvalidRequest("q: must contain at least one word", param="q")
    if len(words) > MAX_WORDS:
        raise InvalidRequest(f"q: at most {MAX_WORDS} words", param="q")
    return words


@router.get("/search", response_model=SearchList)
async def search_sessions(
    request: Request,
    caller: Annotated[Principal, Depends(principal)],
    q: Annotated[str, Query(min_length=1, max_length=MAX_QUERY_CHARS)],
    limit: Annotated[int, Query(ge=1, le=100)] = 20,
    offset: Annotated[int, Query(ge=0, le=MAX_OFFSET)] = 0,
) -> JSON:
    store = services_of(request).store.search
    hits, total = await store.search(caller.user.id, words_of(q), limit, offset)
    data = [{**summary(hit.session), "score": hit.score, "message_id": hit.message_id,
             "snippet": hit.snippet} for hit in hits]
    return {"object": "list", "data": data, "has_more": offset + len(hits) < total,
            "total": total}
