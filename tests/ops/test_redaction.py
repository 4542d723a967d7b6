"""Upstream error messages reach clients and the database only after the logs' redaction."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Iterator

import pytest
import sqlalchemy as sa
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from chorus.config import FileConfig, ModelConfig, ProviderConfig
from chorus.errors import UpstreamError
from chorus.redact import redact
from chorus.store.schema import messages
from tests.conftest import Harness, ServerThread, harness_for

PATTERNED_KEY = "sk-proj-" + "Q7x9" * 10  # shaped like an OpenAI key
PLAIN_KEY = "upstream-secret-8f3a2c"  # shaped like nothing: only known by its value


async def quoting(request: Request) -> JSONResponse:
    """An upstream that quotes the Authorization header it received, as some do."""
    received = request.headers.get("authorization", "")
    if "/bad-key/" in request.url.path:
        message, status = f"Incorrect API key provided: {received}", 401
    else:  # the bare key, which no secret-shaped pattern would recognise
        message, status = f"Incorrect API key provided: {received.split()[-1]}", 500
    return JSONResponse({"error": {"message": message, "type": "invalid_request_error"}},
                        status_code=status)


@pytest.fixture(scope="module")
def quoting_upstream() -> Iterator[str]:
    app = Starlette(routes=[Route("/{path:path}", quoting, methods=["POST"])])
    with ServerThread(app) as server:
        yield server.url


@pytest.fixture
async def app(database_url: str, quoting_upstream: str) -> AsyncIterator[Harness]:
    providers = [ProviderConfig(name="patterned", base_url=f"{quoting_upstream}/bad-key/v1",
                                api_key=PATTERNED_KEY, max_retries=0),
                 ProviderConfig(name="plain", base_url=f"{quoting_upstream}/v1",
                                api_key=PLAIN_KEY, max_retries=0)]
    models = [ModelConfig(id="quoter", provider="patterned"),
              ModelConfig(id="plain-quoter", provider="plain")]
    async with harness_for(database_url, file=FileConfig(providers=providers,
                                                         models=models)) as h:
        yield h


def leaks(text: str) -> list[str]:
    return [secret for secret in (PATTERNED_KEY, PLAIN_KEY, PATTERNED_KEY[3:], "Q7x9Q7x9")
            if secret in text]


async def test_upstream_errors_are_scrubbed_for_clients_and_the_store(app: Harness) -> None:
    headers = await app.headers(test=False)
    for model in ("quoter", "plain-quoter"):
        answer = await app.client.post("/v1/chat", headers=headers,
                                       json={"message": "hi", "model": model})
        assert answer.status_code == 502, answer.text
        assert not leaks(answer.text) and "[redacted]" in answer.text, answer.text
        streamed = await app.client.post("/v1/chat", headers=headers,
                                         json={"message": "hi", "model": model, "stream": True})
        assert "event: error" in streamed.text and not leaks(streamed.text), streamed.text
        openai = await app.client.post("/v1/chat/completions", headers=headers, json={
            "model": model, "messages": [{"role": "user", "content": "hi"}]})
        assert openai.status_code == 502 and not leaks(openai.text), openai.text
    council = await app.client.post("/v1/chat", headers=headers, json={
        "message": "hi", "mode": "ensemble", "models": ["quoter", "plain-quoter"],
        "stream": True})
    assert "member.failed" in council.text and not leaks(council.text), council.text
    listed = (await app.client.get("/v1/sessions", headers=headers)).json()["data"]
    assert listed
    for session in listed:
        shown = await app.client.get(f"/v1/sessions/{session['id']}", headers=headers)
        assert "error" in shown.text and not leaks(shown.text), shown.text
    async with app.services.store.engine.connect() as conn:
        stored = (await conn.execute(sa.select(messages.c.error, messages.c.details))).all()
    dumped = json.dumps([tuple(row) for row in stored], default=str)
    assert "Incorrect API key" in dumped and not leaks(dumped), dumped


def test_an_upstream_error_is_scrubbed_however_it_is_made() -> None:
    error = UpstreamError("HTTP 401: Incorrect API key provided: Bearer sk-abc123def456ghi789 "
                          "and AIzaSyA1234567890abcdefghijkl, sk_live_" + "a" * 43)
    assert "abc123" not in error.message and "AIzaSyA123" not in error.message
    assert "aaaa" not in error.message and "aaaa" not in str(error)
    assert error.message == redact(error.message), "the same rules as the logs"
