"""Two real server processes sharing PostgreSQL and Redis enforce one rate limit exactly."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import uuid
from collections.abc import Iterator
from contextlib import ExitStack
from pathlib import Path

import httpx2 as httpx
import pytest

from tests.conftest import REDIS_URL, unavailable
from tests.processes import CLI, free_port, wait_until_up

pytestmark = [pytest.mark.redis, pytest.mark.postgres, pytest.mark.slow]

def redis_reachable() -> None:
    import redis

    client = redis.Redis.from_url(REDIS_URL, socket_connect_timeout=1, socket_timeout=1)
    try:
        client.ping()
    except (redis.RedisError, OSError) as exc:
        unavailable("Redis", exc)
    finally:
        client.close()


class ServerProcess:
    """`chorus serve` in a subprocess on a free port; its output goes to a log file."""

    def __init__(self, env: dict[str, str], log: Path) -> None:
        self.port = free_port()
        self.log = log
        self.process = subprocess.Popen(
            [sys.executable, "-c", CLI, "serve", "--port", str(self.port)],
            env=env, stdout=log.open("wb"), stderr=subprocess.STDOUT)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def wait_ready(self) -> None:
        wait_until_up(f"{self.url}/healthz", self.process, output=self.log.read_text)

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


@pytest.fixture
def two_servers(postgres_url: str, tmp_path: Path) -> Iterator[tuple[list[str], str]]:
    """Two servers over one database and one Redis, and a power-tier live key."""
    redis_reachable()
    env = {**os.environ, "CHORUS_DATABASE_URL": postgres_url, "CHORUS_REDIS_URL": REDIS_URL,
           "CHORUS_REDIS_PREFIX": f"chorus-test-{uuid.uuid4().hex[:12]}",
           "CHORUS_REDIS_TIMEOUT": "5",  # a loaded CI machine must not fail over mid-test
           "CHORUS_LOG_LEVEL": "warning", "PYTHONPATH": os.pathsep.join(sys.path)}
    env.pop("CHORUS_CONFIG", None)
    created = subprocess.run(
        [sys.executable, "-c", CLI, "keys", "create", "--user", f"u-{uuid.uuid4().hex[:8]}",
         "--tier", "power"], env=env, capture_output=True, text=True, timeout=60, check=True)
    secret = created.stdout.strip().splitlines()[-1]
    assert secret.startswith("sk_live_")
    with ExitStack() as stack:
        servers = [ServerProcess(env, tmp_path / f"server{i}.log") for i in range(2)]
        for server in servers:
            stack.callback(server.stop)
        for server in servers:
            server.wait_ready()
        yield [s.url for s in servers], secret


async def test_a_key_gets_exactly_its_60_requests_whichever_process_it_hits(
        two_servers: tuple[list[str], str]) -> None:
    urls, secret = two_servers
    headers = {"authorization": f"Bearer {secret}"}
    async with httpx.AsyncClient(timeout=30) as client:
        async def one(i: int) -> httpx.Response:
            return await client.get(f"{urls[i % 2]}/v1/sessions", headers=headers)

        answers = await asyncio.gather(*(one(i) for i in range(100)))
    by_status = {code: [a for a in answers if a.status_code == code]
                 for code in {a.status_code for a in answers}}
    assert {code: len(found) for code, found in by_status.items()} == {200: 60, 429: 40}
    assert sorted(int(a.headers["x-ratelimit-remaining"]) for a in by_status[200]) == list(
        range(60))  # every request had its own count, whichever process answered it
    assert {a.url.port for a in by_status[200]} == {int(u.rsplit(":", 1)[1]) for u in urls}
    for refused in by_status[429]:
        assert refused.json()["error"]["code"] == "rate_limit_exceeded"
        assert 1 <= int(refused.headers["retry-after"]) <= 60
