"""The outbound HTTP client against raw servers on real sockets: every framing, failure and hop."""

from __future__ import annotations

import asyncio
import gzip
import ssl
from pathlib import Path

import pytest
import trustme

from chorus import lull
from chorus.httpclient import (
    URL,
    Client,
    ConnectError,
    ConnectTimeout,
    ProtocolError,
    Timeout,
    Timeouts,
)
from chorus.httpclient.proxy import proxy_for
from tests.httpclient.conftest import OK, Server, keep_answering, serve


async def test_calls_reuse_one_kept_alive_connection() -> None:
    async with serve(keep_answering) as server, Client() as client:
        for _ in range(3):
            response = await client.request("POST", f"http://127.0.0.1:{server.port}/v1/x?a=1",
                                            timeouts=5, json={"q": "hi"},
                                            headers={"authorization": "Bearer k"})
            assert (response.status_code, response.json()) == (200, {"ok": True})
            assert response.headers["content-type"] == "application/json"
        assert server.connections == 1
        head, _, body = server.requests[0].partition(b"\r\n\r\n")
        lines = head.split(b"\r\n")
        assert lines[0] == b"POST /v1/x?a=1 HTTP/1.1"
        assert {b"host: 127.0.0.1:%d" % server.port, b"content-length: 10",
                b"content-type: application/json", b"authorization: Bearer k"} <= set(lines)
        assert body == b'{"q":"hi"}'
        got = await client.request("GET", f"http://127.0.0.1:{server.port}/s", timeouts=5,
                                   params={"q": "a b&c", "n": 2})
        assert got.status_code == 200
        assert server.requests[-1].startswith(b"GET /s?q=a+b%26c&n=2 HTTP/1.1\r\n")
        assert b"content-length" not in server.requests[-1]


async def test_held_work_runs_while_the_answer_is_awaited(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """The client announces a lull once its request is written (chorus.lull): the access
    lines held run then, not in the way of the next request's work."""
    monkeypatch.setattr(lull, "LATEST", 60)  # no fallback: only the lull runs it
    ran: list[str] = []
    asked = asyncio.Event()
    release = asyncio.Event()

    async def slow(server: Server, reader: asyncio.StreamReader,
                   writer: asyncio.StreamWriter) -> None:
        await server.request(reader)
        asked.set()
        await release.wait()
        writer.write(OK)
        await keep_answering(server, reader, writer)

    async with serve(slow) as server, Client() as client:
        lull.later(asyncio.get_running_loop(), lambda: ran.append("held"))
        call = asyncio.create_task(client.request("GET", f"http://127.0.0.1:{server.port}/",
                                                  timeouts=5))
        await asked.wait()
        assert ran == ["held"]  # the request is out, its answer not yet
        release.set()
        assert (await call).status_code == 200


async def test_chunked_lines_arrive_as_they_are_sent() -> None:
    release = asyncio.Event()

    async def chunked(server: Server, reader: asyncio.StreamReader,
                      writer: asyncio.StreamWriter) -> None:
        await server.request(reader)
        writer.write(b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n")
        for part in (b"data: one\r", b"\ndata: t", b"wo\n\ndata: three\rlast"):
            writer.write(b"%x\r\n%s\r\n" % (len(part), part))
            await writer.drain()
            await release.wait()
        writer.write(b"0\r\n\r\n")
        await keep_answering(server, reader, writer)

    async with serve(chunked) as server, Client() as client:
        url = f"http://127.0.0.1:{server.port}/"
        async with client.stream("GET", url, timeouts=5) as response:
            lines = response.aiter_lines()
            assert await anext(lines) == "data: one"  # before the rest was even sent
            release.set()
            assert [line async for line in lines] == ["data: two", "", "data: three", "last"]
        assert (await client.request("GET", url, timeouts=5)).status_code == 200
        assert server.connections == 1


async def test_lines_end_at_crlf_cr_or_lf_wherever_the_chunks_split() -> None:
    """LF-only chunks take a faster split than those holding a CR, and chunks of whole
    characters a faster decoding; the lines are the same, a character cut in two included."""
    text = (b"data: a\ndata: \xe2\x80\xa8b\r\n\r\ndata: c\rdata: \xffd\n\ndata: e\r\r"
            b"\xc3\xa9")
    expected = ["data: a", "data: \u2028b", "", "data: c", "data: \ufffdd", "", "data: e", "",
                "\u00e9"]

    async def split_at(server: Server, reader: asyncio.StreamReader,
                       writer: asyncio.StreamWriter) -> None:
        while request := await server.request(reader):
            cut = int(request.split(b" ")[1][1:])
            writer.write(b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n")
            for part in (text[:cut], text[cut:]):
                if part:
                    writer.write(b"%x\r\n%s\r\n" % (len(part), part))
                    await writer.drain()
            writer.write(b"0\r\n\r\n")

    async with serve(split_at) as server, Client() as client:
        for cut in range(len(text) + 1):
            url = f"http://127.0.0.1:{server.port}/{cut}"
            async with client.stream("GET", url, timeouts=5) as response:
                assert [line async for line in response.aiter_lines()] == expected, cut


async def test_close_delimited_and_gzip_bodies() -> None:
    packed = gzip.compress(b'{"big": "' + b"x" * 5000 + b'"}')

    async def until_close(server: Server, reader: asyncio.StreamReader,
                          writer: asyncio.StreamWriter) -> None:
        await server.request(reader)
        writer.write(b"HTTP/1.1 200 OK\r\ncontent-encoding: gzip\r\n\r\n" + packed)

    async with serve(until_close) as server, Client() as client:
        for _ in range(2):
            response = await client.request("GET", f"http://127.0.0.1:{server.port}/",
                                            timeouts=5)
            assert response.json() == {"big": "x" * 5000}
        assert server.connections == 2  # a body that ends with the connection ends it


async def test_a_connection_closed_while_idle_is_replaced() -> None:
    async def one_answer(server: Server, reader: asyncio.StreamReader,
                         writer: asyncio.StreamWriter) -> None:
        await server.request(reader)
        writer.write(OK)  # then closes, as a server's keep-alive timeout does

    async with serve(one_answer) as server, Client() as client:
        for _ in range(3):
            response = await client.request("GET", f"http://127.0.0.1:{server.port}/",
                                            timeouts=5)
            assert response.status_code == 200
            await server.closed.wait()
            server.closed.clear()
        assert (server.connections, len(server.requests)) == (3, 3)


async def test_a_reused_connection_that_dies_unanswered_is_tried_once_more() -> None:
    async def then_vanish(server: Server, reader: asyncio.StreamReader,
                          writer: asyncio.StreamWriter) -> None:
        await server.request(reader)
        writer.write(OK)
        await server.request(reader)  # read the next request, close without an answer

    async with serve(then_vanish) as server, Client() as client:
        url = f"http://127.0.0.1:{server.port}/"
        for _ in range(2):
            assert (await client.request("GET", url, timeouts=5)).status_code == 200
        assert (server.connections, len(server.requests)) == (2, 3)


async def test_a_new_connection_that_dies_unanswered_is_an_error() -> None:
    async def vanish(server: Server, reader: asyncio.StreamReader,
                     writer: asyncio.StreamWriter) -> None:
        await server.request(reader)

    async with serve(vanish) as server, Client() as client:
        with pytest.raises(ProtocolError, match="without answering"):
            await client.request("GET", f"http://127.0.0.1:{server.port}/", timeouts=5)
        assert len(server.requests) == 1


async def test_broken_answers_are_protocol_errors() -> None:
    async def garbage(server: Server, reader: asyncio.StreamReader,
                      writer: asyncio.StreamWriter) -> None:
        path = (await server.request(reader)).split(b" ")[1]
        writer.write(b"HTTP/1.1 200 OK\r\ncontent-length: 50\r\n\r\ncut" if path == b"/cut"
                     else b"SMTP ready\r\n\r\n")

    async with serve(garbage) as server, Client() as client:
        with pytest.raises(ProtocolError, match="not valid HTTP"):
            await client.request("GET", f"http://127.0.0.1:{server.port}/bad", timeouts=5)
        with pytest.raises(ProtocolError, match="before the answer was complete"):
            await client.request("GET", f"http://127.0.0.1:{server.port}/cut", timeouts=5)


async def test_refused_connections_and_timeouts() -> None:
    async with Client() as client:
        with pytest.raises(ConnectError, match=r"refused|Connect call failed"):
            await client.request("GET", "http://127.0.0.1:9/", timeouts=5)

    async def silent(server: Server, reader: asyncio.StreamReader,
                     writer: asyncio.StreamWriter) -> None:
        await reader.read()  # accepts, never answers (not even a TLS handshake)

    async with serve(silent) as server, Client() as client:
        with pytest.raises(Timeout, match=r"no data within 0\.2s"):
            await client.request("GET", f"http://127.0.0.1:{server.port}/",
                                 timeouts=Timeouts(connect=5, read=0.2, write=5))
        with pytest.raises(ConnectTimeout):
            await client.request("GET", f"https://127.0.0.1:{server.port}/",
                                 timeouts=Timeouts(connect=0.2, read=5, write=5))


async def test_leaving_a_stream_early_closes_its_connection() -> None:
    async def endless(server: Server, reader: asyncio.StreamReader,
                      writer: asyncio.StreamWriter) -> None:
        await server.request(reader)
        writer.write(b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n")
        while True:
            writer.write(b"6\r\ndata: \r\n")
            await writer.drain()
            await asyncio.sleep(0.01)
            if reader.at_eof() or writer.is_closing():
                return

    async with serve(endless) as server, Client() as client:
        async with client.stream("GET", f"http://127.0.0.1:{server.port}/",
                                 timeouts=5) as response:
            async for _ in response.aiter_bytes():
                break
        await asyncio.wait_for(server.closed.wait(), 5)
        pool = client._pools[f"http://127.0.0.1:{server.port}"]
        assert (len(pool.idle), pool.open) == (0, 0)


async def test_a_header_with_a_line_break_is_refused() -> None:
    async with serve(keep_answering) as server, Client() as client:
        with pytest.raises(ValueError, match="line break"):
            await client.request("GET", f"http://127.0.0.1:{server.port}/", timeouts=5,
                                 headers={"x-key": "a\r\nx-injected: 1"})
        assert server.requests == []


@pytest.fixture(scope="module")
def ca() -> trustme.CA:
    return trustme.CA()


def server_tls(ca: trustme.CA) -> ssl.SSLContext:
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert("localhost", "127.0.0.1").configure_cert(context)
    return context


async def test_tls_is_verified_against_certifi_or_ssl_cert_file(
        ca: trustme.CA, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    async with serve(keep_answering, tls=server_tls(ca)) as server:
        url = f"https://localhost:{server.port}/"
        async with Client() as client:  # certifi's roots do not know this CA
            with pytest.raises(ConnectError, match="CERTIFICATE_VERIFY_FAILED"):
                await client.request("GET", url, timeouts=5)
        ca.cert_pem.write_to_path(str(tmp_path / "ca.pem"))
        monkeypatch.setenv("SSL_CERT_FILE", str(tmp_path / "ca.pem"))
        async with Client() as client:
            for _ in range(2):
                assert (await client.request("GET", url, timeouts=5)).status_code == 200
        assert server.connections == 1  # the refused handshake never reached the handler


async def proxy(server: Server, reader: asyncio.StreamReader,
                writer: asyncio.StreamWriter) -> None:
    """A forward proxy that finds every host on loopback: CONNECT tunnels and absolute-form
    requests; it records the heads it was sent."""
    head = await reader.readuntil(b"\r\n\r\n")
    server.requests.append(head)
    method, target = head.split(b" ")[:2]
    if method == b"CONNECT":
        port = target.rsplit(b":", 1)[1]
        writer.write(b"HTTP/1.1 200 Connection established\r\n\r\n")
    else:
        port = target.split(b"/")[2].rsplit(b":", 1)[1]
    up_reader, up_writer = await asyncio.open_connection("127.0.0.1", int(port))
    if method != b"CONNECT":
        up_writer.write(head)

    async def pipe(src: asyncio.StreamReader, dst: asyncio.StreamWriter) -> None:
        while data := await src.read(65536):
            dst.write(data)
        dst.close()

    await asyncio.gather(pipe(reader, up_writer), pipe(up_reader, writer))


async def test_requests_go_through_an_http_proxy_from_the_environment(
        ca: trustme.CA, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    ca.cert_pem.write_to_path(str(tmp_path / "ca.pem"))
    monkeypatch.setenv("SSL_CERT_FILE", str(tmp_path / "ca.pem"))
    tls = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert("models.example").configure_cert(tls)
    async with serve(proxy) as hop, serve(keep_answering) as plain, \
            serve(keep_answering, tls=tls) as secure:
        monkeypatch.setenv("HTTP_PROXY", f"http://user:p%40ss@127.0.0.1:{hop.port}")
        monkeypatch.setenv("HTTPS_PROXY", f"127.0.0.1:{hop.port}")
        monkeypatch.setenv("NO_PROXY", "example.com,.internal")
        async with Client() as client:
            assert (await client.request("GET", f"http://models.example:{plain.port}/p",
                                         timeouts=5)).status_code == 200
            assert (await client.request("GET", f"https://models.example:{secure.port}/s",
                                         timeouts=5)).status_code == 200
            # Loopback is never proxied.
            await client.request("GET", f"http://127.0.0.1:{plain.port}/direct", timeouts=5)
        first, second = hop.requests
        assert first.startswith(b"GET http://models.example:%d/p HTTP/1.1\r\n" % plain.port)
        assert b"proxy-authorization: Basic dXNlcjpwQHNz\r\n" in first  # user:p@ss
        assert second.startswith(b"CONNECT models.example:%d HTTP/1.1\r\n" % secure.port)
        assert secure.requests[0].startswith(b"GET /s HTTP/1.1\r\nhost: models.example:")
        assert plain.requests[-1].startswith(b"GET /direct HTTP/1.1\r\n")
        monkeypatch.setenv("HTTPS_PROXY", f"https://127.0.0.1:{hop.port}")
        async with Client() as client:
            with pytest.raises(ConnectError, match="only http:// proxies"):
                await client.request("GET", f"https://models.example:{secure.port}/", timeouts=5)


@pytest.mark.parametrize(("host", "no_proxy", "direct"), [
    ("api.example.com", "example.com", True), ("example.com", ".example.com", True),
    ("notexample.com", "example.com", False), ("vllm.internal", "x, .internal", True),
    ("api.openai.com", "*", True), ("api.openai.com", "", False),
    ("localhost", "", True), ("127.0.0.5", "", True), ("::1", "", True)])
def test_which_hosts_skip_the_proxy(host: str, no_proxy: str, direct: bool) -> None:
    url = URL.parse(f"https://{f'[{host}]' if ':' in host else host}/")
    env = {"https": "http://proxy.internal:3128", "no": no_proxy}
    assert (proxy_for(url, env) is None) is direct


async def test_a_refused_tunnel_closes_its_connection_to_the_proxy(
        monkeypatch: pytest.MonkeyPatch) -> None:
    async def refusing(server: Server, reader: asyncio.StreamReader,
                       writer: asyncio.StreamWriter) -> None:
        server.requests.append(await reader.readuntil(b"\r\n\r\n"))
        writer.write(b"HTTP/1.1 403 Forbidden\r\n\r\n")
        await reader.read()  # until the client leaves

    async with serve(refusing) as hop:
        monkeypatch.setenv("HTTPS_PROXY", f"http://127.0.0.1:{hop.port}")
        async with Client() as client:
            with pytest.raises(ConnectError, match="refused the tunnel") as refused:
                await client.request("GET", "https://models.example/", timeouts=5)
            # The error is kept (as the cause of an upstream error is): its frames hold the
            # connection, which must be closed by then, not whenever they are collected.
            await asyncio.wait_for(hop.closed.wait(), 5)
            assert refused.value.__traceback__ is not None
            assert client._pools["https://models.example"].open == 0


async def test_interim_answers_are_skipped_whole_and_the_connection_kept() -> None:
    interim = b"HTTP/1.1 100 Continue\r\nx-interim: 1\r\n\r\n"

    async def continues(server: Server, reader: asyncio.StreamReader,
                        writer: asyncio.StreamWriter) -> None:
        while await server.request(reader):
            if len(server.requests) == 1:  # in one write
                writer.write(interim * 2 + OK)
                continue
            for part in (interim, interim[:9], interim[9:] + OK[:20], OK[20:]):
                writer.write(part)
                await writer.drain()

    async with serve(continues) as server, Client() as client:
        for _ in range(2):
            response = await client.request("GET", f"http://127.0.0.1:{server.port}/",
                                            timeouts=5)
            assert (response.status_code, response.json()) == (200, {"ok": True})
            assert "x-interim" not in response.headers
        assert server.connections == 1
