"""`GET /v1/usage`: this month's queries, tokens and cost against the tier's limits."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Annotated

from fastapi import APIRouter, Depends, Request

from chorus.api import JSONBytes
from chorus.app import Services
from chorus.auth import Principal, principal
from chorus.store.ids import iso, utcnow
from chorus.store.usage import UsageGroup, recent_requests, summary
from chorus.types import JSON

router = APIRouter(prefix="/v1", tags=["usage"])

RATE_WINDOW = timedelta(minutes=1)


def month_of(moment: datetime) -> tuple[datetime, datetime]:
    """The calendar month (UTC) holding `moment`, as [start, end)."""
    start = moment.replace(day=1, hour=0, minute=0, second=0, microsecond=0)
    if start.month == 12:
        return start, start.replace(year=start.year + 1, month=1)
    return start, start.replace(month=start.month + 1)


def group_json(key: str, group: UsageGroup) -> JSON:
    return {key: group.name, "queries": group.queries, "calls": group.calls,
            "failed_calls": group.failed_calls,
            "tokens": {"input": group.prompt_tokens, "output": group.completion_tokens},
            "cost_usd": round(group.cost_usd, 8)}


async def rate_limit_of(services: Services, caller: Principal, now: datetime) -> JSON:
    """The key's per-minute limit, and what is left of it by the requests recorded lately."""
    tier = services.settings.tiers.get(caller.user.tier)
    limit = tier.requests_per_minute if tier else None
    if limit is None:
        return {"limit": None, "remaining": None, "reset": None}
    used, earliest = await recent_requests(services.store.engine, caller.user.id,
                                           caller.key.id, now - RATE_WINDOW)
    reset = (earliest + RATE_WINDOW) if earliest is not None else now
    return {"limit": limit, "remaining": max(0, limit - used),
            "reset": iso(reset + timedelta(seconds=1) if reset.microsecond else reset)}


@router.get("/usage")
async def usage(request: Request,
                caller: Annotated[Principal, Depends(principal)]) -> JSONBytes:
    services: Services = request.app.state.services
    now = utcnow()
    start, end = month_of(now)
    tier = services.settings.tiers.get(caller.user.tier)
    found = await summary(services.store.engine, caller.user.id, start, end)
    return JSONBytes({
        "object": "usage",
        "tier": caller.user.tier,
        "period": {"start": iso(start), "end": iso(end)},
        "queries": {"used": found.queries,
                    "limit": tier.queries_per_period if tier else None},
        "rate_limit": await rate_limit_of(services, caller, now),
        "tokens": {"input": found.prompt_tokens, "output": found.completion_tokens},
        "cost_usd": round(found.cost_usd, 8),
        "by_model": [group_json("model", g) for g in found.by_model],
        "by_mode": [group_json("mode", g) for g in found.by_mode],
    })
