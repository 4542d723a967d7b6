"""The official SDKs understand `chorus fake-llm`: proof that the fake speaks the real formats."""

from __future__ import annotations

from collections.abc import AsyncIterator

import anthropic
import openai
import pytest
from google import genai
from google.genai import errors as genai_errors
from google.genai import types as genai_types

from tests.conftest import FakeUpstream

QUESTION = "Why is the sky blue?"
SEARCH_TOOL_HEADERS = {"x-fake-tool": "search"}


@pytest.fixture
async def claude(fake_llm: FakeUpstream) -> AsyncIterator[anthropic.AsyncAnthropic]:
    client = anthropic.AsyncAnthropic(api_key="sk-ant-fake", base_url=fake_llm.url,
                                      max_retries=0)
    yield client
    await client.close()


@pytest.fixture
async def gemini(fake_llm: FakeUpstream) -> AsyncIterator[genai.Client]:
    client = genai.Client(api_key="AIza-fake",
                          http_options=genai_types.HttpOptions(base_url=fake_llm.url))
    yield client
    await client.aio.aclose()


@pytest.fixture
async def gpt(fake_llm: FakeUpstream) -> AsyncIterator[openai.AsyncOpenAI]:
    client = openai.AsyncOpenAI(api_key="sk-fake", base_url=f"{fake_llm.url}/v1",
                                max_retries=0)
    yield client
    await client.close()


# ---- Anthropic ----------------------------------------------------------------------------


async def test_anthropic_sdk_reads_a_message(claude: anthropic.AsyncAnthropic,
                                             fake_llm: FakeUpstream) -> None:
    message = await claude.messages.create(
        model="claude-fake", max_tokens=100, system="Be brief.",
        messages=[{"role": "user", "content": QUESTION}])
    assert message.content[0].type == "text"
    assert message.content[0].text.startswith(f"Fake answer to: {QUESTION}")
    assert message.stop_reason == "end_turn"
    assert (message.usage.input_tokens, message.usage.output_tokens) == (7, 24)
    record = fake_llm.requests[0]
    assert record["path"] == "/v1/messages"
    # SDK 2.x sends the key as a bearer token; the fake, like the API, takes either header.
    assert "sk-ant-fake" in (record["headers"].get("x-api-key"),
                             record["headers"].get("authorization", "").removeprefix("Bearer "))
    assert record["body"]["system"] == "Be brief."


async def test_anthropic_sdk_streams_a_message(claude: anthropic.AsyncAnthropic) -> None:
    async with claude.messages.stream(
            model="claude-fake", max_tokens=100,
            messages=[{"role": "user", "content": QUESTION}]) as stream:
        pieces = [text async for text in stream.text_stream]
        final = await stream.get_final_message()
    assert len(pieces) == 24
    assert final.content[0].type == "text" and final.content[0].text == "".join(pieces)
    assert final.stop_reason == "end_turn"
    assert (final.usage.input_tokens, final.usage.output_tokens) == (5, 24)


async def test_anthropic_sdk_reads_tool_use_blocks(claude: anthropic.AsyncAnthropic) -> None:
    tools = [{"name": "search", "description": "Search the web",
              "input_schema": {"type": "object", "properties": {"query": {"type": "string"}}}}]
    message = await claude.messages.create(
        model="claude-fake", max_tokens=100, tools=tools,  # type: ignore[arg-type]
        messages=[{"role": "user", "content": QUESTION}], extra_headers=SEARCH_TOOL_HEADERS)
    block = message.content[0]
    assert message.stop_reason == "tool_use" and block.type == "tool_use"
    assert (block.name, block.input) == ("search", {"query": QUESTION})
    async with claude.messages.stream(
            model="claude-fake", max_tokens=100, tools=tools,  # type: ignore[arg-type]
            messages=[{"role": "user", "content": QUESTION}],
            extra_headers=SEARCH_TOOL_HEADERS) as stream:
        final = await stream.get_final_message()
    streamed = final.content[0]
    assert streamed.type == "tool_use" and streamed.input == {"query": QUESTION}
    follow_up = await claude.messages.create(
        model="claude-fake", max_tokens=100, tools=tools,  # type: ignore[arg-type]
        extra_headers=SEARCH_TOOL_HEADERS,
        messages=[{"role": "user", "content": QUESTION},
                  {"role": "assistant", "content": [block.model_dump()]},  # type: ignore[list-item]
                  {"role": "user", "content": [{"type": "tool_result", "tool_use_id": block.id,
                                                "content": "Rayleigh scattering"}]}])
    assert follow_up.content[0].type == "text" and follow_up.stop_reason == "end_turn"


async def test_anthropic_sdk_maps_injected_faults(claude: anthropic.AsyncAnthropic) -> None:
    with pytest.raises(anthropic.RateLimitError) as limited:
        await claude.messages.create(model="claude-fake@fault=429", max_tokens=10,
                                     messages=[{"role": "user", "content": QUESTION}])
    assert limited.value.response.headers["retry-after"] == "1"
    with pytest.raises(anthropic.AuthenticationError):
        await claude.messages.create(model="claude-fake@fault=401", max_tokens=10,
                                     messages=[{"role": "user", "content": QUESTION}])


# ---- Gemini -------------------------------------------------------------------------------


async def test_genai_sdk_reads_an_answer(gemini: genai.Client, fake_llm: FakeUpstream) -> None:
    response = await gemini.aio.models.generate_content(
        model="gemini-fake", contents=QUESTION,
        config=genai_types.GenerateContentConfig(system_instruction="Be brief.",
                                                 temperature=0.2, max_output_tokens=100))
    assert response.text is not None
    assert response.text.startswith(f"Fake answer to: {QUESTION}")
    assert response.usage_metadata is not None
    assert response.usage_metadata.prompt_token_count == 7
    assert response.usage_metadata.candidates_token_count == 24
    assert response.candidates and response.candidates[0].finish_reason == "STOP"
    record = fake_llm.requests[0]
    # google-genai 3.x defaults to the v1 API; the fake answers v1 and v1beta alike.
    assert record["path"] in ("/v1/models/gemini-fake:generateContent",
                              "/v1beta/models/gemini-fake:generateContent")
    assert record["headers"]["x-goog-api-key"] == "AIza-fake"
    assert record["body"]["systemInstruction"]["parts"] == [{"text": "Be brief."}]
    assert record["body"]["generationConfig"] == {"temperature": 0.2, "maxOutputTokens": 100}


async def test_genai_sdk_streams_an_answer(gemini: genai.Client, fake_llm: FakeUpstream) -> None:
    pieces: list[str] = []
    last = None
    async for chunk in await gemini.aio.models.generate_content_stream(
            model="gemini-fake", contents=QUESTION):
        pieces.append(chunk.text or "")
        last = chunk
    assert "".join(pieces).startswith(f"Fake answer to: {QUESTION}")
    assert len([p for p in pieces if p]) == 24
    assert last is not None and last.usage_metadata is not None
    assert last.usage_metadata.candidates_token_count == 24
    assert fake_llm.requests[0]["query"] == {"alt": "sse"}


async def test_genai_sdk_reads_function_calls(gemini: genai.Client) -> None:
    tool = genai_types.Tool(function_declarations=[genai_types.FunctionDeclaration(
        name="search", description="Search the web",
        parameters=genai_types.Schema(type=genai_types.Type.OBJECT,
                                      properties={"query": genai_types.Schema(
                                          type=genai_types.Type.STRING)}))])
    config = genai_types.GenerateContentConfig(
        tools=[tool], http_options=genai_types.HttpOptions(headers=SEARCH_TOOL_HEADERS))
    response = await gemini.aio.models.generate_content(model="gemini-fake", contents=QUESTION,
                                                        config=config)
    assert response.function_calls is not None
    call = response.function_calls[0]
    assert (call.name, call.args) == ("search", {"query": QUESTION})
    streamed = [c async for c in await gemini.aio.models.generate_content_stream(
        model="gemini-fake", contents=QUESTION, config=config)]
    assert streamed[0].function_calls and streamed[0].function_calls[0].name == "search"


async def test_genai_sdk_maps_injected_faults(gemini: genai.Client) -> None:
    with pytest.raises(genai_errors.ClientError) as caught:
        await gemini.aio.models.generate_content(model="gemini-fake@fault=429",
                                                 contents=QUESTION)
    assert caught.value.code == 429 and caught.value.status == "RESOURCE_EXHAUSTED"
    with pytest.raises(genai_errors.ServerError) as failed:
        await gemini.aio.models.generate_content(model="gemini-fake@fault=500",
                                                 contents=QUESTION)
    assert failed.value.code == 500 and "injected fault 500" in str(failed.value.message)


# ---- OpenAI -------------------------------------------------------------------------------


async def test_openai_sdk_reads_and_streams(gpt: openai.AsyncOpenAI) -> None:
    completion = await gpt.chat.completions.create(
        model="gpt-fake", messages=[{"role": "user", "content": QUESTION}])
    assert completion.choices[0].message.content is not None
    assert completion.choices[0].message.content.startswith(f"Fake answer to: {QUESTION}")
    assert completion.usage is not None and completion.usage.completion_tokens == 24
    stream = await gpt.chat.completions.create(
        model="gpt-fake", messages=[{"role": "user", "content": QUESTION}], stream=True,
        stream_options={"include_usage": True})
    chunks = [chunk async for chunk in stream]
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text == completion.choices[0].message.content
    assert chunks[-1].usage is not None and chunks[-1].usage.completion_tokens == 24
