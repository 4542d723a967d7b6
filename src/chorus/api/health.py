"""Operations endpoints, without auth: liveness, readiness and Prometheus metrics."""

from __future__ import annotations

import asyncio
import logging
import os

from fastapi import APIRouter, Request
from fastapi.responses import Response

from chorus.api import JSONBytes, services_of
from chorus.chat.services import Services
from chorus.metrics import CONTENT_TYPE
from chorus.store.db import ping
from chorus.types import JSON

log = logging.getLogger(__name__)

# Not part of the chat API, so kept out of its OpenAPI document; docs/operations.md has them.
router = APIRouter(tags=["operations"], include_in_schema=False)

CHECK_TIMEOUT = 2.0


@router.get("/healthz", summary="Liveness: the process answers (no I/O)")
async def healthz() -> JSONBytes:
    """`pid` tells which process answered when `chorus serve --workers N` runs several."""
    return JSONBytes({"status": "ok", "pid": os.getpid()})


@router.get("/readyz", summary="Readiness: the database (and Redis, when configured) answer",
            responses={503: {"description": "not ready; `checks` says which dependency failed"}})
async def readyz(request: Request) -> JSONBytes:
    services = services_of(request)
    checks: dict[str, JSON] = {"database": await _database(services)}
    ready = checks["database"]["ok"]
    if services.settings.redis_url:
        checks["redis"] = await _redis(services)
        if not checks["redis"]["ok"] and services.settings.readiness_requires_redis:
            ready = False
    degraded = not all(check["ok"] for check in checks.values())
    status = "not_ready" if not ready else "degraded" if degraded else "ready"
    return JSONBytes({"status": status, "checks": checks}, status_code=200 if ready else 503)


@router.get("/metrics", summary="Prometheus metrics of this process",
            response_class=Response,
            responses={200: {"content": {"text/plain": {}}}})
async def metrics(request: Request) -> Response:
    services = services_of(request)
    return Response(services.metrics.exposition(), media_type=CONTENT_TYPE)


async def _database(services: Services) -> JSON:
    try:
        async with asyncio.timeout(CHECK_TIMEOUT):
            await ping(services.store.engine)
    except Exception as exc:  # any driver error or a timeout means "not reachable"; logged
        return _failed("database", exc)
    return {"ok": True}


async def _redis(services: Services) -> JSON:
    """The rate limiter's own probe of its Redis."""
    try:
        async with asyncio.timeout(CHECK_TIMEOUT):
            ok = await services.limiter.check()
    except Exception as exc:  # an unreachable Redis is a state to report, not an error
        return _failed("redis", exc)
    if not ok:
        return {"ok": False, "error": "Redis does not answer; rate limits are kept per process"}
    return {"ok": True}


def _failed(what: str, exc: BaseException) -> JSON:
    log.warning("readiness: %s is not reachable: %s", what, exc)
    return {"ok": False, "error": f"{type(exc).__name__}: {exc}"[:300]}
