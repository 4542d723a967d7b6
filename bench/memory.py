"""Memory of one server process holding 1,000 concurrent streaming chats."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import httpx2 as httpx

from bench.gateway import chorus_config
from bench.procs import CHORUS, Server, create_key, fake_llm, free_port


async def _streams(base: str, key: str, count: int, server: Server) -> dict[str, float]:
    headers = {"authorization": f"Bearer {key}"}
    open_streams = 0
    completed = 0
    peak = 0.0

    async def one(client: httpx.AsyncClient, index: int) -> None:
        nonlocal open_streams, completed
        body = {"message": f"stream number {index}", "stream": True}
        async with client.stream("POST", "/v1/chat", json=body) as response:
            response.raise_for_status()
            open_streams += 1
            async for _ in response.aiter_raw():
                pass
        open_streams -= 1
        completed += 1

    async def sample() -> None:
        nonlocal peak
        while True:
            peak = max(peak, server.rss_mb())
            await asyncio.sleep(0.25)

    limits = httpx.Limits(max_connections=count + 10)
    async with httpx.AsyncClient(base_url=base, headers=headers, limits=limits,
                                 timeout=120) as client:
        sampler = asyncio.create_task(sample())
        idle = server.rss_mb()
        started = time.perf_counter()
        tasks = [asyncio.create_task(one(client, i)) for i in range(count)]
        max_open = 0
        while not all(t.done() for t in tasks):
            max_open = max(max_open, open_streams)
            await asyncio.sleep(0.05)
        await asyncio.gather(*tasks)
        sampler.cancel()
    return {"streams": count, "completed": completed, "max_open_at_once": max_open,
            "idle_rss_mb": round(idle, 1), "peak_rss_mb": round(peak, 1),
            "seconds": round(time.perf_counter() - started, 1)}


def run(work: Path, count: int = 1000) -> dict[str, object]:
    fake = fake_llm(work / "memory-fake.log", "--tokens", "100", "--tps", "10")
    env = {"CHORUS_DATABASE_URL": f"sqlite:///{work}/memory.db",
           "CHORUS_CONFIG": str(chorus_config(work / "memory.toml", fake.url)),
           # the default cap (1,000 connections) answers 503 at this count; a server meant to
           # hold this many raises it the same way
           "CHORUS_MAX_CONNECTIONS": str(count + 100)}
    port = free_port()
    with fake, Server("chorus", [*CHORUS, "serve", "--port", str(port)], port, env=env,
                      log=work / "memory.log") as server:
        key = create_key(env, user="memory")
        result = asyncio.run(_streams(server.url, key, count, server))
    print(f"  memory: {result}", flush=True)
    return result
