"""The providers' own SDKs read fake-llm's tool calls, JSON output and image answers: the fake
speaks each real wire format, so the dialects are tested against what upstreams send."""

from __future__ import annotations

from typing import Any

import anthropic
import openai
from google import genai
from google.genai import types as genai_types
from pydantic import BaseModel

from tests.providers.test_fake_sdks import claude, gemini, gpt  # noqa: F401 (fixtures)

QUESTION = "What is the weather and local time in Oslo?"
PNG = "iVBORw0KGgo="
CITY = {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}


class Person(BaseModel):
    name: str
    born: int


def openai_tools() -> list[Any]:
    return [{"type": "function", "function": {"name": name, "description": description,
                                              "parameters": CITY}}
            for name, description in (("get_weather", "Get the weather in a city"),
                                      ("get_time", "Get the local time in a city"))]


async def test_openai_sdk_streams_parallel_tool_calls_and_parses_json(
        gpt: openai.AsyncOpenAI) -> None:  # noqa: F811
    async with gpt.chat.completions.stream(
            model="gpt-fake", messages=[{"role": "user", "content": QUESTION}],
            tools=openai_tools()) as stream:
        final = await stream.get_final_completion()
    choice = final.choices[0]
    calls = choice.message.tool_calls or []
    assert choice.finish_reason == "tool_calls"
    assert sorted((c.function.name, c.function.arguments) for c in calls
                  ) == [("get_time", '{"city":"Oslo"}'), ("get_weather", '{"city":"Oslo"}')]
    parsed = await gpt.chat.completions.parse(
        model="gpt-fake", messages=[{"role": "user", "content": "Describe Ada Lovelace"}],
        response_format=Person)
    assert parsed.choices[0].message.parsed == Person(name="Ada Lovelace", born=1)
    seen = await gpt.chat.completions.create(model="gpt-fake", messages=[{
        "role": "user", "content": [
            {"type": "text", "text": "What is this?"},
            {"type": "image_url", "image_url": {"url": f"data:image/png;base64,{PNG}"}}]}])
    assert (seen.choices[0].message.content or "").startswith("I see 1 image (image/png")


async def test_anthropic_sdk_streams_parallel_tool_use_and_sees_images(
        claude: anthropic.AsyncAnthropic) -> None:  # noqa: F811
    tools: Any = [{"name": t["function"]["name"], "description": t["function"]["description"],
                   "input_schema": CITY} for t in openai_tools()]
    async with claude.messages.stream(
            model="claude-fake", max_tokens=100, tools=tools,
            messages=[{"role": "user", "content": QUESTION}]) as stream:
        final = await stream.get_final_message()
    uses = [(b.name, b.input) for b in final.content if b.type == "tool_use"]
    assert final.stop_reason == "tool_use"
    assert sorted(uses) == [("get_time", {"city": "Oslo"}), ("get_weather", {"city": "Oslo"})]
    message = await claude.messages.create(model="claude-fake", max_tokens=100, messages=[{
        "role": "user", "content": [
            {"type": "text", "text": "What is this?"},
            {"type": "image", "source": {"type": "base64", "media_type": "image/png",
                                         "data": PNG}}]}])
    block = message.content[0]
    assert block.type == "text" and block.text.startswith("I see 1 image (image/png")


async def test_genai_sdk_reads_function_calls_json_and_images(
        gemini: genai.Client) -> None:  # noqa: F811
    declarations = [genai_types.FunctionDeclaration(
        name=t["function"]["name"], description=t["function"]["description"],
        parameters_json_schema=CITY) for t in openai_tools()]
    config = genai_types.GenerateContentConfig(
        tools=[genai_types.Tool(function_declarations=declarations)])
    streamed = [c async for c in await gemini.aio.models.generate_content_stream(
        model="gemini-fake", contents=QUESTION, config=config)]
    calls = [(c.name, c.args) for chunk in streamed for c in chunk.function_calls or ()]
    assert sorted(calls) == [("get_time", {"city": "Oslo"}), ("get_weather", {"city": "Oslo"})]
    answer = await gemini.aio.models.generate_content(
        model="gemini-fake", contents="Describe Ada Lovelace",
        config=genai_types.GenerateContentConfig(response_mime_type="application/json",
                                                 response_json_schema=Person.model_json_schema()))
    assert Person.model_validate_json(answer.text or "") == Person(name="Ada Lovelace", born=1)
    seen = await gemini.aio.models.generate_content(model="gemini-fake", contents=[
        genai_types.Part.from_text(text="What is this?"),
        genai_types.Part.from_bytes(data=b"\x89PNG\r\n\x1a\n", mime_type="image/png")])
    assert (seen.text or "").startswith("I see 1 image (image/png")
