"""Simulated models (sk_test_ keys) honour tools, tool results, JSON output, images, stop,
max_tokens, seed and logprobs, so a test key exercises every agent path."""

from __future__ import annotations

from typing import Any

import jsonschema
import orjson

from chorus.providers.simulated import SimulatedProvider
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

WEATHER = ToolSpec("get_weather", "Get the current weather for a city",
                   {"type": "object", "properties": {
                       "city": {"type": "string"},
                       "unit": {"type": "string", "enum": ["celsius", "fahrenheit"]},
                       "days": {"type": "integer", "minimum": 1, "maximum": 7}},
                    "required": ["city", "unit"], "additionalProperties": False})
STOCKS = ToolSpec("stock_price", "Look up a company's share price on the stock market",
                  {"type": "object", "properties": {"ticker": {"type": "string"}},
                   "required": ["ticker"]})
PERSON = {"type": "object", "properties": {
    "name": {"type": "string"}, "age": {"type": "integer", "minimum": 0},
    "tags": {"type": "array", "items": {"type": "string"}, "minItems": 1}},
    "required": ["name", "age", "tags"], "additionalProperties": False}
MODEL = "sim-large"


async def run(question: str | tuple[Message, ...], **options: Any) -> list[ProviderChunk]:
    messages = (Message("user", question),) if isinstance(question, str) else question
    request = ModelRequest(messages, **options)
    return [chunk async for chunk in SimulatedProvider(pace=0).stream(MODEL, request)]


def split(chunks: list[ProviderChunk]) -> tuple[str, list[ToolCall], StreamEnd]:
    end = chunks[-1]
    assert isinstance(end, StreamEnd)
    text = "".join(c.text for c in chunks if isinstance(c, TextDelta))
    return text, [c for c in chunks if isinstance(c, ToolCall)], end


async def test_auto_calls_the_tool_the_question_fits_with_valid_arguments() -> None:
    text, calls, end = split(await run("What is the weather in Paris tomorrow?",
                                       tools=(WEATHER, STOCKS)))
    assert (text, end.finish_reason) == ("", "tool_calls")
    (call,) = calls
    assert call.name == "get_weather" and call.id.startswith("call_")
    assert call.arguments["city"] == "Paris"
    jsonschema.validate(call.arguments, WEATHER.parameters)


async def test_auto_answers_in_prose_when_no_tool_fits_and_none_never_calls() -> None:
    text, calls, end = split(await run("Write a haiku about autumn", tools=(WEATHER,)))
    assert text and not calls and end.finish_reason == "stop"
    text, calls, end = split(await run("What is the weather in Paris?", tools=(WEATHER,),
                                       tool_choice=ToolChoice("none")))
    assert text and not calls and end.finish_reason == "stop"


async def test_required_and_named_choices_always_call() -> None:
    _, calls, end = split(await run("Write a haiku", tools=(WEATHER, STOCKS),
                                    tool_choice=ToolChoice("required")))
    assert [c.name for c in calls] == ["get_weather"] and end.finish_reason == "tool_calls"
    final = ToolSpec("final_result", "The final answer", PERSON)
    _, calls, _ = split(await run("Write a haiku", tools=(WEATHER, final),
                                  tool_choice=ToolChoice("required")))
    assert [c.name for c in calls] == ["final_result"]
    _, calls, _ = split(await run("What is the weather in Paris?", tools=(WEATHER, STOCKS),
                                  tool_choice=ToolChoice("function", "stock_price")))
    assert [c.name for c in calls] == ["stock_price"]
    jsonschema.validate(calls[0].arguments, STOCKS.parameters)


async def test_parallel_calls_unless_parallel_tool_calls_is_false() -> None:
    question = "Weather in Oslo and the stock price of ACME on the market?"
    _, calls, _ = split(await run(question, tools=(WEATHER, STOCKS)))
    assert sorted(c.name for c in calls) == ["get_weather", "stock_price"]
    assert len({c.id for c in calls}) == 2
    _, calls, _ = split(await run(question, tools=(WEATHER, STOCKS), parallel_tool_calls=False))
    assert len(calls) == 1


async def test_answers_from_the_tool_result_after_a_round_trip() -> None:
    call = ToolCall("call_1", "get_weather", {"city": "Paris", "unit": "celsius"})
    history = (Message("user", "What is the weather in Paris?"),
               Message("assistant", "", tool_calls=(call,)),
               Message("tool", "18C and sunny", tool_call_id="call_1", name="get_weather"))
    text, calls, end = split(await run(history, tools=(WEATHER,)))
    assert not calls and end.finish_reason == "stop"
    assert text == "Based on the tool results: get_weather returned '18C and sunny'."
    # `required` after results calls a tool not called yet (pydantic-ai's output tool).
    final = ToolSpec("final_result", "The final answer", PERSON)
    _, calls, _ = split(await run(history, tools=(WEATHER, final),
                                  tool_choice=ToolChoice("required")))
    assert [c.name for c in calls] == ["final_result"]
    jsonschema.validate(calls[0].arguments, PERSON)


async def test_json_schema_output_is_valid_and_streamed_in_chunks() -> None:
    chunks = await run("Describe Ada Lovelace", output=OutputFormat("json_schema", PERSON))
    text, calls, end = split(chunks)
    jsonschema.validate(orjson.loads(text), PERSON)
    assert orjson.loads(text)["name"] == "Ada Lovelace"
    assert len([c for c in chunks if isinstance(c, TextDelta)]) > 2
    assert end.finish_reason == "stop" and not calls
    text, _, _ = split(await run("Say hi", output=OutputFormat("json_object")))
    assert isinstance(orjson.loads(text)["answer"], str)


async def test_acknowledges_images() -> None:
    image = Message("user", "What is in this picture?", images=(
        ImagePart("data:image/png;base64,iVBORw0KGgo="), ImagePart("https://x.org/cat.jpg")))
    text, _, _ = split(await run((image,)))
    assert text.startswith("I see 2 images (image/png, 9 bytes; cat.jpg). ")


async def test_stop_max_tokens_seed_and_logprobs() -> None:
    whole, _, _ = split(await run("Explain photosynthesis"))
    word = whole.split()[3]
    text, _, end = split(await run("Explain photosynthesis", stop=(word,)))
    assert text == whole[:whole.index(word)] and end.finish_reason == "stop"
    text, _, end = split(await run("Explain photosynthesis", max_tokens=5))
    assert end.finish_reason == "length" and len(text) < len(whole)
    seeded = [split(await run("Explain photosynthesis", seed=s))[0] for s in (1, 1, 2, 3, 4)]
    assert seeded[0] == seeded[1] and len(set(seeded)) > 1
    chunks = await run("Explain photosynthesis", logprobs=True, top_logprobs=2)
    deltas = [c for c in chunks if isinstance(c, TextDelta)]
    first = deltas[0].logprobs[0]
    assert first["token"] == deltas[0].text and first["logprob"] <= 0
    assert first["top_logprobs"][0]["token"] == deltas[0].text
    assert len(first["top_logprobs"]) == 2


async def test_simulated_refuses_nothing() -> None:
    request = ModelRequest((Message("user", "x"),), seed=1, logprobs=True,
                           parallel_tool_calls=False, tools=(WEATHER,))
    assert SimulatedProvider(pace=0).unsupported(MODEL, request) is None
