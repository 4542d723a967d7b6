"""`./dev`, run only where it exits before touching `.venv`: help and unknown commands."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

DEV = Path(__file__).resolve().parents[2] / "dev"


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
