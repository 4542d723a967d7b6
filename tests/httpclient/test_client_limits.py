"""Each of the outbound client's limits, against a raw server that goes past it."""

from __future__ import annotations

import asyncio
import gzip
import time
import zlib

import pytest

from chorus.config import ProviderConfig, Settings
from chorus.errors import UpstreamError, UpstreamTimeout
from chorus.httpclient import (
    Client,
    DeadlineExceeded,
    LimitExceeded,
    Limits,
    PoolTimeout,
    ProtocolError,
    Timeout,
    Timeouts,
)
from chorus.httpclient.connection import DECODE_SIZE
from chorus.providers.base import collect
from chorus.providers.http import HttpProvider
from chorus.providers.registry import DIALECTS
from chorus.types import Message, ModelRequest
from tests.httpclient.conftest import OK, Handler, Server, keep_answering, serve, until

SSE_HEAD = (b"HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\n"
            b"transfer-encoding: chunked\r\n\r\n")
DELTA = b'data: {"choices": [{"delta": {"content": "a"}}]}\n'


def chunk(data: bytes) -> bytes:
    return b"%x\r\n%s\r\n" % (len(data), data)


def idle_and_open(client: Client, server: Server) -> tuple[int, int]:
    pool = client._pools[f"http://127.0.0.1:{server.port}"]
    return len(pool.idle), pool.open


def answer_once(answer: bytes) -> Handler:
    async def handler(server: Server, reader: asyncio.StreamReader,
                      writer: asyncio.StreamWriter) -> None:
        while await server.request(reader):
            writer.write(answer)
            await writer.drain()
    return handler


async def test_a_gzip_bomb_stops_at_the_body_limit_and_is_inflated_piece_by_piece() -> None:
    bomb = gzip.compress(b"\0" * (8 * 2**20))  # 8 KiB that inflate to 8 MiB
    head = b"HTTP/1.1 200 OK\r\ncontent-encoding: gzip\r\ncontent-length: %d\r\n\r\n" % len(bomb)
    async with serve(answer_once(head + bomb)) as server, \
            Client(Limits(body_bytes=2**20)) as client:
        url = f"http://127.0.0.1:{server.port}/"
        with pytest.raises(LimitExceeded, match="body is larger than 1048576 bytes"):
            await client.request("GET", url, timeouts=5)
        assert idle_and_open(client, server) == (0, 0)
        async with client.stream("GET", url, timeouts=5) as response:
            sizes = []
            with pytest.raises(LimitExceeded):
                async for piece in response.aiter_bytes():
                    sizes.append(len(piece))
        assert max(sizes) <= DECODE_SIZE and sum(sizes) <= 2**20
        await asyncio.wait_for(server.closed.wait(), 5)


async def test_a_deflate_body_under_the_limit_is_read_whole() -> None:
    text = b"y" * (3 * DECODE_SIZE + 5)  # more than one piece, in a stream that ends exactly
    packed = zlib.compress(text)
    head = b"HTTP/1.1 200 OK\r\ncontent-encoding: deflate\r\ncontent-length: %d\r\n\r\n" % len(
        packed)
    async with serve(answer_once(head + packed)) as server, Client() as client:
        for _ in range(2):
            response = await client.request("GET", f"http://127.0.0.1:{server.port}/",
                                            timeouts=5)
            assert response.content == text
        assert server.connections == 1


async def test_a_plain_body_stops_at_the_body_limit() -> None:
    async def endless(server: Server, reader: asyncio.StreamReader,
                      writer: asyncio.StreamWriter) -> None:
        await server.request(reader)
        writer.write(b"HTTP/1.1 200 OK\r\n\r\n")  # close-delimited: ends when the server stops
        while True:
            writer.write(b"x" * 65536)
            await writer.drain()

    async with serve(endless) as server, Client(Limits(body_bytes=300_000)) as client:
        with pytest.raises(LimitExceeded, match="larger than 300000 bytes"):
            await client.request("GET", f"http://127.0.0.1:{server.port}/", timeouts=5)
        await asyncio.wait_for(server.closed.wait(), 5)


async def test_too_many_headers_or_too_large_a_head() -> None:
    many = b"".join(b"x-h%d: v\r\n" % i for i in range(21))
    big = b"x-big: " + b"b" * 5000 + b"\r\n"

    async def answers(server: Server, reader: asyncio.StreamReader,
                      writer: asyncio.StreamWriter) -> None:
        path = (await server.request(reader)).split(b" ")[1]
        extra = {b"/many": many, b"/big": big}.get(path)
        if extra is not None:
            writer.write(b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\n" + extra + b"\r\n")
            return
        writer.write(b"HTTP/1.1 200 OK\r\nx-endless: ")  # a head that never ends
        while True:
            writer.write(b"a" * 1024)
            await writer.drain()

    limits = Limits(header_count=20, header_bytes=4096)
    async with serve(answers) as server, Client(limits) as client:
        url = f"http://127.0.0.1:{server.port}"
        with pytest.raises(LimitExceeded, match="more than 20 headers"):
            await client.request("GET", f"{url}/many", timeouts=5)
        with pytest.raises(LimitExceeded, match="larger than 4096 bytes"):
            await client.request("GET", f"{url}/big", timeouts=5)
        with pytest.raises(LimitExceeded, match="head is larger than 4096 bytes"):
            await client.request("GET", f"{url}/endless", timeouts=5)
        assert idle_and_open(client, server) == (0, 0)


async def test_trailers_count_against_the_header_limits() -> None:
    trailers = b"".join(b"x-t%d: v\r\n" % i for i in range(30))
    answer = (b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n" + chunk(b"hi")
              + b"0\r\n" + trailers + b"\r\n")
    async with serve(answer_once(answer)) as server, \
            Client(Limits(header_count=20)) as client:
        with pytest.raises(LimitExceeded, match="more than 20 headers"):
            await client.request("GET", f"http://127.0.0.1:{server.port}/", timeouts=5)

    async def endless_trailer(server: Server, reader: asyncio.StreamReader,
                              writer: asyncio.StreamWriter) -> None:
        await server.request(reader)
        writer.write(b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n"
                     + chunk(b"hi") + b"0\r\nx-trailer: ")
        while True:  # httptools holds a header's value until it ends: it must not grow
            writer.write(b"t" * 4096)
            await writer.drain()

    async with serve(endless_trailer) as server, \
            Client(Limits(body_bytes=10_000)) as client:
        with pytest.raises(LimitExceeded, match="framing is more than twice its 10000-byte"):
            await client.request("GET", f"http://127.0.0.1:{server.port}/", timeouts=5)


async def test_one_server_sent_event_may_not_pass_the_event_limit() -> None:
    async def sse(server: Server, reader: asyncio.StreamReader,
                  writer: asyncio.StreamWriter) -> None:
        path = (await server.request(reader)).split(b" ")[1]
        writer.write(SSE_HEAD + chunk(b"data: " + b"z" * 900 + b"\n\n") * 5)
        if path == b"/line":
            while True:  # one line that never ends
                writer.write(chunk(b"q" * 256))
                await writer.drain()
        elif path == b"/lines":
            while True:  # short lines, never the blank line that ends the event
                writer.write(chunk(b"data: x\n" * 32))
                await writer.drain()
        writer.write(b"0\r\n\r\n")

    async with serve(sse) as server, Client(Limits(event_chars=1000)) as client:
        url = f"http://127.0.0.1:{server.port}"
        for path in ("/line", "/lines"):
            async with client.stream("GET", url + path, timeouts=5) as response:
                lines = []
                with pytest.raises(LimitExceeded, match="event is longer than 1000 char"):
                    async for line in response.aiter_lines():
                        lines.append(line)
                assert lines[:10] == ["data: " + "z" * 900, ""] * 5
        async with client.stream("GET", url + "/fine", timeouts=5) as response:
            assert len([line async for line in response.aiter_lines()]) == 10


async def test_calls_wait_for_a_free_connection_within_the_connect_timeout() -> None:
    release = asyncio.Event()

    async def held(server: Server, reader: asyncio.StreamReader,
                   writer: asyncio.StreamWriter) -> None:
        while await server.request(reader):
            await release.wait()
            writer.write(OK)

    async with serve(held) as server, Client(Limits(connections_per_origin=2)) as client:
        url = f"http://127.0.0.1:{server.port}/"
        calls = [asyncio.create_task(client.request("GET", url, timeouts=5)) for _ in range(5)]
        await until(lambda: len(server.requests) == 2)
        with pytest.raises(PoolTimeout, match=r"all 2 connections to http://127\.0\.0\.1"):
            await client.request("GET", url, timeouts=Timeouts(connect=0.05, read=5, write=5))
        release.set()
        assert [r.status_code for r in await asyncio.gather(*calls)] == [200] * 5
        assert (server.connections, len(server.requests)) == (2, 5)
        assert idle_and_open(client, server) == (2, 2)


async def test_a_waiting_call_gets_the_place_of_a_connection_that_failed() -> None:
    async def first_fails(server: Server, reader: asyncio.StreamReader,
                          writer: asyncio.StreamWriter) -> None:
        await server.request(reader)
        if server.connections == 1:
            writer.write(b"HTTP/1.1 200 OK\r\ncontent-length: 9\r\n\r\ncut")  # then closes
            return
        writer.write(OK)

    async with serve(first_fails) as server, Client(Limits(connections_per_origin=1)) as client:
        url = f"http://127.0.0.1:{server.port}/"
        results = await asyncio.gather(*(client.request("GET", url, timeouts=5)
                                         for _ in range(2)), return_exceptions=True)
        assert [type(r).__name__ for r in results] == ["ProtocolError", "Response"]
        assert idle_and_open(client, server) == (1, 1)


async def trickle(server: Server, reader: asyncio.StreamReader,
                  writer: asyncio.StreamWriter) -> None:
    """A head, then one byte of the body every 20 ms, for ever: never silent for long."""
    path = (await server.request(reader)).split(b" ")[1]
    if path == b"/head":
        parts = iter(lambda: b"x", None)
        writer.write(b"HTTP/1.1 200 OK\r\nx-slow: ")
    else:
        parts = iter(lambda: chunk(b"d"), None)
        writer.write(SSE_HEAD + chunk(DELTA))
    for part in parts:
        writer.write(part)
        await writer.drain()
        await asyncio.sleep(0.02)


async def test_the_total_deadline_holds_while_bytes_trickle_in() -> None:
    timeouts = Timeouts(connect=1, read=1, write=1, total=0.3)
    async with serve(trickle) as server, Client() as client:
        url = f"http://127.0.0.1:{server.port}"
        for path in ("/head", "/body"):
            started = time.monotonic()
            with pytest.raises(DeadlineExceeded, match=r"took longer than 0\.3s"):
                async with asyncio.timeout(3):
                    await client.request("GET", url + path, timeouts=timeouts)
            assert 0.25 < time.monotonic() - started < 2.5  # the deadline, not the guard
        assert idle_and_open(client, server) == (0, 0)


async def test_a_number_for_timeouts_bounds_the_whole_call_too() -> None:
    async with serve(trickle) as server, Client() as client:
        # The deadline, where reading alone would wait for ever (a byte every 20 ms); or, when a
        # stalled machine takes 0.3 s to connect on loopback (seen in CI), the connect timeout
        with pytest.raises(Timeout, match=r"took longer than 0\.3s"):
            async with asyncio.timeout(3):
                await client.request("GET", f"http://127.0.0.1:{server.port}/body",
                                     timeouts=0.3)


def provider(port: int, client: Client | None = None, **settings: float) -> HttpProvider:
    config = ProviderConfig(name="up", base_url=f"http://127.0.0.1:{port}/v1", api_key="k",
                            max_retries=0, **settings)
    return HttpProvider(config, DIALECTS["openai"](), client or Client(Limits(event_chars=1000)))


ASK = ModelRequest((Message("user", "hi"),))


async def test_a_provider_stream_that_trickles_ends_at_its_total_timeout() -> None:
    async with serve(trickle) as server:
        up = provider(server.port, total_timeout=0.3, first_byte_timeout=1)
        with pytest.raises(UpstreamTimeout, match=r"took longer than 0\.3s"):
            async with asyncio.timeout(3):
                await collect(up.stream("m", ASK))
        await up.client.aclose()


async def test_a_limit_hit_upstream_is_an_upstream_error_and_the_next_call_works() -> None:
    async def sse(server: Server, reader: asyncio.StreamReader,
                  writer: asyncio.StreamWriter) -> None:
        while await server.request(reader):
            size = 2000 if len(server.requests) == 1 else 10
            writer.write(SSE_HEAD + chunk(b'data: {"choices": [{"delta": {"content": "'
                                          + b"a" * size + b'"}}]}\n\n')
                         + chunk(b"data: [DONE]\n\n") + b"0\r\n\r\n")

    async with serve(sse) as server:
        up = provider(server.port)
        with pytest.raises(UpstreamError, match="refused: a server-sent event is longer") as err:
            await collect(up.stream("m", ASK))
        assert not err.value.retryable
        assert (await collect(up.stream("m", ASK))).text == "a" * 10
        await up.client.aclose()


async def test_an_answer_nobody_asked_for_is_never_read_as_the_next_one() -> None:
    async def twice(server: Server, reader: asyncio.StreamReader,
                    writer: asyncio.StreamWriter) -> None:
        while await server.request(reader):
            writer.write(OK + b"HTTP/1.1 200 OK\r\ncontent-length: 5\r\n\r\nstale")

    async def late(server: Server, reader: asyncio.StreamReader,
                   writer: asyncio.StreamWriter) -> None:
        while await server.request(reader):
            writer.write(OK)
            await writer.drain()
            await sent.wait()
            writer.write(b"HTTP/1.1 200 OK\r\ncontent-length: 5\r\n\r\nstale")

    sent = asyncio.Event()
    for handler in (twice, late):
        async with serve(handler) as server, Client() as client:
            url = f"http://127.0.0.1:{server.port}/"
            for _ in range(3):
                assert (await client.request("GET", url, timeouts=5)).content == b'{"ok":true}'
                if handler is late:  # the stale answer arrives while the connection idles
                    sent.set()
                    idle = client._pools[url[:-1]].idle
                    await until(lambda: getattr(idle[-1].reader, "_buffer", b""))  # noqa: B023
                    sent.clear()
            assert server.connections == 3


def test_operators_set_the_limits_from_the_environment(
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CHORUS_UPSTREAM_MAX_BODY_BYTES", "1000")
    monkeypatch.setenv("CHORUS_UPSTREAM_CONNECTIONS_PER_ORIGIN", "3")
    limits = Settings().upstream_limits
    assert (limits.body_bytes, limits.connections_per_origin) == (1000, 3)
    assert limits.header_count == Limits().header_count


async def test_the_default_limits_let_a_usual_answer_through() -> None:
    async with serve(keep_answering) as server, Client() as client:
        for _ in range(2):
            response = await client.request("GET", f"http://127.0.0.1:{server.port}/",
                                            timeouts=5)
            assert response.json() == {"ok": True}
        assert idle_and_open(client, server) == (1, 1)


async def test_a_compressed_body_cut_short_is_an_error_not_a_short_answer() -> None:
    packed = gzip.compress(b'{"a": "' + b"x" * 1000 + b'"}')
    cut = packed[: len(packed) // 2]
    head = b"HTTP/1.1 200 OK\r\ncontent-encoding: gzip\r\ncontent-length: %d\r\n\r\n"
    async with serve(answer_once(head % len(cut) + cut)) as server, Client() as client:
        with pytest.raises(ProtocolError, match="compressed body was cut short"):
            await client.request("GET", f"http://127.0.0.1:{server.port}/", timeouts=5)
        assert idle_and_open(client, server) == (0, 0)
    async with serve(answer_once(head % 0)) as server, Client() as client:  # empty: fine
        response = await client.request("GET", f"http://127.0.0.1:{server.port}/", timeouts=5)
        assert response.content == b""


async def test_a_provider_call_that_finds_no_free_connection_is_an_upstream_timeout() -> None:
    async def one_event(server: Server, reader: asyncio.StreamReader,
                        writer: asyncio.StreamWriter) -> None:
        await server.request(reader)
        writer.write(SSE_HEAD + chunk(DELTA + b"\n"))
        await reader.read()  # the stream stays open until the client leaves

    async with serve(one_event) as server:
        first = provider(server.port, Client(Limits(connections_per_origin=1)))
        busy = first.stream("m", ASK)
        await anext(busy)  # the one connection now carries a stream
        up = provider(server.port, first.client, connect_timeout=0.05)
        with pytest.raises(UpstreamTimeout, match="all 1 connections to http://127") as err:
            await collect(up.stream("m", ASK))
        assert err.value.retryable
        await busy.aclose()
        await up.client.aclose()
