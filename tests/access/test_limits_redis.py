"""The shared Redis limiter: exact counts across processes, and answering on when Redis is gone."""

from __future__ import annotations

import asyncio
import logging
import shutil
import socket
import subprocess
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from chorus import limits
from chorus.limits.local import LocalLimiter
from chorus.limits.shared import RedisLimiter, where
from tests.conftest import REDIS_URL, harness_for, unavailable
from tests.processes import free_port

pytestmark = pytest.mark.redis


@pytest.fixture
async def redis_url() -> AsyncIterator[str]:
    """The test Redis; every key a test writes there is deleted afterwards."""
    import redis.asyncio as redis

    client = redis.Redis.from_url(REDIS_URL, socket_connect_timeout=1, socket_timeout=1)
    try:
        await client.ping()
    except (redis.RedisError, OSError) as exc:
        await client.aclose()
        unavailable("Redis", exc)
    yield REDIS_URL
    await client.aclose()


@pytest.fixture
async def prefix(redis_url: str) -> AsyncIterator[str]:
    import redis.asyncio as redis

    name = f"chorus-test-{uuid.uuid4().hex[:12]}"
    yield name
    client = redis.Redis.from_url(redis_url)
    keys = [key async for key in client.scan_iter(f"{name}:*")]
    if keys:
        await client.delete(*keys)
    await client.aclose()


def limiter(url: str, prefix: str, **kwargs: float) -> RedisLimiter:
    # A generous timeout: on a loaded machine a 0.5 s call timeout would fail over to the
    # in-process fallback and split the count; the fallback is tested on its own below.
    return RedisLimiter(url, prefix, fallback=LocalLimiter(), **{"timeout": 5.0, **kwargs})


async def test_two_limiters_share_one_exact_count(redis_url: str, prefix: str) -> None:
    pair = [limiter(redis_url, prefix), limiter(redis_url, prefix)]  # two pools: two processes
    try:
        windows = await asyncio.gather(*(pair[i % 2].hit("key_x", 60) for i in range(100)))
        allowed = [w for w in windows if w.allowed]
        assert len(allowed) == 60
        assert sorted(w.remaining for w in allowed) == list(range(60))  # every count distinct
        assert all(w.remaining == 0 for w in windows if not w.allowed)
        assert max(w.ends for w in windows) - time.time() <= 60
        limit, remaining, reset = await pair[1].peek("key_x", 60)
        assert (limit, remaining) == (60, 0) and abs(reset - max(w.reset for w in windows)) <= 1
        assert await pair[0].peek("key_y", 60) == (60, 60, pytest.approx(time.time() + 60,
                                                                          abs=2))
        assert all(one.healthy for one in pair) and await pair[0].check()
    finally:
        for one in pair:
            await one.close()


async def test_two_limiters_share_one_exact_quota(redis_url: str, prefix: str) -> None:
    pair = [limiter(redis_url, prefix), limiter(redis_url, prefix)]
    period = limits.Period.current()
    try:
        takes = await asyncio.gather(*(pair[i % 2].take_query("usr_q", 10, period)
                                       for i in range(30)))
        assert sum(t.allowed for t in takes) == 10
        assert sorted(t.used for t in takes if t.allowed) == list(range(1, 11))
        assert await pair[0].queries_used("usr_q", period) == 10  # refused ones are free
        await pair[1].return_query("usr_q", period)
        assert (await pair[0].take_query("usr_q", 10, period)).allowed
        assert not (await pair[1].take_query("usr_q", 10, period)).allowed
        assert await pair[0].queries_used("usr_q:test", period) == 0
    finally:
        for one in pair:
            await one.close()


async def test_unreachable_redis_falls_back_to_this_process_and_says_so(
        caplog: pytest.LogCaptureFixture) -> None:
    url = f"redis://:secret-password@127.0.0.1:{free_port()}/0"
    down = limiter(url, "chorus", timeout=0.2)
    try:
        with caplog.at_level(logging.WARNING, logger="chorus.limits.shared"):
            windows = [await down.hit("key_d", 2) for _ in range(3)]
            assert [w.allowed for w in windows] == [True, True, False]  # still limited, locally
            assert not down.healthy and not await down.check()
            period = limits.Period.current()
            assert (await down.take_query("usr_d", 1, period)).allowed
            assert not (await down.take_query("usr_d", 1, period)).allowed
            assert (await down.peek("key_d", 2))[:2] == (2, 0)
        errors = [r for r in caplog.records if r.levelno >= logging.ERROR]
        assert len(errors) == 1, "the outage is logged once, not per request"
        assert "unreachable" in errors[0].getMessage()
        assert "secret-password" not in caplog.text
        assert where(url).startswith("127.0.0.1:")
    finally:
        await down.close()


class RedisProcess:
    """A private redis-server a test may stop and start again on the same port."""

    def __init__(self, binary: str, directory: Path) -> None:
        self.port = free_port()
        self.command = [binary, "--port", str(self.port), "--save", "", "--appendonly", "no",
                        "--dir", str(directory)]
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        self.process = subprocess.Popen(self.command, stdout=subprocess.DEVNULL,
                                        stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            with socket.socket() as sock:
                if sock.connect_ex(("127.0.0.1", self.port)) == 0:
                    return
            time.sleep(0.02)
        raise RuntimeError("redis-server did not start")

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            self.process.wait(5)


@pytest.fixture
def own_redis(tmp_path: Path) -> Iterator[RedisProcess]:
    binary = shutil.which("redis-server")
    if binary is None:
        unavailable("redis-server", "not installed")
    server = RedisProcess(str(binary), tmp_path)
    server.start()
    yield server
    server.stop()


async def test_redis_going_away_and_coming_back(own_redis: RedisProcess) -> None:
    url = f"redis://127.0.0.1:{own_redis.port}/0"
    shared = limiter(url, "chorus", timeout=0.2, retry_seconds=0.2)
    try:
        assert [(await shared.hit("key_r", 5)).remaining for _ in range(2)] == [4, 3]
        own_redis.stop()
        fallback = await shared.hit("key_r", 5)
        assert fallback.allowed and fallback.remaining == 4  # this process's own count
        assert not shared.healthy
        own_redis.start()
        deadline = time.monotonic() + 10
        while not await shared.check():
            assert time.monotonic() < deadline, "the limiter never saw Redis come back"
            await asyncio.sleep(0.05)
        assert shared.healthy
        assert (await shared.hit("key_r", 5)).remaining == 4  # a fresh Redis, a fresh window
    finally:
        await shared.close()


async def test_the_app_answers_while_redis_is_unreachable(tmp_path: Path) -> None:
    url = f"redis://127.0.0.1:{free_port()}/0"
    async with harness_for(f"sqlite:///{tmp_path}/down.db", redis_url=url) as h:
        assert h.services.limiter.backend == "redis"
        headers = await h.headers()
        for _ in range(3):
            answer = await h.client.post("/v1/chat", headers=headers, json={"message": "hi"})
            assert answer.status_code == 200
            assert answer.headers["x-ratelimit-limit"] == "60"
        assert answer.headers["x-ratelimit-remaining"] == "57"
        assert not h.services.limiter.healthy
