"""`chorus serve --workers N`: N serving processes on one port, as a user starts them."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path

import httpx2 as httpx
import pytest

from tests.processes import free_port, python_path, wait_until_up


@contextmanager
def serving(args: list[str], env: dict[str, str], log: Path,
            cwd: Path | None = None) -> Iterator[tuple[subprocess.Popen[bytes], str]]:
    """`chorus serve ARGS` on a free port, once /healthz answers; stopped with SIGTERM."""
    port = free_port()
    with open(log, "wb") as out:
        process = subprocess.Popen([sys.executable, "-m", "chorus.cli", "serve", "--port",
                                    str(port), *args], env=env, stdout=out, cwd=cwd,
                                   stderr=subprocess.STDOUT, start_new_session=True)
    url = f"http://127.0.0.1:{port}"
    try:
        wait_until_up(f"{url}/healthz", process, within=60, output=log.read_text)
        yield process, url
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(20)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait(5)


def children_of(pid: int) -> set[int]:
    found = set()
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            if int(stat.rsplit(")", 1)[1].split()[1]) == pid:
                found.add(int(entry.name))
    return found


def answering_pids(url: str, attempts: int = 20, per_attempt: int = 16) -> set[int]:
    """The pids /healthz reports over fresh connections sent in parallel."""
    def one(_: int) -> int:
        response = httpx.get(f"{url}/healthz", headers={"connection": "close"}, timeout=10)
        return int(response.json()["pid"])

    pids: set[int] = set()
    with ThreadPoolExecutor(per_attempt) as pool:
        for _ in range(attempts):
            pids |= set(pool.map(one, range(per_attempt)))
            if len(pids) > 1:
                break
    return pids


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    clean = {k: v for k, v in os.environ.items() if k != "CHORUS_REDIS_URL"}
    return {**clean, "PYTHONPATH": python_path(), "CHORUS_DATABASE_URL": f"sqlite:///{tmp_path}/w.db"}


def test_two_workers_answer_from_two_processes(env: dict[str, str], tmp_path: Path) -> None:
    log = tmp_path / "serve.log"
    config = tmp_path / "chorus.toml"
    config.write_text('[[providers]]\nname = "up"\nbase_url = "http://127.0.0.1:9/v1"\n\n'
                      '[[models]]\nid = "from-the-file"\nprovider = "up"\n')
    key = subprocess.run([sys.executable, "-m", "chorus.cli", "keys", "create", "--user", "w",
                          "--config", str(config)], env=env, capture_output=True, text=True,
                         timeout=60, check=True).stdout.strip().splitlines()[-1]
    with serving(["--workers", "2", "--config", config.name], {**env, "PWD": str(tmp_path)},
                 log, cwd=tmp_path) as (process, url):
        pids = answering_pids(url)
        workers = children_of(process.pid)
        assert len(pids) == 2, pids
        assert pids <= workers, (pids, workers)
        assert process.pid not in pids
        for _ in range(8):  # every worker read the --config file, given as a relative path
            models = httpx.get(f"{url}/v1/models", headers={"authorization": f"Bearer {key}",
                                                            "connection": "close"}, timeout=10)
            assert "from-the-file" in [m["id"] for m in models.json()["data"]]
    assert process.returncode == 0
    assert not any(Path(f"/proc/{pid}").exists() for pid in pids)  # stopped with the parent
    text = log.read_text()
    assert "Starting 2 worker processes" in text
    assert "counted in each process" in text and "CHORUS_REDIS_URL is not set" in text


def test_one_worker_is_the_serving_process(env: dict[str, str], tmp_path: Path) -> None:
    with serving([], env, tmp_path / "serve.log") as (process, url):
        assert answering_pids(url, attempts=2) == {process.pid}
    assert "worker processes" not in (tmp_path / "serve.log").read_text()


def test_workers_with_redis_say_limits_are_shared(env: dict[str, str], tmp_path: Path) -> None:
    from chorus.cli import _workers_notice
    from chorus.config import load_settings

    shared = _workers_notice(3, load_settings(None, redis_url="redis://127.0.0.1:6379/0"))
    assert "Starting 3 worker processes" in shared and "shared through Redis" in shared


def test_zero_workers_is_refused(env: dict[str, str]) -> None:
    done = subprocess.run([sys.executable, "-m", "chorus.cli", "serve", "--workers", "0"],
                          env=env, capture_output=True, text=True, timeout=60)
    assert done.returncode == 2
    assert "--workers" in done.stderr


SLOW_START = ("import os, sys, time\n"
              "if '--multiprocessing-fork' in sys.argv and os.path.exists(__file__ + '.on'):\n"
              "    time.sleep(6)\n")
"""A sitecustomize that makes worker processes start 6 s late, as on a loaded machine, once
the file beside it named `sitecustomize.py.on` exists."""


def test_a_worker_that_dies_is_replaced(env: dict[str, str], tmp_path: Path) -> None:
    """Even when the replacement starts slower than uvicorn's default health check (5 s)
    allows: with it, every replacement was killed as hung before it could serve."""
    slow = tmp_path / "slow" / "sitecustomize.py"
    slow.parent.mkdir()
    slow.write_text(SLOW_START)
    env = {**env, "PYTHONPATH": os.pathsep.join([str(slow.parent), env["PYTHONPATH"]])}
    with serving(["--workers", "2"], env, tmp_path / "serve.log") as (process, url):
        first = answering_pids(url)
        assert len(first) == 2
        killed = min(first)
        Path(f"{slow}.on").touch()
        os.kill(killed, signal.SIGKILL)
        deadline = time.monotonic() + 60
        while True:
            now = answering_pids(url, attempts=2)
            if killed not in now and len(children_of(process.pid) & (now - first)) == 1:
                break
            assert time.monotonic() < deadline, f"no new worker: {now}"
            time.sleep(0.2)
    assert (tmp_path / "serve.log").read_text().count("died") == 1
