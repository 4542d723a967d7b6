"""Where a chat completion's time goes in the server, one request at a time: its phases' p50.

    PYTHONPATH=src .venv/bin/python bench/phases.py [TREE] --seconds 5

Runs fake-llm and the tree's `chorus serve` (default configuration, pinned to CPU 0 like the
gateway section) with timestamps taken at each phase of a request: its first bytes in
(uvicorn's `data_received`), the upstream request written, the upstream's first bytes in and
read by the HTTP client, the response's start and its last byte sent; and the runs of the work
held for a lull (`chorus.lull`) and of the named model's analysis (`smart_chat._named_details`),
each with its start from the request's first bytes. wrk posts one request after another. Added
latency that is not in these phases is in the kernel and wrk, or in work the loop ran before it
read the request (the gap). This found the access lines' rendering in the next request's way
(bench/notes.md, 2026-12-04 22:04).
"""

from __future__ import annotations

import argparse
import atexit
import json
import signal
import sys
import tempfile
import time
from itertools import pairwise
from pathlib import Path
from statistics import median
from typing import Any

ROOT = Path(__file__).resolve().parents[1]

PHASES = (
    ("request in -> upstream request written", "in", "out"),
    ("upstream request written -> its answer in", "out", "back"),
    ("upstream answer in -> read by the client", "back", "read"),
    ("read -> response start", "read", "start"),
    ("response start -> last byte sent", "start", "sent"),
    ("request in -> last byte sent", "in", "sent"),
    ("held work: start after the request in", "in", "lull"),
    ("the named model's analysis: start after the request in", "in", "analysis"),
)


def serve(out: Path, argv: list[str]) -> None:
    """In the server's process: `chorus serve` with the phases timed, written to `out` at exit."""
    import asyncio

    from uvicorn.protocols.http import httptools_impl

    from chorus import serving
    from chorus.cli import main
    from chorus.httpclient import connection

    now = time.perf_counter_ns
    requests: list[dict[str, int]] = []
    current: dict[str, int] = {}

    def first(name: str) -> None:
        if "in" in current and name not in current:
            current[name] = now()

    def patch(cls: Any, name: str, wrap: Any) -> None:
        setattr(cls, name, wrap(getattr(cls, name)))

    def data_received(original: Any) -> Any:
        def timed(self: Any, data: bytes) -> None:
            if "sent" in current or not current:  # a new request (one at a time)
                if current:
                    requests.append(dict(current))
                current.clear()
                current["in"] = now()
            original(self, data)
        return timed

    def upstream_in(original: Any) -> Any:
        def timed(self: Any, data: bytes) -> None:
            if "out" in current:
                first("back")
            original(self, data)
        return timed

    def write(original: Any) -> Any:
        def timed(self: Any, data: bytes) -> None:
            first("out")
            original(self, data)
        return timed

    def read(original: Any) -> Any:
        async def timed(self: Any, *args: Any) -> bytes:
            data: bytes = await original(self, *args)
            first("read")
            return data
        return timed

    def send(original: Any) -> Any:
        async def timed(self: Any, message: Any) -> None:
            if message["type"] == "http.response.start":
                first("start")
            await original(self, message)
            if message["type"] == "http.response.body" and not message.get("more_body"):
                first("sent")
        return timed

    def ran(name: str) -> Any:
        """A phase that is a call: its start, and its run in `<name>_ns`."""
        def wrap(original: Any) -> Any:
            def timed(*args: Any) -> Any:
                started = now()
                result = original(*args)
                if "in" in current:
                    current[name], current[f"{name}_ns"] = started, now() - started
                return result
            return timed
        return wrap

    patch(serving.GuardedProtocol, "data_received", data_received)
    patch(asyncio.StreamReaderProtocol, "data_received", upstream_in)
    patch(asyncio.StreamWriter, "write", write)
    patch(connection.Connection, "read", read)
    patch(httptools_impl.RequestResponseCycle, "send", send)
    try:
        from chorus.lull import Lull
    except ImportError:  # a tree from before the lull
        pass
    else:
        patch(Lull, "run", ran("lull"))
    from chorus.modes import smart_chat
    if hasattr(smart_chat, "_named_details"):  # a tree from before it has no such phase
        patch(smart_chat, "_named_details", ran("analysis"))
    atexit.register(lambda: out.write_text(json.dumps(requests)))
    # uvicorn raises the stop signal again once it has shut down: exit through atexit
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    sys.argv = ["chorus", *argv]
    main()


def report(requests: list[dict[str, int]]) -> None:
    steady = requests[len(requests) // 10:]  # after the warm-up
    print(f"{len(steady)} requests; p50 in microseconds")
    for label, start, end in PHASES:
        spans = [r[end] - r[start] for r in steady if start in r and end in r]
        if spans:
            print(f"  {label:52} {median(spans) / 1000:7.1f}")
    for name, label in (("lull", "held work: its run"),
                        ("analysis", "the named model's analysis: its run")):
        runs = [r[f"{name}_ns"] for r in steady if f"{name}_ns" in r]
        if runs:
            print(f"  {label:52} {median(runs) / 1000:7.1f}")
    gaps = [b["in"] - a["sent"] for a, b in pairwise(steady) if "sent" in a]
    print(f"  {'last byte sent -> next request in (the gap)':52} {median(gaps) / 1000:7.1f}")


def main() -> None:
    if len(sys.argv) > 2 and sys.argv[1] == "--serve":
        serve(Path(sys.argv[2]), sys.argv[3:])
        return
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("tree", nargs="?", type=Path, default=ROOT)
    parser.add_argument("--seconds", type=float, default=5.0)
    args = parser.parse_args()
    sys.path.insert(0, str(ROOT))
    from bench.gateway import LOAD_CPU, PROMPT, can_pin, chorus_config, on_cpu, pinned
    from bench.load import wrk
    from bench.procs import Server, create_key, fake_llm, free_port

    pin = can_pin()
    with tempfile.TemporaryDirectory(prefix="chorus-phases-") as tmp, \
            on_cpu(LOAD_CPU if pin else None):
        work = Path(tmp)
        out = work / "phases.json"
        port = free_port()
        fake = fake_llm(work / "fake.log").start()
        env = {"PYTHONPATH": str(args.tree.resolve() / "src"),
               "CHORUS_DATABASE_URL": f"sqlite:///{work}/chorus.db",
               "CHORUS_CONFIG": str(chorus_config(work / "chorus.toml", fake.url))}
        server = Server("chorus", pinned([sys.executable, __file__, "--serve", str(out), "serve",
                                          "--port", str(port)], pin), port, env=env,
                        ready_path="/healthz", log=work / "chorus.log").start()
        try:
            headers = {"Authorization": f"Bearer {create_key(server.env)}"}
            body: dict[str, object] = {"model": "fake-small", "messages": PROMPT}
            direct = wrk(f"{fake.url}/v1/chat/completions", {**body, "model": "small"}, {}, 1,
                         args.seconds)
            result = wrk(f"{server.url}/v1/chat/completions", body, headers, 1, args.seconds)
        finally:
            server.stop()
            fake.stop()
        timed = json.loads(out.read_text())
    print(f"added p50 {result.p50_ms - direct.p50_ms:.3f} ms (the timing adds a little); "
          f"{result.rps:.0f} requests/s")
    report(timed)

if __name__ == "__main__":
    main()
