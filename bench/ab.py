"""A/B of the gateway section: Chorus from two source trees, measured in turn, round after round.

    PYTHONPATH=src .venv/bin/python bench/ab.py /work/wt-base /work/wt-mine --rounds 2
    PYTHONPATH=src .venv/bin/python bench/ab.py . . --python .venv/bin/python,<venv>/bin/python

Each tree's server runs with `PYTHONPATH=<tree>/src` and its default configuration (access log
on), pinned to CPU 0 like the gateway section; fake-llm and the load on CPU 1. Within a round,
every load level is measured on fake-llm directly and on each tree in turn, so other work on the
machine hits both sides alike. Prints each round, then the mean of the rounds; server CPU per
request is the number to compare on a loaded machine.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path
from statistics import mean

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.gateway import (  # noqa: E402
    LOAD_CPU,
    Target,
    can_pin,
    chorus_config,
    measure,
    on_cpu,
    pinned,
)
from bench.procs import CHORUS, Server, create_key, fake_llm, free_port  # noqa: E402

FIELDS = ("cpu_ms_per_request", "added_p50_ms", "added_ttft_ms", "rps")


def tree_server(tree: Path, name: str, work: Path, fake_url: str, pin: bool,
                workers: int, python: str = sys.executable) -> Server:
    env = {"PYTHONPATH": f"{tree / 'src'}", "CHORUS_DATABASE_URL": f"sqlite:///{work}/{name}.db",
           "CHORUS_CONFIG": str(chorus_config(work / f"{name}.toml", fake_url))}
    port = free_port()
    return Server(name, pinned([python, *CHORUS[1:], "serve", "--port", str(port), "--workers",
                                str(workers)], pin), port, env=env, ready_path="/healthz",
                  log=work / f"{name}.log")


def added(results: dict[str, dict[str, dict[str, float]]], name: str,
          key: str) -> dict[str, float]:
    ours = results[name][key]
    out = {"cpu_ms_per_request": ours["cpu_ms_per_request"], "rps": ours["rps"]}
    if "direct" in results:
        direct = results["direct"][key]
        out["added_p50_ms"] = ours["p50_ms"] - direct["p50_ms"]
        if ours.get("ttft_p50_ms") is not None:
            out["added_ttft_ms"] = ours["ttft_p50_ms"] - direct["ttft_p50_ms"]
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("trees", nargs="+", type=Path, help="source trees (each with src/)")
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--concurrency", default="1,64")
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--python", default="",
                        help="the interpreter of each tree, comma-separated (each with Chorus's "
                             "dependencies: a virtual environment); default this script's")
    parser.add_argument("--no-direct", action="store_true",
                        help="skip fake-llm alone (no added latency then; CPU only)")
    args = parser.parse_args()
    levels = tuple(int(c) for c in args.concurrency.split(","))
    pythons = args.python.split(",") if args.python else [sys.executable] * len(args.trees)
    if len(pythons) != len(args.trees):
        parser.error("--python: one interpreter per tree")
    names = [f"{i}:{tree.resolve().name}" + (f":{Path(py).parent.parent.name}" if args.python
                                              else "")
             for i, (tree, py) in enumerate(zip(args.trees, pythons, strict=True))]
    pin = can_pin()
    rounds: list[dict[str, dict[str, dict[str, float]]]] = []
    with tempfile.TemporaryDirectory(prefix="chorus-ab-") as tmp, \
            on_cpu(LOAD_CPU if pin else None):
        work = Path(tmp)
        fake = fake_llm(work / "fake.log")
        servers: list[Server] = []
        with fake:
            try:
                chosen = {} if args.no_direct else {
                    "direct": Target(fake, "/v1/chat/completions", "small")}
                for i, (name, tree, python) in enumerate(zip(names, args.trees, pythons,
                                                             strict=True)):
                    server = tree_server(tree, f"s{i}", work, fake.url, pin, args.workers,
                                         python)
                    servers.append(server.start())
                    chosen[name] = Target(server, "/v1/chat/completions", "fake-small",
                                          {"Authorization": f"Bearer {create_key(server.env)}"})
                for number in range(args.rounds):
                    print(f"round {number + 1}", flush=True)
                    order = list(chosen.items())  # each tree goes first in turn
                    direct, trees = order[:len(order) - len(servers)], order[-len(servers):]
                    order = direct + (trees if number % 2 == 0 else trees[::-1])
                    rounds.append(measure(dict(order), args.seconds, levels))  # type: ignore[arg-type]
            finally:
                for server in servers:
                    server.stop()
    keys = [f"{kind}/c{c}" for kind in ("plain", "stream") for c in levels]
    print("\nmean and min of", len(rounds), "rounds (each round in brackets); contention on the "
          "machine only adds CPU time, so the min is the steadier number")
    print(f"{'load':11} {'tree':24} " + " ".join(f"{f + ' mean min':>34}" for f in FIELDS))
    for key in keys:
        for name in names:
            per = [added(r, name, key) for r in rounds]
            cells = []
            for f in FIELDS:
                values = [p[f] for p in per if f in p]
                cells.append(f"{mean(values):7.3f} {min(values):7.3f} ["
                             + "/".join(f"{v:.2f}" for v in values) + "]" if values else "-")
            print(f"{key:11} {name:24} " + " ".join(f"{c:>34}" for c in cells))
    print("\nCPU per request over the first tree's, round by round (the same moment's load)")
    for key in keys:
        for name in names[1:]:
            ratios = [r[name][key]["cpu_ms_per_request"] / r[names[0]][key]["cpu_ms_per_request"]
                      for r in rounds]
            print(f"{key:11} {name:24} {mean(ratios):6.3f} ["
                  + "/".join(f"{x:.2f}" for x in ratios) + "]")


if __name__ == "__main__":
    main()
