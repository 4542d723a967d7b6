"""The README runs as written: `./dev serve` on a fresh database, then its curl session."""

from __future__ import annotations

import os
import re
import socket
import subprocess
import time
from pathlib import Path

import httpx2 as httpx

ROOT = Path(__file__).resolve().parents[1]
README = (ROOT / "README.md").read_text()


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def shell_blocks(heading: str) -> str:
    section = README.split(f"## {heading}", 1)[1].split("\n## ", 1)[0]
    return "\n".join(re.findall(r"```sh\n(.*?)```", section, re.S))


def test_readme_opens_with_the_two_commands() -> None:
    first = re.search(r"```sh\n(.*?)```", README, re.S)
    assert first is not None
    commands = [line.split("#")[0].strip() for line in first.group(1).splitlines()]
    assert commands == ["./dev serve", "./dev test"]


def test_first_start_prints_a_key_and_the_curl_session_runs(tmp_path: Path) -> None:
    port = free_port()
    env = {**os.environ, "CHORUS_DATABASE_URL": f"sqlite:///{tmp_path}/readme.db",
           "CHORUS_SIMULATED_SPEED": "0.05"}
    server = subprocess.Popen([str(ROOT / "dev"), "serve", "--port", str(port)], env=env,
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        key = None
        deadline = time.monotonic() + 120
        assert server.stdout is not None
        while key is None and time.monotonic() < deadline:
            line = server.stdout.readline()
            assert line or server.poll() is None, "server exited"
            found = re.search(r"sk_test_\w+", line)
            key = found.group(0) if found else None
        assert key, "no key printed at first start"
        base = f"http://127.0.0.1:{port}"
        while time.monotonic() < deadline:
            try:
                httpx.get(f"{base}/v1/models", timeout=1)
                break
            except httpx.TransportError:
                time.sleep(0.1)
        script = shell_blocks("Try it").replace("http://127.0.0.1:8000", base)
        done = subprocess.run(["bash", "-euo", "pipefail", "-c", script],
                              env={**env, "CHORUS_KEY": key}, capture_output=True, text=True,
                              timeout=120)
        assert done.returncode == 0, done.stdout + done.stderr
        assert '"object":"session.deleted"' in done.stdout.replace(" ", "")
        assert "quantum" in done.stdout.lower()
    finally:
        server.terminate()
        server.wait(10)
