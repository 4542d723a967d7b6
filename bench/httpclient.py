"""CPU per upstream call: Chorus's own HTTP/1.1 client against aiohttp and httpx2, on one fake-llm.

    PYTHONPATH=src:. .venv/bin/python bench/httpclient.py [--calls 3000]

Each client makes the same keep-alive POST (a non-streamed chat completion) in turn, on uvloop,
and the process's own CPU time is divided by the calls; fake-llm runs in another process.
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Awaitable, Callable

import aiohttp
import httpx2
import orjson
import uvloop

from bench.procs import CHORUS, Server, free_port
from chorus.httpclient import Client

BODY = orjson.dumps({"model": "small", "messages": [{"role": "user", "content": "Say hello."}]})
HEADERS = {"content-type": "application/json", "authorization": "Bearer fake"}


async def cpu_per_call(call: Callable[[], Awaitable[bytes]], calls: int) -> float:
    for _ in range(200):  # warm: connection open, caches filled
        await call()
    started = time.process_time()
    for _ in range(calls):
        await call()
    return (time.process_time() - started) / calls * 1e6


async def measure(url: str, calls: int, rounds: int) -> dict[str, list[float]]:
    ours, theirs = Client(), httpx2.AsyncClient()
    session = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=30))

    async def chorus_call() -> bytes:
        response = await ours.request("POST", url, timeouts=30, body=BODY, headers=HEADERS)
        return response.content

    async def aiohttp_call() -> bytes:
        async with session.post(url, data=BODY, headers=HEADERS) as response:
            return await response.read()

    async def httpx2_call() -> bytes:
        response = await theirs.post(url, content=BODY, headers=HEADERS, timeout=30)
        return response.content

    calls_by_name = {"chorus.httpclient": chorus_call, "aiohttp": aiohttp_call,
                     "httpx2": httpx2_call}
    results: dict[str, list[float]] = {name: [] for name in calls_by_name}
    for _ in range(rounds):  # interleaved, so that load on the machine hits all alike
        for name, call in calls_by_name.items():
            results[name].append(await cpu_per_call(call, calls))
    await ours.aclose()
    await theirs.aclose()
    await session.close()
    return results


def run(calls: int = 3000, rounds: int = 3) -> dict[str, float]:
    """The best round of each client, in µs of CPU per call."""
    port = free_port()
    with Server("fake-llm", [*CHORUS, "fake-llm", "--port", str(port), "--no-record"], port,
                ready_path="/v1/models") as fake:
        results = uvloop.run(measure(f"{fake.url}/v1/chat/completions", calls, rounds))
    return {name: round(min(values), 1) for name, values in results.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=3000)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    for name, micros in run(args.calls, args.rounds).items():
        print(f"{name:18} {micros:7.1f} µs of CPU per call")


if __name__ == "__main__":
    main()
