"""`POST /v1/messages` on the wire: the event sequence, what reaches the upstream, refusals."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import orjson
import pytest

from chorus.config import FileConfig, TestKeyLimits, TierConfig
from tests.api.test_completions import upstream_config
from tests.conftest import FakeUpstream, Harness, harness_for
from tests.sse import Event, stream_events

URL = "/v1/messages"
ASK = [{"role": "user", "content": "What is the capital of France?"}]
WEATHER = {"name": "get_weather", "description": "Get the current weather for a city",
           "input_schema": {"type": "object", "properties": {"city": {"type": "string"}},
                            "required": ["city"]}}
PNG = "iVBORw0KGgo="


@pytest.fixture
async def live(database_url: str, fake_llm: FakeUpstream) -> AsyncIterator[Harness]:
    async with harness_for(database_url, file=upstream_config(fake_llm.url)) as h:
        yield h


async def answer(h: Harness, headers: dict[str, str], **body: Any) -> dict[str, Any]:
    response = await h.client.post(URL, headers=headers, json={"max_tokens": 256, **body})
    assert response.status_code == 200, response.text
    found: dict[str, Any] = response.json()
    return found


async def refusal(h: Harness, status: int = 400, url: str = URL, **body: Any) -> dict[str, Any]:
    """The error of a refused request, checked to be in Anthropic's shape."""
    response = await h.client.post(url, headers={"x-api-key": await h.key()}, json=body)
    assert response.status_code == status, response.text
    found = response.json()
    assert found["type"] == "error" and set(found) == {"type", "error"}
    assert set(found["error"]) == {"type", "message", "code", "status", "param"}
    error: dict[str, Any] = found["error"]
    return error


async def events(h: Harness, headers: dict[str, str], **body: Any) -> list[Event]:
    """A streamed answer's events, each named as its payload's type (Anthropic's rule)."""
    found = await stream_events(h.client, URL, body, headers)
    assert all(name == payload["type"] for name, payload in found), found
    return found


async def test_the_event_sequence_of_a_streamed_text_answer(harness: Harness) -> None:
    found = await events(harness, {"x-api-key": await harness.key()},
                         model="gpt-4o", max_tokens=256, messages=ASK)
    names = [name for name, _ in found]
    assert names[:2] == ["message_start", "ping"]
    deltas = names.count("content_block_delta")
    assert deltas > 1
    assert [n for n in names if n != "ping"] == ["message_start", "content_block_start",
                     *["content_block_delta"] * deltas, "content_block_stop", "message_delta",
                     "message_stop"]
    start = found[0][1]["message"]
    assert start["id"].startswith("msg_") and start["content"] == []
    assert start["stop_reason"] is None and start["usage"]["input_tokens"] > 0
    first = names.index("content_block_start")
    assert found[first][1] == {"type": "content_block_start", "index": 0,
                               "content_block": {"type": "text", "text": ""}}
    assert found[first + 1][1]["delta"]["type"] == "text_delta"
    end = found[-2][1]
    assert end["delta"] == {"stop_reason": "end_turn", "stop_sequence": None}
    assert end["usage"]["output_tokens"] > 0 and end["konnect"]["models_used"] == ["gpt-4o"]


async def test_a_streamed_tool_call_is_a_tool_use_block_with_its_json(harness: Harness) -> None:
    found = await events(harness, await harness.headers(), model="gpt-4o", max_tokens=256,
                         tools=[WEATHER],
                         tool_choice={"type": "any", "disable_parallel_tool_use": True},
                         messages=[{"role": "user", "content": "What is the weather in Paris?"}])
    blocks = [p for name, p in found if name == "content_block_start"]
    (use,) = [b["content_block"] for b in blocks if b["content_block"]["type"] == "tool_use"]
    assert use["name"] == "get_weather" and use["input"] == {}
    (delta,) = [p["delta"] for name, p in found if name == "content_block_delta"
                and p["delta"]["type"] == "input_json_delta"]
    assert orjson.loads(delta["partial_json"]) == {"city": "Paris"}
    assert next(p for name, p in found if name == "message_delta")["delta"]["stop_reason"] \
        == "tool_use"


async def test_mode_progress_rides_in_pings(harness: Harness) -> None:
    found = await events(harness, await harness.headers(), model="konnect-ensemble",
                         max_tokens=256, messages=ASK,
                         **{"konnect.models": ["gpt-4o", "gemini-2.5-pro"]})
    pings = [p["konnect"] for name, p in found if name == "ping"]
    assert pings[0] == {"event": "session", "mode": "ensemble"}
    done = {p["model"] for p in pings if p["event"] == "member.completed"}
    assert done == {"gpt-4o", "gemini-2.5-pro"}


async def test_fields_reach_the_upstream(live: Harness, fake_llm: FakeUpstream) -> None:
    key = {"x-api-key": await live.key(test=False), "anthropic-version": "2023-06-01"}
    found = await answer(live, key, model="fake-small", temperature=0.5, top_p=0.9,
                         stop_sequences=["END"], metadata={"user_id": "u-42"},
                         system=[{"type": "text", "text": "Be brief."},
                                 {"type": "text", "text": "Answer in French."}],
                         messages=ASK)
    assert found["type"] == "message" and found["content"][0]["type"] == "text"
    (sent,) = [r["body"] for r in fake_llm.requests]
    assert (sent["temperature"], sent["top_p"], sent["stop"], sent["user"]) \
        == (0.5, 0.9, ["END"], "u-42")
    assert sent["max_tokens"] == 256
    assert sent["messages"][0] == {"role": "system", "content": "Be brief.\nAnswer in French."}


async def test_images_from_base64_and_url_sources(live: Harness, fake_llm: FakeUpstream
                                                  ) -> None:
    content = [{"type": "text", "text": "What is in these?"},
               {"type": "image", "source": {"type": "base64", "media_type": "image/png",
                                            "data": PNG}},
               {"type": "image", "source": {"type": "url",
                                            "url": "https://example.com/cat.jpg"}}]
    await answer(live, {"x-api-key": await live.key(test=False)}, model="fake-small",
                 messages=[{"role": "user", "content": content}])
    parts = fake_llm.requests[0]["body"]["messages"][-1]["content"]
    assert [p["image_url"]["url"] for p in parts if p["type"] == "image_url"] \
        == [f"data:image/png;base64,{PNG}", "https://example.com/cat.jpg"]


async def test_a_tool_error_reaches_the_model_marked(live: Harness, fake_llm: FakeUpstream
                                                    ) -> None:
    await answer(live, {"x-api-key": await live.key(test=False)}, model="fake-small",
                 tools=[WEATHER], messages=[
                     {"role": "user", "content": "What is the weather in Paris?"},
                     {"role": "assistant", "content": [
                         {"type": "text", "text": "Let me look."},
                         {"type": "tool_use", "id": "toolu_1", "name": "get_weather",
                          "input": {"city": "Paris"}}]},
                     {"role": "user", "content": [
                         {"type": "tool_result", "tool_use_id": "toolu_1", "is_error": True,
                          "content": [{"type": "text", "text": "service down"}]}]}])
    sent = fake_llm.requests[0]["body"]["messages"]
    assert sent[-2]["tool_calls"][0]["id"] == "toolu_1"
    assert sent[-1] == {"role": "tool", "tool_call_id": "toolu_1",
                        "content": "Error: service down"}


@pytest.mark.parametrize(("body", "param"), [
    ({"top_k": 5}, "top_k"),
    ({"thinking": {"type": "enabled", "budget_tokens": 2048}}, "thinking"),
    ({"output_config": {"format": {"type": "json_schema", "schema": {}}}}, "output_config"),
    ({"tools": [{"type": "web_search_20250305", "name": "web_search"}]}, "tools[0].type"),
    ({"tools": [{"name": "get_weather"}]}, "tools[0].input_schema"),
    ({"tool_choice": {"type": "tool"}, "tools": [WEATHER]}, "tool_choice"),
    ({"tool_choice": {"type": "tool", "name": "other"}, "tools": [WEATHER]}, "tool_choice"),
    ({"konnect.session_id": "new"}, "konnect.session_id"),
    ({"konnect.models": ["nope-model"]}, "konnect.models"),
    ({"model": "nope-model"}, "model"),
    ({"max_tokens": None}, "max_tokens"),
    ({"max_tokens": 0}, "max_tokens"),
    ({"temperature": 1.5}, "temperature"),
    ({"system": [{"type": "image", "source": {"type": "url", "url": "https://x.io/a.png"}}]},
     "system"),
    ({"messages": [{"role": "user", "content": "Hi"}, {"role": "assistant", "content": "Hel"}]},
     "messages"),
    ({"messages": [{"role": "user", "content": [{"type": "document", "source": {
        "type": "text", "media_type": "text/plain", "data": "a letter"}}]}]},
     "messages"),
    ({"messages": [{"role": "user", "content": [{"type": "image", "source": {
        "type": "base64", "media_type": "image/png", "data": "%%%"}}]}]}, "messages"),
    ({"messages": [{"role": "user", "content": "Hi"}, {"role": "assistant", "content": [
        {"type": "thinking", "thinking": "hm", "signature": "s"}]},
        {"role": "user", "content": "Go on"}]}, "messages"),
    ({"messages": [{"role": "user", "content": [
        {"type": "tool_result", "tool_use_id": "toolu_x", "content": "18C"}]}]}, "messages"),
    ({"messages": [{"role": "system", "content": "Hi"}]}, "messages.0.role"),
])
async def test_what_cannot_be_honoured_is_a_400_naming_it(harness: Harness, body: dict[str, Any],
                                                          param: str) -> None:
    request = {"model": "gpt-4o", "max_tokens": 64, "messages": ASK, **body}
    error = await refusal(harness, **{k: v for k, v in request.items() if v is not None})
    assert error["type"] == "invalid_request_error" and error["param"] == param
    assert error["message"]


async def test_tools_in_a_multi_model_mode_are_refused(harness: Harness) -> None:
    error = await refusal(harness, model="konnect-debate", max_tokens=64, messages=ASK,
                          tools=[WEATHER])
    assert error["param"] == "tools"


async def test_count_tokens_counts_system_messages_and_tools(harness: Harness) -> None:
    headers = {"x-api-key": await harness.key()}
    url = f"{URL}/count_tokens"

    async def count(**body: Any) -> int:
        response = await harness.client.post(url, headers=headers,
                                             json={"model": "gpt-4o", **body})
        assert response.status_code == 200, response.text
        assert set(response.json()) == {"input_tokens"}
        found: int = response.json()["input_tokens"]
        return found

    plain = await count(messages=ASK)
    assert plain > 0
    assert await count(messages=ASK, system="You are a terse geography tutor.") > plain
    assert await count(messages=ASK, tools=[WEATHER]) > plain
    image = {"type": "image", "source": {"type": "base64", "media_type": "image/png",
                                         "data": PNG}}
    with_image = await count(messages=[{"role": "user", "content": [
        {"type": "text", "text": "What is the capital of France?"}, image]}])
    assert with_image >= plain + 1600
    error = await refusal(harness, url=url, model="gpt-4o")
    assert error["param"] == "messages"


async def test_auth_and_routing_errors_are_in_anthropics_shape(harness: Harness) -> None:
    missing = await harness.client.post(URL, json={"model": "gpt-4o", "max_tokens": 8,
                                                   "messages": ASK})
    assert missing.status_code == 401
    assert missing.json()["error"]["type"] == "authentication_error"
    assert "x-api-key" in missing.json()["error"]["message"]
    wrong = await harness.client.post(URL, headers={"x-api-key": "sk_test_" + "x" * 43},
                                      json={"model": "gpt-4o", "max_tokens": 8,
                                            "messages": ASK})
    assert wrong.status_code == 401 and wrong.json()["type"] == "error"
    method = await harness.client.get(URL, headers={"x-api-key": await harness.key()})
    assert method.status_code == 405 and method.headers["allow"] == "POST"
    assert method.json()["error"]["type"] == "invalid_request_error"
    nowhere = await harness.client.post(f"{URL}/batches", headers=await harness.headers(),
                                        json={})
    assert nowhere.status_code == 404 and nowhere.json()["error"]["type"] == "not_found_error"
    broken = await harness.client.post(URL, headers=await harness.headers(),
                                       content=b"{not json")
    assert broken.status_code == 400 and broken.json()["error"]["type"] \
        == "invalid_request_error"


async def test_x_api_key_is_counted_against_the_query_quota(database_url: str) -> None:
    file = FileConfig(test_keys=TestKeyLimits(requests_per_minute=None, queries_per_period=None))
    file.tiers["one_query"] = TierConfig(modes=["smart_chat"], requests_per_minute=None,
                                         queries_per_period=1)
    async with harness_for(database_url, file=file) as h:
        headers = {"x-api-key": await h.key(tier="one_query")}
        body = {"model": "gpt-4o", "max_tokens": 64, "messages": ASK}
        first = await h.client.post(URL, headers=headers, json=body)
        assert first.status_code == 200, first.text
        second = await h.client.post(URL, headers=headers, json=body)
        assert second.status_code == 429
        assert second.json()["error"]["code"] == "quota_exceeded"
        assert second.json()["error"]["type"] == "rate_limit_error"


async def test_stop_reasons(harness: Harness) -> None:
    headers = await harness.headers()
    cut = await answer(harness, headers, model="gpt-4o", messages=ASK, max_tokens=3)
    assert cut["stop_reason"] == "max_tokens" and cut["usage"]["output_tokens"] <= 3
    whole = await answer(harness, headers, model="gpt-4o", messages=ASK)
    word = whole["content"][0]["text"].split()[3]
    stopped = await answer(harness, headers, model="gpt-4o", messages=ASK,
                           stop_sequences=[word])
    assert word not in stopped["content"][0]["text"]
    assert (stopped["stop_reason"], stopped["stop_sequence"]) == ("end_turn", None)
