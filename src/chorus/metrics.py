"""Prometheus metrics: one registry per app, so tests and embedders can build many apps."""

from __future__ import annotations

from typing import Any

from prometheus_client import (
    CONTENT_TYPE_PLAIN_0_0_4,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    ProcessCollector,
    disable_created_metrics,
    generate_latest,
)
from prometheus_client.metrics import MetricWrapperBase

from chorus.types import Usage

CONTENT_TYPE = CONTENT_TYPE_PLAIN_0_0_4

# A hello endpoint answers in a millisecond; a council turn can take minutes.
REQUEST_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0,
                   120.0, 300.0)
UPSTREAM_BUCKETS = (0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0)

UpstreamOutcome = str
"""`ok`, `error` (the provider failed or timed out) or `cancelled` (nobody wanted the answer)."""


class Metrics:
    """Every instrument the server updates, registered in a registry of its own."""

    def __init__(self) -> None:
        # The `*_created` series double the output and no dashboard of ours reads them.
        disable_created_metrics()  # type: ignore[no-untyped-call]
        self.registry = CollectorRegistry(auto_describe=True)
        r = self.registry
        self.requests = Counter(
            "chorus_http_requests", "HTTP requests answered, by route template and status.",
            ["method", "route", "status"], registry=r)
        self.request_seconds = Histogram(
            "chorus_http_request_duration_seconds",
            "Time from request to the last byte of the answer (whole streams included).",
            ["route", "mode"], buckets=REQUEST_BUCKETS, registry=r)
        self.active_streams = Gauge(
            "chorus_active_streams", "Streaming answers (SSE) being sent right now.", registry=r)
        self.upstream_calls = Counter(
            "chorus_upstream_calls", "Model calls, by provider, model and outcome.",
            ["provider", "model", "outcome"], registry=r)
        self.upstream_errors = Counter(
            "chorus_upstream_errors", "Model calls that failed, by provider, model and error code.",
            ["provider", "model", "code"], registry=r)
        self.upstream_seconds = Histogram(
            "chorus_upstream_duration_seconds", "Duration of model calls, by provider and model.",
            ["provider", "model"], buckets=UPSTREAM_BUCKETS, registry=r)
        self.tokens = Counter(
            "chorus_tokens", "Tokens sent to (in) and received from (out) models.",
            ["provider", "model", "direction"], registry=r)
        self.purged = Counter(
            "chorus_retention_purged", "Rows deleted by the retention task, by kind.",
            ["kind"], registry=r)
        ProcessCollector(registry=r)
        self._children: dict[tuple[object, ...], Any] = {}

    def _child(self, metric: MetricWrapperBase, *labels: str) -> Any:
        """`metric.labels(*labels)`, looked up once per set of labels (their number is bounded:
        route templates, modes, models); prometheus_client checks them and takes a lock each
        time, six times per chat request."""
        key = (metric, *labels)
        child = self._children.get(key)
        if child is None:
            child = self._children[key] = metric.labels(*labels)
        return child

    def request(self, method: str, route: str, status: int, mode: str | None,
                seconds: float) -> None:
        self._child(self.requests, method, route, str(status)).inc()
        self._child(self.request_seconds, route, mode or "").observe(seconds)

    def upstream(self, provider: str, model: str, outcome: UpstreamOutcome, seconds: float,
                 usage: Usage | None = None, error_code: str | None = None) -> None:
        """One finished model call."""
        self._child(self.upstream_calls, provider, model, outcome).inc()
        self._child(self.upstream_seconds, provider, model).observe(seconds)
        if error_code is not None:
            self._child(self.upstream_errors, provider, model, error_code).inc()
        if usage is not None:
            self._child(self.tokens, provider, model, "in").inc(usage.prompt_tokens)
            self._child(self.tokens, provider, model, "out").inc(usage.completion_tokens)

    def exposition(self) -> bytes:
        """The text format Prometheus scrapes."""
        return generate_latest(self.registry)
