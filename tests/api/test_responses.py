"""`/v1/responses` in process, on SQLite and PostgreSQL: the stored responses and their
sessions, the stream's framing, incomplete and failed answers, `store: false`, pattern models,
the query quota, and bad input (each a 4xx in OpenAI's error shape, never a 500)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest

from chorus.config import FileConfig, ModelConfig, ProviderConfig, TestKeyLimits, TierConfig
from tests.conftest import FakeUpstream, Harness, harness_for
from tests.sse import stream_events

URL = "/v1/responses"


@pytest.fixture
async def live(database_url: str, fake_llm: FakeUpstream) -> AsyncIterator[Harness]:
    provider = ProviderConfig(name="fake", base_url=f"{fake_llm.url}/v1", api_key="k",
                              max_retries=0)
    file = FileConfig(providers=[provider], models=[
        ModelConfig(id="fake-small", provider="fake", upstream="small"),
        ModelConfig(id="fake-broken", provider="fake", upstream="small@fault=500")],
        test_keys=TestKeyLimits(requests_per_minute=None, queries_per_period=None))
    file.tiers["one_query"] = TierConfig(modes=["smart_chat"], requests_per_minute=None,
                                         queries_per_period=1)
    async with harness_for(database_url, file=file) as h:
        yield h


async def create(h: Harness, headers: dict[str, str], **body: Any) -> dict[str, Any]:
    response = await h.client.post(URL, headers=headers, json=body)
    assert response.status_code == 200, response.text
    answer: dict[str, Any] = response.json()
    return answer


async def error_of(h: Harness, headers: dict[str, str], status: int, body: Any,
                   url: str = URL) -> dict[str, Any]:
    response = await h.client.post(url, headers=headers, json=body)
    assert response.status_code == status, response.text
    error: dict[str, Any] = response.json()["error"]
    assert set(error) == {"code", "message", "status", "type", "param"}
    return error


async def test_a_stored_response_is_a_session(harness: Harness) -> None:
    headers = await harness.headers()
    first = await create(harness, headers, model="gpt-4o", input="What is DNS?",
                         metadata={"ticket": "42"})
    assert first["status"] == "completed" and first["metadata"] == {"ticket": "42"}
    second = await create(harness, headers, model="gpt-4o", input="And DHCP?",
                          previous_response_id=first["id"])
    session_id = first["konnect"]["session_id"]
    assert second["konnect"]["session_id"] == session_id
    session = (await harness.client.get(f"/v1/sessions/{session_id}", headers=headers)).json()
    assert [m["role"] for m in session["messages"]] == ["user", "assistant"] * 2
    assert session["messages"][3]["id"] == second["konnect"]["message_id"]
    got = (await harness.client.get(f"{URL}/{first['id']}", headers=headers)).json()
    assert got == first
    await harness.client.delete(f"/v1/sessions/{session_id}", headers=headers)
    gone = await harness.client.get(f"{URL}/{first['id']}", headers=headers)
    assert gone.status_code == 404 and gone.json()["error"]["type"] == "not_found_error"


async def test_only_the_latest_answer_continues(harness: Harness) -> None:
    headers = await harness.headers()
    first = await create(harness, headers, model="gpt-4o", input="What is DNS?")
    await create(harness, headers, model="gpt-4o", input="And DHCP?",
                 previous_response_id=first["id"])
    error = await error_of(harness, headers, 400, {"model": "gpt-4o", "input": "And NTP?",
                                                   "previous_response_id": first["id"]})
    assert error["param"] == "previous_response_id" and "latest" in error["message"]


async def test_store_false_keeps_nothing_but_gives_the_history(harness: Harness) -> None:
    headers = await harness.headers()
    first = await create(harness, headers, model="gpt-4o", input="What is DNS?")
    loose = await create(harness, headers, model="gpt-4o", input="And DHCP?", store=False,
                         previous_response_id=first["id"])
    assert loose["store"] is False and "session_id" not in loose["konnect"]
    assert (await harness.client.get(f"{URL}/{loose['id']}", headers=headers)).status_code \
        == 404
    session_id = first["konnect"]["session_id"]
    session = (await harness.client.get(f"/v1/sessions/{session_id}", headers=headers)).json()
    assert session["message_count"] == 2
    sessions = (await harness.client.get("/v1/sessions", headers=headers)).json()
    assert sessions["total"] == 1
    await harness.services.store.usage.flush()
    usage = (await harness.client.get("/v1/usage", headers=headers)).json()
    assert usage["queries"]["used"] == 2 and usage["tokens"]["input"] > 0


async def test_the_stream_names_each_event_as_its_type(harness: Harness) -> None:
    headers = await harness.headers()
    sent = await stream_events(harness.client, URL, {"model": "gpt-4o", "input": "What is DNS?"},
                               headers)
    assert all(name == data["type"] for name, data in sent)
    assert [data["sequence_number"] for _, data in sent] == list(range(len(sent)))
    created, completed = sent[0][1]["response"], sent[-1][1]["response"]
    assert created["status"] == "in_progress" and created["output"] == []
    assert completed["id"] == created["id"] and completed["status"] == "completed"
    stored = (await harness.client.get(f"{URL}/{created['id']}", headers=headers)).json()
    assert stored == completed


async def test_max_output_tokens_makes_it_incomplete(harness: Harness) -> None:
    headers = await harness.headers()
    answer = await create(harness, headers, model="gpt-4o", max_output_tokens=3,
                          input="Explain the history of the internet in detail")
    assert answer["status"] == "incomplete"
    assert answer["incomplete_details"] == {"reason": "max_output_tokens"}
    assert answer["output"][0]["status"] == "incomplete"
    sent = await stream_events(harness.client, URL, {
        "model": "gpt-4o", "max_output_tokens": 3,
        "input": "Explain the history of the internet in detail"}, headers)
    assert sent[-1][0] == "response.incomplete"


async def test_a_failed_stream_ends_with_response_failed(live: Harness) -> None:
    headers = await live.headers(test=False)
    sent = await stream_events(live.client, URL, {"model": "fake-broken", "input": "What is DNS?"},
                               headers)
    name, data = sent[-1]
    assert name == "response.failed" and data["response"]["status"] == "failed"
    assert data["response"]["error"]["message"]
    stored = (await live.client.get(f"{URL}/{data['response']['id']}", headers=headers)).json()
    assert stored["status"] == "failed"
    error = await error_of(live, headers, 400, {"model": "gpt-4o", "input": "again?",
                                                "previous_response_id": stored["id"]})
    assert error["param"] == "previous_response_id"
    whole = await live.client.post(URL, headers=headers,
                                   json={"model": "fake-broken", "input": "What is DNS?"})
    assert whole.status_code >= 500 and whole.json()["error"]["type"]


async def test_a_pattern_model_runs_its_mode(harness: Harness) -> None:
    headers = await harness.headers()
    models = ["gpt-4o", "claude-sonnet-4-5-20250929"]
    answer = await create(harness, headers, model="konnect-ensemble", input="What is DNS?",
                          **{"konnect.models": models, "konnect.aggregation": "synthesis"})
    assert answer["konnect"]["mode"] == "ensemble" and answer["output"][0]["content"]
    later = await create(harness, headers, model="konnect-ensemble", input="And DHCP?",
                         previous_response_id=answer["id"], konnect={"models": models})
    assert later["konnect"]["session_id"] == answer["konnect"]["session_id"]
    error = await error_of(harness, headers, 409, {"model": "gpt-4o", "input": "And NTP?",
                                                   "previous_response_id": later["id"]})
    assert error["param"] == "model"


async def test_a_response_is_one_query_of_the_quota(live: Harness) -> None:
    headers = await live.headers(tier="one_query")
    await create(live, headers, model="gpt-4o", input="What is DNS?")
    error = await error_of(live, headers, 429, {"model": "gpt-4o", "input": "And DHCP?"})
    assert error["type"] and error["code"]


BAD: list[tuple[Any, str, str]] = [
    ({"model": "gpt-4o"}, "input", "Field required"),
    ({"model": "gpt-4o", "input": ""}, "input", "at least 1"),
    ({"model": "gpt-4o", "input": []}, "input", "at least 1"),
    ({"model": "gpt-4o", "input": 5}, "input", ""),
    ({"model": "gpt-4o", "input": [{"type": "reasoning", "id": "x"}]}, "input",
     "'reasoning' is not supported"),
    ({"model": "gpt-4o", "input": [{"role": "tool", "content": "x"}]}, "input", "role"),
    ({"model": "gpt-4o", "input": [{"role": "user", "content": [{"type": "input_file",
                                                                  "file_id": "f"}]}]},
     "input", "input_file"),
    ({"model": "gpt-4o", "input": [{"role": "user", "content": [
        {"type": "input_image", "file_id": "file_1"}]}]}, "input", "file_id"),
    ({"model": "gpt-4o", "input": [{"role": "user", "content": [
        {"type": "input_image", "image_url": "http://x/y.png"}]}]}, "input", "https"),
    ({"model": "gpt-4o", "input": [{"role": "user", "content": "hi"},
                                   {"role": "assistant", "content": "hello"}]},
     "input", "last item"),
    ({"model": "gpt-4o", "input": [{"role": "user", "content": "hi"},
                                   {"type": "function_call", "call_id": "c", "name": "f",
                                    "arguments": "[1]"},
                                   {"type": "function_call_output", "call_id": "c",
                                    "output": "x"}]}, "input", "JSON object"),
    ({"model": "gpt-4o", "input": [{"type": "function_call_output", "call_id": "c",
                                    "output": "x"}]}, "input", "answers no function_call"),
    ({"model": "gpt-4o", "input": "hi", "tools": [{"type": "file_search"}]}, "tools",
     "file_search"),
    ({"model": "gpt-4o", "input": "hi", "tools": [{"type": "function"}]}, "tools", "name"),
    ({"model": "gpt-4o", "input": "hi", "tools": [{"type": "function", "name": "a b"}]},
     "tools[0]", "tool name"),
    ({"model": "gpt-4o", "input": "hi", "tool_choice": "required"}, "tool_choice",
     "no tools"),
    ({"model": "gpt-4o", "input": "hi", "tool_choice": {"type": "web_search_preview"}},
     "tool_choice", "function"),
    ({"model": "gpt-4o", "input": "hi", "text": {"format": {"type": "json_schema",
                                                             "schema": {}}}},
     "text.format.name", "name"),
    ({"model": "gpt-4o", "input": "hi", "text": {"format": {"type": "json_schema",
                                                             "name": "x"}}},
     "text.format", "schema"),
    ({"model": "gpt-4o", "input": "hi", "text": {"verbosity": "low"}}, "text.verbosity", ""),
    ({"model": "gpt-4o", "input": "hi", "background": True}, "background", ""),
    ({"model": "gpt-4o", "input": "hi", "include": ["reasoning.encrypted_content"]},
     "include", ""),
    ({"model": "gpt-4o", "input": "hi", "prompt": {"id": "p"}}, "prompt", ""),
    ({"model": "gpt-4o", "input": "hi", "conversation": "conv_1"}, "conversation", ""),
    ({"model": "gpt-4o", "input": "hi", "truncation": "middle"}, "truncation", ""),
    ({"model": "gpt-4o", "input": "hi", "temperature": 3}, "temperature", ""),
    ({"model": "gpt-4o", "input": "hi", "metadata": {"a": 1}}, "metadata.a", ""),
    ({"model": "gpt-5-turbo-nope", "input": "hi"}, "model", ""),
    ({"model": "gpt-4o", "input": "hi", "konnect.pattern": "solo"}, "konnect.pattern", ""),
    ({"model": "konnect-ensemble", "input": "hi", "tools": [
        {"type": "function", "name": "f"}]}, "tools", "smart_chat"),
    ({"model": "gpt-4o", "input": "hi", "store": False, "konnect.session_id": "sess_x"},
     "konnect.session_id", "store"),
]


@pytest.mark.parametrize(("body", "param", "says"), BAD)
async def test_bad_input_is_a_400_naming_the_field(harness: Harness, body: Any, param: str,
                                                   says: str) -> None:
    headers = await harness.headers()
    error = await error_of(harness, headers, 400, body)
    assert error["param"] == param and says in error["message"]
    assert error["type"] == "invalid_request_error"


async def test_unknown_ids_are_404s(harness: Harness) -> None:
    headers = await harness.headers()
    error = await error_of(harness, headers, 404, {"model": "gpt-4o", "input": "hi",
                                                   "previous_response_id": "resp_nope"})
    assert error["param"] == "previous_response_id"
    for method, path in (("GET", f"{URL}/resp_nope"), ("DELETE", f"{URL}/resp_nope"),
                         ("GET", f"{URL}/resp_nope/input_items")):
        response = await harness.client.request(method, path, headers=headers)
        assert response.status_code == 404 and response.json()["error"]["param"]
    answer = await create(harness, headers, model="gpt-4o", input="hi")
    bad_after = await harness.client.get(f"{URL}/{answer['id']}/input_items?after=nope",
                                         headers=headers)
    assert bad_after.status_code == 400 and bad_after.json()["error"]["param"] == "after"
    bad_limit = await harness.client.get(f"{URL}/{answer['id']}/input_items?limit=0",
                                         headers=headers)
    assert bad_limit.status_code == 400 and bad_limit.json()["error"]["param"] == "limit"


async def test_item_references_name_stored_output_items(harness: Harness) -> None:
    headers = await harness.headers()
    first = await create(harness, headers, model="gpt-4o", input="What is DNS?")
    message_id = first["output"][0]["id"]
    question = {"role": "user", "content": "What is DNS?"}
    later = await create(harness, headers, model="gpt-4o", store=False, input=[
        question, {"type": "item_reference", "id": message_id},
        {"role": "user", "content": "And DHCP?"}])
    assert later["status"] == "completed"
    body = {"model": "gpt-4o", "input": [question, {"type": "item_reference", "id": message_id},
                                         {"role": "user", "content": "And DHCP?"}]}
    stored = await create(harness, headers, **body)
    items = (await harness.client.get(f"{URL}/{stored['id']}/input_items?order=asc",
                                      headers=headers)).json()["data"]
    assert items[1] == first["output"][0]
    other = await harness.headers()
    error = await error_of(harness, other, 404, body)
    assert error["param"] == "input" and message_id in error["message"]
    await harness.client.delete(f"{URL}/{first['id']}", headers=headers)
    await error_of(harness, headers, 404, body)


async def test_a_stored_history_with_tool_calls_can_be_continued(harness: Harness) -> None:
    """The calls of an assistant message given in the input are stored with it, so the
    session's later turns still see which call each result answers."""
    headers = await harness.headers()
    tool = {"type": "function", "name": "get_weather",
            "description": "Get the current weather for a city",
            "parameters": {"type": "object", "properties": {"city": {"type": "string"}}}}
    first = await create(harness, headers, model="gpt-4o", tools=[tool], input=[
        {"role": "user", "content": "What is the weather in Paris?"},
        {"type": "function_call", "call_id": "call_a", "name": "get_weather",
         "arguments": '{"city": "Paris"}'},
        {"type": "function_call_output", "call_id": "call_a", "output": "rainy"}])
    later = await create(harness, headers, model="gpt-4o", input="And in Rome?",
                         previous_response_id=first["id"])
    assert later["status"] == "completed"
    session_id = first["konnect"]["session_id"]
    session = (await harness.client.get(f"/v1/sessions/{session_id}", headers=headers)).json()
    assert [m["role"] for m in session["messages"]] == ["user", "assistant", "tool",
                                                        "assistant", "user", "assistant"]


async def test_an_ensemble_streams_only_response_events(harness: Harness) -> None:
    headers = await harness.headers()
    sent = await stream_events(harness.client, URL, {
        "model": "konnect-ensemble", "input": "What is DNS?",
        "konnect": {"models": ["gpt-4o", "claude-sonnet-4-5-20250929"]}}, headers)
    assert all(name.startswith("response.") for name, _ in sent)
    text = "".join(d["delta"] for name, d in sent if name == "response.output_text.delta")
    final = sent[-1][1]["response"]
    assert text and final["output"][0]["content"][0]["text"] == text
    assert final["konnect"]["mode"] == "ensemble" and final["konnect"]["details"]


async def test_an_image_goes_with_the_question_and_its_bytes_are_not_kept(
        harness: Harness) -> None:
    headers = await harness.headers()
    image = "data:image/png;base64,iVBORw0KGgo="
    answer = await create(harness, headers, model="gpt-4o", input=[{"role": "user", "content": [
        {"type": "input_text", "text": "What is in this picture?"},
        {"type": "input_image", "image_url": image, "detail": "low"}]}])
    assert answer["status"] == "completed"
    items = (await harness.client.get(f"{URL}/{answer['id']}/input_items",
                                      headers=headers)).json()["data"]
    assert items[0]["content"][1] == {"type": "input_image", "image_url": None,
                                      "detail": "low", "file_id": None}


async def test_konnect_session_id_continues_a_chorus_session(harness: Harness) -> None:
    headers = await harness.headers()
    chat = await harness.client.post("/v1/chat", headers=headers,
                                     json={"message": "What is DNS?"})
    session_id = chat.json()["session_id"]
    answer = await create(harness, headers, model="gpt-4o", input="And DHCP?",
                          **{"konnect.session_id": session_id})
    assert answer["konnect"]["session_id"] == session_id
    session = (await harness.client.get(f"/v1/sessions/{session_id}", headers=headers)).json()
    assert session["message_count"] == 4
    error = await error_of(harness, headers, 400, {
        "model": "gpt-4o", "input": "And NTP?", "previous_response_id": answer["id"],
        "konnect.session_id": session_id})
    assert error["param"] == "konnect.session_id"
