"""Tiers, rate limits and query quotas: what a key may do, and the limiter that counts it.

A user's requests are counted in fixed one-minute windows that start at the first request
(all of the user's live keys together, and their test keys apart), so minting keys does not
multiply the limit; a user's chat queries are counted per calendar month (UTC). The counts
live in Redis when CHORUS_REDIS_URL is set (shared by every server process), else in this
process.
"""

from __future__ import annotations

import math
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Protocol

from chorus.auth import Principal
from chorus.config import Settings, TierConfig
from chorus.errors import TierRequired
from chorus.records import record

WINDOW_SECONDS = 60


@record
class Allowance:
    """What one key may do: its tier's limits, lowered for sk_test_ keys."""

    tier: str
    modes: frozenset[str]
    requests_per_minute: int | None
    queries_per_period: int | None
    custom_personas: bool
    max_keys: int | None


def _lowest(a: int | None, b: int | None) -> int | None:
    if a is None:
        return b
    return a if b is None else min(a, b)


def tier_of(settings: Settings, principal: Principal) -> TierConfig:
    tier = settings.tiers.get(principal.user.tier)
    if tier is None:
        raise TierRequired(f"this account's tier {principal.user.tier!r} is not configured "
                           "on this server; ask its operator")
    return tier


def allowance(settings: Settings, principal: Principal) -> Allowance:
    tier = tier_of(settings, principal)
    rpm, queries = tier.requests_per_minute, tier.queries_per_period
    if principal.test:
        caps = settings.file.test_keys
        rpm = _lowest(rpm, caps.requests_per_minute)
        queries = _lowest(queries, caps.queries_per_period)
    return Allowance(principal.user.tier, frozenset(tier.modes), rpm, queries,
                     tier.custom_personas, tier.max_keys)


def check_mode(settings: Settings, principal: Principal, mode: str) -> None:
    """403 tier_required unless the caller's tier includes `mode`."""
    if mode not in tier_of(settings, principal).modes:
        raise TierRequired(f"the {mode} mode is not part of the {principal.user.tier} tier",
                           param="mode")


def check_custom_personas(settings: Settings, principal: Principal) -> None:
    """403 tier_required unless the caller's tier may create custom personas."""
    if not tier_of(settings, principal).custom_personas:
        raise TierRequired(f"custom personas are not part of the {principal.user.tier} tier")


def quota_bucket(principal: Principal) -> str:
    """Queries are counted per user; a test key's simulated ones apart from real ones."""
    return f"{principal.user.id}:test" if principal.test else principal.user.id


def rate_bucket(principal: Principal) -> str:
    """Requests per minute are counted per user, not per key: a user who mints keys must not
    multiply the limit. Test keys have a window of their own, as they have limits of their own."""
    return quota_bucket(principal)


def bucket_owner(bucket: str) -> tuple[str, bool]:
    """The user id of a quota bucket, and whether it counts their test keys' queries."""
    user_id, _, test = bucket.partition(":")
    return user_id, test == "test"


@record
class Period:
    """A quota period: one calendar month, UTC."""

    start: datetime
    end: datetime

    @classmethod
    def containing(cls, moment: datetime) -> Period:
        start = datetime(moment.year, moment.month, 1, tzinfo=UTC)
        year, month = (moment.year + 1, 1) if moment.month == 12 else (moment.year,
                                                                          moment.month + 1)
        return cls(start, datetime(year, month, 1, tzinfo=UTC))

    @classmethod
    def current(cls) -> Period:
        return cls.containing(datetime.now(UTC))

    @property
    def key(self) -> str:
        return f"{self.start:%Y-%m}"

    @property
    def end_epoch(self) -> int:
        return int(self.end.timestamp())


def seconds_until(epoch: float, now: float | None = None) -> int:
    """Whole seconds to wait for `epoch`, at least 1: a Retry-After value."""
    return max(1, math.ceil(epoch - (time.time() if now is None else now)))


@record
class Window:
    """A rate-limit window after one request: allowed or not, and what is left."""

    allowed: bool
    limit: int
    remaining: int
    ends: float  # epoch seconds at which the window ends

    @property
    def reset(self) -> int:
        return math.ceil(self.ends)

    def headers(self) -> dict[str, str]:
        return {"X-RateLimit-Limit": str(self.limit),
                "X-RateLimit-Remaining": str(self.remaining),
                "X-RateLimit-Reset": str(self.reset)}


@record
class QuotaTake:
    """The answer to taking one query from a user's quota for the period."""

    allowed: bool
    used: int
    limit: int


class Limiter(Protocol):
    """Counts requests and queries per bucket (`rate_bucket`, `quota_bucket`); every count
    is atomic."""

    backend: str  # "memory" or "redis"

    @property
    def healthy(self) -> bool:
        """False while the shared store is unreachable and limits are kept per process."""

    async def check(self) -> bool:
        """Probe the store now; True when it answers."""

    async def hit(self, bucket: str, limit: int) -> Window:
        """Count one request of `bucket` against `limit` per minute."""

    async def peek(self, bucket: str, limit: int) -> tuple[int, int, int]:
        """(limit, remaining, reset_epoch_seconds) of `bucket`, without counting a request."""

    async def take_query(self, bucket: str, limit: int, period: Period) -> QuotaTake:
        """Take one query if fewer than `limit` were used this period; refused ones are free."""

    async def return_query(self, bucket: str, period: Period) -> None:
        """Give back a query taken for a request that then failed."""

    async def queries_used(self, bucket: str, period: Period) -> int:
        """How many queries `bucket` has used this period."""

    async def close(self) -> None: ...


QuotaSeed = Callable[[str, Period], Awaitable[int]]
"""The queries a bucket used in a period before this process began counting them."""


def build_limiter(settings: Settings, seed: QuotaSeed | None = None) -> Limiter:
    """The shared Redis limiter when CHORUS_REDIS_URL is set, else the in-process one, whose
    quota counts start from `seed` (the usage records), so a restart does not reset them."""
    # lazy: local.py builds on the names of this module, so it is imported once they exist
    from chorus.limits.local import LocalLimiter

    local = LocalLimiter(seed=seed)
    if not settings.redis_url:
        return local
    # lazy: redis is an optional dependency (the `redis` extra), needed only with a Redis URL
    from chorus.limits.shared import RedisLimiter

    return RedisLimiter(settings.redis_url, settings.redis_prefix, fallback=local,
                        timeout=settings.redis_timeout)
