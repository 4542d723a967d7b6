"""Gateway overhead: fake-llm direct, and Chorus, TensorZero, Portkey and LiteLLM in front of it.

Each gateway runs as one process at its default log level, pinned to CPU 0 when the machine
has two CPUs or more; fake-llm and the load generators (wrk, the stream client) share CPU 1.
The peers are installed by this script into environments of their own under bench/ (never
Chorus dependencies), at the versions of `PINS`: LiteLLM and TensorZero in Python virtual
environments, Portkey's gateway with npm. Each load level's time is split into interleaved
rounds (`measure`), and each slot starts once the target measured before it is idle.
"""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from statistics import median

from bench.load import LoadResult, stream_load, wrk
from bench.procs import CHORUS, CLOCK_TICKS, Server, create_key, fake_llm, free_port

HERE = Path(__file__).resolve().parent
LITELLM_VENV = Path(os.environ.get("BENCH_LITELLM_VENV", HERE / ".litellm-venv"))
TENSORZERO_VENV = Path(os.environ.get("BENCH_TENSORZERO_VENV", HERE / ".tensorzero-venv"))
PORTKEY_DIR = Path(os.environ.get("BENCH_PORTKEY_DIR", HERE / ".portkey"))
PINS = {"tensorzero": "2026.6.0", "portkey": "1.15.2", "litellm": "1.108.7"}
"""The peers' versions: those issue 17 measured its targets against. A newer release moves the
baseline, so a run installs these (and replaces another version it finds) until they change
here, with a run that shows the difference."""
PORTKEY_PACKAGE = {
    "private": True,
    "dependencies": {"@portkey-ai/gateway": PINS["portkey"]},
    # newer @hono/node-server releases make every streamed answer a 500 in this gateway
    "overrides": {"@hono/node-server": "1.14.1"},
}
PEERS = ("tensorzero", "portkey", "litellm")
LITELLM_KEY = "sk-bench-" + "0" * 48
PROMPT = [{"role": "user", "content": "Say hello to the benchmark in a few words."}]
GATEWAY_CPU, LOAD_CPU = 0, 1


def venv_with(venv: Path, package: str, extras: str = "", version: str | None = None) -> Path:
    """A virtual environment of its own holding `package` at `version` (default: its pin in
    `PINS`), installed or replaced when another is there; its Python."""
    python = venv / "bin" / "python"
    version = version or PINS[package]
    if _python_package(venv, package) != version:
        requirement = f"{package}{extras}=={version}"
        print(f"installing {requirement} into {venv} ...", flush=True)
        if not python.exists():
            subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
        subprocess.run([str(venv / "bin" / "pip"), "install", "--quiet",
                        "--disable-pip-version-check", requirement], check=True)
    return python


def ensure_litellm() -> Path:
    """LiteLLM's proxy in a virtual environment of its own (it is never a Chorus dependency)."""
    venv_with(LITELLM_VENV, "litellm", "[proxy]")
    return LITELLM_VENV / "bin" / "litellm"


def ensure_tensorzero() -> Path:
    """TensorZero's wheel (it carries the Rust gateway) in a virtual environment of its own."""
    return venv_with(TENSORZERO_VENV, "tensorzero")


def ensure_portkey() -> Path:
    """Portkey's gateway installed with npm under bench/.portkey; its start script."""
    script = PORTKEY_DIR / "node_modules" / "@portkey-ai" / "gateway" / "build" / "start-server.js"
    if _portkey_version() != PINS["portkey"]:
        if shutil.which("npm") is None:
            raise RuntimeError("Portkey's gateway needs Node.js and npm (apt-get install npm)")
        print(f"installing @portkey-ai/gateway into {PORTKEY_DIR} ...", flush=True)
        PORTKEY_DIR.mkdir(parents=True, exist_ok=True)
        (PORTKEY_DIR / "package.json").write_text(json.dumps(PORTKEY_PACKAGE, indent=2) + "\n")
        subprocess.run(["npm", "install", "--no-audit", "--no-fund", "--loglevel=error"],
                       cwd=PORTKEY_DIR, check=True)
    return script


def _python_package(venv: Path, name: str) -> str | None:
    python = venv / "bin" / "python"
    if not python.exists():
        return None
    return subprocess.run(
        [str(python), "-c", f"import importlib.metadata as m; print(m.version({name!r}))"],
        capture_output=True, text=True).stdout.strip() or None


def _portkey_version() -> str | None:
    package = PORTKEY_DIR / "node_modules" / "@portkey-ai" / "gateway" / "package.json"
    return json.loads(package.read_text())["version"] if package.exists() else None


def versions() -> dict[str, str | None]:
    """The installed version of each peer, or None when it is not installed."""
    return {"litellm": _python_package(LITELLM_VENV, "litellm"),
            "tensorzero": _python_package(TENSORZERO_VENV, "tensorzero"),
            "portkey": _portkey_version()}


def chorus_config(path: Path, fake_url: str) -> Path:
    path.write_text(f"""
[[providers]]
name = "fake"
dialect = "openai"
base_url = "{fake_url}/v1"

[[models]]
id = "fake-small"
provider = "fake"
upstream = "small"

[tiers.enterprise]
requests_per_minute = 1000000000
""")
    return path


def litellm_config(path: Path, fake_url: str) -> Path:
    path.write_text(f"""model_list:
  - model_name: fake-small
    litellm_params:
      model: openai/small
      api_base: {fake_url}/v1
      api_key: fake
""")
    return path


def tensorzero_config(path: Path, fake_url: str) -> Path:
    path.write_text(f"""
[models.fake-small]
routing = ["fake"]

[models.fake-small.providers.fake]
type = "openai"
model_name = "small"
api_base = "{fake_url}/v1/"
api_key_location = "none"
""")
    return path


@dataclass
class Target:
    """A server under load and how to ask it for a chat completion."""

    server: Server
    path: str
    model: str
    headers: dict[str, str] = field(default_factory=dict)


def pinned(command: list[str], pin: bool) -> list[str]:
    return ["taskset", "-c", str(GATEWAY_CPU), *command] if pin else command


def chorus_server(work: Path, fake_url: str, pin: bool, workers: int = 1,
                  name: str = "chorus") -> Server:
    """Chorus with its default configuration: log level info, the access log on."""
    env = {"CHORUS_DATABASE_URL": f"sqlite:///{work}/{name}.db",
           "CHORUS_CONFIG": str(chorus_config(work / "chorus.toml", fake_url))}
    port = free_port()
    return Server(name, pinned([*CHORUS, "serve", "--port", str(port), "--workers",
                                str(workers)], pin), port, env=env, ready_path="/healthz",
                  log=work / f"{name}.log")


def targets(work: Path, fake: Server, peers: tuple[str, ...], pin: bool) -> dict[str, Target]:
    fake_url = fake.url
    out = {"direct": Target(fake, "/v1/chat/completions", "small")}
    chorus = chorus_server(work, fake_url, pin)
    out["chorus"] = Target(chorus, "/v1/chat/completions", "fake-small",
                           {"Authorization": f"Bearer {create_key(chorus.env)}"})
    return out | peer_targets(work, fake_url, peers, pin)


def peer_targets(work: Path, fake_url: str, peers: tuple[str, ...],
                 pin: bool) -> dict[str, Target]:
    """The peers' servers (not started yet), each calling fake-llm at `fake_url`."""
    out = {}
    if "tensorzero" in peers:
        url_file = work / "tensorzero.url"
        command = [str(ensure_tensorzero()), str(HERE / "tensorzero_gateway.py"),
                   str(tensorzero_config(work / "tensorzero.toml", fake_url)), str(url_file)]
        out["tensorzero"] = Target(
            Server("tensorzero", pinned(command, pin), 0, ready_path="/",
                   log=work / "tensorzero.log", url_file=url_file),
            "/openai/v1/chat/completions", "tensorzero::model_name::fake-small")
    if "portkey" in peers:
        port = free_port()
        command = ["node", str(ensure_portkey()), f"--port={port}", "--headless"]
        out["portkey"] = Target(
            Server("portkey", pinned(command, pin), port, ready_path="/",
                   log=work / "portkey.log"),
            "/v1/chat/completions", "small",
            {"Authorization": "Bearer fake", "x-portkey-provider": "openai",
             "x-portkey-custom-host": f"{fake_url}/v1"})
    if "litellm" in peers:
        port = free_port()
        command = [str(ensure_litellm()), "--config",
                   str(litellm_config(work / "litellm.yaml", fake_url)), "--port", str(port),
                   "--num_workers", "1"]
        out["litellm"] = Target(
            Server("litellm", pinned(command, pin), port,
                   env={"LITELLM_LOCAL_MODEL_COST_MAP": "True", "LITELLM_OFFLINE_MODE": "true",
                        "LITELLM_MASTER_KEY": LITELLM_KEY},
                   ready_path="/health/liveliness", log=work / "litellm.log"),
            "/v1/chat/completions", "fake-small",
            {"Authorization": f"Bearer {LITELLM_KEY}"})
    return out


def can_pin() -> bool:
    return (os.cpu_count() or 1) >= 2 and shutil.which("taskset") is not None


@contextmanager
def on_cpu(cpu: int | None) -> Iterator[None]:
    """This process (and what it starts: fake-llm, wrk) on one CPU for the block."""
    if cpu is None:
        yield
        return
    before = os.sched_getaffinity(0)
    os.sched_setaffinity(0, {cpu})
    try:
        yield
    finally:
        os.sched_setaffinity(0, before)


def run(work: Path, seconds: float, concurrencies: tuple[int, ...],
        peers: tuple[str, ...] = PEERS, rounds: int = 1) -> dict[str, object]:
    pin = can_pin()
    with on_cpu(LOAD_CPU if pin else None):
        fake = fake_llm(work / "fake.log").start()
        chosen: dict[str, Target] = {}
        try:
            chosen = targets(work, fake, peers, pin)
            for target in chosen.values():
                if target.server is not fake:
                    target.server.start()
            results = measure(chosen, seconds, concurrencies, rounds)
        finally:
            fake.stop()
            for target in chosen.values():
                target.server.stop()
    results["pinned"] = pin
    results["rounds"] = rounds
    return results


def measure(chosen: dict[str, Target], seconds: float, concurrencies: tuple[int, ...],
            rounds: int = 1) -> dict[str, object]:
    """Every target at every load level for `seconds` in all, in `rounds` interleaved rounds
    (each round starts with the next target), so a moment of other work on the machine lands
    on one round of one target. Each figure is the median of the rounds' (requests and errors:
    their sum)."""
    names = list(chosen)
    by_target: dict[str, dict[str, list[LoadResult]]] = {}
    for number in range(rounds):
        order = names[number % len(names):] + names[:number % len(names)]
        for stream in (False, True):
            for concurrency in concurrencies:
                key = f"{'stream' if stream else 'plain'}/c{concurrency}"
                for name in order:  # interleaved: each level, every target
                    result = measured(chosen[name], stream, concurrency, seconds / rounds)
                    by_target.setdefault(name, {}).setdefault(key, []).append(result)
                    print(f"  {name:10} {key:11} {result.rps:9.0f} rps  p50 "
                          f"{result.p50_ms:7.2f} ms  p99 {result.p99_ms:7.2f} ms  ttft p50 "
                          f"{result.ttft_p50_ms or 0:6.2f} ms  cpu/request "
                          f"{result.cpu_ms_per_request or 0:6.3f} ms  errors {result.errors}",
                          flush=True)
    results: dict[str, dict[str, object]] = {
        name: {key: _median(runs).as_json() for key, runs in levels.items()}
        for name, levels in by_target.items()}
    for name, target in chosen.items():
        results[name]["peak_rss_mb"] = round(target.server.peak_rss_mb(), 1)
    return dict(results)


def measured(target: Target, stream: bool, concurrency: int, seconds: float) -> LoadResult:
    server = target.server
    body = {"model": target.model, "messages": PROMPT, "stream": stream}
    cpu = server.cpu_seconds()
    result = _one(server.url + target.path, body, target.headers, concurrency, seconds, stream)
    result.cpu_ms_per_request = (server.cpu_seconds() - cpu) * 1000 / max(result.requests, 1)
    waited = _settle(server)
    if waited > 0.5:
        print(f"  ({server.name} went on working {waited:.1f} s after its load ended)",
              flush=True)
    return result


def _settle(server: Server, timeout: float = 60.0) -> float:
    """Wait until `server` is idle (at most one clock tick of CPU in a quarter second): a
    gateway still working through abandoned requests must not share CPU 0 with the next
    target's measurement. Seconds waited."""
    started = time.monotonic()
    before = server.cpu_seconds()
    while time.monotonic() - started < timeout:
        time.sleep(0.25)
        now = server.cpu_seconds()
        if now - before <= 1.5 / CLOCK_TICKS:
            break
        before = now
    return time.monotonic() - started


def _median(runs: list[LoadResult]) -> LoadResult:
    def mid(values: list[float | None]) -> float | None:
        known = [v for v in values if v is not None]
        return median(known) if known else None

    return LoadResult(
        requests=sum(r.requests for r in runs), errors=sum(r.errors for r in runs),
        rps=median(r.rps for r in runs), p50_ms=median(r.p50_ms for r in runs),
        p99_ms=median(r.p99_ms for r in runs),
        ttft_p50_ms=mid([r.ttft_p50_ms for r in runs]),
        ttft_p99_ms=mid([r.ttft_p99_ms for r in runs]),
        cpu_ms_per_request=mid([r.cpu_ms_per_request for r in runs]))


def _one(url: str, body: dict[str, object], headers: dict[str, str], concurrency: int,
         seconds: float, stream: bool) -> LoadResult:
    if stream:
        return asyncio.run(stream_load(url, body, headers, concurrency, seconds))
    return wrk(url, body, headers, concurrency, seconds)
