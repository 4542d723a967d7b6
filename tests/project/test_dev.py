"""`./dev`, run only where it exits before touching `.venv`: help and unknown commands, and
another environment named by CHORUS_VENV."""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
DEV = ROOT / "dev"


def dev(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, str(DEV), *args], capture_output=True, text=True,
                          timeout=30)


def test_an_unknown_command_is_named_and_refused() -> None:
    done = dev("frob")
    assert done.returncode == 2
    assert "unknown command 'frob'" in done.stderr
    assert "./dev serve" in done.stderr  # with the commands it knows
    assert done.stdout == ""


def test_help_and_no_command_print_the_commands() -> None:
    for args in ((), ("help",)):
        done = dev(*args)
        assert done.returncode == 0 and "./dev serve" in done.stdout and done.stderr == ""


def test_chorus_venv_names_the_environment_used(tmp_path: Path) -> None:
    """An environment that holds what lint needs (its stamp) is used as it is: its own tools run."""
    tools = tmp_path / "bin"
    tools.mkdir()
    (tools / "python").symlink_to(sys.executable)
    digest = hashlib.sha256((ROOT / "pyproject.toml").read_bytes()).hexdigest()[:16]
    (tmp_path / f".installed[dev]-{digest}").touch()
    for tool in ("ruff", "mypy"):
        script = tools / tool
        script.write_text(f'#!/bin/sh\necho {tool} "$@" >> {tmp_path / "ran"}\n')
        script.chmod(0o755)
    done = subprocess.run([sys.executable, str(DEV), "lint"], capture_output=True, text=True,
                          timeout=30, env={**os.environ, "CHORUS_VENV": str(tmp_path)})
    assert done.returncode == 0, done.stderr
    assert (tmp_path / "ran").read_text().splitlines() == ["ruff check .", "mypy src"]
    assert "installing" not in done.stdout
