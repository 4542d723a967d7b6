"""Everything a request may use, built once at start by the app's lifespan."""

from __future__ import annotations

from dataclasses import dataclass

from chorus.auth import Authenticator
from chorus.config import Settings
from chorus.httpclient import Client
from chorus.limits import Limiter
from chorus.metrics import Metrics
from chorus.providers.catalog import Catalog
from chorus.providers.registry import Registry
from chorus.store import Store
from chorus.titles import Titler
from chorus.tools import WebSearch


@dataclass(slots=True)
class Services:
    """Everything a request handler may use, built once at start."""

    settings: Settings
    store: Store
    auth: Authenticator
    catalog: Catalog
    registry: Registry
    client: Client
    titles: Titler
    web: WebSearch
    limiter: Limiter  # rate limits and quotas; `healthy` is False while Redis is away
    metrics: Metrics
