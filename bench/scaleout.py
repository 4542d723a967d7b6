"""Three `chorus serve` instances behind HAProxy, on one PostgreSQL and one Redis.

    ./dev bench --only scaleout
    PYTHONPATH=src:. .venv/bin/python bench/scaleout.py [--seconds 10]

Debian's `haproxy` is installed with apt-get when it is missing. Measured: requests per second
through HAProxy and the CPU each request costs the three instances together; a session started
on one instance and continued on another; how many of 90 requests a 60-a-minute key gets; and
SIGKILL of one instance under load: what the clients saw, how long HAProxy took to take the
instance out, what the store holds for every question asked, and how long after the kill the
live instances had recorded a failure for each question the dead one held (the default
`CHORUS_INSTANCE_TIMEOUT`, 30 s, and heartbeats every 5 s: up to about 35 s).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

import httpx2 as httpx

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.load import wrk
from bench.procs import CHORUS, Server, create_key, debian_tool, fake_llm, free_port

PG_URL = os.environ.get("CHORUS_BENCH_PG_URL", "postgresql://postgres@127.0.0.1:5432/test")
REDIS_URL = os.environ.get("CHORUS_BENCH_REDIS_URL", "redis://127.0.0.1:6379/0")
RECORDS_WAIT = 60.0
"""Seconds after the kill to wait for a record of every question (answer or failure)."""
INSTANCES = ("c1", "c2", "c3")
SLOW_MS = 1000
"""The slow model's time to answer under the SIGKILL load."""


def haproxy_config(port: int, stats: Path, backends: dict[str, int]) -> str:
    """The load balancer of docs/deploy.md, on loopback ports."""
    servers = "\n".join(f"    server {name} 127.0.0.1:{p} check" for name, p in backends.items())
    return f"""global
    maxconn 4096
    stats socket {stats} mode 600 level admin

defaults
    mode http
    timeout connect 2s
    timeout client 60s
    timeout server 60s
    timeout tunnel 1h
    timeout check 3s
    retries 2
    option redispatch

frontend chorus
    bind 127.0.0.1:{port}
    default_backend chorus

backend chorus
    balance roundrobin
    option httpchk GET /readyz
    http-check expect status 200
    default-server inter 300ms fall 2 rise 2
    http-response set-header X-Chorus-Backend %s
{servers}
"""


def server_status(stats: Path, name: str) -> str:
    """HAProxy's view of one backend server (UP, DOWN, …), from its stats socket."""
    with socket.socket(socket.AF_UNIX) as sock:
        sock.connect(str(stats))
        sock.sendall(b"show stat\n")
        text = b""
        while chunk := sock.recv(65536):
            text += chunk
    lines = text.decode().splitlines()
    header = lines[0].lstrip("# ").split(",")
    for line in lines[1:]:
        row = dict(zip(header, line.split(","), strict=False))
        if row.get("pxname") == "chorus" and row.get("svname") == name:
            return row["status"]
    raise LookupError(f"no server {name} in HAProxy's stats")


def seconds_until_down(stats: Path, name: str, timeout: float = 30.0) -> float:
    """How long HAProxy's health checks take to mark `name` DOWN, from now."""
    started = time.monotonic()
    while not server_status(stats, name).startswith("DOWN"):
        if time.monotonic() - started > timeout:
            raise RuntimeError(f"HAProxy still sends to {name} after {timeout:.0f} s")
        time.sleep(0.05)
    return time.monotonic() - started


@dataclass
class Cluster:
    url: str
    instances: dict[str, Server]
    haproxy: Server
    stats: Path


def config(path: Path, fake_url: str, slow_ms: int = SLOW_MS) -> Path:
    """Chorus's config for the cluster: a quick model and one answering after `slow_ms`."""
    path.write_text(f"""
[[providers]]
name = "fake"
dialect = "openai"
base_url = "{fake_url}/v1"

[[models]]
id = "fake-small"
provider = "fake"
upstream = "small"

[[models]]
id = "fake-slow"
provider = "fake"
upstream = "small@ttft_ms={slow_ms}"

[tiers.enterprise]
requests_per_minute = 1000000000
""")
    return path


def start(work: Path, fake_url: str, database_url: str, haproxy: str) -> Cluster:
    env = {"CHORUS_DATABASE_URL": database_url, "CHORUS_REDIS_URL": REDIS_URL,
           "CHORUS_REDIS_PREFIX": f"bench-{uuid.uuid4().hex[:8]}",
           "CHORUS_CONFIG": str(config(work / "scaleout.toml", fake_url))}
    subprocess.run([*CHORUS, "db", "upgrade"], env={**os.environ, **env}, check=True,
                   capture_output=True)  # once, before the instances start
    ports = {name: free_port() for name in INSTANCES}
    instances = {name: Server(name, [*CHORUS, "serve", "--port", str(port)], port, env=env,
                              ready_path="/healthz", log=work / f"{name}.log")
                 for name, port in ports.items()}
    front, stats = free_port(), work / "haproxy.sock"
    (work / "haproxy.cfg").write_text(haproxy_config(front, stats, ports))
    balancer = Server("haproxy", [haproxy, "-db", "-f", str(work / "haproxy.cfg")], front,
                      ready_path="/healthz", log=work / "haproxy.log")
    cluster = Cluster(f"http://127.0.0.1:{front}", instances, balancer, stats)
    for server in instances.values():
        server.start()
    balancer.start()
    deadline = time.monotonic() + 30
    while any(server_status(stats, n) != "UP" for n in INSTANCES):
        if time.monotonic() > deadline:
            raise RuntimeError("HAProxy did not see every instance up")
        time.sleep(0.1)
    return cluster


def continuity(cluster: Cluster, key: str) -> dict[str, object]:
    headers = {"authorization": f"Bearer {key}"}
    first = httpx.post(f"{cluster.url}/v1/chat", headers=headers, timeout=30,
                       json={"message": "Remember the word tangerine.", "model": "fake-small"})
    second = httpx.post(f"{cluster.url}/v1/chat", headers=headers, timeout=30,
                        json={"message": "Which word?", "model": "fake-small",
                              "session_id": first.json()["session_id"]})
    return {"first_turn_on": first.headers.get("x-chorus-backend"),
            "second_turn_on": second.headers.get("x-chorus-backend"),
            "continued": second.status_code == 200
            and second.json()["session_id"] == first.json()["session_id"]}


async def exact_limit(cluster: Cluster, key: str) -> dict[str, object]:
    async with httpx.AsyncClient(headers={"authorization": f"Bearer {key}"},
                                 timeout=30) as client:
        answers = await asyncio.gather(*(client.get(f"{cluster.url}/v1/models")
                                         for _ in range(90)))
    ok = [a for a in answers if a.status_code == 200]
    return {"limit": 60, "sent": 90, "answered": len(ok),
            "refused_429": sum(a.status_code == 429 for a in answers),
            "instances_answering": len({a.headers.get("x-chorus-backend") for a in ok})}


def throughput(cluster: Cluster, key: str, seconds: float) -> dict[str, object]:
    servers = list(cluster.instances.values())
    before = sum(s.cpu_seconds() for s in servers)
    balancer = cluster.haproxy.cpu_seconds()
    result = wrk(f"{cluster.url}/v1/chat/completions",
                 {"model": "fake-small",
                  "messages": [{"role": "user", "content": "Say hello in a few words."}]},
                 {"Authorization": f"Bearer {key}"}, 64, seconds)
    cpu = sum(s.cpu_seconds() for s in servers) - before
    return {"load": "plain/c64", "rps": round(result.rps, 1), "p50_ms": result.p50_ms,
            "p99_ms": result.p99_ms, "errors": result.errors,
            "instances_cpu_ms_per_request": round(cpu * 1000 / max(result.requests, 1), 3),
            "haproxy_cpu_ms_per_request": round(
                (cluster.haproxy.cpu_seconds() - balancer) * 1000 / max(result.requests, 1), 3)}


async def sigkill(cluster: Cluster, key: str, seconds: float) -> dict[str, object]:
    """Slow chats from 24 clients; one instance is SIGKILLed half way."""
    headers = {"authorization": f"Bearer {key}"}
    outcomes: dict[str, str] = {}
    deadline = time.monotonic() + seconds

    async def client_loop(client: httpx.AsyncClient, index: int) -> None:
        turn = 0
        while time.monotonic() < deadline:
            question = f"question {index}.{turn}"
            turn += 1
            try:
                answer = await client.post(f"{cluster.url}/v1/chat", json={
                    "message": question, "model": "fake-slow"})
                outcomes[question] = "answered" if answer.status_code == 200 else str(
                    answer.status_code)
            except httpx.HTTPError as exc:
                outcomes[question] = type(exc).__name__

    killed_at = 0.0

    async def kill_half_way() -> float:
        nonlocal killed_at
        await asyncio.sleep(seconds / 2)
        cluster.instances["c2"].proc.send_signal(signal.SIGKILL)  # type: ignore[union-attr]
        killed_at = time.monotonic()
        return await asyncio.to_thread(seconds_until_down, cluster.stats, "c2")

    limits = httpx.Limits(max_connections=24, max_keepalive_connections=0)
    async with httpx.AsyncClient(headers=headers, timeout=60, limits=limits) as client:
        *_, down_after = await asyncio.gather(*(client_loop(client, i) for i in range(24)),
                                              kill_half_way())
        stored = await _stored(client, cluster.url)
        while "none" in stored.values() and time.monotonic() - killed_at < RECORDS_WAIT:
            await asyncio.sleep(1)
            stored = await _stored(client, cluster.url)
        recorded_after = (None if "none" in stored.values()
                          else round(time.monotonic() - killed_at, 1))
    answered = {q for q, o in outcomes.items() if o == "answered"}
    return {"questions_sent": len(outcomes), "answered": len(answered),
            "client_errors": {o: sum(v == o for v in outcomes.values())
                              for o in set(outcomes.values()) - {"answered"}},
            "haproxy_down_after_s": round(down_after, 2),
            "every_question_recorded_after_s": recorded_after,
            "stored_questions": len(stored),
            "stored_with_answer": sum(s == "answer" for s in stored.values()),
            "stored_with_failure_record": sum(s == "failure" for s in stored.values()),
            "stored_without_either": sum(s == "none" for s in stored.values()),
            "answered_but_not_stored": len(answered - {q for q, s in stored.items()
                                                       if s == "answer"})}


async def _stored(client: httpx.AsyncClient, url: str) -> dict[str, str]:
    """Each stored question: with an answer, a failure record, or neither."""
    out: dict[str, str] = {}
    offset = 0
    while True:
        page = (await client.get(f"{url}/v1/sessions?limit=100&offset={offset}")).json()
        for summary in page["data"]:
            messages = (await client.get(f"{url}/v1/sessions/{summary['id']}")).json()[
                "messages"]
            reply = messages[1] if len(messages) > 1 else None
            out[messages[0]["content"]] = ("none" if reply is None else "failure"
                                           if "error" in reply else "answer")
        if not page["has_more"]:
            return out
        offset += 100


def run(work: Path, seconds: float) -> dict[str, object]:
    from bench.store import recreate_pg_database

    haproxy = debian_tool("haproxy")
    if haproxy is None:
        raise RuntimeError("HAProxy is not installed and apt-get could not install it")
    database_url = asyncio.run(recreate_pg_database(PG_URL, "chorus_bench_scaleout"))
    fake = fake_llm(work / "fake-scaleout.log")
    with fake:
        cluster = start(work, fake.url, database_url, haproxy)
        env = cluster.instances["c1"].env
        try:
            results: dict[str, object] = {
                "continuity": continuity(cluster, create_key(env, "continuity")),
                "exact_limit": asyncio.run(exact_limit(cluster, create_key(
                    env, "limited", tier="power"))),
                "throughput": throughput(cluster, create_key(env, "load"), seconds),
                "sigkill": asyncio.run(sigkill(cluster, create_key(env, "sigkill"),
                                               max(seconds, 6.0))),
            }
        finally:
            cluster.haproxy.stop()
            for server in cluster.instances.values():
                server.stop()
    for name, values in results.items():
        print(f"  {name}: {values}", flush=True)
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=10.0)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="chorus-scaleout-") as tmp:
        run(Path(tmp), args.seconds)


if __name__ == "__main__":
    main()
