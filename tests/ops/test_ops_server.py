"""`chorus serve` on a real socket: slow or silent clients are cut off, connections are capped."""

from __future__ import annotations

import socket
import time
from collections.abc import Iterator
from pathlib import Path

import httpx2 as httpx
import pytest

from chorus.config import Settings
from tests.processes import chorus_env, chorus_serve

HEADER_TIMEOUT = 1.0
BODY_TIMEOUT = 1.5
KEEP_ALIVE = 1.0
MAX_CONNECTIONS = 4
SLACK = 2.0
"""How much later than its deadline a connection may be closed, on a shared machine."""


@pytest.fixture(scope="module")
def url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    env = {**chorus_env(Path(tmp_path_factory.mktemp("serve")) / "chorus.db"),
           "CHORUS_HEADER_TIMEOUT": str(HEADER_TIMEOUT), "CHORUS_BODY_TIMEOUT": str(BODY_TIMEOUT),
           "CHORUS_KEEP_ALIVE_TIMEOUT": str(KEEP_ALIVE),
           "CHORUS_MAX_CONNECTIONS": str(MAX_CONNECTIONS)}
    with chorus_serve(env) as (_, url):
        yield url


def connect(url: str) -> socket.socket:
    host, port = url.removeprefix("http://").split(":")
    sock = socket.create_connection((host, int(port)), timeout=10)
    return sock


def response(sock: socket.socket) -> bytes:
    """One whole answer with a Content-Length, its head and body."""
    sock.settimeout(5)
    received = b""
    while b"\r\n\r\n" not in received:
        received += sock.recv(4096)
    head, _, body = received.partition(b"\r\n\r\n")
    length = next(int(line.split(b":")[1]) for line in head.split(b"\r\n")
                  if line.lower().startswith(b"content-length:"))
    while len(body) < length:
        body += sock.recv(4096)
    return received


def closed_after(sock: socket.socket, limit: float) -> tuple[float, bytes]:
    """Read until the server closes; how long that took, and what it sent."""
    started = time.monotonic()
    sock.settimeout(limit)
    received = b""
    while chunk := sock.recv(4096):
        received += chunk
    return time.monotonic() - started, received


def test_a_silent_connection_is_closed_after_the_header_timeout(url: str) -> None:
    with connect(url) as sock:
        took, received = closed_after(sock, HEADER_TIMEOUT + SLACK)
    assert HEADER_TIMEOUT * 0.8 <= took < HEADER_TIMEOUT + SLACK
    assert received.startswith(b"HTTP/1.1 408 ")


def test_headers_that_never_end_get_408_and_the_connection_closed(url: str) -> None:
    with connect(url) as sock:
        sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: chorus\r\nX-Slow: ")
        took, received = closed_after(sock, HEADER_TIMEOUT + SLACK)
    assert took < HEADER_TIMEOUT + SLACK
    head, _, body = received.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 408 ") and b"connection: close" in head
    assert b'"code":"request_timeout"' in body and b"headers" in body


def test_a_kept_alive_connections_next_request_gets_the_header_timeout_too(url: str) -> None:
    """The first request whole in one read (no timer needed), the next one's headers never
    ending: its deadline is armed when the read that began it ends."""
    with connect(url) as sock:
        sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: chorus\r\n\r\nGET /healthz HTTP/1.1\r\n")
        assert response(sock).startswith(b"HTTP/1.1 200 ")
        took, received = closed_after(sock, HEADER_TIMEOUT + SLACK)
    assert HEADER_TIMEOUT * 0.8 <= took < HEADER_TIMEOUT + SLACK
    assert b"HTTP/1.1 408 " in received and b"headers" in received, received


def test_a_body_sent_a_byte_at_a_time_is_cut_off_at_the_body_timeout(url: str) -> None:
    """Slowloris: the headers on time, then one byte of the body every fifth of a second."""
    with connect(url) as sock:
        sock.sendall(b"POST /v1/chat HTTP/1.1\r\nHost: chorus\r\nContent-Type: application/json"
                     b"\r\nAuthorization: Bearer sk_test_x\r\nContent-Length: 1000\r\n\r\n")
        started = time.monotonic()
        sock.settimeout(0.2)
        received = b""
        sent = 0
        while time.monotonic() - started < BODY_TIMEOUT + SLACK:
            try:
                sock.sendall(b" ")
                sent += 1
                received = sock.recv(4096)  # waits up to 0.2 s: the client's pace
                break
            except TimeoutError:
                continue
            except (BrokenPipeError, ConnectionResetError):
                break
        took = time.monotonic() - started
    assert sent < 1000 and took < BODY_TIMEOUT + SLACK
    assert took >= BODY_TIMEOUT * 0.8
    assert received.startswith(b"HTTP/1.1 408 "), received


def test_an_idle_kept_alive_connection_is_closed_after_the_keep_alive_timeout(url: str
                                                                              ) -> None:
    with connect(url) as sock:
        for _ in range(2):  # the second request reuses the connection: it was kept alive
            sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: chorus\r\n\r\n")
            assert response(sock).startswith(b"HTTP/1.1 200 ")
        took, received = closed_after(sock, KEEP_ALIVE + SLACK)
    assert received == b"" and took < KEEP_ALIVE + SLACK


def test_requests_over_the_connection_cap_get_503(url: str) -> None:
    held = [connect(url) for _ in range(MAX_CONNECTIONS)]
    try:
        for sock in held:
            sock.sendall(b"GET /healthz HTTP/1.1\r\n")  # started, not finished: held open
        response = httpx.get(f"{url}/healthz", timeout=5)
        assert response.status_code == 503
    finally:
        for sock in held:
            sock.close()
    deadline = time.monotonic() + 5
    while httpx.get(f"{url}/healthz", timeout=5).status_code != 200:
        assert time.monotonic() < deadline, "the cap did not free up"


def test_normal_requests_pass_and_public_defaults_are_set(url: str) -> None:
    assert httpx.get(f"{url}/healthz", timeout=5).status_code == 200
    body = b'{"message": "hi"}'
    response = httpx.post(f"{url}/v1/chat", content=body, timeout=5,
                          headers={"content-type": "application/json"})
    assert response.status_code == 401  # read in full and answered, not timed out
    defaults = Settings()
    assert (defaults.header_timeout, defaults.body_timeout, defaults.keep_alive_timeout,
            defaults.max_connections) == (10.0, 30.0, 5.0, 1000)


def test_a_body_refused_before_it_came_is_not_answered_twice(url: str) -> None:
    with connect(url) as sock:
        sock.sendall(b"POST /v1/chat HTTP/1.1\r\nHost: chorus\r\nContent-Length: 99000000\r\n\r\n")
        assert response(sock).startswith(b"HTTP/1.1 413 ")
        took, received = closed_after(sock, BODY_TIMEOUT + SLACK)
    assert received == b"" and took < BODY_TIMEOUT + SLACK
