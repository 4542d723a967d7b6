"""The one HTTP path to every upstream: timeouts, retries with backoff, and error mapping."""

from __future__ import annotations

import asyncio
import logging
import random
import time
from collections.abc import AsyncIterator, Mapping
from email.utils import parsedate_to_datetime

import orjson

from chorus import httpclient, tokens
from chorus.config import ProviderConfig
from chorus.errors import UpstreamError, UpstreamTimeout
from chorus.providers.wire import Refusal, StreamParser, WireDialect, json_object
from chorus.redact import redact, scrubbable
from chorus.types import JSON, ModelRequest, ProviderChunk, StreamEnd, TextDelta, Usage

log = logging.getLogger(__name__)

RETRYABLE_STATUS = frozenset({408, 409, 429, 500, 502, 503, 504, 529})
MAX_BACKOFF = 20.0
"""The longest wait between two tries; a provider asking for longer is not retried."""
MESSAGE_CHARS = 500


def backoff(attempt: int, base: float = 0.25) -> float:
    """Exponential backoff with full jitter, so that callers failing together spread out."""
    return random.uniform(0, min(MAX_BACKOFF, base * 2 ** attempt))


def retry_after(headers: Mapping[str, str]) -> float | None:
    """The delay a provider asks for: `retry-after-ms`, or `retry-after` in seconds or a date."""
    if (ms := headers.get("retry-after-ms")) is not None:
        try:
            return max(float(ms) / 1000, 0.0)
        except ValueError:
            pass
    value = headers.get("retry-after")
    if value is None:
        return None
    try:
        return max(float(value), 0.0)
    except ValueError:
        pass
    try:
        return max(parsedate_to_datetime(value).timestamp() - time.time(), 0.0)
    except (TypeError, ValueError):
        return None


class HttpProvider:
    """A provider reached over HTTP in one wire dialect; all failure handling lives here."""

    def __init__(self, config: ProviderConfig, dialect: WireDialect,
                 client: httpclient.Client, backoff_base: float = 0.25) -> None:
        self.config = config
        self.dialect = dialect
        self.client = client
        self.backoff_base = backoff_base
        self._urls: dict[tuple[str, bool], httpclient.URL] = {}
        self._headers = {"content-type": "application/json",
                         **dialect.headers(config.api_key)}
        """The same for every call: the key is the provider's, fixed in the config."""

    async def stream(self, model: str, request: ModelRequest
                     ) -> AsyncIterator[ProviderChunk]:
        """Call the model; retry failures that may pass, but never once text was yielded."""
        attempt = 0
        emitted = False
        deadline = time.monotonic() + self.config.total_timeout
        while True:
            try:
                async for chunk in self._attempt(model, request, deadline):
                    emitted = emitted or not isinstance(chunk, StreamEnd)
                    yield chunk
                return
            except UpstreamError as exc:
                named = self._named(exc)
                if emitted or not exc.retryable or attempt >= self.config.max_retries:
                    raise named from exc
                delay = (exc.retry_after if exc.retry_after is not None
                         else backoff(attempt + 1, self.backoff_base))
                if delay > MAX_BACKOFF or time.monotonic() + delay > deadline:
                    raise named from exc
                attempt += 1
                log.warning("%s; try %d of %d in %.2fs", named.message, attempt + 1,
                            self.config.max_retries + 1, delay)
                await asyncio.sleep(delay)

    def unsupported(self, upstream: str, request: ModelRequest) -> Refusal | None:
        """The first field of `request` this provider's dialect cannot honour for `upstream`."""
        return self.dialect.unsupported(upstream, request)

    def _named(self, exc: UpstreamError) -> UpstreamError:
        """The same error, its message starting with the provider's name and without this
        provider's key, should the provider quote it (secret-shaped tokens are scrubbed by
        UpstreamError itself)."""
        message = redact(exc.message, scrubbable([self.config.api_key]))
        return type(exc)(f"{self.config.name}: {message}", provider=self.config.name,
                         upstream_status=exc.upstream_status, retryable=exc.retryable,
                         retry_after=exc.retry_after)

    def _url(self, model: str, stream: bool) -> httpclient.URL:
        """The call's URL, parsed once per model."""
        url = self._urls.get((model, stream))
        if url is None:
            if len(self._urls) >= 1000:
                self._urls.clear()
            url = httpclient.URL.parse(self.dialect.url(self.config.base_url, model, stream))
            self._urls[(model, stream)] = url
        return url

    def _timeouts(self, deadline: float) -> httpclient.Timeouts:
        """Every call must start answering within the first-byte timeout: for a whole answer,
        which arrives at once, that bounds the answer itself, so a hung model cannot hold a
        request until the total timeout."""
        left = max(deadline - time.monotonic(), 0.001)
        read = min(self.config.first_byte_timeout, left)
        connect = min(self.config.connect_timeout, left)
        return httpclient.Timeouts(connect=connect, read=read, write=connect, total=left)

    async def _attempt(self, model: str, request: ModelRequest, deadline: float
                       ) -> AsyncIterator[ProviderChunk]:
        dialect = self.dialect
        url = self._url(model, request.stream)
        body = orjson.dumps(dialect.body(model, request))
        timeouts = self._timeouts(deadline)
        started = False
        try:
            async with self.client.stream("POST", url, body=body, headers=self._headers,
                                          timeouts=timeouts) as response:
                started = True
                if log.isEnabledFor(logging.DEBUG):
                    log.debug("POST %s%s: HTTP %d", url.origin, url.target, response.status_code)
                if response.status_code >= 400:
                    raise self._status_error(response.status_code, await response.aread(),
                                             retry_after(response.headers))
                if not request.stream or _is_json(response):
                    # A stream asked for may still come back whole, or as an error object.
                    data = _json(await response.aread())
                    if request.stream and dialect.read_error(response.status_code, data).message:
                        raise self._status_error(response.status_code, orjson.dumps(data), None)
                    answer = dialect.parse_answer(data, request)
                    if answer.text:
                        yield TextDelta(answer.text, tuple(answer.logprobs))
                    for call in answer.tool_calls:
                        yield call
                    yield StreamEnd(answer.usage or _estimate(request, answer.text),
                                    answer.finish_reason)
                    return
                async for chunk in self._relay(response, dialect.stream_parser(request), request,
                                               deadline):
                    yield chunk
        except httpclient.ConnectTimeout as exc:
            raise UpstreamTimeout(str(exc), retryable=True) from exc  # or no connection free
        except httpclient.Timeout as exc:
            if time.monotonic() >= deadline or isinstance(exc, httpclient.DeadlineExceeded):
                raise UpstreamTimeout(
                    f"the answer took longer than {self.config.total_timeout:g}s") from exc
            if started and request.stream:
                raise UpstreamTimeout(f"the stream stalled for more than "
                                      f"{self.config.first_byte_timeout:g}s") from exc
            raise UpstreamTimeout(f"no answer within {timeouts.read:g}s") from exc
        except httpclient.ConnectError as exc:
            raise UpstreamError(f"cannot connect to {url.origin}: {exc}",
                                retryable=True) from exc
        except httpclient.LimitExceeded as exc:
            raise UpstreamError(f"the answer was refused: {exc}") from exc
        except httpclient.HTTPError as exc:
            raise UpstreamError(f"the connection was lost: {exc or type(exc).__name__}",
                                retryable=True) from exc

    async def _relay(self, response: httpclient.Response, parser: StreamParser,
                     request: ModelRequest, deadline: float
                     ) -> AsyncIterator[ProviderChunk]:
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
                    if isinstance(delta, TextDelta):
                        text.append(delta.text)
                    yield delta
            event, data = None, []
            if time.monotonic() > deadline:
                raise UpstreamTimeout(
                    f"the answer took longer than {self.config.total_timeout:g}s")
        if data:
            for delta in parser.feed(event, "\n".join(data)):
                if isinstance(delta, TextDelta):
                    text.append(delta.text)
                yield delta
        usage, finish = parser.finish()
        yield StreamEnd(usage or _estimate(request, "".join(text)), finish)

    def _status_error(self, status: int, raw: bytes, delay: float | None) -> UpstreamError:
        """An error answer, with the provider's own message kept."""
        try:
            error = self.dialect.read_error(status, _json(raw))
        except UpstreamError:
            error = None
        message = ((error.message if error else None) or raw.decode(errors="replace")).strip()
        message = message[:MESSAGE_CHARS] or f"HTTP {status}"
        if error is not None and error.credentials:
            return UpstreamError(
                f"the provider rejected this server's credentials for it (HTTP {status}); "
                f"the operator must fix the configured API key: {message}",
                upstream_status=status)
        if delay is None and error is not None:
            delay = error.retry_after
        return UpstreamError(f"HTTP {status}: {message}", upstream_status=status,
                             retryable=status in RETRYABLE_STATUS, retry_after=delay)


def _is_json(response: httpclient.Response) -> bool:
    return response.headers.get("content-type", "").startswith("application/json")


def _json(raw: bytes) -> JSON:
    return json_object(raw, "the answer")


def _estimate(request: ModelRequest, text: str) -> Usage:
    """Usage when the provider reported none."""
    return Usage(tokens.count_messages([m.content for m in request.messages]), tokens.count(text))
