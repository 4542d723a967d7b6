"""Schemathesis against the live server: no 5xx, and every answer as the OpenAPI document says.

Runs every check but `positive_data_acceptance`: a schema-valid request may still name a
model, session or key that does not exist, and that is rightly a 4xx. The seed is fixed so a
failure reproduces; run `st run` by hand with more examples to dig deeper (docs/limits.md).
"""

from __future__ import annotations

import asyncio
import subprocess
import sys
from collections.abc import Iterator
from contextlib import ExitStack, suppress
from dataclasses import dataclass
from pathlib import Path

import pytest

from chorus.app import create_app
from chorus.config import FileConfig, TestKeyLimits, default_tiers, load_settings
from tests.conftest import ServerThread, migrated, new_key, sqlite_copy

pytest.importorskip("schemathesis")
pytestmark = pytest.mark.slow

EXAMPLES = 15
SEED = 20261125


async def make_key(database_url: str) -> str:
    """A power-tier sk_test_ key, made before the server starts (which finds it migrated)."""
    await migrated(database_url)
    return await new_key(database_url, test=True)


@dataclass
class Run:
    process: subprocess.Popen[bytes]
    output: Path


def start(database_url: str, work: Path, stack: ExitStack) -> Run:
    """A live server on `database_url` and schemathesis against it, left running."""
    tiers = default_tiers()
    tiers["power"] = tiers["power"].model_copy(update={"requests_per_minute": None})
    unlimited = FileConfig(tiers=tiers, test_keys=TestKeyLimits(requests_per_minute=None,
                                                                queries_per_period=None))
    settings = load_settings(None, database_url=database_url, simulated_speed=0, file=unlimited)
    secret = asyncio.run(make_key(database_url))
    server = stack.enter_context(ServerThread(create_app(settings)))
    output = work / "schemathesis.txt"
    with open(output, "wb") as out:  # a file, not a pipe: no one reads it until its test runs
        process = subprocess.Popen(
            [sys.executable, "-m", "schemathesis.cli", "run", f"{server.url}/openapi.json",
             "--header", f"Authorization: Bearer {secret}", "--checks", "all",
             "--exclude-checks", "positive_data_acceptance", "--max-examples", str(EXAMPLES),
             "--seed", str(SEED), "--no-color",
             "--workers", "1",  # several threads trip a CPython 3.11 AST bug in hypothesis
             "--report", "junit", "--report-dir", str(work)],
            stdout=out, stderr=subprocess.STDOUT, cwd=work)  # its cache goes there

    def stop() -> None:  # a run its test did not wait for (it failed first) is cut short
        if process.poll() is None:
            process.kill()
        process.wait()

    stack.callback(stop)
    return Run(process, output)


@pytest.fixture(scope="module")
def runs(request: pytest.FixtureRequest,
         tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Run]]:
    """Schemathesis on each database, both started at once: each run keeps one process busy
    making requests, so the two share the machine's two cores (about half the wall time of one
    after the other)."""
    urls = {"sqlite": sqlite_copy(request.getfixturevalue("sqlite_template"),
                                  tmp_path_factory.mktemp("sqlite"))}
    with suppress(pytest.skip.Exception):  # then its own test skips, as every PostgreSQL test
        urls["postgresql"] = request.getfixturevalue("postgres_url")
    with ExitStack() as stack:
        yield {name: start(url, tmp_path_factory.mktemp(f"schemathesis-{name}"), stack)
               for name, url in urls.items()}


@pytest.mark.parametrize("database", ["sqlite",
                                      pytest.param("postgresql", marks=pytest.mark.postgres)])
def test_schemathesis_finds_no_server_error_and_no_schema_violation(
        database: str, runs: dict[str, Run], request: pytest.FixtureRequest) -> None:
    if database not in runs:
        request.getfixturevalue("postgres_url")  # skips (or, in CI, fails) with the reason
    run = runs[database]
    returncode = run.process.wait(timeout=300)
    summary = run.output.read_text(errors="replace")[-6000:]
    print(summary)  # shown with -s: the numbers for the record
    assert returncode == 0, f"schemathesis found problems:\n{summary}"
    assert " passed" in summary or "No issues found" in summary, summary
