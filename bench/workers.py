"""`chorus serve --workers N`: requests per second and CPU per request at 1 and 2 workers.

Nothing is pinned here: the workers, fake-llm and wrk share every CPU of the machine. The two
servers are measured in turn, round after round, so that other load hits both alike.
"""

from __future__ import annotations

from pathlib import Path
from statistics import mean

from bench.gateway import PROMPT, chorus_server
from bench.load import wrk
from bench.procs import Server, create_key, fake_llm

COUNTS = (1, 2)
ROUNDS = 3
CONCURRENCY = 64


def run(work: Path, seconds: float, rounds: int = ROUNDS) -> dict[str, object]:
    fake = fake_llm(work / "fake-workers.log")
    servers: dict[int, Server] = {}
    with fake:
        try:
            for count in COUNTS:
                servers[count] = chorus_server(work, fake.url, pin=False, workers=count,
                                               name=f"chorus-{count}w").start()
            return measure(servers, seconds, rounds)
        finally:
            for server in servers.values():
                server.stop()


def measure(servers: dict[int, Server], seconds: float, rounds: int) -> dict[str, object]:
    keys = {count: create_key(server.env) for count, server in servers.items()}
    body = {"model": "fake-small", "messages": PROMPT}
    runs: dict[int, list[tuple[float, float, int]]] = {count: [] for count in servers}
    for _ in range(rounds):
        for count, server in servers.items():
            cpu = server.cpu_seconds()
            result = wrk(server.url + "/v1/chat/completions", body,
                         {"Authorization": f"Bearer {keys[count]}"}, CONCURRENCY, seconds)
            cpu_ms = (server.cpu_seconds() - cpu) * 1000 / max(result.requests, 1)
            runs[count].append((result.rps, cpu_ms, result.errors))
            print(f"  {count} worker(s) plain/c{CONCURRENCY} {result.rps:7.0f} rps  "
                  f"cpu/request {cpu_ms:6.3f} ms  errors {result.errors}", flush=True)
    return {f"{count} worker{'s' if count > 1 else ''}": {
        "rps": round(mean(r[0] for r in values), 1),
        "cpu_ms_per_request": round(mean(r[1] for r in values), 3),
        "errors": sum(r[2] for r in values),
        "rounds": [{"rps": round(r[0], 1), "cpu_ms_per_request": round(r[1], 3)}
                   for r in values],
        "load": f"plain/c{CONCURRENCY}"} for count, values in runs.items()}
