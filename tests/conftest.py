"""Fixtures: the app over SQLite and PostgreSQL, keys, and servers on real sockets."""

from __future__ import annotations

import asyncio
import os
import shutil
import socket
import subprocess
import threading
import time
import uuid
from collections.abc import AsyncIterator, Iterator, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx2 as httpx
import pytest
import sqlalchemy as sa
import uvicorn

from chorus import auth, serving
from chorus.app import create_app
from chorus.chat.services import Services
from chorus.config import FileConfig, Settings, TestKeyLimits, load_settings
from chorus.fakellm.server import FakeLLM
from chorus.store import Store
from chorus.store.db import create_engine, migrate

IN_CI = os.environ.get("CI") == "true"
PG_URL = os.environ.get("CHORUS_TEST_PG_URL", "postgresql://postgres@127.0.0.1:5432/test")
REDIS_URL = os.environ.get("CHORUS_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")


CACHE = Path(__file__).resolve().parents[1] / ".cache"
"""Downloads the tests reuse between runs (gitignored)."""


def npm_modules(name: str, packages: Sequence[str]) -> Path:
    """npm packages installed once under .cache/NAME and reused by later runs (and by every
    test that names the same set)."""
    if not (shutil.which("node") and shutil.which("npm")):
        unavailable("node and npm", "not on PATH")
    home = CACHE / name
    if (home / ".done").exists():
        return home / "node_modules"
    staging = home.with_name(f"{home.name}.tmp-{os.getpid()}")
    staging.mkdir(parents=True, exist_ok=True)
    done = subprocess.run(
        ["npm", "install", "--prefix", str(staging), "--no-audit", "--no-fund",
         "--loglevel=error", *packages],
        capture_output=True, text=True, timeout=300, check=False)
    if done.returncode != 0:
        shutil.rmtree(staging, ignore_errors=True)
        unavailable("the npm registry", done.stderr[-2000:])
    (staging / ".done").touch()
    try:
        staging.rename(home)
    except OSError:  # another run installed it first; theirs is as good
        shutil.rmtree(staging, ignore_errors=True)
    return home / "node_modules"


def unavailable(what: str, why: object) -> None:
    """Skip on a developer machine without the service; in CI that is a failure."""
    message = f"{what} is not reachable: {why}"
    if IN_CI:
        pytest.fail(message)
    pytest.skip(message)


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    """A fresh database for this test run, dropped at the end."""
    name = f"chorus_test_{os.getpid()}_{uuid.uuid4().hex[:6]}"
    admin = sa.make_url(PG_URL)

    async def run(statement: str) -> None:
        import asyncpg

        conn = await asyncpg.connect(host=admin.host, port=admin.port or 5432,
                                     user=admin.username, password=admin.password,
                                     database=admin.database, timeout=3)
        try:
            await conn.execute(statement)
        finally:
            await conn.close()

    try:
        asyncio.run(run(f'CREATE DATABASE "{name}"'))
    except Exception as exc:
        unavailable("PostgreSQL", exc)
    yield admin.set(database=name).render_as_string(hide_password=False)
    asyncio.run(run(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A SQLite database with every migration applied, made once per run: each test's database
    starts as a copy of it (migrating a new file took each test ~35 ms of CPU)."""
    path = tmp_path_factory.mktemp("template") / "chorus.db"

    async def make() -> None:
        engine = create_engine(f"sqlite:///{path}")
        try:
            await migrate(engine)
        finally:
            await engine.dispose()

    asyncio.run(make())
    return path


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """The database of one test: a migrated SQLite file of its own, or the run's PostgreSQL
    database (tests there use new users, keys and sessions, never a clean slate)."""
    if request.param == "sqlite":
        return sqlite_copy(request.getfixturevalue("sqlite_template"), tmp_path)
    url: str = request.getfixturevalue("postgres_url")
    return url


def sqlite_copy(template: Path, directory: Path) -> str:
    """The URL of a copy of the migrated template in `directory`."""
    for sidecar in ("", "-wal", "-shm"):  # the last connection's close leaves only the file
        if (source := template.with_name(template.name + sidecar)).exists():
            shutil.copyfile(source, directory / f"chorus.db{sidecar}")
    return f"sqlite:///{directory}/chorus.db"


@dataclass
class Harness:
    """The app in process, with its services and an HTTP client through ASGI."""

    services: Services
    client: httpx.AsyncClient

    @property
    def settings(self) -> Settings:
        return self.services.settings

    async def key(self, user: str | None = None, tier: str = "power", test: bool = True) -> str:
        """A new key's secret for `user` (a new unique user by default)."""
        users = self.services.store.users
        row = await users.ensure(user or f"user-{uuid.uuid4().hex[:10]}", tier)
        secret = auth.new_secret(test)
        await users.add_key(row.id, "test", auth.display_prefix(secret), auth.digest(secret),
                            test)
        return secret

    async def headers(self, **kwargs: Any) -> dict[str, str]:
        return {"authorization": f"Bearer {await self.key(**kwargs)}"}


async def migrated(database_url: str) -> None:
    """Bring the database of a server that has not started yet to the newest schema."""
    engine = create_engine(database_url)
    try:
        await migrate(engine)
    finally:
        await engine.dispose()


async def new_key(database_url: str, tier: str = "power", test: bool = False) -> str:
    """A new user's key in the database of a server running elsewhere (its engine is not ours)."""
    engine = create_engine(database_url)
    try:
        users = Store.over(engine).users
        user = await users.ensure(f"user-{uuid.uuid4().hex[:8]}", tier)
        secret = auth.new_secret(test)
        await users.add_key(user.id, "t", auth.display_prefix(secret), auth.digest(secret), test)
    finally:
        await engine.dispose()
    return secret


async def key_headers(database_url: str, test: bool = False) -> dict[str, str]:
    """Headers with `new_key`'s key (power tier)."""
    return {"authorization": f"Bearer {await new_key(database_url, test=test)}"}


@asynccontextmanager
async def harness_for(database_url: str, **overrides: Any) -> AsyncIterator[Harness]:
    # Tests fire many requests per sk_test_ key; the limit tests pass their own `file`.
    overrides.setdefault("file", FileConfig(test_keys=TestKeyLimits(
        requests_per_minute=None, queries_per_period=None)))
    settings = load_settings(None, database_url=database_url, simulated_speed=0,
                             retry_backoff=0.01, **overrides)
    app = create_app(settings)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://chorus") as client:
            yield Harness(app.services, client)


@pytest.fixture
async def harness(database_url: str) -> AsyncIterator[Harness]:
    async with harness_for(database_url) as h:
        yield h


class ServerThread:
    """An ASGI app served by uvicorn on a free loopback port, in a thread of its own."""

    def __init__(self, app: Any, settings: Settings | None = None) -> None:
        """`settings`: served as `chorus serve` serves them (serving.uvicorn_options: its
        protocol, with the deadlines and the hang-up future); else by plain uvicorn."""
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]
        options = serving.uvicorn_options(settings) if settings is not None else {}
        config = uvicorn.Config(app, log_level="error", access_log=False, lifespan="auto",
                                **options)
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run,
                                       kwargs={"sockets": [self.sock]}, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def __enter__(self) -> ServerThread:
        self.thread.start()
        deadline = time.monotonic() + 10
        while not self.server.started:
            if time.monotonic() > deadline or not self.thread.is_alive():
                raise RuntimeError("server thread did not start")
            time.sleep(0.01)
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.should_exit = True
        self.thread.join(5)


@dataclass
class FakeUpstream:
    url: str
    fake: FakeLLM

    @property
    def requests(self) -> list[dict[str, Any]]:
        return list(self.fake.requests)


@pytest.fixture(scope="session")
def fake_server() -> Iterator[tuple[ServerThread, FakeLLM]]:
    fake = FakeLLM()
    with ServerThread(fake.app()) as server:
        yield server, fake


@pytest.fixture
def fake_llm(fake_server: tuple[ServerThread, FakeLLM]) -> FakeUpstream:
    """The session's fake upstream, with its record and counters cleared."""
    server, fake = fake_server
    fake.requests.clear()
    fake.counts.clear()
    return FakeUpstream(server.url, fake)
