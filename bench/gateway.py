"""Gateway overhead: fake-llm direct, Chorus in front of it, LiteLLM's proxy in front of it."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from pathlib import Path

from bench.load import LoadResult, stream_load, wrk
from bench.procs import CHORUS, Server, create_key, free_port

LITELLM_VENV = Path(os.environ.get("BENCH_LITELLM_VENV", Path(__file__).parent / ".litellm-venv"))
LITELLM_KEY = "sk-bench-" + "0" * 48
PROMPT = [{"role": "user", "content": "Say hello to the benchmark in a few words."}]


def ensure_litellm() -> Path:
    """LiteLLM's proxy in a virtual environment of its own (it is never a Chorus dependency)."""
    litellm = LITELLM_VENV / "bin" / "litellm"
    if not litellm.exists():
        print(f"installing litellm[proxy] into {LITELLM_VENV} ...", flush=True)
        subprocess.run([sys.executable, "-m", "venv", str(LITELLM_VENV)], check=True)
        subprocess.run([str(LITELLM_VENV / "bin" / "pip"), "install", "--quiet",
                        "litellm[proxy]"], check=True)
    return litellm


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


def servers(work: Path, with_litellm: bool) -> dict[str, Server]:
    fake_port = free_port()
    fake = Server("fake-llm", [*CHORUS, "fake-llm", "--port", str(fake_port), "--no-record"],
                  fake_port, ready_path="/v1/models", log=work / "fake.log")
    chorus_env = {"CHORUS_DATABASE_URL": f"sqlite:///{work}/gateway.db",
                  "CHORUS_CONFIG": str(chorus_config(work / "chorus.toml", fake.url)),
                  "CHORUS_LOG_LEVEL": "warning"}
    chorus_port = free_port()
    chorus = Server("chorus", [*CHORUS, "serve", "--port", str(chorus_port)], chorus_port,
                    env=chorus_env, ready_path="/healthz", log=work / "chorus.log")
    out = {"direct": fake, "chorus": chorus}
    if with_litellm:
        port = free_port()
        out["litellm"] = Server(
            "litellm", [str(ensure_litellm()), "--config",
                        str(litellm_config(work / "litellm.yaml", fake.url)), "--port", str(port),
                        "--num_workers", "1"], port,
            env={"LITELLM_LOCAL_MODEL_COST_MAP": "True", "LITELLM_OFFLINE_MODE": "true",
                 "LITELLM_LOG": "ERROR", "LITELLM_MASTER_KEY": LITELLM_KEY},
            ready_path="/health/liveliness",
            log=work / "litellm.log")
    return out


def run(work: Path, seconds: float, concurrencies: tuple[int, ...],
        with_litellm: bool = True) -> dict[str, object]:
    targets = servers(work, with_litellm)
    targets["direct"].start()
    chorus_key = create_key(targets["chorus"].env)
    for name in ("chorus", "litellm"):
        if name in targets:
            targets[name].start()
    requests = {
        "direct": ("/v1/chat/completions", "small", {}),
        "chorus": ("/v1/chat/completions", "fake-small",
                   {"Authorization": f"Bearer {chorus_key}"}),
        "litellm": ("/v1/chat/completions", "fake-small",
                    {"Authorization": f"Bearer {LITELLM_KEY}"}),
    }
    results: dict[str, dict[str, object]] = {}
    try:
        for stream in (False, True):
            for concurrency in concurrencies:
                for name, server in targets.items():  # interleaved: each level, every target
                    path, model, headers = requests[name]
                    body = {"model": model, "messages": PROMPT, "stream": stream}
                    cpu = server.cpu_seconds()
                    result = _one(server.url + path, body, headers, concurrency, seconds, stream)
                    result.cpu_ms_per_request = (server.cpu_seconds() - cpu) * 1000 / max(
                        result.requests, 1)
                    key = f"{'stream' if stream else 'plain'}/c{concurrency}"
                    results.setdefault(name, {})[key] = result.as_json()
                    print(f"  {name:8} {key:11} {result.rps:9.0f} rps  p50 {result.p50_ms:7.2f} ms"
                          f"  p99 {result.p99_ms:7.2f} ms  cpu/request "
                          f"{result.cpu_ms_per_request:6.3f} ms  errors {result.errors}",
                          flush=True)
        for name, server in targets.items():
            results[name]["peak_rss_mb"] = round(server.peak_rss_mb(), 1)
    finally:
        for server in targets.values():
            server.stop()
    return results


def _one(url: str, body: dict[str, object], headers: dict[str, str], concurrency: int,
         seconds: float, stream: bool) -> LoadResult:
    if stream:
        return asyncio.run(stream_load(url, body, headers, concurrency, seconds))
    return wrk(url, body, headers, concurrency, seconds)
