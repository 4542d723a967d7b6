"""Load generators: wrk for throughput and latency, an asyncio client for streams."""

from __future__ import annotations

import asyncio
import json
import re
import subprocess
import tempfile
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import httpx2 as httpx

from bench.procs import debian_tool

UNITS = {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60_000.0}
FIRST_TOKEN = re.compile(rb'"content":\s*"[^"]')
"""A chunk with answer text: every server first sends an empty `"content": ""` chunk."""


@dataclass
class LoadResult:
    requests: int
    errors: int
    rps: float
    p50_ms: float
    p99_ms: float
    ttft_p50_ms: float | None = None
    ttft_p99_ms: float | None = None
    cpu_ms_per_request: float | None = None
    """The server's CPU time over the requests it answered: what load on the machine
    inflates least (latency and requests per second follow the CPU share it gets)."""

    def as_json(self) -> dict[str, object]:
        return {k: (round(v, 3) if isinstance(v, float) else v) for k, v in asdict(self).items()}


def _ms(text: str) -> float:
    number, unit = re.fullmatch(r"([\d.]+)(us|ms|s|m)", text.strip()).groups()  # type: ignore[union-attr]
    return float(number) * UNITS[unit]


def wrk(url: str, body: dict[str, object], headers: dict[str, str], connections: int,
        seconds: float) -> LoadResult:
    """One wrk run posting the same JSON body; latency percentiles from --latency. wrk takes
    whole seconds only, so `seconds` is rounded (at least 1)."""
    lines = ['wrk.method = "POST"', f"wrk.body = {json.dumps(json.dumps(body))}",
             'wrk.headers["Content-Type"] = "application/json"']
    lines += [f"wrk.headers[{json.dumps(k)}] = {json.dumps(v)}" for k, v in headers.items()]
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as script:
        script.write("\n".join(lines) + "\n")
    threads = 1 if connections == 1 else 2
    # wrk's default 2 s timeout counted a slow server's answers as errors, not as latency
    binary = debian_tool("wrk")
    if binary is None:
        raise RuntimeError("wrk is not installed and apt-get could not install it")
    done = subprocess.run([binary, "-t", str(threads), "-c", str(connections),
                           "-d", f"{max(1, round(seconds))}s", "--timeout", "30s", "--latency",
                           "-s", script.name, url],
                          capture_output=True, text=True, check=True)
    Path(script.name).unlink()
    out = done.stdout
    percentiles = dict(re.findall(r"^\s+(50|99)%\s+(\S+)\s*$", out, re.M))
    total = int(re.search(r"(\d+) requests in", out).group(1))  # type: ignore[union-attr]
    non2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    socket_errors = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), "
                              r"timeout (\d+)", out)
    errors = int(non2xx.group(1)) if non2xx else 0
    if socket_errors:
        errors += sum(int(x) for x in socket_errors.groups())
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))  # type: ignore[union-attr]
    return LoadResult(total, errors, rps, _ms(percentiles["50"]), _ms(percentiles["99"]))


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


async def _stream_once(client: httpx.AsyncClient, url: str, body: dict[str, object],
                       headers: dict[str, str]) -> tuple[float, float, bool]:
    started = time.perf_counter()
    first = None
    async with client.stream("POST", url, json=body, headers=headers) as response:
        ok = response.status_code == 200
        async for chunk in response.aiter_raw():
            if first is None and FIRST_TOKEN.search(chunk):
                first = time.perf_counter()
    end = time.perf_counter()
    return ((first or end) - started) * 1000, (end - started) * 1000, ok


async def stream_load(url: str, body: dict[str, object], headers: dict[str, str],
                      concurrency: int, seconds: float) -> LoadResult:
    """Streams from `concurrency` workers for `seconds`: time to first token and total."""
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    ttfts: list[float] = []
    totals: list[float] = []
    errors = 0
    deadline = time.perf_counter() + seconds

    async def worker(client: httpx.AsyncClient) -> None:
        nonlocal errors
        while time.perf_counter() < deadline:
            try:
                ttft, total, ok = await _stream_once(client, url, body, headers)
            except httpx.HTTPError:
                errors += 1
                continue
            ttfts.append(ttft)
            totals.append(total)
            errors += not ok

    async with httpx.AsyncClient(limits=limits, timeout=60) as client:
        started = time.perf_counter()
        await asyncio.gather(*(worker(client) for _ in range(concurrency)))
        elapsed = time.perf_counter() - started
    return LoadResult(len(totals), errors, len(totals) / elapsed, percentile(totals, 0.5),
                      percentile(totals, 0.99), percentile(ttfts, 0.5), percentile(ttfts, 0.99))
