"""The shared limiter: counts in Redis, changed only by Lua scripts, so every process agrees.

Each script runs atomically inside Redis, so N processes hitting one key see one count: no
read-then-write race. If Redis cannot be reached the limiter keeps answering from the
in-process fallback (per-process limits), logs the change once, and tries Redis again after
a pause; `healthy` says which of the two is counting.
"""

from __future__ import annotations

import logging
import math
import time
from typing import Any
from urllib.parse import urlsplit

from chorus.config import ConfigError
from chorus.limits import WINDOW_SECONDS, Period, QuotaTake, Window
from chorus.limits.local import LocalLimiter

log = logging.getLogger(__name__)

# One request: count it; the first request of a window starts the window's clock.
HIT = """
local count = redis.call('INCR', KEYS[1])
local ttl = redis.call('PTTL', KEYS[1])
if ttl < 0 then
  redis.call('PEXPIRE', KEYS[1], ARGV[1])
  ttl = tonumber(ARGV[1])
end
return {count, ttl}
"""

PEEK = """
return {tonumber(redis.call('GET', KEYS[1]) or '0'), redis.call('PTTL', KEYS[1])}
"""

# One query, only while fewer than the limit were used: a refused query costs nothing.
TAKE = """
local used = tonumber(redis.call('GET', KEYS[1]) or '0')
if used >= tonumber(ARGV[1]) then
  return {0, used}
end
used = redis.call('INCR', KEYS[1])
if redis.call('PTTL', KEYS[1]) < 0 then
  redis.call('PEXPIREAT', KEYS[1], ARGV[2])
end
return {1, used}
"""

GIVE_BACK = """
local used = tonumber(redis.call('GET', KEYS[1]) or '0')
if used > 0 then
  used = redis.call('DECR', KEYS[1])
end
return {used}
"""

QUOTA_GRACE_SECONDS = 86_400  # keep a period's count a day past its end, for late returns


def where(url: str) -> str:
    """host:port/db of a Redis URL, without its password, for logs."""
    parts = urlsplit(url)
    return f"{parts.hostname}:{parts.port or 6379}{parts.path or '/0'}"


class RedisLimiter:
    backend = "redis"

    def __init__(self, url: str, prefix: str, fallback: LocalLimiter,
                 timeout: float = 0.5, retry_seconds: float = 2.0) -> None:
        try:
            import redis.asyncio as redis
            from redis.asyncio.retry import Retry
            from redis.backoff import NoBackoff
        except ImportError as exc:
            raise ConfigError("CHORUS_REDIS_URL is set but the redis package is missing: "
                              "pip install 'chorus[redis]'") from exc
        self.errors: tuple[type[BaseException], ...] = (redis.RedisError, OSError)
        # No client-side retries: a dead Redis must cost one short timeout, not several.
        self.client = redis.Redis.from_url(url, socket_timeout=timeout,
                                           socket_connect_timeout=timeout,
                                           retry=Retry(NoBackoff(), 0))
        self.where = where(url)
        self.prefix = prefix
        self.fallback = fallback
        self.retry_seconds = retry_seconds
        self._scripts = {name: self.client.register_script(text) for name, text in
                         (("hit", HIT), ("peek", PEEK), ("take", TAKE), ("give", GIVE_BACK))}
        self._healthy = True
        self._retry_at = 0.0

    @property
    def healthy(self) -> bool:
        return self._healthy

    async def check(self) -> bool:
        try:
            await self.client.ping()
        except self.errors as exc:
            self._went_down(exc)
            return False
        self._came_back()
        return True

    async def hit(self, bucket: str, limit: int) -> Window:
        answer = await self._run("hit", f"{self.prefix}:rl:{bucket}", WINDOW_SECONDS * 1000)
        if answer is None:
            return await self.fallback.hit(bucket, limit)
        count, ttl_ms = answer
        return Window(count <= limit, limit, max(0, limit - count),
                      time.time() + ttl_ms / 1000)

    async def peek(self, bucket: str, limit: int) -> tuple[int, int, int]:
        answer = await self._run("peek", f"{self.prefix}:rl:{bucket}")
        if answer is None:
            return await self.fallback.peek(bucket, limit)
        count, ttl_ms = answer
        if ttl_ms < 0:
            return limit, limit, math.ceil(time.time() + WINDOW_SECONDS)
        return limit, max(0, limit - count), math.ceil(time.time() + ttl_ms / 1000)

    async def take_query(self, bucket: str, limit: int, period: Period) -> QuotaTake:
        expire_ms = (period.end_epoch + QUOTA_GRACE_SECONDS) * 1000
        answer = await self._run("take", self._quota_key(bucket, period), limit, expire_ms)
        if answer is None:
            return await self.fallback.take_query(bucket, limit, period)
        taken, used = answer
        return QuotaTake(bool(taken), used, limit)

    async def return_query(self, bucket: str, period: Period) -> None:
        if await self._run("give", self._quota_key(bucket, period)) is None:
            await self.fallback.return_query(bucket, period)

    async def queries_used(self, bucket: str, period: Period) -> int:
        answer = await self._run("peek", self._quota_key(bucket, period))
        if answer is None:
            return await self.fallback.queries_used(bucket, period)
        return answer[0]

    async def close(self) -> None:
        await self.client.aclose()
        await self.fallback.close()

    def _quota_key(self, bucket: str, period: Period) -> str:
        return f"{self.prefix}:q:{period.key}:{bucket}"

    async def _run(self, script: str, key: str, *args: int) -> list[int] | None:
        """The script's answer, or None while Redis is unreachable."""
        if not self._healthy and time.monotonic() < self._retry_at:
            return None
        try:
            answer: Any = await self._scripts[script](keys=[key], args=list(args))
        except self.errors as exc:
            self._went_down(exc)
            return None
        self._came_back()
        return [int(value) for value in answer]

    def _went_down(self, exc: BaseException) -> None:
        self._retry_at = time.monotonic() + self.retry_seconds
        if self._healthy:
            self._healthy = False
            log.error("Redis at %s is unreachable (%s: %s); rate limits and quotas are now "
                      "counted per process until it is back", self.where,
                      type(exc).__name__, exc)

    def _came_back(self) -> None:
        if not self._healthy:
            self._healthy = True
            log.warning("Redis at %s is reachable again; limits are shared again", self.where)
