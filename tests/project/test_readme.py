"""The README runs as written: `./dev serve` on a fresh database, then its curl session; and
the same snippets against this checkout's server, with a wrong key and port too."""

from __future__ import annotations

import asyncio
import os
import re
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from chorus.app import create_app
from chorus.cli import _first_start
from chorus.config import load_settings
from tests.conftest import ServerThread
from tests.processes import free_port, wait_until_up

ROOT = Path(__file__).resolve().parents[2]
README = (ROOT / "README.md").read_text()


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
        wait_until_up(f"{base}/healthz", server, within=deadline - time.monotonic())
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


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, str]]:
    """This checkout's server on a real socket and the key its first start prints."""
    database = f"sqlite:///{tmp_path_factory.mktemp('readme')}/served.db"
    settings = load_settings(None, database_url=database, simulated_speed=0)
    key = asyncio.run(_first_start(settings))
    assert key is not None
    with ServerThread(create_app(settings)) as server:
        yield server.url, key


def run_shell(script: str, key: str, strict: bool) -> subprocess.CompletedProcess[str]:
    """The snippets as a reader's shell runs them (`strict`: stopping at the first failure)."""
    flags = ["-euo", "pipefail"] if strict else []
    return subprocess.run(["bash", *flags, "-c", script], env={**os.environ, "CHORUS_KEY": key},
                          capture_output=True, text=True, timeout=120)


def test_the_try_it_session_runs(served: tuple[str, str]) -> None:
    url, key = served
    done = run_shell(shell_blocks("Try it").replace("http://127.0.0.1:8000", url), key, True)
    assert done.returncode == 0, done.stdout + done.stderr
    assert '"object":"session.deleted"' in done.stdout.replace(" ", "")
    assert "quantum" in done.stdout.lower() + done.stderr.lower()


def test_a_wrong_key_shows_the_servers_error_not_a_traceback(served: tuple[str, str]) -> None:
    url, _ = served
    script = shell_blocks("Try it").replace("http://127.0.0.1:8000", url)
    wrong = "sk_test_" + "x" * 43
    first = run_shell(script, wrong, True)  # stops at the first command, as it failed
    assert first.returncode != 0 and "session:" not in first.stdout
    assert '"code":"invalid_api_key"' in first.stderr, first.stderr
    every = run_shell(script, wrong, False)  # a reader's shell goes on: every command says why
    output = every.stdout + every.stderr
    assert "Traceback" not in output, output
    # the chat, the stream, the ensemble and the list; those on "$SESSION" have none to name
    assert output.count('"code":"invalid_api_key"') == 4, output


def test_a_wrong_port_shows_curls_error_not_a_traceback(served: tuple[str, str]) -> None:
    _, key = served
    script = shell_blocks("Try it").replace("http://127.0.0.1:8000",
                                            f"http://127.0.0.1:{free_port()}")
    done = run_shell(script, key, False)
    output = done.stdout + done.stderr
    assert "Traceback" not in output, output
    assert "curl: (7)" in output and "no answer (curl says why above)" in output


def test_the_python_snippets_run_where_openai_and_anthropic_are_installed(
        served: tuple[str, str]) -> None:
    """The README's Python blocks, in order as a reader runs them (the Responses call goes on
    with the first block's client): Chat Completions, Responses, Anthropic's Messages."""
    url, key = served
    assert "pip install openai" in README.split("```python", 1)[0].rstrip().rsplit("\n\n", 1)[-1]
    snippets = re.findall(r"```python\n(.*?)```", README, re.S)
    assert len(snippets) == 3
    done = subprocess.run([sys.executable, "-c",
                           "\n".join(snippets).replace("http://127.0.0.1:8000", url)],
                          env={**os.environ, "CHORUS_KEY": key}, capture_output=True, text=True,
                          timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip()
