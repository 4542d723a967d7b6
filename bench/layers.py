"""Where `chorus serve`'s CPU goes under load, by layer: py-spy's samples while wrk posts.

    PYTHONPATH=src .venv/bin/python bench/layers.py --concurrency 64 --seconds 8
    PYTHONPATH=src .venv/bin/python bench/layers.py --concurrency 1 --stream --top 30

Chorus (default configuration, pinned to CPU 0 like the gateway section) serves chat
completions of a named model from fake-llm (on CPU 1 with the load) while py-spy (installed
into bench/.py-spy-venv at `PY_SPY`, never a Chorus dependency) samples every thread of it.
Each sample counts for the innermost frame of a layer in `LAYERS` (the first that matches its
file), so the C and standard-library code a layer calls counts for it. A sample stands for
1/N of the window (N: py-spy's count of its samples), in which the server answered requests/s
x the window's seconds: a layer's time per request follows. What the layers leave of the CPU
per request (measured from /proc during the same run; py-spy's sampling adds a little) is the
event loop's own C code (uvloop, its system calls) and the standard library: py-spy cannot tell
a loop waiting in epoll from one working in C, so that is not counted from the samples.
At concurrency 1 the sampling itself slows the server (about 1,000 requests/s instead of
1,500): read the layers at 64. `--top` also lists the frames that took the most, each with
the one it had called when sampled ("itself": its own code).
"""

from __future__ import annotations

import argparse
import re
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.gateway import (  # noqa: E402
    HERE,
    LOAD_CPU,
    Target,
    can_pin,
    chorus_server,
    measured,
    on_cpu,
    venv_with,
)
from bench.load import LoadResult  # noqa: E402
from bench.procs import create_key, fake_llm  # noqa: E402

PY_SPY = "0.4.3"
LAYERS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("the router's analysis of the question", ("chorus/modes/router", "chorus/tokens",
                                               "tiktoken")),
    ("usage records (their writer, SQLite)", ("chorus/store/usage", "sqlalchemy",
                                              "aiosqlite", "sqlite3")),
    ("access lines", ("chorus/logs",)),
    ("metrics", ("chorus/metrics", "prometheus_client")),
    ("body validation (pydantic)", ("pydantic",)),
    ("the outbound HTTP client", ("chorus/httpclient",)),
    ("provider adapters", ("chorus/providers",)),
    ("uvicorn's protocol", ("uvicorn/protocols", "uvicorn/middleware", "chorus/serving")),
    ("Starlette and FastAPI", ("starlette", "fastapi", "sse_starlette")),
    ("keys and rate limits", ("chorus/auth", "chorus/limits", "chorus/keys")),
    ("the turn, its context and session", ("chorus/chat", "chorus/context", "chorus/store")),
    ("modes", ("chorus/modes",)),
    ("the chat doors (middleware, parsing, rendering)", ("chorus/api",)),
    ("the rest of Chorus", ("chorus/",)),
)
BOOTSTRAP = ("<frozen runpy>", "chorus/cli.py", "uvicorn/main.py", "uvicorn/server.py",
             "uvicorn/_compat.py", "asyncio/runners.py", "click/", "typer/")
"""Frames under which everything runs: never a sample's layer."""
LOOP = "the event loop (uvloop, its system calls) and the standard library"
FRAME = re.compile(r"^(.*) \((.*?)(?::\d+)?\)$")


def py_spy() -> Path:
    return venv_with(HERE / ".py-spy-venv", "py-spy", version=PY_SPY).parent / "py-spy"


def layer_of(files: list[str]) -> str:
    for file in reversed(files):
        if any(part in file for part in BOOTSTRAP):
            continue
        for name, parts in LAYERS:
            if any(part in file for part in parts):
                return name
    return LOOP


def tally(raw: str) -> tuple[Counter[str], Counter[str]]:
    """py-spy's raw stacks (`thread;frame;frame;... count` a line): the samples by layer, and
    by the innermost frame of their layer with the frame it had called."""
    layers: Counter[str] = Counter()
    frames: Counter[str] = Counter()
    for line in raw.splitlines():
        if not line.strip():
            continue
        stack, count = line.rsplit(" ", 1)
        names = stack.split(";")[1:]  # the first is the thread
        files = [m[2] if (m := FRAME.match(n)) else n for n in names]
        layer = layer_of(files)
        layers[layer] += int(count)
        if layer != LOOP:
            at = max(i for i, f in enumerate(files) if layer_of([f]) == layer)
            below = names[at + 1] if at + 1 < len(names) else "(itself)"
            frames[f"{names[at]} -> {below}"] += int(count)
    return layers, frames


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--concurrency", type=int, default=64)
    parser.add_argument("--seconds", type=int, default=8)
    parser.add_argument("--rate", type=int, default=400, help="py-spy's samples per second")
    parser.add_argument("--stream", action="store_true")
    parser.add_argument("--top", type=int, default=0)
    args = parser.parse_args()
    spy = py_spy()
    pin = can_pin()
    with tempfile.TemporaryDirectory(prefix="chorus-layers-") as tmp, \
            on_cpu(LOAD_CPU if pin else None):
        work = Path(tmp)
        with fake_llm(work / "fake.log") as fake:
            server = chorus_server(work, fake.url, pin)
            target = Target(server, "/v1/chat/completions", "fake-small",
                            {"Authorization": f"Bearer {create_key(server.env)}"})
            with server:
                measured(target, args.stream, args.concurrency, 2)  # warm up
                loads: list[LoadResult] = []
                load = threading.Thread(target=lambda: loads.append(measured(
                    target, args.stream, args.concurrency, args.seconds + 2)))
                load.start()
                time.sleep(1)
                assert server.proc is not None
                out = work / "stacks.txt"
                spied = subprocess.run(
                    [str(spy), "record", "--pid", str(server.proc.pid), "--format", "raw",
                     "--rate", str(args.rate), "--duration", str(args.seconds), "--nonblocking",
                     "--output", str(out)], check=True, capture_output=True, text=True)
                load.join()
                raw = out.read_text()
    instants = int(re.search(r"Samples: (\d+)", spied.stdout + spied.stderr)[1])  # type: ignore[index]
    result = loads[0]
    cpu = (result.cpu_ms_per_request or 0.0) * 1000
    layers, frames = tally(raw)
    print(f"{'streamed' if args.stream else 'plain'} at concurrency {args.concurrency}: "
          f"{result.rps:.0f} requests/s, CPU per request {cpu:.0f} µs; {instants} samples\n")
    # A sample is 1/instants of the window, which served rps x the window's seconds requests.
    spent = {name: count / instants / result.rps * 1e6 for name, count in layers.items()
             if name != LOOP}
    spent[LOOP] = cpu - sum(spent.values())
    for name, micros in sorted(spent.items(), key=lambda item: -item[1]):
        print(f"  {micros / cpu * 100:5.1f} %  {micros:6.1f} µs  {name}")
    if args.top:
        print(f"\nthe {args.top} frames that took the most, each -> the one it had called")
        for name, count in frames.most_common(args.top):
            print(f"  {count / instants / result.rps * 1e6:6.1f} µs  {name}")


if __name__ == "__main__":
    main()
