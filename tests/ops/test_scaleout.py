"""Three `chorus serve` instances behind HAProxy on one PostgreSQL and one Redis.

The real parts, as docs/deploy.md runs them: Debian's `haproxy` (installed with apt-get when it
is missing; bench/scaleout.py has its configuration), health checks on /readyz, and a fake
upstream. A session continues through
another instance, a 60-a-minute key gets exactly 60 across the three, and SIGKILL of one
instance under load loses no answered turn while HAProxy takes the instance out.
"""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx2 as httpx
import pytest

from bench.procs import debian_tool
from bench.scaleout import config as scaleout_config
from bench.scaleout import haproxy_config, server_status
from chorus.fakellm.server import FakeLLM
from tests.conftest import REDIS_URL, ServerThread, migrated, new_key, unavailable
from tests.processes import free_port, python_path

pytestmark = [pytest.mark.postgres, pytest.mark.redis]

SLOW_MS = 2500
"""How long the slow model takes to answer: the time in which one instance is killed."""
INSTANCES = ("c1", "c2", "c3")


def haproxy() -> str:
    binary = debian_tool("haproxy")
    if binary is None:
        unavailable("HAProxy", "not installed and apt-get could not install it")
    assert binary is not None
    return binary


@dataclass
class Cluster:
    url: str
    instances: dict[str, subprocess.Popen[bytes]]
    stats: Path
    env: dict[str, str]
    fake: FakeLLM

    def key(self, tier: str) -> str:
        """A live key of a new user of `tier`."""
        return asyncio.run(new_key(self.env["CHORUS_DATABASE_URL"], tier))

    def status(self, name: str) -> str:
        """HAProxy's view of one backend server: UP, DOWN, …"""
        return server_status(self.stats, name)


def _wait_until(check: object, what: str, seconds: float = 60) -> None:
    deadline = time.monotonic() + seconds
    while True:
        try:
            if check():  # type: ignore[operator]
                return
        except (OSError, httpx.TransportError):
            pass
        if time.monotonic() > deadline:
            pytest.fail(f"{what} within {seconds:.0f}s")
        time.sleep(0.1)


def _stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(5)


@pytest.fixture(scope="module")
def cluster(postgres_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    binary = haproxy()
    try:
        import redis

        redis.Redis.from_url(REDIS_URL, socket_timeout=2).ping()
    except Exception as exc:  # any failure to reach Redis: skip (fail in CI)
        unavailable("Redis", exc)
    work = tmp_path_factory.mktemp("scaleout")
    fake = FakeLLM()
    upstream = ServerThread(fake.app()).__enter__()
    config = scaleout_config(work / "chorus.toml", upstream.url, SLOW_MS)
    env = {**os.environ, "PYTHONPATH": python_path(), "CHORUS_DATABASE_URL": postgres_url,
           "CHORUS_REDIS_URL": REDIS_URL, "CHORUS_CONFIG": str(config),
           "CHORUS_REDIS_PREFIX": f"scaleout-{uuid.uuid4().hex[:8]}",
           # A loaded CI machine must not fail over mid-test: a Redis call that timed out at
           # 0.5 s was counted by the process alone, and a 60-a-minute key got 61.
           "CHORUS_REDIS_TIMEOUT": "5",
           # A killed instance's questions are marked by the others within seconds. At 2 s,
           # a live instance stalled by a loaded CI machine was taken for dead and one of
           # its questions got `interrupted` before its answer.
           "CHORUS_HEARTBEAT_INTERVAL": "0.5", "CHORUS_INSTANCE_TIMEOUT": "6"}
    asyncio.run(migrated(postgres_url))  # once, before the instances start (docs/deploy.md)
    ports = {name: free_port() for name in INSTANCES}
    instances: dict[str, subprocess.Popen[bytes]] = {}
    processes: list[subprocess.Popen[bytes]] = []
    try:
        for name, port in ports.items():
            log = open(work / f"{name}.log", "wb")  # noqa: SIM115 - closed when the test ends
            instances[name] = subprocess.Popen(
                [sys.executable, "-m", "chorus.cli", "serve", "--port", str(port)], env=env,
                stdout=log, stderr=subprocess.STDOUT)
            log.close()
        processes += instances.values()
        front, stats = free_port(), work / "haproxy.sock"
        (work / "haproxy.cfg").write_text(haproxy_config(front, stats, ports))
        with open(work / "haproxy.log", "wb") as log:
            processes.append(subprocess.Popen([binary, "-db", "-f", str(work / "haproxy.cfg")],
                                              stdout=log, stderr=subprocess.STDOUT))
        built = Cluster(f"http://127.0.0.1:{front}", instances, stats, env, fake)
        for name in INSTANCES:
            _wait_until(lambda n=name: built.status(n) == "UP",  # type: ignore[misc]
                        f"HAProxy did not see {name} up (logs in {work})")
        yield built
    finally:
        for process in processes:
            _stop(process)
        upstream.__exit__()


def _chat(cluster: Cluster, key: str, body: dict[str, object]) -> httpx.Response:
    return httpx.post(f"{cluster.url}/v1/chat", json=body, timeout=30,
                      headers={"authorization": f"Bearer {key}"})


def test_a_session_continues_through_another_instance(cluster: Cluster) -> None:
    key = cluster.key("enterprise")
    first = _chat(cluster, key, {"message": "Remember the word tangerine.",
                                 "model": "fake-small"})
    assert first.status_code == 200, first.text
    session = first.json()["session_id"]
    second = _chat(cluster, key, {"message": "Which word?", "model": "fake-small",
                                  "session_id": session})
    assert second.status_code == 200, second.text
    assert first.headers["x-chorus-backend"] != second.headers["x-chorus-backend"]
    sent = cluster.fake.requests[-1]["body"]
    assert "tangerine" in str(sent)  # the second instance read the first turn from the store
    third = httpx.get(f"{cluster.url}/v1/sessions/{session}", timeout=30,
                      headers={"authorization": f"Bearer {key}"})
    assert [m["role"] for m in third.json()["messages"]] == ["user", "assistant"] * 2


def test_a_60_a_minute_key_gets_exactly_60_across_three_instances(cluster: Cluster) -> None:
    key = cluster.key("power")  # 60 requests a minute, counted in Redis

    async def burst() -> list[httpx.Response]:
        async with httpx.AsyncClient(headers={"authorization": f"Bearer {key}"},
                                     timeout=30) as client:
            return list(await asyncio.gather(
                *(client.get(f"{cluster.url}/v1/models") for _ in range(90))))

    answers = asyncio.run(burst())
    statuses = sorted(r.status_code for r in answers)
    assert statuses.count(200) == 60 and statuses.count(429) == 30, statuses
    # Every instance took its share of the 90 (HAProxy's round robin), so a count kept per
    # instance would have let all 90 through. Which instance's requests reach Redis first is
    # timing: a slower instance may get only refusals.
    assert {r.headers["x-chorus-backend"] for r in answers} == set(INSTANCES)


def _sessions(cluster: Cluster, key: str) -> list[list[dict[str, Any]]]:
    headers = {"authorization": f"Bearer {key}"}
    listed = httpx.get(f"{cluster.url}/v1/sessions?limit=100", headers=headers, timeout=30)
    return [httpx.get(f"{cluster.url}/v1/sessions/{s['id']}", headers=headers,
                      timeout=30).json()["messages"] for s in listed.json()["data"]]


def test_sigkill_of_one_instance_under_load(cluster: Cluster) -> None:
    """Every answered question keeps its answer, the other instances answer on, HAProxy
    takes the dead one out, and the questions the dead instance held get an `interrupted`
    failure from a live instance's sweep: no stored question is left without either."""
    key = cluster.key("enterprise")
    count = 24
    before = len(cluster.fake.requests)

    async def load() -> list[httpx.Response | Exception]:
        limits = httpx.Limits(max_connections=count, max_keepalive_connections=0)
        async with httpx.AsyncClient(headers={"authorization": f"Bearer {key}"}, timeout=60,
                                     limits=limits) as client:
            calls = [asyncio.ensure_future(client.post(
                f"{cluster.url}/v1/chat", json={"message": f"question {i}",
                                                 "model": "fake-slow"})) for i in range(count)]
            deadline = time.monotonic() + 30
            while len(cluster.fake.requests) - before < count:  # every question is stored
                assert time.monotonic() < deadline, "the questions did not reach the upstream"
                await asyncio.sleep(0.05)
            cluster.instances["c2"].send_signal(signal.SIGKILL)
            return list(await asyncio.gather(*calls, return_exceptions=True))

    results = asyncio.run(load())
    answered = {f"question {i}" for i, r in enumerate(results)
                if isinstance(r, httpx.Response) and r.status_code == 200}
    failed = {f"question {i}" for i in range(count)} - answered
    assert 0 < len(failed) < count, results  # the killed instance held some, not all
    _wait_until(lambda: cluster.status("c2").startswith("DOWN"), "HAProxy took c2 out", 10)
    after = [_chat(cluster, key, {"message": "still there?", "model": "fake-small"})
             for _ in range(6)]
    assert all(r.status_code == 200 for r in after)
    assert {r.headers["x-chorus-backend"] for r in after} == {"c1", "c3"}

    def stored() -> list[list[dict[str, Any]]]:
        return [s for s in _sessions(cluster, key) if s[0]["content"].startswith("question ")]

    _wait_until(lambda: all(len(s) == 2 for s in stored()),
                "a live instance marked the dead one's questions", 25)
    sessions = stored()
    assert {str(s[0]["content"]) for s in sessions} == answered | failed  # all were stored
    with_answer = {str(s[0]["content"]) for s in sessions
                   if s[1]["role"] == "assistant" and s[1]["content"] and "error" not in s[1]}
    assert with_answer == answered
    interrupted = {str(s[0]["content"]) for s in sessions
                   if (s[1].get("error") or {}).get("code") == "interrupted"}
    assert interrupted == failed
