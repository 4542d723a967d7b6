"""The one HTTP path to every upstream: timeouts, retries with backoff, and error mapping."""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import AsyncIterator

import httpx2 as httpx
import orjson

from chorus import tokens
from chorus.config import ProviderConfig
from chorus.errors import UpstreamError, UpstreamTimeout
from chorus.providers.wire import StreamParser, WireDialect
from chorus.types import ModelRequest, StreamEnd, TextDelta, Usage

RETRYABLE_STATUS = frozenset({408, 409, 429, 500, 502, 503, 504, 529})
MAX_BACKOFF = 20.0


def new_client() -> httpx.AsyncClient:
    """The process's one pooled client for all upstream calls; timeouts are set per call."""
    return httpx.AsyncClient(
        limits=httpx.Limits(max_connections=1000, max_keepalive_connections=200,
                            keepalive_expiry=30.0),
        follow_redirects=False,
    )


def backoff(attempt: int, retry_after: float | None, base: float = 0.25) -> float:
    """Exponential backoff with full jitter; a Retry-After from the provider wins."""
    if retry_after is not None:
        return min(max(retry_after, 0.0), MAX_BACKOFF)
    return random.uniform(0, min(MAX_BACKOFF, base * 2 ** attempt))


def _retry_after(value: str | None) -> float | None:
    try:
        return float(value) if value is not None else None
    except ValueError:
        return None


class HttpProvider:
    """A provider reached over HTTP in one wire dialect; all failure handling lives here."""

    def __init__(self, config: ProviderConfig, dialect: WireDialect,
                 client: httpx.AsyncClient, backoff_base: float = 0.25) -> None:
        self.config = config
        self.dialect = dialect
        self.client = client
        self.backoff_base = backoff_base
        self.timeout = httpx.Timeout(connect=config.connect_timeout,
                                     read=config.first_byte_timeout,
                                     write=config.connect_timeout, pool=config.connect_timeout)

    async def stream(self, model: str, request: ModelRequest
                     ) -> AsyncIterator[TextDelta | StreamEnd]:
        """Call the model; retry failures that may pass, but never once text was yielded."""
        attempt = 0
        emitted = False
        deadline = time.monotonic() + self.config.total_timeout
        while True:
            try:
                async for chunk in self._attempt(model, request, deadline):
                    emitted = emitted or isinstance(chunk, TextDelta)
                    yield chunk
                return
            except UpstreamError as exc:
                exc.provider = self.config.name
                if emitted or not exc.retryable or attempt >= self.config.max_retries:
                    raise
                attempt += 1
                delay = backoff(attempt, exc.retry_after, self.backoff_base)
                if time.monotonic() + delay > deadline:
                    raise
                await asyncio.sleep(delay)

    async def _attempt(self, model: str, request: ModelRequest, deadline: float
                       ) -> AsyncIterator[TextDelta | StreamEnd]:
        dialect = self.dialect
        url = dialect.url(self.config.base_url, model, request.stream)
        headers = {"content-type": "application/json",
                   **dialect.headers(self.config.api_key)}
        body = orjson.dumps(dialect.body(model, request))
        name = self.config.name
        try:
            async with self.client.stream("POST", url, content=body, headers=headers,
                                          timeout=self.timeout) as response:
                if response.status_code >= 400:
                    raise self._status_error(response.status_code, await response.aread(),
                                             response.headers.get("retry-after"))
                if not request.stream:
                    answer = dialect.parse_answer(_json(await response.aread()))
                    if answer.text:
                        yield TextDelta(answer.text)
                    yield StreamEnd(answer.usage or _estimate(request, answer.text),
                                    answer.finish_reason)
                    return
                async for chunk in self._relay(response, dialect.stream_parser(), request,
                                               deadline):
                    yield chunk
        except httpx.ConnectTimeout as exc:
            raise UpstreamTimeout(f"{name}: connecting timed out", retryable=True) from exc
        except httpx.TimeoutException as exc:
            raise UpstreamTimeout(f"{name}: no answer within {self.config.first_byte_timeout:g}s"
                                  ) from exc
        except httpx.ConnectError as exc:
            raise UpstreamError(f"{name}: cannot connect: {exc}", retryable=True) from exc
        except httpx.TransportError as exc:
            raise UpstreamError(f"{name}: connection lost: {exc}", retryable=True) from exc

    async def _relay(self, response: httpx.Response, parser: StreamParser,
                     request: ModelRequest, deadline: float
                     ) -> AsyncIterator[TextDelta | StreamEnd]:
        event: str | None = None
        data: list[str] = []
        text: list[str] = []
        async for line in response.aiter_lines():
            if line:
                field, _, value = line.partition(":")
                value = value[1:] if value.startswith(" ") else value
                if field == "data":
                    data.append(value)
                elif field == "event":
                    event = value
                continue
            if data:
                for delta in parser.feed(event, "\n".join(data)):
                    text.append(delta.text)
                    yield delta
            event, data = None, []
            if time.monotonic() > deadline:
                raise UpstreamTimeout(f"answer took longer than {self.config.total_timeout:g}s")
        if data:
            for delta in parser.feed(event, "\n".join(data)):
                text.append(delta.text)
                yield delta
        usage, finish = parser.finish()
        yield StreamEnd(usage or _estimate(request, "".join(text)), finish)

    def _status_error(self, status: int, raw: bytes, retry_after: str | None) -> UpstreamError:
        try:
            message = self.dialect.error_message(_json(raw)) or raw.decode(errors="replace")
        except UpstreamError:
            message = raw.decode(errors="replace")
        message = message.strip()[:500] or f"HTTP {status}"
        if status in (401, 403):
            return UpstreamError(
                f"{self.config.name} rejected the server's credentials (HTTP {status}): {message}",
                upstream_status=status)
        return UpstreamError(f"{self.config.name} answered HTTP {status}: {message}",
                             upstream_status=status, retryable=status in RETRYABLE_STATUS,
                             retry_after=_retry_after(retry_after))


def _json(raw: bytes) -> dict[str, object]:
    try:
        data = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise UpstreamError(f"answer is not JSON: {raw[:200]!r}") from exc
    if not isinstance(data, dict):
        raise UpstreamError(f"answer is not a JSON object: {raw[:200]!r}")
    return data


def _estimate(request: ModelRequest, text: str) -> Usage:
    """Usage when the provider reported none."""
    return Usage(tokens.count_messages([m.content for m in request.messages]), tokens.count(text))
