"""Chats that continue a session on /v1/chat: history read, two messages written, per turn."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import httpx2 as httpx

from bench.gateway import chorus_config
from bench.load import percentile
from bench.procs import CHORUS, Server, create_key, fake_llm, free_port


async def _drive(base: str, key: str, workers: int, seconds: float) -> dict[str, float]:
    headers = {"authorization": f"Bearer {key}"}
    latencies: list[float] = []
    errors = 0

    async def worker(client: httpx.AsyncClient, index: int) -> None:
        nonlocal errors
        first = await client.post("/v1/chat", json={"message": f"Start session {index}"})
        session_id = first.json()["session_id"]
        deadline = time.perf_counter() + seconds
        turn = 0
        while time.perf_counter() < deadline:
            turn += 1
            started = time.perf_counter()
            response = await client.post("/v1/chat", json={
                "message": f"Turn {turn}: tell me more", "session_id": session_id})
            if response.status_code != 200:
                errors += 1
                continue
            latencies.append((time.perf_counter() - started) * 1000)

    limits = httpx.Limits(max_connections=workers)
    async with httpx.AsyncClient(base_url=base, headers=headers, limits=limits,
                                 timeout=60) as client:
        started = time.perf_counter()
        await asyncio.gather(*(worker(client, i) for i in range(workers)))
        elapsed = time.perf_counter() - started
    return {"turns": len(latencies), "errors": errors, "rps": round(len(latencies) / elapsed, 1),
            "p50_ms": round(percentile(latencies, 0.5), 2),
            "p99_ms": round(percentile(latencies, 0.99), 2)}


def run(work: Path, database_url: str, label: str, seconds: float, workers: int = 16
        ) -> dict[str, object]:
    fake = fake_llm(work / "sessions-fake.log")
    env = {"CHORUS_DATABASE_URL": database_url,
           "CHORUS_CONFIG": str(chorus_config(work / f"sessions-{label}.toml", fake.url))}
    port = free_port()
    with fake, Server(f"chorus-{label}", [*CHORUS, "serve", "--port", str(port)], port,
                      env=env, log=work / f"sessions-{label}.log") as server:
        key = create_key(env, user=f"sessions-{label}")
        result = asyncio.run(_drive(server.url, key, workers, seconds))
    print(f"  sessions {label}: {result}", flush=True)
    return result
