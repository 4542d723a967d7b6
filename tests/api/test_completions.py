"""`POST /v1/chat/completions` in process: request mapping, answers, chunks, sessions, errors."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest
from pydantic import ValidationError

from chorus.api.completions import ChatCompletion, CompletionBody
from chorus.api.doors import NO_OPTIONS
from chorus.config import FileConfig, ModelConfig, ProviderConfig
from tests.conftest import FakeUpstream, Harness, harness_for
from tests.sse import stream_chunks

URL = "/v1/chat/completions"


def upstream_config(fake_url: str) -> FileConfig:
    """A provider at the fake upstream, with a healthy and a failing model."""
    provider = ProviderConfig(name="fake", base_url=f"{fake_url}/v1", api_key="upstream-key",
                              max_retries=0)
    return FileConfig(providers=[provider], models=[
        ModelConfig(id="fake-small", provider="fake", upstream="small", price_in=1.0,
                    price_out=2.0),
        ModelConfig(id="fake-broken", provider="fake", upstream="small@fault=500"),
        ModelConfig(id="fake-slow", provider="fake", upstream="small@tps=20,tokens=400",
                    price_in=1.0, price_out=2.0),
    ])


@pytest.fixture
async def live(database_url: str, fake_llm: FakeUpstream) -> AsyncIterator[Harness]:
    async with harness_for(database_url, file=upstream_config(fake_llm.url)) as h:
        yield h


def user(text: str) -> dict[str, str]:
    return {"role": "user", "content": text}


async def complete(h: Harness, headers: dict[str, str], **body: Any) -> dict[str, Any]:
    response = await h.client.post(URL, headers=headers, json=body)
    assert response.status_code == 200, response.text
    return response.json()


async def error_of(h: Harness, headers: dict[str, str], status: int, **body: Any
                   ) -> dict[str, Any]:
    response = await h.client.post(URL, headers=headers, json=body)
    assert response.status_code == status, response.text
    error: dict[str, Any] = response.json()["error"]
    assert set(error) == {"code", "message", "status", "type", "param"}
    assert error["status"] == status
    return error


async def test_answer_has_the_openai_shape_and_a_konnect_object(harness: Harness) -> None:
    headers = await harness.headers()
    body = await complete(harness, headers, model="gpt-4o", messages=[user("What is DNS?")])
    assert set(body) >= {"id", "object", "created", "model", "choices", "usage", "konnect"}
    assert body["object"] == "chat.completion" and body["id"].startswith("chatcmpl-")
    assert body["model"] == "gpt-4o" and isinstance(body["created"], int)
    (choice,) = body["choices"]
    assert choice["index"] == 0 and choice["finish_reason"] == "stop"
    assert choice["message"]["role"] == "assistant" and choice["message"]["content"]
    usage = body["usage"]
    assert usage["total_tokens"] == usage["prompt_tokens"] + usage["completion_tokens"] > 0
    konnect = body["konnect"]
    assert konnect["models_used"] == ["gpt-4o"] and konnect["mode"] == "smart_chat"
    assert konnect["details"]["routed_to"] == "gpt-4o" and konnect["cost_usd"] > 0
    assert "session_id" not in konnect
    ChatCompletion.model_validate(body)  # the schema OpenAPI documents
    sessions = (await harness.client.get("/v1/sessions", headers=headers)).json()
    assert sessions["total"] == 0, "a stateless call stores no session"


async def test_konnect_smart_routes_and_echoes_the_pattern_model(harness: Harness) -> None:
    headers = await harness.headers()
    body = await complete(harness, headers, model="konnect-smart",
                          messages=[user("Write a haiku about autumn")])
    assert body["model"] == "konnect-smart"
    assert body["konnect"]["mode"] == "smart_chat"
    assert body["konnect"]["models_used"] == [body["konnect"]["details"]["routed_to"]]


async def test_stream_sends_chunks_then_usage_then_done(harness: Harness) -> None:
    headers = await harness.headers()
    events = await stream_chunks(harness.client, {
        "model": "gpt-4o-mini", "messages": [user("Explain TCP")],
        "stream_options": {"include_usage": True}}, headers)
    assert events[-1] == "[DONE]"
    chunks, usage_chunk = events[:-2], events[-2]
    assert {c["object"] for c in chunks} == {"chat.completion.chunk"}
    assert len({c["id"] for c in events[:-1]}) == 1
    assert chunks[0]["choices"][0]["delta"] == {"role": "assistant", "content": ""}
    text = "".join(c["choices"][0]["delta"].get("content", "") for c in chunks)
    final = chunks[-1]
    assert final["choices"][0]["finish_reason"] == "stop"
    assert final["konnect"]["models_used"] == ["gpt-4o-mini"]
    assert text
    progress = [c for c in chunks[1:-1] if "konnect" in c]
    assert progress and all(c["choices"][0]["delta"] == {} for c in progress)
    assert {c["konnect"]["event"] for c in progress} >= {"member.started", "member.completed"}
    assert usage_chunk["choices"] == [] and usage_chunk["usage"]["total_tokens"] > 0
    nonstream = await complete(harness, headers, model="gpt-4o-mini",
                               messages=[user("Explain TCP")])
    assert text == nonstream["choices"][0]["message"]["content"], "simulated answers repeat"


async def test_pattern_models_run_their_mode_with_the_extensions(harness: Harness) -> None:
    headers = await harness.headers()
    question = [user("Should we adopt Rust for our backend?")]
    ensemble = await complete(harness, headers, model="konnect-ensemble", messages=question, **{
        "konnect.models": ["gpt-4o", "gpt-4o-mini"], "konnect.aggregation": "best_of_n",
        "konnect.personas": [{"personaId": "cto", "modelId": "gpt-4o"}]})
    details = ensemble["konnect"]["details"]
    assert ensemble["konnect"]["mode"] == "ensemble" and details["aggregation"] == "best_of_n"
    members = {m["model"]: m for m in details["members"]}
    assert set(members) == {"gpt-4o", "gpt-4o-mini"} and members["gpt-4o"]["persona"] == "cto"
    assert ensemble["choices"][0]["message"]["content"]
    debate = await complete(harness, headers, model="konnect-debate", messages=question)
    assert debate["konnect"]["mode"] == "debate"
    assert debate["konnect"]["details"]["verdict"]["winner"] in ("pro", "con", "draw")
    council = await complete(harness, headers, model="konnect-council", messages=question,
                             konnect={"roles": [{"name": "Lawyer", "perspective": "legal risk"},
                                                {"name": "Engineer", "perspective": "delivery"}]})
    experts = [e["name"] for e in council["konnect"]["details"]["experts"]]
    assert experts == ["Lawyer", "Engineer"]
    by_pattern = await complete(harness, headers, model="gpt-4o", messages=question,
                                **{"konnect.pattern": "ensemble"})
    assert by_pattern["konnect"]["mode"] == "ensemble" and by_pattern["model"] == "gpt-4o"


async def test_an_ensemble_stream_carries_member_progress_apart_from_the_text(
        harness: Harness) -> None:
    headers = await harness.headers()
    events = (await stream_chunks(harness.client, {
        "model": "konnect-ensemble", "messages": [user("Is Go fast?")],
        "konnect": {"models": ["gpt-4o", "gemini-2.5-flash"]}}, headers))[:-1]
    progress = [e["konnect"] for e in events[1:-1] if "konnect" in e]
    assert all(e["choices"][0]["delta"] == {} for e in events[1:-1] if "konnect" in e)
    done = [p["model"] for p in progress if p["event"] == "member.completed"]
    assert set(done) >= {"gpt-4o", "gemini-2.5-flash"}
    first_text = next(i for i, e in enumerate(events[1:], 1)
                      if e["choices"][0]["delta"].get("content"))
    members_done = next(i for i, e in enumerate(events) if e.get("konnect") == {
        "event": "stage", "stage": "members", "status": "completed"})
    assert members_done < first_text, "the members answer first, then the synthesis streams"
    assert events[-1]["konnect"]["details"]["aggregation"] == "synthesis"


async def test_stream_without_include_usage_has_no_usage_chunk(harness: Harness) -> None:
    headers = await harness.headers()
    events = await stream_chunks(harness.client, {
        "model": "gpt-4o-mini", "messages": [user("Hi there")]}, headers)
    assert events[-1] == "[DONE]"
    assert all(e["choices"] for e in events[:-1])


async def test_messages_reach_the_model_in_order_with_the_system_prompt(
        live: Harness, fake_llm: FakeUpstream) -> None:
    headers = await live.headers(test=False)
    messages = [{"role": "system", "content": "Be brief."}, user("Hi"),
                {"role": "assistant", "content": "Hello!"},
                {"role": "user", "content": [{"type": "text", "text": "What is 2+2?"},
                                             {"type": "text", "text": "Show your work."}]}]
    body = await complete(live, headers, model="fake-small", messages=messages,
                          temperature=0.3, max_tokens=50, stop="END")
    sent = fake_llm.requests[-1]["body"]
    assert sent["messages"] == [
        {"role": "system", "content": "Be brief."}, {"role": "user", "content": "Hi"},
        {"role": "assistant", "content": "Hello!"},
        {"role": "user", "content": "What is 2+2?\nShow your work."}]
    assert sent["temperature"] == 0.3 and sent["max_tokens"] == 50 and sent["stop"] == ["END"]
    assert body["choices"][0]["message"]["content"].startswith("Fake answer to: What is 2+2?")
    assert body["usage"]["prompt_tokens"] == sum(len(m["content"].split())
                                                 for m in sent["messages"])


async def test_developer_role_and_max_completion_tokens_and_stop_list(
        live: Harness, fake_llm: FakeUpstream) -> None:
    headers = await live.headers(test=False)
    await complete(live, headers, model="fake-small", max_tokens=10,
                   max_completion_tokens=20, stop=["a", "b"],
                   messages=[{"role": "developer", "content": "Rules."}, user("Go")])
    sent = fake_llm.requests[-1]["body"]
    assert sent["messages"][0] == {"role": "system", "content": "Rules."}
    assert sent["max_tokens"] == 20 and sent["stop"] == ["a", "b"]


async def test_the_upstream_streams_only_when_the_client_does(
        live: Harness, fake_llm: FakeUpstream) -> None:
    headers = await live.headers(test=False)
    whole = await complete(live, headers, model="fake-small", messages=[user("Hi")])
    assert fake_llm.requests[-1]["body"]["stream"] is False
    assert whole["usage"]["completion_tokens"] == 24, "the fake's answer, usage included"
    response = await live.client.post(URL, headers=headers, json={
        "model": "fake-small", "messages": [user("Hi")], "stream": True})
    assert response.status_code == 200
    assert fake_llm.requests[-1]["body"]["stream"] is True
    chat = await live.client.post("/v1/chat", headers=headers,
                                  json={"message": "Hi", "model": "fake-small"})
    assert chat.status_code == 200 and fake_llm.requests[-1]["body"]["stream"] is False


async def test_dotted_keys_and_the_nested_object_are_the_same(harness: Harness) -> None:
    headers = await harness.headers()
    dotted = await complete(harness, headers, model="konnect-smart",
                            messages=[user("Hello")], **{"konnect.session_id": "new"})
    nested = await complete(harness, headers, model="konnect-smart",
                            messages=[user("Hello")], konnect={"session_id": "new"})
    assert dotted["konnect"]["session_id"] != nested["konnect"]["session_id"]
    both = await harness.client.post(URL, headers=headers, json={
        "model": "konnect-smart", "messages": [user("Hello")],
        "konnect": {"session_id": "sess_nope"}, "konnect.session_id": "new"})
    assert both.status_code == 200, "the dotted key wins"


def test_a_body_without_extensions_shares_one_frozen_set_of_them() -> None:
    plain = CompletionBody.model_validate({"model": "m", "messages": [user("Hi")]})
    other = CompletionBody.model_validate({"model": "m", "messages": [user("Hi")]})
    assert plain.konnect is other.konnect is NO_OPTIONS
    with pytest.raises(ValidationError):
        plain.konnect.session_id = "sess_leaked"  # type: ignore[misc]
    asked = CompletionBody.model_validate({"model": "m", "messages": [user("Hi")],
                                           "konnect.session_id": "new"})
    assert asked.konnect.session_id == "new" and NO_OPTIONS.session_id is None


async def test_a_new_session_is_stored_and_continued(live: Harness,
                                                     fake_llm: FakeUpstream) -> None:
    headers = await live.headers(test=False)
    first = await complete(live, headers, model="fake-small", messages=[user("First question")],
                           **{"konnect.session_id": "new"})
    session_id = first["konnect"]["session_id"]
    assert session_id.startswith("sess_") and first["konnect"]["message_id"].startswith("msg_")
    answer = first["choices"][0]["message"]["content"]
    # an OpenAI client resends the whole conversation; the stored history is used instead
    await complete(live, headers, model="fake-small", **{"konnect.session_id": session_id},
                   messages=[{"role": "system", "content": "Be kind."}, user("First question"),
                             {"role": "assistant", "content": "something else"},
                             user("Second question")])
    assert fake_llm.requests[-1]["body"]["messages"] == [
        {"role": "system", "content": "Be kind."}, {"role": "user", "content": "First question"},
        {"role": "assistant", "content": answer}, {"role": "user", "content": "Second question"}]
    stored = (await live.client.get(f"/v1/sessions/{session_id}", headers=headers)).json()
    assert [m["content"] for m in stored["messages"] if m["role"] == "user"] == [
        "First question", "Second question"]
    assert stored["message_count"] == 4 and stored["title"] == "First question"


async def test_stream_names_the_session_in_its_first_chunk(harness: Harness) -> None:
    headers = await harness.headers()
    events = await stream_chunks(harness.client, {
        "model": "gpt-4o", "messages": [user("Hello")], "konnect": {"session_id": "new"}},
        headers)
    session_id = events[0]["konnect"]["session_id"]
    assert events[0]["konnect"]["event"] == "session"
    assert events[-2]["konnect"]["session_id"] == session_id
    stored = await harness.client.get(f"/v1/sessions/{session_id}", headers=headers)
    assert stored.json()["message_count"] == 2


async def test_a_failing_upstream_ends_the_stream_with_an_error_object(live: Harness) -> None:
    headers = await live.headers(test=False)
    events = await stream_chunks(live.client, {
        "model": "fake-broken", "messages": [user("Hello")]}, headers)
    assert "[DONE]" not in events
    error = events[-1]["error"]
    assert error["code"] == "upstream_error" and error["type"] == "api_error"
    plain = await error_of(live, headers, 502, model="fake-broken", messages=[user("Hello")])
    assert plain["code"] == "upstream_error"


@pytest.mark.parametrize(("body", "param", "needle"), [
    ({"model": "gpt-4o", "messages": [user("a")], "n": 2}, "n", "only one choice"),
    ({"model": "no-such-model", "messages": [user("a")]}, "model", "unknown model"),
    ({"model": "gpt-4o", "messages": []}, "messages", "at least 1"),
    ({"model": "gpt-4o"}, "messages", "required"),
    ({"model": "gpt-4o", "messages": [user("a"), {"role": "assistant", "content": "b"}]},
     "messages", "last message"),
    ({"model": "gpt-4o", "messages": [{"role": "tool", "content": "x"}, user("a")]},
     "messages", "needs tool_call_id"),
    ({"model": "gpt-4o", "messages": [{"role": "tool", "content": "x", "tool_call_id": "c1"},
                                      user("a")]},
     "messages", "answers no tool call"),
    ({"model": "gpt-4o", "messages": [{"role": "user", "content": [
        {"type": "image_url", "image_url": {"url": "http://x"}}]}]}, "messages", "https: URL"),
    ({"model": "gpt-4o", "messages": [{"role": "user", "content": [
        {"type": "input_audio", "input_audio": {}}]}]}, "messages", "text or image_url"),
    ({"model": "gpt-4o", "messages": [{"role": "user", "content": [
        {"type": "image_url", "image_url": {"url": "data:image/png;base64,@@@@"}}]}]},
     "messages", "malformed"),
    ({"model": "gpt-4o", "messages": [{"role": "user", "content": [
        {"type": "image_url", "image_url": {"url": "data:text/plain;base64,aGk="}}]}]},
     "messages", "data:image/"),
    ({"model": "gpt-4o", "messages": [user("a")], "logit_bias": {"1": 2}}, "logit_bias",
     "not supported"),
    ({"model": "gpt-4o", "messages": [user("a")], "tool_choice": "required"}, "tool_choice",
     "no tools"),
    ({"model": "gpt-4o", "messages": [user("a")],
      "response_format": {"type": "json_schema", "json_schema": {"name": "x"}}},
     "response_format", "needs a schema"),
    ({"model": "gpt-4o", "messages": [user("  ")]}, "messages", "empty"),
    ({"model": "gpt-4o", "messages": [user("a")], "temperature": 3}, "temperature", "2"),
    ({"model": "konnect-smart", "messages": [user("a")], "konnect.pattern": "chorus"},
     "konnect.pattern", "unknown pattern"),
    ({"model": "konnect-debate", "messages": [user("a")], "konnect.pattern": "council"},
     "konnect.pattern", "runs debate"),
    ({"model": "konnect-ensemble", "messages": [user("a")], "konnect.models": ["nope", "gpt-4o"]},
     "konnect.models", "unknown model"),
    ({"model": "konnect-ensemble", "messages": [user("a")], "konnect.aggregation": "vote"},
     "konnect.aggregation", "synthesis"),
    ({"model": "gpt-4o", "messages": [user("a")], "stop": ["1", "2", "3", "4", "5"]},
     "stop", "at most 4"),
    ({"model": "konnect-ensemble", "messages": [user("a")], "konnect.models": ["gpt-4o"]},
     "konnect.models", "2 to 5"),
])
async def test_bad_requests_are_400_with_a_param(harness: Harness, body: dict[str, Any],
                                                 param: str, needle: str) -> None:
    headers = await harness.headers()
    error = await error_of(harness, headers, 400, **body)
    assert error["code"] == "invalid_request" and error["type"] == "invalid_request_error"
    assert error["param"] == param, error
    assert needle in error["message"], error


async def test_bad_json_is_400(harness: Harness) -> None:
    headers = await harness.headers()
    response = await harness.client.post(URL, headers={**headers,
                                                       "content-type": "application/json"},
                                         content=b"{not json")
    assert response.status_code == 400
    assert response.json()["error"]["type"] == "invalid_request_error"


async def test_auth_tier_session_errors_carry_openai_types(harness: Harness) -> None:
    bad = await harness.client.post(URL, headers={"authorization": "Bearer sk_test_nope"},
                                    json={"model": "gpt-4o", "messages": [user("a")]})
    assert bad.status_code == 401
    assert bad.json()["error"]["type"] == "authentication_error"
    free = await harness.headers(tier="free")
    error = await error_of(harness, free, 403, model="konnect-council", messages=[user("a")])
    assert error["code"] == "tier_required" and error["type"] == "permission_error"
    assert error["param"] == "model"
    headers = await harness.headers()
    error = await error_of(harness, headers, 404, model="gpt-4o", messages=[user("a")],
                           **{"konnect.session_id": "sess_missing"})
    assert error["type"] == "not_found_error" and error["param"] == "konnect.session_id"
    first = await complete(harness, headers, model="gpt-4o", messages=[user("a")],
                           konnect={"session_id": "new"})
    error = await error_of(harness, headers, 409, model="konnect-ensemble", messages=[user("b")],
                           konnect={"session_id": first["konnect"]["session_id"]})
    assert error["code"] == "session_mode_mismatch"


async def test_another_users_session_is_not_found(harness: Harness) -> None:
    mine, theirs = await harness.headers(), await harness.headers()
    first = await complete(harness, mine, model="gpt-4o", messages=[user("a")],
                           konnect={"session_id": "new"})
    await error_of(harness, theirs, 404, model="gpt-4o", messages=[user("b")],
                   konnect={"session_id": first["konnect"]["session_id"]})
