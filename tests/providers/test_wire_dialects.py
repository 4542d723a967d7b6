"""Each dialect against the fake upstream over a socket: answers, streams, usage, history."""

from __future__ import annotations

import pytest

from chorus.config import Dialect
from chorus.providers.anthropic import DEFAULT_MAX_TOKENS
from chorus.types import Message, ModelRequest, StreamEnd, TextDelta
from tests.conftest import FakeUpstream
from tests.providers.conftest import KEYS, MakeProvider, ask, chunks_of, complete

QUESTION = "What is the capital of France?"


async def test_plain_answer_and_usage(dialect: Dialect, make_provider: MakeProvider,
                                      fake_llm: FakeUpstream) -> None:
    answer = await complete(make_provider(), "small", ask(QUESTION, stream=False))
    assert answer.text.startswith("Fake answer to: What is the capital of France?")
    assert len(answer.text.split()) == 24
    assert answer.usage.prompt_tokens == len(QUESTION.split())
    assert answer.usage.completion_tokens == 24
    assert answer.finish_reason == "stop"
    (record,) = fake_llm.requests
    assert record["completed"] and "stream" not in record["path"].lower()
    assert record["body"].get("stream") in (False, None)


async def test_stream_yields_pieces_then_usage(dialect: Dialect, make_provider: MakeProvider,
                                               fake_llm: FakeUpstream) -> None:
    chunks = await chunks_of(make_provider(), "small", ask(QUESTION, stream=True))
    deltas = [c for c in chunks if isinstance(c, TextDelta)]
    end = chunks[-1]
    assert isinstance(end, StreamEnd) and len(deltas) == 24
    assert all(isinstance(c, TextDelta) for c in chunks[:-1])
    whole = await complete(make_provider(), "small", ask(QUESTION, stream=False))
    assert "".join(d.text for d in deltas) == whole.text
    assert (end.usage.prompt_tokens, end.usage.completion_tokens) == (6, 24)
    assert end.finish_reason == "stop"
    assert fake_llm.requests[0]["completed"]


async def test_system_prompt_is_placed_where_the_provider_wants_it(
        dialect: Dialect, make_provider: MakeProvider, fake_llm: FakeUpstream) -> None:
    answer = await complete(make_provider(), "small", ask(QUESTION, system="Answer in French."))
    assert answer.usage.prompt_tokens == len(QUESTION.split()) + 3
    body = fake_llm.requests[0]["body"]
    if dialect == "openai":
        assert body["messages"][0] == {"role": "system", "content": "Answer in French."}
    elif dialect == "anthropic":
        assert body["system"] == "Answer in French."
        assert [m["role"] for m in body["messages"]] == ["user"]
    else:
        assert body["systemInstruction"] == {"parts": [{"text": "Answer in French."}]}
        assert [c["role"] for c in body["contents"]] == ["user"]


async def test_multi_turn_history_keeps_roles_and_order(
        dialect: Dialect, make_provider: MakeProvider, fake_llm: FakeUpstream) -> None:
    history = (Message("system", "Be brief."), Message("user", "Name a colour."),
               Message("assistant", "Blue."), Message("user", "Another one?"))
    answer = await complete(make_provider(), "small", ModelRequest(history))
    assert answer.text.startswith("Fake answer to: Another one?")
    body = fake_llm.requests[0]["body"]
    if dialect == "openai":
        assert [(m["role"], m["content"]) for m in body["messages"]] == [
            (m.role, m.content) for m in history]
    elif dialect == "anthropic":
        assert body["messages"] == [{"role": "user", "content": "Name a colour."},
                                    {"role": "assistant", "content": "Blue."},
                                    {"role": "user", "content": "Another one?"}]
    else:
        assert body["contents"] == [{"role": "user", "parts": [{"text": "Name a colour."}]},
                                    {"role": "model", "parts": [{"text": "Blue."}]},
                                    {"role": "user", "parts": [{"text": "Another one?"}]}]


async def test_consecutive_same_role_turns_are_merged_where_required(
        dialect: Dialect, make_provider: MakeProvider, fake_llm: FakeUpstream) -> None:
    request = ModelRequest((Message("user", "First part."), Message("user", "Second part."),
                            Message("assistant", ""), Message("user", "Third.")))
    await complete(make_provider(), "small", request)
    body = fake_llm.requests[0]["body"]
    if dialect == "anthropic":
        assert body["messages"] == [
            {"role": "user", "content": "First part.\n\nSecond part.\n\nThird."}]
    elif dialect == "gemini":
        assert body["contents"] == [
            {"role": "user", "parts": [{"text": "First part.\n\nSecond part.\n\nThird."}]}]
    else:
        assert len(body["messages"]) == 4


async def test_headers_url_and_options_follow_each_wire_format(
        dialect: Dialect, make_provider: MakeProvider, fake_llm: FakeUpstream) -> None:
    request = ask(QUESTION, temperature=0.3, max_tokens=50, stop=("END",))
    await complete(make_provider(), "small", request)
    record = fake_llm.requests[0]
    body, headers = record["body"], record["headers"]
    key = KEYS[dialect]
    if dialect == "openai":
        assert record["path"] == "/v1/chat/completions"
        assert headers["authorization"] == f"Bearer {key}"
        assert (body["temperature"], body["max_tokens"], body["stop"]) == (0.3, 50, ["END"])
        assert body["stream"] is True and body["stream_options"] == {"include_usage": True}
    elif dialect == "anthropic":
        assert record["path"] == "/v1/messages"
        assert headers["x-api-key"] == key and headers["anthropic-version"] == "2023-06-01"
        assert "authorization" not in headers
        assert (body["temperature"], body["max_tokens"]) == (0.3, 50)
        assert body["stop_sequences"] == ["END"] and body["stream"] is True
    else:
        assert record["path"] == "/v1beta/models/small:streamGenerateContent"
        assert record["query"] == {"alt": "sse"}
        assert headers["x-goog-api-key"] == key and "authorization" not in headers
        assert body["generationConfig"] == {"temperature": 0.3, "maxOutputTokens": 50,
                                            "stopSequences": ["END"]}


async def test_anthropic_defaults_max_tokens_and_caps_temperature(
        make_provider: MakeProvider, fake_llm: FakeUpstream, dialect: Dialect) -> None:
    await complete(make_provider(), "small", ask(temperature=1.7))
    body = fake_llm.requests[0]["body"]
    if dialect == "anthropic":
        assert body["max_tokens"] == DEFAULT_MAX_TOKENS and body["temperature"] == 1.0
    elif dialect == "openai":
        assert "max_tokens" not in body and body["temperature"] == 1.7
    else:
        assert body["generationConfig"] == {"temperature": 1.7}


@pytest.mark.parametrize("dialect", ["openai"])
async def test_openai_reasoning_models_get_max_completion_tokens(
        make_provider: MakeProvider, fake_llm: FakeUpstream) -> None:
    await complete(make_provider(), "o3-mini", ask(temperature=0.2, max_tokens=64))
    body = fake_llm.requests[0]["body"]
    assert body["max_completion_tokens"] == 64
    assert "max_tokens" not in body and "temperature" not in body


@pytest.mark.parametrize(("dialect", "path"), [("anthropic", "/v1/messages"),
                                                ("gemini", "/v1beta/models/small:generateContent")])
async def test_sdk_style_base_urls_without_a_version_work(
        make_provider: MakeProvider, fake_llm: FakeUpstream, path: str) -> None:
    answer = await complete(make_provider(path=""), "small", ask(stream=False))
    assert answer.text.startswith("Fake answer")
    assert fake_llm.requests[0]["path"] == path
