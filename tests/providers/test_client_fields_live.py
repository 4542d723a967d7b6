"""Client tools, tool results, JSON output, images, stop and logprobs through each dialect
against fake-llm over a real socket, streamed and whole."""

from __future__ import annotations

from typing import Any

import jsonschema
import orjson
import pytest

from chorus.config import Dialect
from chorus.types import (
    ImagePart,
    Message,
    ModelRequest,
    OutputFormat,
    ProviderChunk,
    StreamEnd,
    TextDelta,
    ToolCall,
    ToolChoice,
    ToolSpec,
)
from tests.conftest import FakeUpstream
from tests.providers.conftest import MakeProvider

WEATHER = ToolSpec("get_weather", "Get the current weather for a city",
                   {"type": "object", "properties": {"city": {"type": "string"}},
                    "required": ["city"], "additionalProperties": False})
TIME = ToolSpec("get_time", "Get the local time in a city",
                {"type": "object", "properties": {"city": {"type": "string"}},
                 "required": ["city"]})
PERSON = {"type": "object", "properties": {
    "name": {"type": "string"}, "born": {"type": "integer"},
    "fields": {"type": "array", "items": {"type": "string"}, "minItems": 1}},
    "required": ["name", "born", "fields"], "additionalProperties": False}
PNG = "data:image/png;base64,iVBORw0KGgo="
MODELS: dict[Dialect, str] = {"openai": "small", "anthropic": "claude-3-5-haiku-latest",
                              "gemini": "small"}


@pytest.fixture(params=[True, False], ids=["stream", "whole"])
def stream(request: pytest.FixtureRequest) -> bool:
    flag: bool = request.param
    return flag


async def call(make_provider: MakeProvider, dialect: Dialect, *messages: Message,
               model: str | None = None, **options: Any
               ) -> tuple[str, list[ToolCall], StreamEnd, list[TextDelta]]:
    request = ModelRequest(messages, **options)
    chunks: list[ProviderChunk] = [
        c async for c in make_provider().stream(model or MODELS[dialect], request)]
    end = chunks[-1]
    assert isinstance(end, StreamEnd)
    deltas = [c for c in chunks if isinstance(c, TextDelta)]
    return ("".join(d.text for d in deltas), [c for c in chunks if isinstance(c, ToolCall)],
            end, deltas)


async def test_a_tool_round_trip(dialect: Dialect, make_provider: MakeProvider,
                                 fake_llm: FakeUpstream, stream: bool) -> None:
    question = Message("user", "What is the weather in Paris?")
    text, calls, end, _ = await call(make_provider, dialect, question, tools=(WEATHER, TIME),
                                     stream=stream)
    assert text == "" and end.finish_reason == "tool_calls"
    (found,) = calls
    assert (found.name, found.arguments) == ("get_weather", {"city": "Paris"})
    assert found.id
    history = (question, Message("assistant", "", tool_calls=(found,)),
               Message("tool", "18C and sunny", tool_call_id=found.id, name="get_weather"))
    text, calls, end, _ = await call(make_provider, dialect, *history, tools=(WEATHER, TIME),
                                     stream=stream)
    assert not calls and end.finish_reason == "stop"
    assert text == "Based on the tool results: get_weather returned '18C and sunny'."


@pytest.mark.parametrize("dialect", ["gemini"], indirect=True)
async def test_gemini_3_gets_its_thought_signature_back(
        dialect: Dialect, make_provider: MakeProvider, fake_llm: FakeUpstream,
        stream: bool) -> None:
    question = Message("user", "What is the weather in Paris?")
    _, (found,), _, _ = await call(make_provider, dialect, question, tools=(WEATHER,),
                                   stream=stream, model="gemini-3-flash")
    history = (question, Message("assistant", "", tool_calls=(found,)),
               Message("tool", "18C", tool_call_id=found.id, name="get_weather"))
    text, _, _, _ = await call(make_provider, dialect, *history, tools=(WEATHER,),
                               stream=stream, model="gemini-3-flash")
    assert text == "Based on the tool results: get_weather returned '18C'."
    replayed = fake_llm.requests[-1]["body"]["contents"][1]["parts"][0]
    assert replayed["thoughtSignature"] == "ZmFrZSBzaWduYXR1cmU="


async def test_parallel_calls_and_a_forced_tool(dialect: Dialect, make_provider: MakeProvider,
                                                fake_llm: FakeUpstream, stream: bool) -> None:
    question = Message("user", "Weather and local time in Oslo?")
    _, calls, end, _ = await call(make_provider, dialect, question, tools=(WEATHER, TIME),
                                  stream=stream)
    assert sorted(c.name for c in calls) == ["get_time", "get_weather"]
    assert len({c.id for c in calls}) == 2 and end.finish_reason == "tool_calls"
    _, calls, _, _ = await call(make_provider, dialect, Message("user", "Write a poem"),
                                tools=(WEATHER, TIME), stream=stream,
                                tool_choice=ToolChoice("function", "get_time"))
    assert [c.name for c in calls] == ["get_time"]
    text, calls, _, _ = await call(make_provider, dialect, question, tools=(WEATHER, TIME),
                                   stream=stream, tool_choice=ToolChoice("none"))
    assert not calls and text.startswith("Fake answer to:")


@pytest.mark.parametrize("model", ["claude-3-5-haiku-latest", "claude-sonnet-4-5"])
async def test_json_schema_output_is_valid_json_text(dialect: Dialect, model: str,
                                                     make_provider: MakeProvider,
                                                     fake_llm: FakeUpstream,
                                                     stream: bool) -> None:
    text, calls, end, _ = await call(
        make_provider, dialect, Message("user", "Describe Marie Curie"), stream=stream,
        model=model if dialect == "anthropic" else None,
        output=OutputFormat("json_schema", PERSON, "person", strict=True))
    assert not calls and end.finish_reason == "stop"
    jsonschema.validate(orjson.loads(text), PERSON)
    assert orjson.loads(text)["name"] == "Marie Curie"
    text, _, _, _ = await call(make_provider, dialect, Message("user", "Say hi"),
                               stream=stream, output=OutputFormat("json_object"))
    assert isinstance(orjson.loads(text), dict)
    if dialect == "anthropic":
        sent = fake_llm.requests[0]["body"]
        assert ("output_config" in sent) == (model == "claude-sonnet-4-5")


async def test_json_output_beside_client_tools(dialect: Dialect, make_provider: MakeProvider,
                                               fake_llm: FakeUpstream, stream: bool) -> None:
    output = OutputFormat("json_schema", PERSON, "person")
    _, calls, end, _ = await call(make_provider, dialect,
                                  Message("user", "What is the weather in Paris?"),
                                  tools=(WEATHER,), output=output, stream=stream)
    assert [c.name for c in calls] == ["get_weather"] and end.finish_reason == "tool_calls"
    text, calls, end, _ = await call(make_provider, dialect,
                                     Message("user", "Describe Marie Curie"),
                                     tools=(WEATHER,), output=output, stream=stream)
    assert not calls and end.finish_reason == "stop"
    jsonschema.validate(orjson.loads(text), PERSON)


async def test_images_reach_the_model(dialect: Dialect, make_provider: MakeProvider,
                                      fake_llm: FakeUpstream, stream: bool) -> None:
    images = (ImagePart(PNG), ImagePart("https://example.com/photos/cat.jpg"))
    text, _, _, _ = await call(make_provider, dialect,
                               Message("user", "What is in these?", images=images),
                               stream=stream)
    assert text.startswith("I see 2 images (image/png, 9 bytes; cat.jpg). Fake answer to: "
                           "What is in these?")


async def test_stop_strings_cut_the_answer(dialect: Dialect, make_provider: MakeProvider,
                                           fake_llm: FakeUpstream, stream: bool) -> None:
    text, _, end, _ = await call(make_provider, dialect, Message("user", "Tell me more"),
                                 stop=(" clear",), stream=stream)
    assert text.startswith("Fake answer to:") and " clear" not in text
    assert end.finish_reason == "stop"


@pytest.mark.parametrize("dialect", ["openai", "gemini"], indirect=True)
async def test_logprobs_come_back_as_openai_entries(dialect: Dialect,
                                                   make_provider: MakeProvider,
                                                   fake_llm: FakeUpstream,
                                                   stream: bool) -> None:
    _, _, _, deltas = await call(make_provider, dialect, Message("user", "Hi there"),
                                 logprobs=True, top_logprobs=2, stream=stream)
    entries = [e for d in deltas for e in d.logprobs]
    assert "".join(e["token"] for e in entries) == "".join(d.text for d in deltas)
    assert all(len(e["top_logprobs"]) == 2 and e["logprob"] <= 0 for e in entries)
