"""Failure handling, the same for every dialect: each injected fault, its error, its retries."""

from __future__ import annotations

import socket
import time
from collections.abc import Iterator

import pytest

from chorus.config import Dialect
from chorus.errors import UpstreamError, UpstreamTimeout
from chorus.providers.http import MAX_BACKOFF
from chorus.types import TextDelta
from tests.conftest import FakeUpstream
from tests.processes import free_port
from tests.providers.conftest import MakeProvider, ask, complete

RETRIES = 2


async def fails(provider_call: object) -> UpstreamError:
    with pytest.raises(UpstreamError) as caught:
        await provider_call  # type: ignore[misc]
    return caught.value


@pytest.mark.parametrize("stream", [True, False])
async def test_500_is_retried_then_reported_with_the_provider_message(
        dialect: Dialect, make_provider: MakeProvider, fake_llm: FakeUpstream,
        stream: bool) -> None:
    provider = make_provider(max_retries=RETRIES)
    error = await fails(complete(provider, "small@fault=500", ask(stream=stream)))
    assert type(error) is UpstreamError and error.code == "upstream_error"
    assert error.status == 502 and error.upstream_status == 500
    assert error.message.startswith(f"up-{dialect}: HTTP 500")
    assert "injected fault 500" in error.message
    assert len(fake_llm.requests) == RETRIES + 1


async def test_a_passing_failure_is_retried_into_an_answer(
        dialect: Dialect, make_provider: MakeProvider, fake_llm: FakeUpstream) -> None:
    answer = await complete(make_provider(max_retries=RETRIES), "small@fault=500,times=1",
                            ask())
    assert answer.text.startswith("Fake answer")
    assert len(fake_llm.requests) == 2


async def test_429_waits_as_long_as_retry_after_says(
        dialect: Dialect, make_provider: MakeProvider, fake_llm: FakeUpstream) -> None:
    started = time.monotonic()
    error = await fails(complete(make_provider(max_retries=RETRIES),
                                 "small@fault=429,retry_after=0.25", ask()))
    assert time.monotonic() - started >= 2 * 0.25
    assert error.upstream_status == 429 and "injected fault 429" in error.message
    assert len(fake_llm.requests) == RETRIES + 1


async def test_429_asking_for_too_long_a_wait_is_not_retried(
        dialect: Dialect, make_provider: MakeProvider, fake_llm: FakeUpstream) -> None:
    started = time.monotonic()
    error = await fails(complete(make_provider(max_retries=RETRIES),
                                 f"small@fault=429,retry_after={MAX_BACKOFF + 10:g}", ask()))
    assert time.monotonic() - started < 2
    assert error.upstream_status == 429 and error.retry_after == MAX_BACKOFF + 10
    assert len(fake_llm.requests) == 1


async def test_401_blames_the_servers_credentials_and_is_not_retried(
        dialect: Dialect, make_provider: MakeProvider, fake_llm: FakeUpstream) -> None:
    error = await fails(complete(make_provider(max_retries=RETRIES), "small@fault=401", ask()))
    assert error.code == "upstream_error" and error.status == 502
    assert "this server's credentials" in error.message
    assert "injected fault 401" in error.message
    assert len(fake_llm.requests) == 1


@pytest.mark.parametrize("stream", [True, False])
async def test_a_hung_model_is_cut_at_the_first_byte_timeout_not_the_total(
        dialect: Dialect, make_provider: MakeProvider, fake_llm: FakeUpstream,
        stream: bool) -> None:
    """A whole answer's first byte is its end, so the first-byte timeout bounds it too."""
    provider = make_provider(max_retries=RETRIES, first_byte_timeout=0.3, total_timeout=60)
    started = time.monotonic()
    error = await fails(complete(provider, "small@fault=hang", ask(stream=stream)))
    assert isinstance(error, UpstreamTimeout) and "0.3s" in error.message
    assert time.monotonic() - started < 5
    assert len(fake_llm.requests) == 1


@pytest.mark.parametrize("stream", [True, False])
async def test_hang_times_out_at_the_first_byte_timeout_without_retry(
        dialect: Dialect, make_provider: MakeProvider, fake_llm: FakeUpstream,
        stream: bool) -> None:
    provider = make_provider(max_retries=RETRIES, first_byte_timeout=0.3, total_timeout=0.6)
    started = time.monotonic()
    error = await fails(complete(provider, "small@fault=hang", ask(stream=stream)))
    assert isinstance(error, UpstreamTimeout) and error.code == "upstream_timeout"
    assert error.status == 504
    assert time.monotonic() - started < 1.5
    assert len(fake_llm.requests) == 1


async def test_cut_after_text_fails_without_retry_and_keeps_the_text_sent(
        dialect: Dialect, make_provider: MakeProvider, fake_llm: FakeUpstream) -> None:
    provider = make_provider(max_retries=RETRIES)
    received: list[str] = []
    with pytest.raises(UpstreamError) as caught:
        async for chunk in provider.stream("small@fault=cut,cut_after=3", ask()):
            assert isinstance(chunk, TextDelta)
            received.append(chunk.text)
    assert type(caught.value) is UpstreamError
    assert "".join(received) == "Fake answer to:"
    assert len(fake_llm.requests) == 1


async def test_cut_before_any_text_is_retried(
        dialect: Dialect, make_provider: MakeProvider, fake_llm: FakeUpstream) -> None:
    error = await fails(complete(make_provider(max_retries=RETRIES),
                                 "small@fault=cut,cut_after=0", ask()))
    assert error.retryable
    assert len(fake_llm.requests) == RETRIES + 1


async def test_malformed_chunk_is_an_upstream_error_without_retry(
        dialect: Dialect, make_provider: MakeProvider, fake_llm: FakeUpstream) -> None:
    error = await fails(complete(make_provider(max_retries=RETRIES),
                                 "small@fault=malformed,cut_after=0", ask()))
    assert type(error) is UpstreamError and "malformed" in error.message
    assert len(fake_llm.requests) == 1


async def test_total_timeout_ends_a_slow_stream(
        dialect: Dialect, make_provider: MakeProvider, fake_llm: FakeUpstream) -> None:
    provider = make_provider(max_retries=RETRIES, total_timeout=0.4)
    started = time.monotonic()
    error = await fails(complete(provider, "small@tps=10,tokens=40", ask()))
    assert isinstance(error, UpstreamTimeout) and "longer than 0.4s" in error.message
    assert time.monotonic() - started < 1.5
    assert len(fake_llm.requests) == 1
    assert fake_llm.requests[0]["completed"] is False


async def test_whole_answers_break_and_take_time_as_streams_do(
        dialect: Dialect, make_provider: MakeProvider, fake_llm: FakeUpstream) -> None:
    """Non-streaming calls meet the same faults: a cut body, one that is not JSON, slowness."""
    provider = make_provider(max_retries=1, total_timeout=0.4)
    cut = await fails(complete(provider, "small@fault=cut", ask(stream=False)))
    assert cut.retryable and len(fake_llm.requests) == 2
    malformed = await fails(complete(provider, "small@fault=malformed", ask(stream=False)))
    assert "not JSON" in malformed.message and not malformed.retryable
    started = time.monotonic()
    slow = await fails(complete(provider, "small@tps=10,tokens=40", ask(stream=False)))
    assert isinstance(slow, UpstreamTimeout) and "longer than 0.4s" in slow.message
    assert time.monotonic() - started < 1.5
    paced = await complete(make_provider(), "small@tps=100,tokens=20", ask(stream=False))
    assert paced.text.startswith("Fake answer") and fake_llm.requests[-1]["completed"]


async def test_connection_refused_is_retried_then_reported(
        dialect: Dialect, make_provider: MakeProvider) -> None:
    provider = make_provider(base_url=f"http://127.0.0.1:{free_port()}",
                             max_retries=RETRIES)
    error = await fails(complete(provider, "small", ask()))
    assert error.retryable and "cannot connect" in error.message


@pytest.fixture
def full_listener() -> Iterator[str]:
    """A port whose accept queue is full, so a new connection never completes."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(0)
    fillers = []
    for _ in range(4):
        filler = socket.socket()
        filler.setblocking(False)
        filler.connect_ex(server.getsockname())
        fillers.append(filler)
    time.sleep(0.05)
    yield f"http://127.0.0.1:{server.getsockname()[1]}"
    for filler in fillers:
        filler.close()
    server.close()


async def test_connect_timeout_is_an_upstream_timeout(
        dialect: Dialect, make_provider: MakeProvider, full_listener: str) -> None:
    provider = make_provider(base_url=full_listener, connect_timeout=0.2, max_retries=1)
    started = time.monotonic()
    error = await fails(complete(provider, "small", ask()))
    assert isinstance(error, UpstreamTimeout) and "connecting" in error.message
    assert time.monotonic() - started < 2
