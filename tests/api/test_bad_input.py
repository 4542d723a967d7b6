"""Bad input on every route: a clear 4xx in the envelope, never a 500."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import httpx2 as httpx
import pytest

from chorus.app import create_app
from chorus.config import load_settings
from tests.conftest import Harness, ServerThread, harness_for

# A wrong value for each JSON type, one a lax parser would coerce where it can.
WRONG = {"string": 12, "integer": "5", "number": "0.5", "boolean": "true", "array": "x",
         "object": 5}
BODY_ROUTES = [("POST", "/v1/chat"), ("POST", "/v1/chat/completions"),
               ("PATCH", "/v1/sessions/{session_id}"), ("POST", "/v1/keys"),
               ("PATCH", "/v1/settings"), ("POST", "/v1/personas"), ("POST", "/api/personas"),
               ("POST", "/v1/responses"), ("POST", "/v1/messages"),
               ("POST", "/v1/messages/count_tokens"), ("PATCH", "/v1/personas/{persona_id}"),
               ("PATCH", "/api/personas/{persona_id}")]
# A valid body per route, so a wrong field is the only fault.
VALID: dict[str, dict[str, Any]] = {
    "/v1/chat": {"message": "hi"},
    "/v1/chat/completions": {"model": "konnect-smart",
                             "messages": [{"role": "user", "content": "hi"}]},
    "/v1/sessions/{session_id}": {"title": "a title"},
    "/v1/personas": {"id": "mine_v1", "name": "Mine", "systemPrompt": "Be brief."},
    "/api/personas": {"id": "mine_api", "name": "Mine", "systemPrompt": "Be brief."},
    "/v1/responses": {"model": "gpt-4o", "input": "hi"},
    "/v1/personas/{persona_id}": {"name": "Renamed"},
    "/api/personas/{persona_id}": {"name": "Renamed"},
    "/v1/messages": {"model": "konnect-smart", "max_tokens": 16,
                     "messages": [{"role": "user", "content": "hi"}]},
    "/v1/messages/count_tokens": {"model": "konnect-smart",
                                  "messages": [{"role": "user", "content": "hi"}]},
}


@pytest.fixture
async def h(tmp_path: Path) -> AsyncIterator[Harness]:
    async with harness_for(f"sqlite:///{tmp_path}/bad.db", max_message_chars=50) as harness:
        yield harness


Route = tuple[str, str, str, dict[str, Any]]


async def body_routes(h: Harness) -> tuple[dict[str, str], list[Route]]:
    """A key, and (method, path, url, body schema) of every route taking a JSON body."""
    headers = await h.headers()
    chat = (await h.client.post("/v1/chat", headers=headers, json={"message": "hi"})).json()
    persona = (await h.client.post("/v1/personas", headers=headers, json={
        "id": "mine_patched", "name": "Mine", "systemPrompt": "Be brief."})).json()
    document = (await h.client.get("/openapi.json")).json()
    schemas = document["components"]["schemas"]
    found = []
    for path, operations in document["paths"].items():
        for method, operation in operations.items():
            if "requestBody" not in operation:
                continue
            ref = operation["requestBody"]["content"]["application/json"]["schema"]["$ref"]
            url = path.replace("{session_id}", chat["session_id"]).replace(
                "{persona_id}", persona["id"])
            found.append((method.upper(), path, url, schemas[ref.rsplit("/", 1)[1]]))
    assert {url.split("/")[2] for *_, url, _ in found} >= {"chat", "sessions", "keys", "settings"}
    return headers, found


def type_of(schema: dict[str, Any]) -> str | None:
    """The JSON type a property takes, looking through `anyOf [..., null]`."""
    if "type" in schema:
        return str(schema["type"])
    kinds = [s.get("type") for s in schema.get("anyOf", []) if s.get("type") != "null"]
    return kinds[0] if len(kinds) == 1 and isinstance(kinds[0], str) else None


def assert_invalid(response: httpx.Response, status: int = 400, code: str = "invalid_request"
                   ) -> dict[str, Any]:
    assert response.status_code == status, response.text
    error: dict[str, Any] = response.json()["error"]
    assert error["code"] == code and error["status"] == status and error["message"]
    return error


async def test_malformed_json_and_non_objects_are_400_on_every_route(h: Harness) -> None:
    _, routes = await body_routes(h)
    for method, _, url, _ in routes:
        # a key per route: eight bad bodies on each of the routes pass a tier's minute limit
        headers = {**(await h.headers()), "content-type": "application/json"}
        for raw in (b"{", b'{"message": "hi",}', b"\xff\xfe", b"[]", b'"text"', b"42", b"null",
                    b"[{}]"):
            response = await h.client.request(method, url, headers=headers, content=raw)
            error = assert_invalid(response)
            assert "Traceback" not in error["message"], (method, url, raw)


async def test_every_body_route_is_in_the_wrong_type_test(h: Harness) -> None:
    _, routes = await body_routes(h)
    assert {(method, path) for method, path, _, _ in routes} == set(BODY_ROUTES)


@pytest.mark.parametrize("route", BODY_ROUTES, ids=" ".join)
async def test_a_wrong_type_in_any_field_is_400(h: Harness, route: tuple[str, str]) -> None:
    headers, routes = await body_routes(h)
    method, path, url, schema = next(r for r in routes if r[:2] == route)
    valid = VALID.get(path, {})
    ok = await h.client.request(method, url, headers=headers, json=valid)
    assert ok.status_code < 300, (method, url, ok.text)
    for name, spec in schema.get("properties", {}).items():
        kind = type_of(spec)
        if kind is None:
            continue
        response = await h.client.request(method, url, headers=headers,
                                          json={**valid, name: WRONG[kind]})
        error = assert_invalid(response)
        assert name in error["message"], (method, url, name, error)


async def test_text_no_database_can_store_is_400(h: Harness) -> None:
    headers = {**await h.headers(), "content-type": "application/json"}

    def escaped(body: object) -> bytes:
        return json.dumps(body).encode()  # \\u escapes: a lone surrogate survives

    for text in ("nul \x00 inside", "lone \ud800 surrogate"):
        for body in ({"message": text}, {"message": "hi", "models": [text]},
                     {"message": "hi", "roles": [{"name": text, "perspective": "p"}] * 2},
                     {"message": "hi", text: "an unknown field with a bad name"},
                     {"message": "hi", "x": {text: {"y": text}}}):
            response = await h.client.post("/v1/chat", headers=headers, content=escaped(body))
            assert "must" in assert_invalid(response)["message"], body
        # JSON may come as UTF-16 too: its escapes are spelled with NUL bytes between
        as_utf16 = json.dumps({"message": text}).encode("utf-16")
        response = await h.client.post("/v1/chat", headers=headers, content=as_utf16)
        assert "must" in assert_invalid(response)["message"]
        response = await h.client.post("/v1/keys", headers=headers,
                                       content=escaped({"name": text}))
        assert assert_invalid(response)["message"].startswith("name: ")
    listing = await h.client.get("/v1/sessions", headers=headers)
    assert listing.json()["total"] == 0
    for url in ("/v1/sessions/sess_%00", "/v1/sessions?limit=5%00", "/v1/sessions/search?q=a%00"):
        assert_invalid(await h.client.get(url, headers=headers))


async def test_unstorable_text_is_400_on_the_openai_endpoint_too(h: Harness) -> None:
    headers = {**await h.headers(), "content-type": "application/json"}
    body = {"model": "konnect-smart", "messages": [{"role": "user", "content": "a\ud800b"}]}
    response = await h.client.post("/v1/chat/completions", headers=headers,
                                   content=json.dumps(body).encode())
    assert_invalid(response)


async def test_over_long_messages_and_titles_are_refused(h: Harness) -> None:
    headers = await h.headers()
    too_long = await h.client.post("/v1/chat", headers=headers, json={"message": "x" * 51})
    assert "message" in assert_invalid(too_long)["message"]
    ok = await h.client.post("/v1/chat", headers=headers, json={"message": "x" * 50})
    assert ok.status_code == 200
    session_id = ok.json()["session_id"]
    rename = await h.client.patch(f"/v1/sessions/{session_id}", headers=headers,
                                  json={"title": "t" * 201})
    assert "title" in assert_invalid(rename)["message"]
    for body in ({"message": ""}, {}, {"message": "hi", "models": ["m"] * 9},
                 {"message": "hi", "cost_preference": 2}, {"message": "hi", "mode": "solo"}):
        assert_invalid(await h.client.post("/v1/chat", headers=headers, json=body))


async def test_unknown_fields_are_ignored_everywhere(h: Harness) -> None:
    headers = await h.headers()
    extra = {"unknown_field": {"nested": [1, 2]}, "another": None}
    chat = await h.client.post("/v1/chat", headers=headers, json={"message": "hi", **extra})
    assert chat.status_code == 200, chat.text
    session_id = chat.json()["session_id"]
    for method, url, body in (
        ("PATCH", f"/v1/sessions/{session_id}", {"title": "renamed"}),
        ("POST", "/v1/keys", {"name": "k"}),
        ("PATCH", "/v1/settings", {"cost_preference": 0.3,
                                   "debate_models": {"pro": None, "color": "red"}}),
    ):
        response = await h.client.request(method, url, headers=headers, json={**body, **extra})
        assert response.status_code < 300, (url, response.text)
        assert "unknown_field" not in response.text


async def test_body_over_the_limit_is_413_with_or_without_content_length(tmp_path: Path
                                                                        ) -> None:
    async with harness_for(f"sqlite:///{tmp_path}/cap.db", max_body_bytes=1000) as h:
        headers = await h.headers()
        declared = await h.client.post("/v1/chat", headers=headers, content=b"x" * 1001)
        assert_invalid(declared, 413, "payload_too_large")

        async def chunks(total: int) -> AsyncIterator[bytes]:
            body = b'{"message": "' + b"y" * (total - 15) + b'"}'
            for start in range(0, len(body), 100):
                yield body[start:start + 100]

        headers["content-type"] = "application/json"
        streamed = await h.client.post("/v1/chat", headers=headers, content=chunks(1200))
        assert_invalid(streamed, 413, "payload_too_large")
        fits = await h.client.post("/v1/chat", headers=headers, content=chunks(500))
        assert fits.status_code == 200, fits.text
        assert fits.json()["content"]
        openai = await h.client.post("/v1/chat/completions", headers=headers,
                                     content=b"x" * 1001)
        assert openai.json()["error"]["type"] == "invalid_request_error"


@pytest.fixture
def live_url(tmp_path: Path) -> Iterator[str]:
    settings = load_settings(None, database_url=f"sqlite:///{tmp_path}/live.db",
                             simulated_speed=0)
    with ServerThread(create_app(settings)) as server:
        yield server.url


def test_a_megabyte_is_refused_over_a_real_socket(live_url: str) -> None:
    with httpx.Client(base_url=live_url, timeout=10) as client:
        big = b'{"message": "' + b"z" * 1_000_000 + b'"}'
        declared = client.post("/v1/chat", content=big,
                               headers={"content-type": "application/json"})
        assert_invalid(declared, 413, "payload_too_large")
        streamed = client.post("/v1/chat", content=iter([big[i:i + 65536]
                                                         for i in range(0, len(big), 65536)]))
        assert_invalid(streamed, 413, "payload_too_large")
        small = client.post("/v1/chat", content=iter([b'{"message":', b' "hi"}']),
                            headers={"content-type": "application/json"})
        assert small.status_code == 401  # read in full, then on to the route: no key


async def test_a_method_a_path_does_not_take_is_405_naming_every_allowed_one(h: Harness
                                                                            ) -> None:
    headers = await h.headers()
    for url, allowed in (("/v1/settings", {"GET", "PATCH"}), ("/v1/keys", {"GET", "POST"}),
                         ("/v1/sessions/sess_x", {"GET", "PATCH", "DELETE"}),
                         ("/v1/sessions/search", {"GET"})):
        response = await h.client.put(url, headers=headers, json={})
        assert_invalid(response, 405)
        assert set(response.headers["allow"].split(", ")) == allowed


async def test_the_openapi_document_declares_errors_auth_and_streams(h: Harness) -> None:
    document = (await h.client.get("/openapi.json")).json()
    assert document["components"]["securitySchemes"]["bearer"]["scheme"] == "bearer"
    assert "HTTPValidationError" not in document["components"]["schemas"]
    operations = [(path, method, op) for path, ops in document["paths"].items()
                  for method, op in ops.items()]
    assert len(operations) >= 12
    for path, method, operation in operations:
        responses = operation["responses"]
        assert "422" not in responses, (path, method)
        anthropic = path.startswith("/v1/messages")  # Anthropic's error shape and x-api-key
        for status in ("400", "401", "413", "429", "500"):
            schema = responses[status]["content"]["application/json"]["schema"]
            envelope = "/AnthropicErrorEnvelope" if anthropic else "/ErrorEnvelope"
            assert schema["$ref"].endswith(envelope), (path, method, status)
        assert responses["429"]["headers"]["Retry-After"]["required"]
        if path.startswith("/v1/"):
            assert operation["security"] == [{"bearer": []}, *[{"x-api-key": []}] * anthropic]
    for path in ("/v1/chat", "/v1/chat/completions"):
        ok = document["paths"][path]["post"]["responses"]["200"]["content"]
        assert {"application/json", "text/event-stream"} <= set(ok)


async def test_json_nested_to_any_depth_is_400_or_accepted_never_500(h: Harness) -> None:
    """Where a deep body turns into a RecursionError depends on the stack already in use, so
    every depth around Python's recursion limit is sent, and far past it."""
    key, routes = await body_routes(h)
    headers = {**key, "content-type": "application/json"}
    sent = 0
    for method, _, url, _ in routes:
        for depth in [*range(900, 1030, 3), 5_000, 100_000]:
            nested = b"[" * depth + b"]" * depth
            for raw in (b'{"message": "hi", "x": ' + nested + b"}", b"[" * depth):
                response = await h.client.request(method, url, headers=headers, content=raw)
                assert response.status_code < 500, (method, url, depth, response.text[:200])
                if response.status_code >= 400:
                    assert_invalid(response, response.status_code,
                                   response.json()["error"]["code"])
                sent += 1
    assert sent > 600
