"""`GET /v1/usage`: this month's queries, tokens and cost against the tier's limits.

The totals are those of the calling key's kind: a live key sees live usage only, what would be
billed; the other kind's usage is reported apart, in `other_keys`.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Request
from pydantic import BaseModel, ConfigDict, Field

from chorus import limits
from chorus.api import JSONBytes, services_of
from chorus.auth import Principal, principal
from chorus.chat.services import Services
from chorus.limits import Allowance
from chorus.store.ids import iso
from chorus.store.usage import UsageGroup, UsageSummary, summary
from chorus.types import JSON

router = APIRouter(prefix="/v1", tags=["usage"])


class Tokens(BaseModel):
    input: int
    output: int


class Span(BaseModel):
    start: str
    end: str


class Queries(BaseModel):
    used: int
    limit: int | None = Field(description="null: unlimited")


class RateLimit(BaseModel):
    limit: int | None
    remaining: int | None
    reset: str | None


class Group(BaseModel):
    model_config = ConfigDict(extra="allow")  # `model` or `mode`, by list

    queries: int
    calls: int
    failed_calls: int
    tokens: Tokens
    cost_usd: float


class OtherKeys(BaseModel):
    """The usage of the user's other kind of keys, never part of the totals."""

    keys: Literal["live", "test"]
    queries: int
    tokens: Tokens
    cost_usd: float


class UsageReport(BaseModel):
    object: Literal["usage"]
    tier: str
    keys: Literal["live", "test"] = Field(
        description="whose usage the totals count: the user's live keys (what is billed) or "
                    "their test keys, as the calling key")
    other_keys: OtherKeys
    period: Span
    queries: Queries
    rate_limit: RateLimit
    tokens: Tokens
    cost_usd: float
    by_model: list[Group]
    by_mode: list[Group]
    by_day: list[Group]


def group_json(key: str, group: UsageGroup) -> JSON:
    return {key: group.name, "queries": group.queries, "calls": group.calls,
            "failed_calls": group.failed_calls,
            "tokens": {"input": group.prompt_tokens, "output": group.completion_tokens},
            "cost_usd": round(group.cost_usd, 8)}


async def rate_limit_of(services: Services, caller: Principal, allowed: Allowance) -> JSON:
    """The per-minute window of the caller's keys as the limiter counts it (this request
    included): one window for a user's live keys, one for their test keys."""
    if allowed.requests_per_minute is None:
        return {"limit": None, "remaining": None, "reset": None}
    limit, remaining, reset = await services.limiter.peek(limits.rate_bucket(caller),
                                                          allowed.requests_per_minute)
    return {"limit": limit, "remaining": remaining,
            "reset": iso(datetime.fromtimestamp(reset, UTC))}


def kind(test: bool) -> Literal["live", "test"]:
    return "test" if test else "live"


def other_keys_json(test: bool, found: UsageSummary) -> JSON:
    return {"keys": kind(test), "queries": found.queries,
            "tokens": {"input": found.prompt_tokens, "output": found.completion_tokens},
            "cost_usd": round(found.cost_usd, 8)}


async def queries_used(services: Services, caller: Principal, allowed: Allowance,
                       found: UsageSummary, period: limits.Period) -> int:
    """Under a quota, the limiter's count, which is what it enforces; else the records'."""
    if allowed.queries_per_period is None:
        return found.queries
    return await services.limiter.queries_used(limits.quota_bucket(caller), period)


@router.get("/usage", response_model=UsageReport)
async def usage(request: Request,
                caller: Annotated[Principal, Depends(principal)]) -> JSONBytes:
    services = services_of(request)
    allowed = limits.allowance(services.settings, caller)
    period = limits.Period.current()
    start, end = (moment.replace(tzinfo=None) for moment in (period.start, period.end))
    engine = services.store.engine
    await services.store.usage.settle()  # this process's queued records: the caller's own
    found = await summary(engine, caller.user.id, start, end, caller.test)
    other = await summary(engine, caller.user.id, start, end, not caller.test)
    return JSONBytes({
        "object": "usage",
        "tier": caller.user.tier,
        "keys": kind(caller.test),
        "other_keys": other_keys_json(not caller.test, other),
        "period": {"start": iso(start), "end": iso(end)},
        "queries": {"used": await queries_used(services, caller, allowed, found, period),
                    "limit": allowed.queries_per_period},
        "rate_limit": await rate_limit_of(services, caller, allowed),
        "tokens": {"input": found.prompt_tokens, "output": found.completion_tokens},
        "cost_usd": round(found.cost_usd, 8),
        "by_model": [group_json("model", g) for g in found.by_model],
        "by_mode": [group_json("mode", g) for g in found.by_mode],
        "by_day": [group_json("date", g) for g in found.by_day],
    })
