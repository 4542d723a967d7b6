"""Servers under test as subprocesses: start, wait until they answer, read their memory."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx2 as httpx

ROOT = Path(__file__).resolve().parents[1]
CHORUS = [sys.executable, "-m", "chorus.cli"]
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


def debian_tool(command: str, package: str | None = None) -> str | None:
    """The path of a command from a Debian package, installed with apt-get (as root) when it
    is missing; None when it is missing and cannot be installed."""
    def found() -> str | None:
        return shutil.which(command) or next(
            (p for p in (f"/usr/sbin/{command}", f"/usr/bin/{command}") if Path(p).exists()), None)

    if found() is None and shutil.which("apt-get") and os.geteuid() == 0:
        install = ["apt-get", "install", "-y", "-qq", package or command]
        for step in (install, ["apt-get", "update", "-qq"], install):
            if found() is not None:
                break
            subprocess.run(step, capture_output=True, timeout=300, check=False)
    return found()


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _tree(pid: int) -> list[int]:
    """The process and all its descendants."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        ppid = int(stat.rsplit(")", 1)[1].split()[1])
        children.setdefault(ppid, []).append(int(entry.name))
    out, todo = [], [pid]
    while todo:
        current = todo.pop()
        out.append(current)
        todo.extend(children.get(current, []))
    return out


def _status_kb(pid: int, field_name: str) -> int:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith(field_name + ":"):
                return int(line.split()[1])
    except OSError:
        pass
    return 0


@dataclass
class Server:
    name: str
    command: list[str]
    port: int
    env: dict[str, str] = field(default_factory=dict)
    ready_path: str = "/v1/models"
    log: Path | None = None
    url_file: Path | None = None
    """For a server that picks its own port: the file where it writes its base URL."""
    proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        if self.url_file is not None:
            return self.url_file.read_text().strip()
        return f"http://127.0.0.1:{self.port}"

    def start(self, timeout: float = 120.0) -> Server:
        log = open(self.log or os.devnull, "ab")  # noqa: SIM115 - closed with the process
        self.proc = subprocess.Popen(self.command, env={**os.environ, **self.env}, stdout=log,
                                     stderr=subprocess.STDOUT, start_new_session=True)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(
                    f"{self.name} exited with {self.proc.returncode}; see {self.log}")
            if self.url_file is not None and not self.url_file.exists():
                time.sleep(0.2)
                continue
            try:
                httpx.get(self.url + self.ready_path, timeout=1.0)
                return self
            except httpx.TransportError:
                time.sleep(0.2)
        raise RuntimeError(f"{self.name} did not answer within {timeout:.0f}s")

    def rss_mb(self) -> float:
        """Resident memory now, summed over the process tree."""
        assert self.proc is not None
        return sum(_status_kb(p, "VmRSS") for p in _tree(self.proc.pid)) / 1024

    def peak_rss_mb(self) -> float:
        """The largest peak resident memory of any process of the tree (the worker)."""
        assert self.proc is not None
        return max(_status_kb(p, "VmHWM") for p in _tree(self.proc.pid)) / 1024

    def cpu_seconds(self) -> float:
        """User and system CPU time used so far, summed over the process tree."""
        assert self.proc is not None
        ticks = 0
        for pid in _tree(self.proc.pid):
            try:
                fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            ticks += int(fields[11]) + int(fields[12])
        return ticks / CLOCK_TICKS

    def stop(self) -> None:
        if self.proc is None or self.proc.poll() is not None:
            return
        os.killpg(self.proc.pid, signal.SIGTERM)
        try:
            self.proc.wait(15)
        except subprocess.TimeoutExpired:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(5)

    def __enter__(self) -> Server:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def fake_llm(log: Path | None = None, *options: str) -> Server:
    """fake-llm on a free port, not started, keeping no record of what it is asked; `options`
    are its own (`--tokens`, `--tps`, ...)."""
    port = free_port()
    return Server("fake-llm", [*CHORUS, "fake-llm", "--port", str(port), "--no-record", *options],
                  port, log=log)


def create_key(env: dict[str, str], user: str = "bench", tier: str = "enterprise") -> str:
    done = subprocess.run([*CHORUS, "keys", "create", "--user", user, "--tier", tier],
                          env={**os.environ, **env}, capture_output=True, text=True, check=True)
    return done.stdout.strip().splitlines()[-1]
