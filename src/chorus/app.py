"""create_app(settings): the lifespan owns the database, the HTTP client and the registry."""

from __future__ import annotations

import asyncio
import gc
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from functools import partial

from fastapi import FastAPI
from fastapi.middleware.cors import CORSMiddleware
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncEngine

from chorus import tokens
from chorus.api import routes
from chorus.api.access import AccessMiddleware
from chorus.auth import Authenticator
from chorus.chat.services import Services
from chorus.config import Settings
from chorus.httpclient import Client
from chorus.limits import Period, bucket_owner, build_limiter
from chorus.metrics import Metrics
from chorus.providers.catalog import add_ollama_models, build_catalog
from chorus.providers.registry import Registry
from chorus.store import Store
from chorus.store.db import create_engine, migrate
from chorus.store.instances import Heartbeat
from chorus.store.retention import RetentionTask
from chorus.store.usage import chat_queries
from chorus.titles import Titler
from chorus.tools import WebSearch

log = logging.getLogger(__name__)

EXPOSED_HEADERS = ["X-Request-ID", "X-RateLimit-Limit", "X-RateLimit-Remaining",
                   "X-RateLimit-Reset", "Retry-After"]
"""Headers a browser client may read on a cross-origin answer."""


YOUNG_GC_THRESHOLD = 20_000
"""Net allocations between two collections of the young generation (Python's default: 700).
At 700, a server with many requests in flight collected over and over the objects of the
requests still running, and promoted them to be scanned again: 8 % of the CPU of a chat
completion at concurrency 64 and 4 % of a stream (the collector's own callbacks; bench/notes.md).
At 20,000, 1 % and 0.4 %; each collection then takes about 8 to 12 ms, every 3 s or so at
concurrency 1 (0.4 % of the CPU there either way). What a request leaves in reference
cycles (about 8 objects) waits a little longer to be freed."""


def _settle_garbage_collector() -> None:
    """Keep the ~130,000 objects alive after start (modules, schemas, the app) out of every
    later garbage collection: each full collection scanned them all, 65 ms of CPU, 0.1 ms per
    request on the gateway bench. Then collect the young generation less often
    (`YOUNG_GC_THRESHOLD`). Once per process (tests build many apps in one)."""
    if gc.get_freeze_count() == 0:
        gc.collect()
        gc.freeze()
        gc.set_threshold(YOUNG_GC_THRESHOLD, *gc.get_threshold()[1:])


async def queries_before(engine: AsyncEngine, bucket: str, period: Period) -> int:
    """A quota bucket's queries in the usage records: where a restarted process counts from."""
    user_id, test = bucket_owner(bucket)
    try:
        return await chat_queries(engine, user_id, test, period.start.replace(tzinfo=None),
                                  period.end.replace(tzinfo=None))
    except (SQLAlchemyError, OSError) as exc:
        log.warning("could not read the queries %s used this month (%s); counting from zero",
                    user_id, exc)
        return 0


class ChorusApp(FastAPI):
    """The FastAPI app with the server's services, which its lifespan sets up."""

    services: Services
    """An attribute of its own: through `app.state` (Starlette's `State`) each read first
    failed the ordinary look-up and formatted an AttributeError's message, 5,900 instructions,
    four times per chat completion (bench/notes.md)."""


def create_app(settings: Settings) -> ChorusApp:
    metrics = Metrics()

    @asynccontextmanager
    async def lifespan(app: ChorusApp) -> AsyncIterator[None]:
        engine = create_engine(settings.database_url)
        await migrate(engine)
        store = Store.over(engine)
        client = Client(settings.upstream_limits)
        catalog = build_catalog(settings)
        if settings.ollama_base_url:
            await add_ollama_models(catalog, client, settings.ollama_base_url)
        registry = Registry(catalog, client, settings.simulated_speed, settings.retry_backoff,
                            metrics=metrics)
        titles = Titler(registry, store.sessions, store.usage, settings.file.defaults.title_model)
        limiter = build_limiter(settings, seed=partial(queries_before, engine))
        app.services = Services(settings, store, Authenticator(store.users), catalog,
                                registry, client, titles=titles, limiter=limiter,
                                web=WebSearch(settings.file.search, client), metrics=metrics)
        store.usage.start()
        await asyncio.to_thread(tokens.count, "load the encoder now, not in the first request")
        retention = RetentionTask(engine, settings.retention_days, settings.retention_interval,
                                  metrics, batch=settings.retention_batch)
        retention.start()
        heartbeat = Heartbeat(engine, store.sessions, settings.heartbeat_interval,
                              settings.instance_timeout)
        await heartbeat.start()
        _settle_garbage_collector()
        try:
            yield
        finally:
            await heartbeat.close()
            await retention.close()
            await titles.close()
            await limiter.close()
            await store.usage.close()
            await client.aclose()
            await engine.dispose()

    app = ChorusApp(
        title="Chorus",
        version="0.1.0",
        summary="Self-hosted multi-model chat server speaking the Konnect API",
        lifespan=lifespan,
        docs_url=None,  # /docs is served by chorus.api.web, from the package rather than a CDN
        redoc_url=None,
        telemetry={"tracing": False, "metrics": False, "logs": False},
    )
    routes.install(app, settings)
    cors = settings.file.cors
    if cors.origins:
        # Outside the rate limits and auth: a preflight carries no key and must be answered.
        app.add_middleware(CORSMiddleware, allow_origins=cors.origins, allow_methods=["*"],
                           allow_headers=["*"], expose_headers=EXPOSED_HEADERS,
                           max_age=cors.max_age)
    app.add_middleware(AccessMiddleware, metrics=metrics)  # outermost: it sees every answer
    return app
