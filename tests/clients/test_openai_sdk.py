"""The official `openai` Python SDK as an agent's client: tools, streamed tool calls, a tool
round trip, structured output and images, on every dialect; the modes with a JSON schema."""

from __future__ import annotations

import base64
import json
from typing import Any

import jsonschema
import openai
import pytest
from pydantic import BaseModel

from tests.clients.conftest import Target

WEATHER = {"type": "function", "function": {
    "name": "get_weather", "description": "Get the current weather in a city",
    "parameters": {"type": "object", "properties": {"city": {"type": "string"}},
                   "required": ["city"]}}}
ASK = [{"role": "user", "content": "What is the weather in Paris?"}]
# A 1x1 PNG, as a client would attach a screenshot.
PNG = base64.b64encode(bytes.fromhex(
    "89504e470d0a1a0a0000000d4948445200000001000000010806000000"
    "1f15c4890000000d49444154789c6360000002000154a24f5d0000000049454e44ae426082")).decode()


class City(BaseModel):
    name: str
    country: str
    population: int


def client(target: Target) -> openai.OpenAI:
    return openai.OpenAI(base_url=target.base_url, api_key=target.key, max_retries=0,
                         timeout=60)


def test_a_required_tool_is_called(target: Target) -> None:
    answer = client(target).chat.completions.create(
        model=target.model, messages=ASK, tools=[WEATHER], tool_choice="required")
    choice = answer.choices[0]
    assert choice.finish_reason == "tool_calls", choice
    call = choice.message.tool_calls[0]
    assert call.type == "function" and call.function.name == "get_weather"
    jsonschema.validate(json.loads(call.function.arguments),
                        WEATHER["function"]["parameters"])


def test_tool_calls_stream_as_deltas(target: Target) -> None:
    stream = client(target).chat.completions.create(
        model=target.model, messages=ASK, tools=[WEATHER],
        tool_choice={"type": "function", "function": {"name": "get_weather"}}, stream=True)
    calls: dict[int, dict[str, str]] = {}
    finish = None
    for chunk in stream:
        if not chunk.choices:
            continue
        delta = chunk.choices[0].delta
        for part in delta.tool_calls or ():
            call = calls.setdefault(part.index, {"id": "", "name": "", "arguments": ""})
            call["id"] += part.id or ""
            if part.function is not None:
                call["name"] += part.function.name or ""
                call["arguments"] += part.function.arguments or ""
        finish = chunk.choices[0].finish_reason or finish
    assert finish == "tool_calls"
    assert calls[0]["name"] == "get_weather" and calls[0]["id"]
    assert isinstance(json.loads(calls[0]["arguments"])["city"], str)


def test_a_tool_round_trip_answers_from_the_result(target: Target) -> None:
    chat = client(target).chat.completions
    first = chat.create(model=target.model, messages=ASK, tools=[WEATHER],
                        tool_choice="required")
    call = first.choices[0].message.tool_calls[0]
    history: list[Any] = [*ASK, first.choices[0].message.model_dump(exclude_none=True),
                          {"role": "tool", "tool_call_id": call.id,
                           "content": "Sunny, 21 degrees"}]
    second = chat.create(model=target.model, messages=history, tools=[WEATHER])
    assert second.choices[0].finish_reason == "stop"
    assert "Sunny, 21 degrees" in (second.choices[0].message.content or "")


def test_json_schema_output_parses_into_the_model(target: Target) -> None:
    parsed = client(target).chat.completions.parse(
        model=target.model, messages=[{"role": "user", "content": "Describe Paris"}],
        response_format=City)
    city = parsed.choices[0].message.parsed
    assert isinstance(city, City)


def test_json_object_output_is_an_object(target: Target) -> None:
    answer = client(target).chat.completions.create(
        model=target.model, response_format={"type": "json_object"},
        messages=[{"role": "user", "content": "Describe Paris as JSON"}])
    assert isinstance(json.loads(answer.choices[0].message.content or ""), dict)


def test_an_image_is_seen(target: Target) -> None:
    answer = client(target).chat.completions.create(model=target.model, messages=[
        {"role": "user", "content": [
            {"type": "text", "text": "What is in this picture?"},
            {"type": "image_url", "image_url": {"url": f"data:image/png;base64,{PNG}"}}]}])
    assert "image" in (answer.choices[0].message.content or "").lower()


@pytest.mark.parametrize("aggregation", ["synthesis", "best_of_n", "consensus", "union"])
def test_an_ensemble_answers_schema_valid_json_for_each_aggregation(
        chorus_server: tuple[str, str, str], aggregation: str) -> None:
    url, test_key, _ = chorus_server
    target = Target("konnect-ensemble", test_key, url, "simulated")
    parsed = client(target).chat.completions.parse(
        model="konnect-ensemble", response_format=City,
        messages=[{"role": "user", "content": "Describe Paris"}],
        extra_body={"konnect.models": ["gpt-4o", "claude-sonnet-4-5-20250929",
                                       "gemini-2.5-pro"],
                    "konnect.aggregation": aggregation})
    assert isinstance(parsed.choices[0].message.parsed, City)
    konnect = (parsed.model_extra or {})["konnect"]
    assert konnect["mode"] == "ensemble" and konnect["details"]["aggregation"] == aggregation


@pytest.mark.parametrize("model", ["konnect-debate", "konnect-council"])
def test_debate_and_council_answer_in_the_schema(chorus_server: tuple[str, str, str],
                                                 model: str) -> None:
    url, test_key, _ = chorus_server
    parsed = client(Target(model, test_key, url, "simulated")).chat.completions.parse(
        model=model, response_format=City,
        messages=[{"role": "user", "content": "Which city should host the next games?"}])
    assert isinstance(parsed.choices[0].message.parsed, City)


def test_client_tools_in_a_multi_model_mode_are_a_400_naming_tools(
        chorus_server: tuple[str, str, str]) -> None:
    url, test_key, _ = chorus_server
    with pytest.raises(openai.BadRequestError) as refused:
        client(Target("konnect-ensemble", test_key, url, "simulated")).chat.completions.create(
            model="konnect-ensemble", messages=ASK, tools=[WEATHER])
    assert refused.value.param == "tools"
