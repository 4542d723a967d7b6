"""`chorus fake-llm` as operators start it: a process of its own, flags for every fault."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager

import httpx2 as httpx
import pytest

from tests.processes import CLI, free_port, python_path, wait_until_up

QUESTION = {"role": "user", "content": "Hello there"}


@contextmanager
def fake_llm_process(*flags: str) -> Iterator[str]:
    """`chorus fake-llm --port P FLAGS...` running; yields its URL."""
    port = free_port()
    env = {**os.environ, "PYTHONPATH": python_path()}
    process = subprocess.Popen(
        [sys.executable, "-c", CLI, "fake-llm", "--port", str(port), *flags],
        env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        process.terminate()
        process.wait(10)


FLAGS = {
    "500": ["--fault", "500", "--times", "1", "--tokens", "5", "--ttft-ms", "300",
            "--tps", "50", "--no-record"],
    "429": ["--fault", "429", "--retry-after", "7"],
    "401": ["--fault", "401"],
    "hang": ["--fault", "hang"],
    "cut": ["--fault", "cut", "--cut-after", "2"],
    "malformed": ["--fault", "malformed", "--cut-after", "1"],
}


@pytest.fixture(scope="module")
def servers() -> Iterator[dict[str, str]]:
    """One process per flag set, started together so the suite waits for them only once."""
    with ExitStack() as stack:
        urls = {name: stack.enter_context(fake_llm_process(*flags))
                for name, flags in FLAGS.items()}
        for url in urls.values():
            wait_until_up(f"{url}/v1/models", within=60)
        yield urls


def test_fault_500_times_and_answer_knobs(servers: dict[str, str]) -> None:
    url = f"{servers['500']}/v1/chat/completions"
    first = httpx.post(url, json={"model": "m", "messages": [QUESTION]})
    assert first.status_code == 500
    assert first.json()["error"]["message"] == "injected fault 500"
    started = time.monotonic()
    second = httpx.post(url, json={"model": "m", "messages": [QUESTION]})
    assert time.monotonic() - started >= 0.3
    assert second.status_code == 200
    assert second.json()["choices"][0]["message"]["content"] == "Fake answer to: Hello there."
    assert httpx.get(f"{servers['500']}/_fake/requests").json() == {"requests": []}


def test_fault_429_sends_the_configured_retry_after(servers: dict[str, str]) -> None:
    response = httpx.post(f"{servers['429']}/v1/messages",
                          json={"model": "m", "max_tokens": 5, "messages": [QUESTION]})
    assert response.status_code == 429 and response.headers["retry-after"] == "7"
    assert response.json()["error"]["type"] == "rate_limit_error"


def test_fault_401_answers_in_the_gemini_error_shape(servers: dict[str, str]) -> None:
    response = httpx.post(f"{servers['401']}/v1beta/models/m:generateContent",
                          json={"contents": [{"role": "user", "parts": [{"text": "Hi"}]}]})
    assert response.status_code == 401
    assert response.json()["error"] == {"code": 401, "message": "injected fault 401",
                                        "status": "UNAUTHENTICATED"}


def test_fault_hang_never_answers(servers: dict[str, str]) -> None:
    with pytest.raises(httpx.ReadTimeout):
        httpx.post(f"{servers['hang']}/v1/chat/completions",
                   json={"model": "m", "messages": [QUESTION]}, timeout=0.5)
    recorded = httpx.get(f"{servers['hang']}/_fake/requests").json()["requests"]
    assert recorded[0]["hung"] is True


def test_fault_cut_drops_the_stream_after_n_chunks(servers: dict[str, str]) -> None:
    lines: list[str] = []
    with pytest.raises(httpx.RemoteProtocolError), httpx.stream(
            "POST", f"{servers['cut']}/v1/messages",
            json={"model": "m", "max_tokens": 5, "stream": True,
                  "messages": [QUESTION]}) as response:
        lines.extend(response.iter_lines())
    deltas = [line for line in lines if line == "event: content_block_delta"]
    assert len(deltas) == 2 and "event: message_stop" not in lines


def test_fault_malformed_sends_a_broken_chunk(servers: dict[str, str]) -> None:
    with httpx.stream("POST", f"{servers['malformed']}/v1beta/models/m:streamGenerateContent",
                      params={"alt": "sse"},
                      json={"contents": [{"role": "user", "parts": [{"text": "Hi"}]}]}
                      ) as response:
        body = response.read().decode()
    events = [e for e in body.split("\r\n\r\n") if e]
    assert events[1] == 'data: {"candidates": [{"content": {"parts": [{"text": "trunc'


def test_bad_fault_flag_is_refused() -> None:
    result = subprocess.run(
        [sys.executable, "-c", CLI, "fake-llm", "--fault", "explode"], capture_output=True,
        text=True, timeout=30, env={**os.environ, "PYTHONPATH": python_path()})
    assert result.returncode == 2 and "--fault is one of" in result.stderr
