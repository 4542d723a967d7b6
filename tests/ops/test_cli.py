"""The command line against a fresh database: its commands run in process (typer's runner,
with the environment a user would set), and once as the `python -m chorus.cli` process."""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest
from typer.testing import CliRunner

from chorus.cli import app

Env = dict[str, str | None]
"""Variables set for one command (None: unset), over the test process's environment."""


@dataclass
class Ran:
    returncode: int
    stdout: str
    stderr: str


def run(args: list[str], env: Env, ok: bool = True) -> Ran:
    result = CliRunner().invoke(app, args, env=env)
    if result.exception and not isinstance(result.exception, SystemExit):
        assert not ok, result.exception  # an error escaping the command is exit status 1
    done = Ran(result.exit_code, result.stdout, result.stderr)
    if ok:
        assert done.returncode == 0, done.stderr
    return done


@pytest.fixture
def env(tmp_path: Path) -> Env:
    return {"CHORUS_DATABASE_URL": f"sqlite:///{tmp_path}/cli.db"}


def test_keys_create_list_revoke(env: Env) -> None:
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


PROVIDER_VARIABLES = ("OPENAI_API_KEY", "ANTHROPIC_API_KEY", "GEMINI_API_KEY", "GOOGLE_API_KEY",
                      "OLLAMA_BASE_URL", "CHORUS_CONFIG")


def tier_of(env: Env, name: str) -> str:
    path = str(env["CHORUS_DATABASE_URL"]).removeprefix("sqlite:///")
    with sqlite3.connect(path) as db:
        return str(db.execute("SELECT tier FROM users WHERE name = ?", (name,)).fetchone()[0])


def test_keys_create_for_an_existing_user_changes_the_tier_and_says_so(
        env: Env) -> None:
    first = run(["keys", "create", "--user", "alice", "--tier", "free", "--test"], env)
    assert "tier changed" not in first.stdout and tier_of(env, "alice") == "free"
    moved = run(["keys", "create", "--user", "alice", "--tier", "power", "--test"], env)
    assert "user alice: tier changed from free to power" in moved.stdout
    assert tier_of(env, "alice") == "power"
    assert moved.stdout.strip().splitlines()[-1].startswith("sk_test_")  # still the last line
    kept = run(["keys", "create", "--user", "alice", "--test"], env)  # no --tier: kept
    assert "tier changed" not in kept.stdout and tier_of(env, "alice") == "power"
    same = run(["keys", "create", "--user", "alice", "--tier", "power", "--test"], env)
    assert "tier changed" not in same.stdout
    run(["keys", "create", "--user", "newcomer", "--test"], env)
    assert tier_of(env, "newcomer") == "power"  # the default for a new user
    helped = run(["keys", "create", "--help"], env).stdout
    assert "an existing user is moved to it" in " ".join(helped.replace("│", " ").split())


def test_a_live_key_without_any_provider_comes_with_a_warning(env: Env) -> None:
    bare: Env = {**env, **dict.fromkeys(PROVIDER_VARIABLES)}
    live = run(["keys", "create", "--user", "lee"], bare)
    assert "warning: this is a sk_live_ key" in live.stderr and "--test" in live.stderr
    assert live.stdout.strip().splitlines()[-1].startswith("sk_live_")
    test = run(["keys", "create", "--user", "lee", "--test"], bare)
    assert "warning" not in test.stderr
    with_openai = run(["keys", "create", "--user", "lee"], {**bare, "OPENAI_API_KEY": "sk-x"})
    assert "warning" not in with_openai.stderr


def test_bad_tier_and_unknown_user_are_refused(env: Env) -> None:
    bad = run(["keys", "create", "--user", "x", "--tier", "gold"], env, ok=False)
    assert bad.returncode == 2 and "unknown tier" in bad.stderr
    assert run(["keys", "list", "--user", "nobody"], env, ok=False).returncode != 0


def test_db_upgrade_is_repeatable_as_a_process(tmp_path: Path) -> None:
    env = {**os.environ, "CHORUS_DATABASE_URL": f"sqlite:///{tmp_path}/cli.db"}
    for _ in range(2):
        done = subprocess.run([sys.executable, "-m", "chorus.cli", "db", "upgrade"], env=env,
                              capture_output=True, text=True, timeout=60, check=False)
        assert done.returncode == 0 and "up to date" in done.stdout, done.stderr


def test_bad_config_file_is_a_clear_error(env: Env, tmp_path: Path) -> None:
    config = tmp_path / "chorus.toml"
    config.write_text('[[models]]\nid = "m"\nprovider = "nowhere"\n')
    done = run(["db", "upgrade", "--config", str(config)], env, ok=False)
    assert done.returncode == 2 and "unknown provider 'nowhere'" in done.stderr
