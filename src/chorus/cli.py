"""The `chorus` command: serve, keys, db upgrade, fake-llm."""

from __future__ import annotations

import asyncio
import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
import uvicorn

from chorus import auth, logs, serving
from chorus.app import create_app
from chorus.config import ConfigError, Settings, load_settings
from chorus.errors import NotFound
from chorus.fakellm.knobs import FAULTS, Knobs
from chorus.fakellm.server import FakeLLM
from chorus.providers.catalog import build_catalog
from chorus.store import Store
from chorus.store.db import create_engine, migrate
from chorus.store.ids import iso

if TYPE_CHECKING:
    from fastapi import FastAPI

app = typer.Typer(no_args_is_help=True, add_completion=False,
                  help="Chorus: a self-hosted multi-model chat server.")
keys_app = typer.Typer(no_args_is_help=True, help="Create, list and revoke API keys.")
db_app = typer.Typer(no_args_is_help=True, help="Database maintenance.")
app.add_typer(keys_app, name="keys")
app.add_typer(db_app, name="db")

ConfigOption = Annotated[Path | None, typer.Option("--config", help="TOML file of providers, "
                                                   "models and tiers (or CHORUS_CONFIG)")]
LOCAL_USER = "local"
WORKER_HEALTHCHECK_TIMEOUT = 30
"""Seconds a worker may take to answer uvicorn's health check before it is killed as hung.
A new worker answers only once it has imported Chorus (about 2 s on an idle core); with
uvicorn's default of 5 s a loaded machine killed every replacement before it could serve."""


def _settings(config: Path | None) -> Settings:
    try:
        return load_settings(config)
    except ConfigError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from exc


@app.command()
def serve(host: Annotated[str | None, typer.Option()] = None,
          port: Annotated[int | None, typer.Option()] = None,
          config: ConfigOption = None,
          workers: Annotated[int, typer.Option(
              min=1, help="serving processes sharing the port")] = 1) -> None:
    """Run the server (SQLite in ./data/chorus.db unless CHORUS_DATABASE_URL says otherwise)."""
    settings = _settings(config)
    logs.configure_for(settings)
    secret = asyncio.run(_first_start(settings))
    if secret:
        typer.echo("\nFirst start: created user 'local' (tier power) and a test key.\n"
                   "It answers with simulated models; it is shown only this once:\n\n"
                   f"    {secret}\n")
    host, port = host or settings.host, port or settings.port
    options = serving.uvicorn_options(settings)
    if workers == 1:
        uvicorn.run(create_app(settings), host=host, port=port, log_level=settings.log_level,
                    access_log=False, log_config=None, **options)
        return
    typer.echo(_workers_notice(workers, settings), err=True)
    if settings.config is not None:  # each worker reads the same file
        os.environ["CHORUS_CONFIG"] = str(Path(settings.config).resolve())
    uvicorn.run("chorus.cli:worker_app", factory=True, workers=workers, host=host, port=port,
                log_level=settings.log_level, access_log=False, log_config=None,
                timeout_worker_healthcheck=WORKER_HEALTHCHECK_TIMEOUT, **options)


def _workers_notice(workers: int, settings: Settings) -> str:
    """What `--workers N` shares between its processes and what each keeps to itself."""
    limits = ("rate limits and quotas are shared through Redis" if settings.redis_url else
              "rate limits and quotas are counted in each process (each allows the full limit) "
              "because CHORUS_REDIS_URL is not set")
    return (f"Starting {workers} worker processes on one port: {limits}; /metrics shows the "
            "counters of the process that answers; revoked keys are refused by the other "
            "processes within 5 s.")


def worker_app() -> FastAPI:
    """The app of one process of `chorus serve --workers N`: uvicorn's factory, run in each
    worker, which reads the settings from the environment (and CHORUS_CONFIG) again."""

    settings = load_settings(None)
    logs.configure_for(settings)
    return create_app(settings)


async def _first_start(settings: Settings) -> str | None:
    """Migrate; on an empty database create the local user and one test key."""

    engine = create_engine(settings.database_url)
    try:
        await migrate(engine)
        store = Store.over(engine)
        if await store.users.count():
            return None
        user = await store.users.ensure(LOCAL_USER, "power")
        secret = auth.new_secret(test=True)
        await store.users.add_key(user.id, "first start", auth.display_prefix(secret),
                                  auth.digest(secret), True)
        return secret
    finally:
        await engine.dispose()


DEFAULT_TIER = "power"


@keys_app.command("create")
def keys_create(user: Annotated[str, typer.Option(help="user name; created if new")],
                tier: Annotated[str | None, typer.Option(
                    help="the user's tier (free, pro, power, enterprise or one the config "
                         f"adds): a new user gets it, {DEFAULT_TIER} if omitted; an existing "
                         "user is moved to it, and keeps theirs if omitted")] = None,
                test: Annotated[bool, typer.Option(
                    "--test", help="a sk_test_ key: simulated answers, no provider needed "
                                   "(without it: a sk_live_ key, answered by real providers)")
                                ] = False,
                name: Annotated[str, typer.Option(help="a label for the key")] = "cli",
                config: ConfigOption = None) -> None:
    """Create a key; its secret is printed alone on the last line."""
    settings = _settings(config)
    if tier is not None and tier not in settings.tiers:
        typer.echo(f"error: unknown tier {tier!r}; one of {', '.join(settings.tiers)}", err=True)
        raise typer.Exit(2)

    async def create() -> tuple[str, str | None, str, str]:

        engine = create_engine(settings.database_url)
        try:
            await migrate(engine)
            store = Store.over(engine)
            row = await store.users.ensure(user, tier or DEFAULT_TIER)
            changed_from = None
            if tier is not None and row.tier != tier:
                await store.users.set_tier(row.id, tier)
                changed_from = row.tier
            secret = auth.new_secret(test)
            key = await store.users.add_key(row.id, name, auth.display_prefix(secret),
                                            auth.digest(secret), test)
            return row.id, changed_from, key.id, secret
        finally:
            await engine.dispose()

    user_id, changed_from, key_id, secret = asyncio.run(create())
    if changed_from is not None:
        typer.echo(f"user {user}: tier changed from {changed_from} to {tier} (a running server "
                   "applies it within 5 seconds)")
    if not test and not _offers_live_models(settings):
        typer.echo("warning: this is a sk_live_ key, and this configuration offers live keys no "
                   "model: set a provider key (OPENAI_API_KEY, ANTHROPIC_API_KEY, "
                   "GEMINI_API_KEY), OLLAMA_BASE_URL or [[models]] in the config, or its chats "
                   "will fail. For simulated answers, create a key with --test.", err=True)
    typer.echo(f"user {user} ({user_id}), key {key_id}; the secret is shown once:")
    typer.echo(secret)


def _offers_live_models(settings: Settings) -> bool:
    """Whether a live key could get an answer: a model with a provider, or Ollama's."""

    return bool(build_catalog(settings).live) or bool(settings.ollama_base_url)


@keys_app.command("list")
def keys_list(user: Annotated[str, typer.Option()], config: ConfigOption = None) -> None:
    """List a user's keys (never their secrets)."""
    settings = _settings(config)

    async def rows() -> list[str]:

        engine = create_engine(settings.database_url)
        try:
            await migrate(engine)
            store = Store.over(engine)
            try:
                owner = await store.users.by_name(user)
            except NotFound as exc:
                raise typer.BadParameter(f"no user {user!r}") from exc
            return [f"{k.id}  {k.prefix}…  {'test' if k.test else 'live'}  {k.name!r}  "
                    f"created {iso(k.created_at)}"
                    f"{'  revoked ' + iso(k.revoked_at) if k.revoked_at else ''}"
                    for k in await store.users.keys(owner.id)]
        finally:
            await engine.dispose()

    for line in asyncio.run(rows()):
        typer.echo(line)


@keys_app.command("revoke")
def keys_revoke(key_id: str, config: ConfigOption = None) -> None:
    """Revoke a key by its id (key_…)."""
    settings = _settings(config)

    async def revoke() -> None:

        engine = create_engine(settings.database_url)
        try:
            await migrate(engine)
            try:
                await Store.over(engine).users.revoke_key(key_id)
            except NotFound as exc:
                typer.echo(f"error: no key {key_id!r}", err=True)
                raise typer.Exit(1) from exc
        finally:
            await engine.dispose()

    asyncio.run(revoke())
    typer.echo(f"revoked {key_id}")


@db_app.command("upgrade")
def db_upgrade(config: ConfigOption = None) -> None:
    """Apply the database migrations (the server also does at start)."""

    settings = _settings(config)

    async def upgrade() -> None:
        engine = create_engine(settings.database_url)
        try:
            await migrate(engine)
        finally:
            await engine.dispose()

    asyncio.run(upgrade())
    typer.echo("database is up to date")


@app.command("fake-llm")
def fake_llm(host: Annotated[str, typer.Option()] = "127.0.0.1",
             port: Annotated[int, typer.Option()] = 9100,
             ttft_ms: Annotated[float, typer.Option(help="latency to first token")] = 0.0,
             tps: Annotated[float, typer.Option(help="tokens per second (0: no delay)")] = 0.0,
             tokens: Annotated[int, typer.Option(help="answer length in tokens")] = 24,
             fault: Annotated[str, typer.Option(
                 help="none, 500, 429, 401, hang, cut or malformed")] = "none",
             cut_after: Annotated[int, typer.Option(help="chunks before cut/malformed")] = 3,
             retry_after: Annotated[float, typer.Option(
                 help="Retry-After of the 429 fault, seconds")] = 1.0,
             times: Annotated[int, typer.Option(
                 help="inject the fault only into the first N requests per model (0: all)")] = 0,
             record: Annotated[bool, typer.Option(help="keep what it receives")] = True) -> None:
    """A fake upstream speaking the OpenAI, Anthropic and Gemini wire formats.

    Knobs per request: a header `x-fake-<knob>: value` or a model name like `m@fault=429`.

    GET /_fake/requests shows what it received; DELETE clears it.
    """


    if fault not in FAULTS:
        typer.echo(f"error: --fault is one of {', '.join(FAULTS)}", err=True)
        raise typer.Exit(2)
    knobs = Knobs(ttft_ms=ttft_ms, tps=tps, tokens=tokens, fault=fault, cut_after=cut_after,
                  retry_after=retry_after, times=times)
    uvicorn.run(FakeLLM(knobs, record=record).app(), host=host, port=port, log_level="warning",
                access_log=False)


def main() -> None:
    try:
        app()
    except KeyboardInterrupt:
        sys.exit(130)


if __name__ == "__main__":
    main()
