"""Fan-out: is an ensemble truly parallel, and do members' events reach the client at once?

    python bench/fanout.py              # prints the numbers; also part of ./dev bench

Chorus runs as its own process (`chorus serve`, one worker). The fake upstream runs in this
process, wrapped so it notes when it sends each answer's last byte; the client (also here)
notes when each `member.completed` arrives. Both clocks are this process's monotonic clock.

- parallel: 5 members that each answer after 500 ms, then a 500 ms aggregator. Ideal is
  1000 ms end to end; the target is under 1100 ms.
- staggered: members finishing at 100..500 ms. The delay from a member's upstream sending its
  last byte to its `member.completed` reaching the client; the target is under 20 ms.
"""

from __future__ import annotations

import asyncio
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx2 as httpx

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "src"))

from bench.procs import CHORUS, Server, create_key, free_port  # noqa: E402
from chorus.fakellm.server import FakeLLM  # noqa: E402
from tests.conftest import ServerThread  # noqa: E402

RUNS = 20
MEMBERS = 5
PARALLEL = {f"m{i}": f"m{i}@ttft_ms=500,tokens=20" for i in range(1, MEMBERS + 1)}
STAGGERED = {f"s{i}": f"s{i}@ttft_ms={100 * i},tokens=20" for i in range(1, MEMBERS + 1)}
AGGREGATOR = {"agg": "agg@ttft_ms=500,tokens=20"}


class LastByte:
    """ASGI wrapper: when the fake sent the last byte of each model's answer."""

    def __init__(self, app: Any) -> None:
        self.app = app
        self.sent: dict[str, float] = {}
        self.received: dict[str, float] = {}

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        body = bytearray()
        arrived = time.monotonic()

        async def reading() -> Any:
            message = await receive()
            body.extend(message.get("body", b""))
            if message["type"] == "http.request" and not message.get("more_body"):
                model = json.loads(body or b"{}").get("model", "")
                self.received[model.split("@")[0]] = arrived
            return message

        async def sending(message: Any) -> None:
            # Noted before the write: once written, the client may see the end of the answer
            # (and look up this time) before this coroutine runs again.
            if message["type"] == "http.response.body" and not message.get("more_body"):
                model = json.loads(body or b"{}").get("model", "")
                self.sent[model.split("@")[0]] = time.monotonic()
            await send(message)

        await self.app(scope, reading, sending)


def config(path: Path, fake_url: str) -> Path:
    models = {**PARALLEL, **STAGGERED, **AGGREGATOR}
    entries = "".join(f'\n[[models]]\nid = "{name}"\nprovider = "fake"\nupstream = "{up}"\n'
                      f"price_in = 1.0\nprice_out = 1.0\n" for name, up in models.items())
    path.write_text(f"""
[[providers]]
name = "fake"
dialect = "openai"
base_url = "{fake_url}/v1"
max_retries = 0
{entries}
[defaults]
aggregator_model = "agg"

[tiers.enterprise]
requests_per_minute = 1000000000
""")
    return path


async def one(client: httpx.AsyncClient, url: str, key: str, models: list[str],
              fake: LastByte) -> dict[str, Any]:
    """One streamed ensemble: end-to-end time and each member's completion delay."""
    fake.sent.clear()
    fake.received.clear()
    arrived: dict[str, float] = {}
    body = {"message": "Explain fan-out.", "mode": "ensemble", "models": models,
            "stream": True}
    started = time.monotonic()
    async with client.stream("POST", f"{url}/v1/chat", json=body,
                             headers={"authorization": f"Bearer {key}"}) as response:
        event = ""
        async for line in response.aiter_lines():
            if line.startswith("event: "):
                event = line[7:]
            elif line.startswith("data: ") and event == "member.completed":
                data = json.loads(line[6:])
                if data.get("role") is None:
                    arrived[data["model"]] = time.monotonic()
            elif event == "done":
                break
    done = time.monotonic()
    delays = [(arrived[m] - fake.sent[m]) * 1000 for m in models]
    steps = {"to_first_member": min(fake.received[m] for m in models) - started,
             "members_to_aggregator": fake.received["agg"] - max(fake.sent[m] for m in models),
             "aggregator_to_done": done - fake.sent["agg"]}
    return {"total_ms": (done - started) * 1000, "delays_ms": delays,
            "steps_ms": {k: v * 1000 for k, v in steps.items()}}


def _wall(runs: list[dict[str, Any]]) -> dict[str, float]:
    """End-to-end time against the ideal: the slowest member, then the aggregator."""
    totals = [r["total_ms"] for r in runs]
    return {"runs": len(runs), "ideal_ms": 1000.0, "p50_ms": round(statistics.median(totals), 1),
            "p90_ms": p90(totals), "max_ms": round(max(totals), 1), "target_ms": 1100.0}


async def measure(url: str, key: str, fake: LastByte) -> dict[str, dict[str, float]]:
    async with httpx.AsyncClient(timeout=30) as client:
        await one(client, url, key, list(PARALLEL), fake)  # warm up connections
        parallel = [await one(client, url, key, list(PARALLEL), fake) for _ in range(RUNS)]
        pairs = [await one(client, url, key, list(PARALLEL)[:2], fake) for _ in range(RUNS)]
        staggered = [await one(client, url, key, list(STAGGERED), fake) for _ in range(RUNS)]
    delays = [d for r in staggered for d in r["delays_ms"]]
    burst = [d for r in parallel for d in r["delays_ms"]]
    overhead = {step: round(statistics.median(r["steps_ms"][step] for r in parallel), 1)
                for step in parallel[0]["steps_ms"]}
    return {
        "overhead_p50_ms": overhead,
        "parallel_2x500ms_plus_500ms": _wall(pairs),
        "parallel_5x500ms_plus_500ms": _wall(parallel),
        "member_completed_delay_staggered": {
            "samples": len(delays), "p50_ms": round(statistics.median(delays), 2),
            "p90_ms": p90(delays), "max_ms": round(max(delays), 2), "target_ms": 20.0},
        "member_completed_delay_all_at_once": {
            "samples": len(burst), "p50_ms": round(statistics.median(burst), 2),
            "p90_ms": p90(burst), "max_ms": round(max(burst), 2), "target_ms": 20.0},
    }


def p90(values: list[float]) -> float:
    return round(statistics.quantiles(values, n=10)[-1], 2)


def run(work: Path) -> dict[str, dict[str, float]]:
    fake = LastByte(FakeLLM(record=False).app())
    with ServerThread(fake) as upstream:
        port = free_port()
        env = {"CHORUS_DATABASE_URL": f"sqlite:///{work}/fanout.db",
               "CHORUS_CONFIG": str(config(work / "fanout.toml", upstream.url))}
        key = create_key(env)
        with Server("chorus", [*CHORUS, "serve", "--port", str(port)], port, env=env,
                    ready_path="/healthz", log=work / "fanout-chorus.log") as chorus:
            return asyncio.run(measure(chorus.url, key, fake))


def main() -> None:
    with tempfile.TemporaryDirectory(prefix="chorus-fanout-") as tmp:
        results = run(Path(tmp))
    for name, values in results.items():
        print(f"{name:38} " + "  ".join(f"{k} {v}" for k, v in values.items()))


if __name__ == "__main__":
    main()
