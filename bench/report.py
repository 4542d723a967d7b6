"""docs/benchmarks.md from the latest results of each section."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

TARGETS = {"gateway_added_p50_ms_c1": 0.7, "throughput_ratio_c64": 10.0, "list_p99_ms": 10.0,
           "get_1000_p99_ms": 30.0, "fanout_over_ideal": 0.05, "memory_1000_streams_mb": 300.0,
           "added_p50_over_tensorzero_c1": 1.5, "rps_of_tensorzero_c64": 0.45,
           "rps_over_portkey_c64": 4.0, "stream_added_ttft_ms_c1": 0.5,
           "cpu_2_workers_over_1": 1.0}
TITLES = {"gateway": "Gateway overhead on /v1/chat/completions",
          "workers": "chorus serve --workers 1 and 2 (nothing pinned)",
          "scaleout": "Three instances behind HAProxy on one PostgreSQL and one Redis",
          "sessions": "Sessions on /v1/chat (continue a session: history read, two writes)",
          "store": "The store at scale (10,000 sessions, 1,000,000 messages)",
          "purge": "The retention purge beside chat (1,000,000 messages, about half past "
                   "retention)",
          "fanout": "Fan-out (ensemble against fake-llm with set latencies)",
          "router": "The smart_chat router on its labelled questions",
          "memory": "Memory with 1,000 concurrent streaming chats"}
PEER_TITLES = {"tensorzero": "TensorZero", "portkey": "Portkey gateway", "litellm": "LiteLLM"}
META = ("date", "command", "machine", "load_average")


def merge(latest: Path, results: dict[str, Any]) -> dict[str, Any]:
    """Sections not run this time keep their previous numbers, with their own date."""
    merged: dict[str, Any] = json.loads(latest.read_text()) if latest.exists() else {}
    for key, value in results.items():
        if key in META:
            continue
        merged[key] = {"date": results["date"], "command": results["command"],
                       "machine": results["machine"],
                       "load_average": results.get("load_average", {}).get(key), "data": value}
    latest.write_text(json.dumps(merged, indent=2) + "\n")
    return merged


def _targets(data: dict[str, Any]) -> dict[str, Any]:
    """The servers measured: every entry of the section that holds results."""
    return {name: runs for name, runs in data.items() if isinstance(runs, dict)}


def _gateway(data: dict[str, Any]) -> list[str]:
    pinned, rounds = data.get("pinned"), data.get("rounds", 1)
    data = _targets(data)
    direct = data["direct"]
    lines = ["| target | load | req/s | p50 ms | p99 ms | added p50 ms | TTFT p50 ms | "
             "server CPU ms/req | errors |",
             "| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"]
    for key in [k for k in direct if "/" in k]:
        for name, runs in data.items():
            run = runs[key]
            added = run["p50_ms"] - direct[key]["p50_ms"] if name != "direct" else 0.0
            ttft, cpu = run.get("ttft_p50_ms"), run.get("cpu_ms_per_request")
            lines.append(f"| {name} | {key} | {run['rps']:.0f} | {run['p50_ms']:.2f} | "
                         f"{run['p99_ms']:.2f} | {added:+.2f} | "
                         f"{'' if ttft is None else f'{ttft:.2f}'} | "
                         f"{'' if cpu is None else f'{cpu:.3f}'} | {run['errors']} |")
    lines += ["", "Peak RSS (MB): " + ", ".join(f"{name} {runs['peak_rss_mb']}"
                                                for name, runs in data.items())]
    if pinned is not None:
        lines += ["", "Each gateway ran as one process pinned to CPU 0; fake-llm, wrk and the "
                  "stream client on CPU 1." if pinned else "Nothing was pinned (one CPU)."]
    if rounds > 1:
        lines += ["", f"Each level's time was split into {rounds} interleaved rounds, each "
                  "starting with the next target; a figure is the median of the rounds' "
                  "(requests and errors: their sum)."]
    return lines


def _workers(data: dict[str, Any]) -> list[str]:
    lines = ["| processes | load | req/s (mean) | server CPU ms/req (mean) | rounds | errors |",
             "| --- | --- | ---: | ---: | --- | ---: |"]
    for name, run in data.items():
        rounds = "; ".join(f"{r['rps']:.0f} req/s, {r['cpu_ms_per_request']:.3f} ms"
                           for r in run["rounds"])
        lines.append(f"| {name} | {run['load']} | {run['rps']:.0f} | "
                     f"{run['cpu_ms_per_request']:.3f} | {rounds} | {run['errors']} |")
    return lines


def _scaleout(data: dict[str, Any]) -> list[str]:
    lines = ["| check | result |", "| --- | --- |"]
    for name, values in data.items():
        cells = ", ".join(f"{k.replace('_', ' ')} {json.dumps(v) if isinstance(v, dict) else v}"
                          for k, v in values.items())
        lines.append(f"| {name.replace('_', ' ')} | {cells} |")
    return lines


def _store(data: dict[str, Any]) -> list[str]:
    lines = ["| database | query | p50 ms | p99 ms |", "| --- | --- | ---: | ---: |"]
    for db, values in data.items():
        for query, numbers in values.items():
            if isinstance(numbers, dict):
                lines.append(f"| {db} | {query} | {numbers['p50_ms']} | {numbers['p99_ms']} |")
    seeded = ", ".join(f"{db} {values['seed_seconds']} s" for db, values in data.items())
    return [*lines, "", f"Seeding took {seeded}."]


def _purge(data: dict[str, Any]) -> list[str]:
    lines = ["| database | purge | seconds | messages deleted | chat p50 / p99 ms alone | "
             "chat p50 / p99 / max ms during |", "| --- | --- | ---: | ---: | ---: | ---: |"]
    for db, runs in data.items():
        for name, run in runs.items():
            if not isinstance(run, dict):
                continue
            alone, during = run["chat_alone"], run["chat_during_purge"]
            lines.append(f"| {db} | {name} | {run['purge_seconds']} | "
                         f"{run['deleted_messages']} | {alone['p50_ms']} / {alone['p99_ms']} | "
                         f"{during['p50_ms']} / {during['p99_ms']} / {during['max_ms']} |")
    return lines


def _router(data: dict[str, Any]) -> list[str]:
    lines = ["| split | questions | category accuracy |", "| --- | ---: | ---: |"]
    lines += [f"| {name} | {v['n']} | {v['category']:.3f} |"
              for name, v in data["accuracy"].items()]
    timing = data["decision_ms"]
    cpu = timing.get("cpu_time")  # results of runs before it was measured have none
    lines += ["", f"Decision time over {timing['models']} models ({timing['decisions']} "
              f"decisions): every run p50 {timing['every_run']['p50']} ms, p99 "
              f"{timing['every_run']['p99']} ms; best of 5 per question p50 "
              f"{timing['best_of_5']['p50']} ms, p99 {timing['best_of_5']['p99']} ms"
              + (f"; CPU time p50 {cpu['p50']} ms, p99 {cpu['p99']} ms." if cpu else "."), ""]
    lines += [f"- cost_preference {pref}: " + ", ".join(f"{m} {n}" for m, n in picks.items())
              for pref, picks in data["picks"].items()]
    return lines


def _fanout(data: dict[str, Any]) -> list[str]:
    lines = ["| measurement | p50 ms | p90 ms | max ms | ideal ms | target ms |",
             "| --- | ---: | ---: | ---: | ---: | ---: |"]
    for name, values in data.items():
        if "p50_ms" in values:
            lines.append(f"| {name} | {values['p50_ms']} | {values.get('p90_ms', '')} | "
                         f"{values['max_ms']} | {values.get('ideal_ms', '')} | "
                         f"{values['target_ms']} |")
    steps = data.get("overhead_p50_ms", {})
    if steps:
        lines += ["", "Where the time over the ideal goes (p50 ms, 5 members): " + ", ".join(
            f"{step.replace('_', ' ')} {ms}" for step, ms in steps.items()) + "."]
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


def _get(merged: dict[str, Any], *path: str) -> Any:
    value: Any = merged
    for part in path:
        if not isinstance(value, dict) or part not in value:
            return None
        value = value[part]
    return value


def targets(merged: dict[str, Any]) -> list[str]:
    """One row per target of issue 8: the measured value and whether it is met."""
    rows: list[tuple[str, str, Any, bool | None]] = []
    gateway = _get(merged, "gateway", "data")
    rows += _peer_rows(gateway or {})
    if gateway and "plain/c1" in gateway.get("direct", {}):
        added = gateway["chorus"]["plain/c1"]["p50_ms"] - gateway["direct"]["plain/c1"]["p50_ms"]
        limit = TARGETS["gateway_added_p50_ms_c1"]
        rows.append(("added p50 latency over direct, concurrency 1", f"≤ {limit} ms",
                     f"{added:.2f} ms", added <= limit))
    if gateway and "litellm" in gateway and "plain/c64" in gateway["litellm"]:
        ratio = gateway["chorus"]["plain/c64"]["rps"] / max(
            gateway["litellm"]["plain/c64"]["rps"], 1e-9)
        limit = TARGETS["throughput_ratio_c64"]
        rows.append(("throughput at concurrency 64, Chorus over LiteLLM", f"≥ {limit:g}x",
                     f"{ratio:.1f}x", ratio >= limit))
    for db, values in (_get(merged, "store", "data") or {}).items():
        worst = max(values[q]["p99_ms"] for q in values if q.startswith("list_"))
        rows.append((f"{db}: list sessions p99 (first page and offset 9,980)",
                     f"< {TARGETS['list_p99_ms']:g} ms", f"{worst} ms",
                     worst < TARGETS["list_p99_ms"]))
        get = values["get_1000_messages"]["p99_ms"]
        rows.append((f"{db}: get a 1,000-message session p99",
                     f"< {TARGETS['get_1000_p99_ms']:g} ms", f"{get} ms",
                     get < TARGETS["get_1000_p99_ms"]))
    for name, run in (_get(merged, "fanout", "data") or {}).items():
        if isinstance(run, dict) and "ideal_ms" in run:
            over = run["p50_ms"] / run["ideal_ms"] - 1
            rows.append((f"fan-out {name}: p50 over ideal ({run['ideal_ms']:g} ms)",
                         f"≤ {TARGETS['fanout_over_ideal']:.0%}", f"{over:+.1%}",
                         over <= TARGETS["fanout_over_ideal"]))
    workers = _get(merged, "workers", "data") or {}
    if "1 worker" in workers and "2 workers" in workers:
        ratio = workers["2 workers"]["cpu_ms_per_request"] / workers["1 worker"][
            "cpu_ms_per_request"]
        limit = TARGETS["cpu_2_workers_over_1"]
        rows.append(("CPU per request, 2 workers over 1 worker", f"≤ {limit:g}x",
                     f"{ratio:.2f}x", ratio <= limit))
    peak = _get(merged, "memory", "data", "peak_rss_mb")
    if peak is not None:
        limit = TARGETS["memory_1000_streams_mb"]
        rows.append(("peak RSS with 1,000 concurrent streams", f"< {limit:g} MB", f"{peak} MB",
                     peak < limit))
    lines = ["| target | goal | measured | met |", "| --- | --- | ---: | --- |"]
    lines += [f"| {name} | {goal} | {value} | {'yes' if met else 'no'} |"
              for name, goal, value, met in rows]
    return lines


def _peer_rows(gateway: dict[str, Any]) -> list[tuple[str, str, Any, bool | None]]:
    """Issue 17's targets: Chorus beside TensorZero and Portkey, measured in the same run."""
    rows: list[tuple[str, str, Any, bool | None]] = []
    direct, chorus = gateway.get("direct", {}), gateway.get("chorus", {})
    tensorzero, portkey = gateway.get("tensorzero", {}), gateway.get("portkey", {})
    if "plain/c1" in tensorzero:
        ours = chorus["plain/c1"]["p50_ms"] - direct["plain/c1"]["p50_ms"]
        theirs = tensorzero["plain/c1"]["p50_ms"] - direct["plain/c1"]["p50_ms"]
        ratio = ours / max(theirs, 1e-3)
        limit = TARGETS["added_p50_over_tensorzero_c1"]
        rows.append(("added p50 at concurrency 1, Chorus over TensorZero", f"≤ {limit:g}x",
                     f"{ratio:.1f}x ({ours:.2f} vs {theirs:.2f} ms)", ratio <= limit))
    if "plain/c64" in tensorzero:
        ours, theirs = chorus["plain/c64"]["rps"], tensorzero["plain/c64"]["rps"]
        share = ours / max(theirs, 1e-9)
        limit = TARGETS["rps_of_tensorzero_c64"]
        rows.append(("requests/s at concurrency 64, Chorus over TensorZero", f"≥ {limit:.0%}",
                     f"{share:.1%} ({ours:,.0f} vs {theirs:,.0f})", share >= limit))
    if "plain/c64" in portkey:
        ratio = chorus["plain/c64"]["rps"] / max(portkey["plain/c64"]["rps"], 1e-9)
        limit = TARGETS["rps_over_portkey_c64"]
        rows.append(("requests/s at concurrency 64, Chorus over Portkey", f"≥ {limit:g}x",
                     f"{ratio:.1f}x", ratio >= limit))
    if "stream/c1" in chorus and direct.get("stream/c1", {}).get("ttft_p50_ms") is not None:
        added = chorus["stream/c1"]["ttft_p50_ms"] - direct["stream/c1"]["ttft_p50_ms"]
        limit = TARGETS["stream_added_ttft_ms_c1"]
        rows.append(("added time to first token p50 at concurrency 1", f"≤ {limit:g} ms",
                     f"{added:.2f} ms", added <= limit))
    return rows


def _heading(section: dict[str, Any]) -> str:
    machine = section["machine"]
    load = section.get("load_average")
    loaded = (f" Load average (1, 5, 15 min) before {', '.join(map(str, load['before']))}, "
              f"after {', '.join(map(str, load['after']))}." if load else "")
    return (f"{section['date']}, `{section['command'].strip()}`; {machine['cores']} cores "
            f"({machine['cpu']}), Python {machine['python']}"
            + (f" ({machine['python_executable']})" if machine.get("python_executable") else "")
            + f", SQLite {machine['sqlite']}"
            + "".join(f", {title} {machine[name]}" for name, title in PEER_TITLES.items()
                      if machine.get(name))
            + "." + loaded)


def write(results: dict[str, Any], doc: Path, raw: Path, notes: Path | None = None) -> None:
    """The tables; `notes` (hand-written analysis, kept in bench/notes.md) follow them."""
    merged = merge(doc.parent.parent / "bench" / "results" / "latest.json", results)
    out = ["# Benchmarks", "",
           "Measured by `./dev bench` (bench/run.py) on the machine named under each section; "
           "every server runs one worker process unless the section says otherwise; the "
           "upstream is `chorus fake-llm` on loopback. "
           f"Raw numbers: one `bench/results/<date>.json` per run (these tables: `{raw}`) and "
           "`bench/results/latest.json`, the run each section's table shows.", "",
           "## Targets", "", *targets(merged), ""]
    for key, title in TITLES.items():
        if key not in merged:
            continue
        section = merged[key]
        out += [f"## {title}", "", _heading(section), ""]
        data = section["data"]
        if key == "gateway":
            out += _gateway(data)
        elif key == "workers":
            out += _workers(data)
        elif key == "scaleout":
            out += _scaleout(data)
        elif key == "store":
            out += _store(data)
        elif key == "purge":
            out += _purge(data)
        elif key == "router":
            out += _router(data)
        elif key == "fanout":
            out += _fanout(data)
        elif key == "memory":
            out += _table({"chorus": data})
        else:
            out += _table(data if all(isinstance(v, dict) for v in data.values())
                          else {"result": data})
        out.append("")
    notes = notes or doc.parent.parent / "bench" / "notes.md"
    if notes.exists():
        out += [notes.read_text().strip(), ""]
    doc.write_text("\n".join(out))
