"""Chorus as a user runs it: `chorus` commands and `chorus serve` in subprocesses, on free
loopback ports, with this checkout's code."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx2 as httpx
import pytest

SRC = Path(__file__).resolve().parents[1] / "src"
CLI = "from chorus.cli import main; main()"
"""`python -c CLI ...` is the `chorus` command, whether or not it is on PATH."""


def python_path() -> str:
    """PYTHONPATH for a child process: this checkout's src first."""
    return os.pathsep.join(filter(None, [str(SRC), os.environ.get("PYTHONPATH")]))


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def chorus_env(database: Path) -> dict[str, str]:
    """The environment of a `chorus` process on a SQLite file, free of the caller's config."""
    env = {**os.environ, "CHORUS_DATABASE_URL": f"sqlite:///{database}",
           "CHORUS_SIMULATED_SPEED": "1", "CHORUS_LOG_LEVEL": "warning",
           "PYTHONPATH": python_path()}
    for name in ("CHORUS_CONFIG", "CHORUS_REDIS_URL", "OPENAI_API_KEY", "ANTHROPIC_API_KEY",
                 "GEMINI_API_KEY", "GOOGLE_API_KEY", "OLLAMA_BASE_URL"):
        env.pop(name, None)
    return env


def create_test_key(env: dict[str, str], user: str = "crash") -> str:
    """`chorus keys create --test`: the new key's secret."""
    done = subprocess.run([sys.executable, "-c", CLI, "keys", "create", "--user", user,
                           "--test"], env=env, capture_output=True, text=True, timeout=60,
                          check=True)
    return done.stdout.strip().splitlines()[-1]


def wait_until_up(url: str, process: subprocess.Popen[Any] | None = None, within: float = 30,
                  output: Callable[[], str] = str) -> None:
    """Until `url` answers at all (any status); a failure, with the tail of `output()`, if
    `process` exits first or `within` seconds pass."""
    deadline = time.monotonic() + within
    while True:
        try:
            httpx.get(url, timeout=1)
            return
        except httpx.TransportError:
            pass
        if (process is not None and process.poll() is not None) or time.monotonic() > deadline:
            pytest.fail(f"{url} did not answer: {output()[-2000:]}")
        time.sleep(0.02)


@contextmanager
def chorus_serve(env: dict[str, str]) -> Iterator[tuple[subprocess.Popen[bytes], str]]:
    """A real `chorus serve` process, up and answering /healthz."""
    port = free_port()
    process = subprocess.Popen([sys.executable, "-c", CLI, "serve", "--port", str(port)],
                               env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    url = f"http://127.0.0.1:{port}"
    try:
        wait_until_up(f"{url}/healthz", process,
                      output=lambda: process.stderr.read().decode() if process.stderr else "")
        yield process, url
    finally:
        if process.poll() is None:
            process.kill()
        process.wait(10)
        if process.stderr:
            process.stderr.close()
