"""Run every benchmark, write bench/results/<date>.json and the tables in docs/benchmarks.md.

    ./dev bench                       # everything, 20 s per load level (about 15 minutes)
    ./dev bench --seconds 5 --only gateway,memory
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sqlite3
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench import gateway, memory, report, sessions, store  # noqa: E402

SECTIONS = ("gateway", "sessions", "store", "fanout", "memory")
PG_URL = os.environ.get("CHORUS_BENCH_PG_URL", "postgresql://postgres@127.0.0.1:5432/test")


def machine() -> dict[str, object]:
    cpu = next((line.split(":", 1)[1].strip() for line in
                Path("/proc/cpuinfo").read_text().splitlines() if line.startswith("model name")),
               platform.processor())
    memory_kb = int(Path("/proc/meminfo").read_text().split()[1])
    litellm = gateway.LITELLM_VENV / "bin" / "python"
    litellm_version = subprocess.run(
        [str(litellm), "-c", "import importlib.metadata as m; print(m.version('litellm'))"],
        capture_output=True, text=True).stdout.strip() if litellm.exists() else None
    return {"cpu": cpu, "cores": os.cpu_count(), "memory_gb": round(memory_kb / 2**20, 1),
            "python": platform.python_version(), "sqlite": sqlite3.sqlite_version,
            "litellm": litellm_version, "kernel": platform.release()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=float, default=20.0, help="per load level")
    parser.add_argument("--only", default=",".join(SECTIONS))
    parser.add_argument("--concurrency", default="1,16,64")
    parser.add_argument("--no-litellm", action="store_true")
    parser.add_argument("--no-postgres", action="store_true")
    args = parser.parse_args()
    only = set(args.only.split(","))
    databases = ["sqlite"] + ([] if args.no_postgres else ["postgresql"])
    results: dict[str, object] = {"date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
                                  "command": "./dev bench " + " ".join(sys.argv[1:]),
                                  "machine": machine()}
    with tempfile.TemporaryDirectory(prefix="chorus-bench-") as tmp:
        work = Path(tmp)
        if "gateway" in only:
            print("gateway overhead", flush=True)
            levels = tuple(int(c) for c in args.concurrency.split(","))
            results["gateway"] = gateway.run(work, args.seconds, levels, not args.no_litellm)
        if "sessions" in only:
            print("sessions on /v1/chat", flush=True)
            urls = {"sqlite": f"sqlite:///{work}/sessions.db"}
            if "postgresql" in databases:
                import asyncio
                urls["postgresql"] = asyncio.run(
                    store.recreate_pg_database(PG_URL, "chorus_bench_sessions"))
            results["sessions"] = {db: sessions.run(work, url, db, args.seconds)
                                   for db, url in urls.items()}
        if "store" in only:
            print("store at scale", flush=True)
            results["store"] = {db: store.run(work, db, PG_URL) for db in databases}
        if "fanout" in only:
            from bench import fanout
            print("fan-out", flush=True)
            results["fanout"] = fanout.run(work)
        if "memory" in only:
            print("memory", flush=True)
            results["memory"] = memory.run(work)
    out = ROOT / "bench" / "results" / (time.strftime("%Y-%m-%d-%H%M", time.gmtime()) + ".json")
    out.parent.mkdir(exist_ok=True)
    out.write_text(json.dumps(results, indent=2) + "\n")
    report.write(results, ROOT / "docs" / "benchmarks.md", out.relative_to(ROOT))
    print(f"wrote {out.relative_to(ROOT)} and docs/benchmarks.md")


if __name__ == "__main__":
    main()
