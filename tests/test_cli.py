"""The command line, run as a user runs it: a subprocess against a fresh database."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

CHORUS = [sys.executable, "-m", "chorus.cli"]


def run(args: list[str], env: dict[str, str], ok: bool = True) -> subprocess.CompletedProcess:
    done = subprocess.run([*CHORUS, *args], env=env, capture_output=True, text=True, timeout=60)
    if ok:
        assert done.returncode == 0, done.stderr
    return done


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    return {**os.environ, "CHORUS_DATABASE_URL": f"sqlite:///{tmp_path}/cli.db"}


def test_keys_create_list_revoke(env: dict[str, str]) -> None:
    created = run(["keys", "create", "--user", "ada", "--test", "--name", "laptop"], env)
    secret = created.stdout.strip().splitlines()[-1]
    assert secret.startswith("sk_test_") and " " not in secret
    live = run(["keys", "create", "--user", "ada", "--tier", "pro"], env)
    assert live.stdout.strip().splitlines()[-1].startswith("sk_live_")
    listed = run(["keys", "list", "--user", "ada"], env).stdout
    lines = listed.strip().splitlines()
    assert len(lines) == 2 and "'laptop'" in listed
    assert secret not in listed
    key_id = next(line.split()[0] for line in lines if "'laptop'" in line)
    assert run(["keys", "revoke", key_id], env).stdout.strip() == f"revoked {key_id}"
    assert "revoked" in next(line for line in run(["keys", "list", "--user", "ada"], env)
                             .stdout.splitlines() if key_id in line)
    assert run(["keys", "revoke", "key_nope"], env, ok=False).returncode == 1


def test_bad_tier_and_unknown_user_are_refused(env: dict[str, str]) -> None:
    bad = run(["keys", "create", "--user", "x", "--tier", "gold"], env, ok=False)
    assert bad.returncode == 2 and "unknown tier" in bad.stderr
    assert run(["keys", "list", "--user", "nobody"], env, ok=False).returncode != 0


def test_db_upgrade_is_repeatable(env: dict[str, str]) -> None:
    assert "up to date" in run(["db", "upgrade"], env).stdout
    assert "up to date" in run(["db", "upgrade"], env).stdout


def test_bad_config_file_is_a_clear_error(env: dict[str, str], tmp_path: Path) -> None:
    config = tmp_path / "chorus.toml"
    config.write_text('[[models]]\nid = "m"\nprovider = "nowhere"\n')
    done = run(["db", "upgrade", "--config", str(config)], env, ok=False)
    assert done.returncode == 2 and "unknown provider 'nowhere'" in done.stderr
