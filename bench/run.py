"""Run every benchmark, write bench/results/<date>.json and the tables in docs/benchmarks.md.

    ./dev bench                       # everything, 20 s per load level (about 25 minutes)
    ./dev bench --seconds 5 --only gateway,memory --peers tensorzero
    ./dev bench --python /usr/bin/python3.11   # Chorus on another interpreter
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import sqlite3
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench import (  # noqa: E402
    fanout,
    gateway,
    memory,
    purge,
    report,
    router,
    scaleout,
    sessions,
    store,
    workers,
)

SECTIONS = ("gateway", "workers", "scaleout", "sessions", "store", "purge", "fanout", "router",
            "memory")
PG_URL = os.environ.get("CHORUS_BENCH_PG_URL", "postgresql://postgres@127.0.0.1:5432/test")


def on_python(python: str) -> None:
    """Go on under `python`, in a virtual environment of its own holding Chorus
    (bench/.python-venvs/<its path>, made and kept up to date by ./dev): every Chorus server
    the sections start runs on the interpreter of this script. Returns when already there."""
    real = Path(python).resolve()
    if not real.is_file():
        sys.exit(f"--python {python}: no such interpreter")
    slug = str(real).strip("/").replace("/", "-")
    env = ROOT / "bench" / ".python-venvs" / slug
    if Path(sys.prefix).resolve() == env.resolve():
        return
    os.environ["CHORUS_VENV"] = str(env)
    os.execv(real, [str(real), str(ROOT / "dev"), "bench", *sys.argv[1:]])


def machine() -> dict[str, object]:
    cpu = next((line.split(":", 1)[1].strip() for line in
                Path("/proc/cpuinfo").read_text().splitlines() if line.startswith("model name")),
               platform.processor())
    memory_kb = int(Path("/proc/meminfo").read_text().split()[1])
    return {"cpu": cpu, "cores": os.cpu_count(), "memory_gb": round(memory_kb / 2**20, 1),
            "python": platform.python_version(),
            # the interpreter a virtual environment was made from
            "python_executable": os.path.realpath(getattr(sys, "_base_executable",
                                                          sys.executable)),
            "sqlite": sqlite3.sqlite_version,
            **gateway.versions(), "kernel": platform.release()}


def section(name: str, work: Path, args: argparse.Namespace, databases: list[str]) -> object:
    """One section's results; other people's work on the machine is recorded by the caller."""
    print({"gateway": "gateway overhead", "workers": "chorus serve --workers 1 and 2",
           "scaleout": "three instances behind HAProxy",
           "sessions": "sessions on /v1/chat",
           "store": "store at scale", "purge": "retention purge beside chat",
           "fanout": "fan-out", "router": "router",
           "memory": "memory"}[name], flush=True)
    if name == "gateway":
        levels = tuple(int(c) for c in args.concurrency.split(","))
        peers = tuple(p for p in args.peers.split(",") if p)
        unknown = set(peers) - set(gateway.PEERS)
        if unknown:
            sys.exit(f"unknown peers: {', '.join(sorted(unknown))}; one of {gateway.PEERS}")
        return gateway.run(work, args.seconds, levels, peers, args.rounds)
    if name == "workers":
        return workers.run(work, args.seconds)
    if name == "scaleout":
        return scaleout.run(work, args.seconds)
    if name == "sessions":
        urls = {"sqlite": f"sqlite:///{work}/sessions.db"}
        if "postgresql" in databases:
            urls["postgresql"] = asyncio.run(
                store.recreate_pg_database(PG_URL, "chorus_bench_sessions"))
        return {db: sessions.run(work, url, db, args.seconds) for db, url in urls.items()}
    if name == "store":
        return {db: store.run(work, db, PG_URL) for db in databases}
    if name == "purge":
        return {db: purge.run(work, db, purge.variants("1000,1000000000:no-index"))
                for db in databases}
    if name == "fanout":
        return fanout.run(work)
    if name == "router":
        return router.run(work)
    return memory.run(work)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=float, default=20.0, help="per load level")
    parser.add_argument("--only", default=",".join(SECTIONS))
    parser.add_argument("--concurrency", default="1,16,64")
    parser.add_argument("--rounds", type=int, default=3,
                        help="gateway: the seconds of each level split into interleaved rounds; "
                             "each figure is the median of the rounds'")
    parser.add_argument("--peers", default=",".join(gateway.PEERS),
                        help="other gateways measured beside Chorus (an empty string: none)")
    parser.add_argument("--no-postgres", action="store_true")
    parser.add_argument("--python", metavar="PATH",
                        help="run Chorus on this interpreter (default: the one of .venv)")
    args = parser.parse_args()
    if args.python:
        on_python(args.python)
    only = set(args.only.split(","))
    databases = ["sqlite"] + ([] if args.no_postgres else ["postgresql"])
    results: dict[str, object] = {"date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
                                  "command": " ".join(["./dev bench", *sys.argv[1:]]),
                                  "machine": None}  # read last: the sections install the peers
    loads: dict[str, dict[str, list[float]]] = {}
    with tempfile.TemporaryDirectory(prefix="chorus-bench-") as tmp:
        work = Path(tmp)
        for name in SECTIONS:
            if name in only:
                before = [round(x, 2) for x in os.getloadavg()]
                results[name] = section(name, work, args, databases)
                loads[name] = {"before": before, "after": [round(x, 2) for x in os.getloadavg()]}
    results["machine"] = machine()
    results["load_average"] = loads
    out = ROOT / "bench" / "results" / (time.strftime("%Y-%m-%d-%H%M", time.gmtime()) + ".json")
    out.parent.mkdir(exist_ok=True)
    out.write_text(json.dumps(results, indent=2) + "\n")
    report.write(results, ROOT / "docs" / "benchmarks.md", out.relative_to(ROOT))
    print(f"wrote {out.relative_to(ROOT)} and docs/benchmarks.md")


if __name__ == "__main__":
    main()
