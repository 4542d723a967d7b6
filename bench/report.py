"""docs/benchmarks.md from the latest results of each section."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

TARGETS = {"gateway_added_p50_ms_c1": 0.7, "throughput_ratio_c64": 10.0, "list_p99_ms": 10.0,
           "get_1000_p99_ms": 30.0, "fanout_over_ideal": 0.05, "memory_1000_streams_mb": 300.0}


def merge(latest: Path, results: dict[str, Any]) -> dict[str, Any]:
    """Sections not run this time keep their previous numbers, with their own date."""
    merged: dict[str, Any] = json.loads(latest.read_text()) if latest.exists() else {}
    for key, value in results.items():
        if key in ("date", "command", "machine"):
            continue
        merged[key] = {"date": results["date"], "command": results["command"],
                       "machine": results["machine"], "data": value}
    latest.write_text(json.dumps(merged, indent=2) + "\n")
    return merged


def _gateway(section: dict[str, Any]) -> list[str]:
    data = section["data"]
    direct = data["direct"]
    lines = ["| target | load | req/s | p50 ms | p99 ms | added p50 ms | TTFT p50 ms | errors |",
             "| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: |"]
    for key in [k for k in direct if "/" in k]:
        for name, runs in data.items():
            run = runs[key]
            added = run["p50_ms"] - direct[key]["p50_ms"] if name != "direct" else 0.0
            ttft = run.get("ttft_p50_ms")
            lines.append(f"| {name} | {key} | {run['rps']:.0f} | {run['p50_ms']:.2f} | "
                         f"{run['p99_ms']:.2f} | {added:+.2f} | "
                         f"{'' if ttft is None else f'{ttft:.2f}'} | {run['errors']} |")
    lines += ["", "Peak RSS (MB): " + ", ".join(f"{name} {runs['peak_rss_mb']}"
                                                for name, runs in data.items())]
    if "litellm" in data and "plain/c64" in data["litellm"]:
        ratio = data["chorus"]["plain/c64"]["rps"] / max(data["litellm"]["plain/c64"]["rps"], 1e-9)
        lines.append(f"\nThroughput at concurrency 64, Chorus over LiteLLM: **{ratio:.1f}x** "
                     f"(target at least {TARGETS['throughput_ratio_c64']:g}x).")
    if "plain/c1" in direct:
        added = data["chorus"]["plain/c1"]["p50_ms"] - direct["plain/c1"]["p50_ms"]
        lines.append(f"Added p50 latency at concurrency 1: **{added:.2f} ms** "
                     f"(target at most {TARGETS['gateway_added_p50_ms_c1']} ms).")
    return lines


def _table(data: dict[str, Any]) -> list[str]:
    """A generic table: one row per entry, one column per measured field."""
    columns: list[str] = []
    for values in data.values():
        for key in (values if isinstance(values, dict) else {}):
            if key not in columns:
                columns.append(key)
    lines = ["| | " + " | ".join(columns) + " |", "| --- |" + " ---: |" * len(columns)]
    for name, values in data.items():
        cells = [json.dumps(values.get(c)) if isinstance(values.get(c), dict)
                 else str(values.get(c, "")) for c in columns]
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    return lines


def write(results: dict[str, Any], doc: Path, raw: Path) -> None:
    merged = merge(doc.parent.parent / "bench" / "results" / "latest.json", results)
    out = ["# Benchmarks", "",
           "Measured by `./dev bench` (bench/run.py) on the machine named under each section; "
           "every server runs one worker process; the upstream is `chorus fake-llm` on loopback. "
           f"Raw numbers: `{raw}` and `bench/results/latest.json`.", ""]
    titles = {"gateway": "Gateway overhead on /v1/chat/completions",
              "sessions": "Sessions on /v1/chat (continue a session: history read, two writes)",
              "store": "The store at scale (10,000 sessions, 1,000,000 messages)",
              "fanout": "Fan-out (ensemble against fake-llm with set latencies)",
              "memory": "Memory with 1,000 concurrent streaming chats"}
    for key, title in titles.items():
        if key not in merged:
            continue
        section = merged[key]
        machine = section["machine"]
        out += [f"## {title}", "",
                f"{section['date']}, `{section['command']}`; {machine['cores']} cores "
                f"({machine['cpu']}), Python {machine['python']}, SQLite {machine['sqlite']}"
                + (f", LiteLLM {machine['litellm']}" if machine.get("litellm") else "") + ".", ""]
        data = section["data"]
        if key == "gateway":
            out += _gateway(section)
        elif key == "store":
            out += _table({db: {k: v for k, v in values.items()} for db, values in data.items()})
        elif key == "memory":
            out += _table({"chorus": data})
        else:
            out += _table(data if all(isinstance(v, dict) for v in data.values())
                          else {"result": data})
        out.append("")
    doc.write_text("\n".join(out))
