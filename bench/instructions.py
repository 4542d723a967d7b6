"""Instructions per chat completion, counted by callgrind: an A/B that a noisy machine cannot move.

    PYTHONPATH=src .venv/bin/python bench/instructions.py /work/wt-base . --requests 200
    PYTHONPATH=src .venv/bin/python bench/instructions.py . --annotate   # where they go (C level)

CPU time per request moved by 8-30 % from round to round on the shared machines the gateway
section runs on (bench/notes.md), so a change worth 2 % could not be told from noise. This counts
the instructions instead. Each tree's `chorus serve` (its defaults: access log on, SQLite) runs
under valgrind's callgrind with counting off; after warm-up requests, counting is switched on
(`callgrind_control -i on`) for `--requests` non-streamed and then streamed chat completions sent
one after the other, and off again before the server stops. fake-llm answers at full speed
outside valgrind. With `--rounds`, the trees take turns (each goes first in turn) and the
medians are compared. The same tree counted three times in a row on a quiet machine: plain
requests within 0.4 %, streamed ones within 1.3 % (bench/notes.md); more with other work running.

What it does not see: cache misses and system calls' time (an instruction is not a nanosecond,
so a cut is confirmed in CPU time by `bench/ab.py` where the machine allows), and work paid per
unit of time is overweighted, since a request under valgrind takes about fifty times as long:
the usage writer's batches (0.25 s) and the key cache (5 s) are smaller per request than at
full speed, and how much smaller depends on the machine's load: the spread above.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from statistics import median

import httpx2 as httpx

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.gateway import PROMPT, chorus_config  # noqa: E402
from bench.procs import CHORUS, Server, create_key, debian_tool, fake_llm, free_port  # noqa: E402

LOADS = ("plain", "stream")
WARM_UP = 100


def counted(tree: Path, name: str, work: Path, fake_url: str, requests: int,
            python: str) -> tuple[dict[str, float], dict[str, Path]]:
    """Instructions per request of each load, from one server of `tree` under callgrind, and
    the dump that holds each load's counted requests."""
    env = {"PYTHONPATH": f"{tree / 'src'}", "CHORUS_DATABASE_URL": f"sqlite:///{work}/{name}.db",
           "CHORUS_CONFIG": str(chorus_config(work / f"{name}.toml", fake_url))}
    headers = {"Authorization": f"Bearer {create_key(env)}"}
    out = work / f"{name}.callgrind"
    port = free_port()
    server = Server(name, ["valgrind", "--tool=callgrind", "--instr-atstart=no",
                           f"--callgrind-out-file={out}", python, *CHORUS[1:], "serve",
                           "--port", str(port)],
                    port, env=env, ready_path="/healthz", log=work / f"{name}.log")
    result: dict[str, float] = {}
    dumps: dict[str, Path] = {}
    with server, httpx.Client(base_url=server.url, headers=headers, timeout=60) as client:
        assert server.proc is not None
        for load in LOADS:
            body = {"model": "fake-small", "messages": PROMPT, "stream": load == "stream"}
            for _ in range(WARM_UP):
                _complete(client, body)
            before = _total(out, server.proc.pid, "on")
            for _ in range(requests):
                _complete(client, body)
            time.sleep(0.5)  # the last request's log line and usage record
            result[load] = (_total(out, server.proc.pid, "off") - before) / requests
            dumps[load] = max(out.parent.glob(f"{out.name}.*"), key=lambda p: int(p.suffix[1:]))
    return result, dumps


def _complete(client: httpx.Client, body: dict[str, object]) -> None:
    with client.stream("POST", "/v1/chat/completions", json=body) as response:
        response.read()
        if response.status_code != 200:
            raise SystemExit(f"{response.status_code}: {response.text[:300]}")


def _total(out: Path, pid: int, switch: str) -> int:
    """Switch counting on or off; the instructions counted so far (dumped first)."""
    subprocess.run(["callgrind_control", "--dump", str(pid)], capture_output=True, check=True)
    subprocess.run(["callgrind_control", "-i", switch, str(pid)], capture_output=True,
                   check=True)
    total = 0
    for dump in out.parent.glob(f"{out.name}*"):
        for line in dump.read_text(errors="replace").splitlines():
            if line.startswith(("summary:", "totals:")):
                total += int(line.split()[1])
                break
    return total


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("trees", nargs="+", type=Path, help="source trees (each with src/)")
    parser.add_argument("--requests", type=int, default=200, help="counted, per load")
    parser.add_argument("--rounds", type=int, default=1)
    parser.add_argument("--python", default=sys.executable)
    parser.add_argument("--annotate", action="store_true",
                        help="then print the C functions with the most instructions, per tree")
    args = parser.parse_args()
    if debian_tool("valgrind") is None:
        raise SystemExit("valgrind is missing (Debian's package valgrind)")
    rounds: list[list[dict[str, float]]] = []
    with tempfile.TemporaryDirectory(prefix="chorus-instructions-") as tmp:
        work = Path(tmp)
        with fake_llm(work / "fake.log") as fake:
            for number in range(args.rounds):
                counts: dict[int, dict[str, float]] = {}
                order = list(enumerate(args.trees))
                for i, tree in order[number % len(order):] + order[:number % len(order)]:
                    name = f"s{i}r{number}"
                    counts[i], dumps = counted(tree, name, work, fake.url, args.requests,
                                               args.python)
                    print(f"round {number + 1} {i}:{tree}  " + "  ".join(
                        f"{load} {counts[i][load]:,.0f}" for load in LOADS), flush=True)
                    for load in LOADS if args.annotate else ():
                        shown = subprocess.run(["callgrind_annotate", "--threshold=80",
                                                str(dumps[load])],
                                               capture_output=True, text=True).stdout
                        print(f"{load}, all {args.requests} requests:")
                        print(shown[shown.find("file:function"):][:6000])
                rounds.append([counts[i] for i in range(len(args.trees))])
    medians = [{load: median(r[i][load] for r in rounds) for load in LOADS}
               for i in range(len(args.trees))]
    print(f"\ninstructions per request, {args.requests} requests each, one after the other; "
          f"median of {args.rounds} round(s)")
    for i, tree in enumerate(args.trees):
        ratio = "" if i == 0 else "  " + "  ".join(
            f"{load} {medians[i][load] / medians[0][load]:.4f}x" for load in LOADS)
        print(f"{i}:{tree}  " + "  ".join(f"{load} {medians[i][load]:,.0f}" for load in LOADS)
              + ratio)

if __name__ == "__main__":
    main()
