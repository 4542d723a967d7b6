"""CPU per upstream call: Chorus's own HTTP/1.1 client against aiohttp and httpx2, on one fake-llm.

    PYTHONPATH=src:. .venv/bin/python bench/httpclient.py [--calls 3000] [--baseline REV]

Each client makes the same keep-alive POST (a non-streamed chat completion) in turn, on uvloop,
and the process's own CPU time is divided by the calls; fake-llm runs in another process.
`--baseline REV` also measures `src/chorus/httpclient` as of that git revision, in the same
process and interleaved with the rest: the cost of a change to the client, under the same load.
"""

from __future__ import annotations

import argparse
import importlib
import io
import subprocess
import sys
import tarfile
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

import aiohttp
import httpx2
import orjson
import uvloop

from bench.procs import ROOT, fake_llm
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


def client_at(revision: str, into: Path) -> type[Client]:
    """`Client` from src/chorus/httpclient as of a git revision, as a package of its own."""
    package = "httpclient_" + "".join(c if c.isalnum() else "_" for c in revision)
    archive = subprocess.run(["git", "archive", revision, "src/chorus/httpclient"], cwd=ROOT,
                             check=True, capture_output=True).stdout
    with tarfile.open(fileobj=io.BytesIO(archive)) as tar:
        tar.extractall(into, filter="data")
    source = into / "src" / "chorus" / "httpclient"
    for module in source.glob("*.py"):
        module.write_text(module.read_text().replace("chorus.httpclient", package))
    source.rename(into / package)
    sys.path.insert(0, str(into))
    client: type[Client] = importlib.import_module(package).Client
    return client


async def measure(url: str, calls: int, rounds: int, baseline: type[Client] | None = None
                  ) -> dict[str, list[float]]:
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
    if baseline is not None:
        old = baseline()

        async def baseline_call() -> bytes:
            response = await old.request("POST", url, timeouts=30, body=BODY, headers=HEADERS)
            return response.content

        calls_by_name = {"baseline": baseline_call, **calls_by_name}
    results: dict[str, list[float]] = {name: [] for name in calls_by_name}
    for _ in range(rounds):  # interleaved, so that load on the machine hits all alike
        for name, call in calls_by_name.items():
            results[name].append(await cpu_per_call(call, calls))
    await ours.aclose()
    await theirs.aclose()
    await session.close()
    return results


def run(calls: int = 3000, rounds: int = 3, baseline: str | None = None) -> dict[str, float]:
    """The best round of each client, in µs of CPU per call."""
    with tempfile.TemporaryDirectory() as tmp, \
            fake_llm() as fake:
        old = client_at(baseline, Path(tmp)) if baseline else None
        results = uvloop.run(measure(f"{fake.url}/v1/chat/completions", calls, rounds, old))
    return {(f"httpclient@{baseline}" if name == "baseline" else name): round(min(values), 1)
            for name, values in results.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=3000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--baseline", metavar="REV", help="also measure the client at REV")
    args = parser.parse_args()
    for name, micros in run(args.calls, args.rounds, args.baseline).items():
        print(f"{name:18} {micros:7.1f} µs of CPU per call")


if __name__ == "__main__":
    main()
