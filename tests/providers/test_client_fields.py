"""Each dialect's exact upstream body for client tools, tool results, JSON output, images and
sampling fields; the exact reading of an upstream tool call; the fields each one refuses."""

from __future__ import annotations

from typing import Any

import orjson

from chorus.providers.anthropic import AnthropicDialect
from chorus.providers.gemini import GeminiDialect
from chorus.providers.openai import OpenAIDialect
from chorus.providers.wire import Refusal, StreamParser
from chorus.types import (
    ImagePart,
    Message,
    ModelRequest,
    OutputFormat,
    TextDelta,
    ToolCall,
    ToolChoice,
    ToolSpec,
)

WEATHER = ToolSpec("get_weather", "The weather in a city",
                   {"type": "object", "properties": {"city": {"type": "string"}},
                    "required": ["city"]}, strict=True)
TIME = ToolSpec("get_time", "The time in a city",
                {"type": "object", "properties": {"city": {"type": "string"}}})
SCHEMA = {"type": "object", "properties": {"name": {"type": "string"}}, "required": ["name"],
          "additionalProperties": False}
PNG = "data:image/png;base64,iVBORw0KGgo="
HTTPS = "https://example.com/cat.jpg"

CALLS = (ToolCall("call_a", "get_weather", {"city": "Paris"}),
         ToolCall("call_b", "get_time", {"city": "Paris"}))
ROUND_TRIP = (
    Message("system", "Be brief."),
    Message("user", "Weather and time in Paris?"),
    Message("assistant", "Checking.", tool_calls=CALLS),
    Message("tool", "18C, sunny", tool_call_id="call_a", name="get_weather"),
    Message("tool", "14:05", tool_call_id="call_b", name="get_time"),
    Message("user", "Thanks, and tomorrow?"),
)


def request(*messages: Message, **options: Any) -> ModelRequest:
    return ModelRequest(messages or (Message("user", "Hi"),), stream=False, **options)


def feed(parser: StreamParser, frames: list[tuple[str | None, Any]]
         ) -> tuple[list[TextDelta | ToolCall], tuple[Any, str]]:
    out: list[TextDelta | ToolCall] = []
    for event, payload in frames:
        data = payload if isinstance(payload, str) else orjson.dumps(payload).decode()
        out += list(parser.feed(event, data))
    return out, parser.finish()


# ---- OpenAI ------------------------------------------------------------------------------


def test_openai_sends_tools_choice_and_sampling_fields_as_they_are() -> None:
    body = OpenAIDialect().body("gpt-4o", request(
        tools=(WEATHER,), tool_choice=ToolChoice("function", "get_weather"),
        parallel_tool_calls=False, top_p=0.5, seed=7, presence_penalty=0.1,
        frequency_penalty=0.2, logprobs=True, top_logprobs=3, user="u-1", stop=("END",),
        temperature=0.3, max_tokens=50))
    assert body == {
        "model": "gpt-4o", "messages": [{"role": "user", "content": "Hi"}], "stream": False,
        "tools": [{"type": "function", "function": {
            "name": "get_weather", "description": "The weather in a city",
            "parameters": WEATHER.parameters, "strict": True}}],
        "tool_choice": {"type": "function", "function": {"name": "get_weather"}},
        "parallel_tool_calls": False, "top_p": 0.5, "seed": 7, "presence_penalty": 0.1,
        "frequency_penalty": 0.2, "logprobs": True, "top_logprobs": 3, "user": "u-1",
        "temperature": 0.3, "max_tokens": 50, "stop": ["END"]}
    for kind in ("auto", "none", "required"):
        choice = ToolChoice(kind)  # type: ignore[arg-type]
        assert OpenAIDialect().body("m", request(tools=(WEATHER,), tool_choice=choice)
                                    )["tool_choice"] == kind


def test_openai_round_trip_history_images_and_json_output() -> None:
    body = OpenAIDialect().body("gpt-4o", request(*ROUND_TRIP, Message(
        "user", "And this?", images=(ImagePart(PNG, "low"), ImagePart(HTTPS))),
        output=OutputFormat("json_schema", SCHEMA, "person", True, "A person")))
    assert body["messages"][2:] == [
        {"role": "assistant", "content": "Checking.", "tool_calls": [
            {"id": "call_a", "type": "function",
             "function": {"name": "get_weather", "arguments": '{"city":"Paris"}'}},
            {"id": "call_b", "type": "function",
             "function": {"name": "get_time", "arguments": '{"city":"Paris"}'}}]},
        {"role": "tool", "tool_call_id": "call_a", "content": "18C, sunny"},
        {"role": "tool", "tool_call_id": "call_b", "content": "14:05"},
        {"role": "user", "content": "Thanks, and tomorrow?"},
        {"role": "user", "content": [
            {"type": "text", "text": "And this?"},
            {"type": "image_url", "image_url": {"url": PNG, "detail": "low"}},
            {"type": "image_url", "image_url": {"url": HTTPS}}]}]
    assert body["response_format"] == {"type": "json_schema", "json_schema": {
        "name": "person", "schema": SCHEMA, "strict": True, "description": "A person"}}
    assert OpenAIDialect().body("m", request(output=OutputFormat("json_object"))
                                )["response_format"] == {"type": "json_object"}


def test_openai_reads_tool_calls_and_logprobs_whole_and_streamed() -> None:
    entry = {"token": "Hi", "logprob": -0.1, "bytes": [72, 105], "top_logprobs": []}
    answer = OpenAIDialect().parse_answer({"choices": [{
        "message": {"role": "assistant", "content": None, "tool_calls": [
            {"id": "call_1", "type": "function",
             "function": {"name": "get_weather", "arguments": '{"city": "Oslo"}'}}]},
        "logprobs": {"content": [entry]}, "finish_reason": "tool_calls"}]})
    assert answer.tool_calls == [ToolCall("call_1", "get_weather", {"city": "Oslo"})]
    assert (answer.finish_reason, answer.logprobs) == ("tool_calls", [entry])

    def chunk(delta: dict[str, Any], finish: str | None = None, **extra: Any) -> Any:
        return (None, {"choices": [{"index": 0, "delta": delta, "finish_reason": finish,
                                    **extra}]})
    out, end = feed(OpenAIDialect().stream_parser(), [
        chunk({"content": "Hi"}, logprobs={"content": [entry]}),
        chunk({"tool_calls": [{"index": 0, "id": "call_1", "type": "function",
                               "function": {"name": "get_weather", "arguments": ""}}]}),
        chunk({"tool_calls": [{"index": 0, "function": {"arguments": '{"city": '}}]}),
        chunk({"tool_calls": [{"index": 0, "function": {"arguments": '"Oslo"}'}}]}),
        chunk({}, "tool_calls"), (None, "[DONE]")])
    assert out == [TextDelta("Hi", (entry,)),
                   ToolCall("call_1", "get_weather", {"city": "Oslo"})]
    assert end[1] == "tool_calls"


def test_a_tool_choice_without_tools_is_not_sent() -> None:
    """Every upstream refuses a tool choice with no tools; without tools there is no choice."""
    for dialect in (OpenAIDialect(), AnthropicDialect(), GeminiDialect()):
        body = dialect.body("m", request(tool_choice=ToolChoice("none")))
        assert "tool_choice" not in body and "toolConfig" not in body


def test_openai_refuses_nothing() -> None:
    assert OpenAIDialect().unsupported("gpt-4o", request(seed=1, logprobs=True)) is None


# ---- Anthropic ---------------------------------------------------------------------------


def test_anthropic_tools_choice_and_sampling_fields() -> None:
    body = AnthropicDialect().body("claude-3-5-haiku-latest", request(
        tools=(WEATHER,), tool_choice=ToolChoice("required"), parallel_tool_calls=False,
        top_p=0.5, user="u-1", stop=("END",)))
    assert body == {
        "model": "claude-3-5-haiku-latest", "messages": [{"role": "user", "content": "Hi"}],
        "max_tokens": 4096, "stream": False, "stop_sequences": ["END"], "top_p": 0.5,
        "metadata": {"user_id": "u-1"},
        "tools": [{"name": "get_weather", "description": "The weather in a city",
                   "input_schema": WEATHER.parameters}],
        "tool_choice": {"type": "any", "disable_parallel_tool_use": True}}
    choices = {"auto": {"type": "auto"}, "none": {"type": "none"},
               "function": {"type": "tool", "name": "get_weather"}}
    for kind, wanted in choices.items():
        choice = ToolChoice(kind, "get_weather")  # type: ignore[arg-type]
        assert AnthropicDialect().body("m", request(tools=(WEATHER,), tool_choice=choice)
                                       )["tool_choice"] == wanted
    # Strict tools only where the model has structured outputs.
    native = AnthropicDialect().body("claude-sonnet-4-5", request(tools=(WEATHER,)))
    assert native["tools"][0]["strict"] is True and "tool_choice" not in native


def test_anthropic_round_trip_groups_results_into_the_next_user_turn() -> None:
    body = AnthropicDialect().body("claude-3-5-haiku-latest", request(*ROUND_TRIP))
    assert body["system"] == "Be brief."
    assert body["messages"] == [
        {"role": "user", "content": "Weather and time in Paris?"},
        {"role": "assistant", "content": [
            {"type": "text", "text": "Checking."},
            {"type": "tool_use", "id": "call_a", "name": "get_weather",
             "input": {"city": "Paris"}},
            {"type": "tool_use", "id": "call_b", "name": "get_time",
             "input": {"city": "Paris"}}]},
        {"role": "user", "content": [
            {"type": "tool_result", "tool_use_id": "call_a", "content": "18C, sunny"},
            {"type": "tool_result", "tool_use_id": "call_b", "content": "14:05"},
            {"type": "text", "text": "Thanks, and tomorrow?"}]}]


def test_anthropic_images_become_base64_and_url_sources() -> None:
    body = AnthropicDialect().body("m", request(Message(
        "user", "What is this?", images=(ImagePart(PNG), ImagePart(HTTPS)))))
    assert body["messages"] == [{"role": "user", "content": [
        {"type": "text", "text": "What is this?"},
        {"type": "image", "source": {"type": "base64", "media_type": "image/png",
                                     "data": "iVBORw0KGgo="}},
        {"type": "image", "source": {"type": "url", "url": HTTPS}}]}]


def test_anthropic_json_output_native_or_through_a_forced_tool() -> None:
    schema_out = OutputFormat("json_schema", SCHEMA, "person")
    strict = OutputFormat("json_schema", SCHEMA, "person", strict=True)
    native = AnthropicDialect().body("claude-sonnet-4-5-20250929", request(output=strict))
    assert native["output_config"] == {"format": {"type": "json_schema", "schema": SCHEMA}}
    assert "tools" not in native and "tool_choice" not in native
    # A schema not marked strict may use what Anthropic's structured outputs lack: a tool.
    loose = AnthropicDialect().body("claude-sonnet-4-5-20250929", request(output=schema_out))
    assert "output_config" not in loose and loose["tools"][0]["input_schema"] == SCHEMA
    forced = AnthropicDialect().body("claude-3-5-haiku-latest", request(output=strict))
    assert forced["tools"] == [{"name": "json_answer", "description":
                                "Give your answer: its input is the whole answer, as JSON.",
                                "input_schema": SCHEMA}]
    assert forced["tool_choice"] == {"type": "tool", "name": "json_answer"}
    any_object = AnthropicDialect().body("claude-sonnet-4-5", request(
        output=OutputFormat("json_object")))
    assert any_object["tools"][0]["input_schema"] == {"type": "object"}
    # With client tools, the model may call one of them or answer through the answer tool.
    both = AnthropicDialect().body("claude-3-5-haiku-latest", request(
        tools=(WEATHER,), output=schema_out))
    assert [t["name"] for t in both["tools"]] == ["get_weather", "json_answer"]
    assert both["tool_choice"] == {"type": "any"}


def test_anthropic_native_schemas_are_closed_and_state_the_constraints_it_lacks() -> None:
    schema = {"type": "object", "properties": {
        "age": {"type": "integer", "minimum": 0, "maximum": 130, "description": "Years"},
        "tags": {"type": "array", "minItems": 2, "items": {"type": "string", "maxLength": 9}},
        "pet": {"oneOf": [{"$ref": "#/$defs/Cat"}, {"type": "null"}]}},
        "required": ["age", "tags", "pet"],
        "$defs": {"Cat": {"type": "object", "properties": {"name": {"type": "string"}}}}}
    body = AnthropicDialect().body("claude-opus-4-5", request(output=OutputFormat(
        "json_schema", schema, strict=True)))
    assert body["output_config"]["format"]["schema"] == {
        "type": "object", "additionalProperties": False, "properties": {
            "age": {"type": "integer", "description": "Years (minimum: 0, maximum: 130)"},
            "tags": {"type": "array", "items": {"type": "string", "description":
                                                "(maxLength: 9)"},
                     "description": "(minItems: 2)"},
            "pet": {"anyOf": [{"$ref": "#/$defs/Cat"}, {"type": "null"}]}},
        "required": ["age", "tags", "pet"],
        "$defs": {"Cat": {"type": "object", "properties": {"name": {"type": "string"}},
                          "additionalProperties": False}}}


def test_anthropic_reads_the_answer_tool_as_text_and_client_tools_as_calls() -> None:
    with_output = request(output=OutputFormat("json_schema", SCHEMA), tools=(WEATHER,))
    data = {"type": "message", "stop_reason": "tool_use", "content": [
        {"type": "tool_use", "id": "toolu_1", "name": "json_answer", "input": {"name": "Ada"}}],
        "usage": {"input_tokens": 5, "output_tokens": 3}}
    answer = AnthropicDialect().parse_answer(data, with_output)
    assert (answer.text, answer.tool_calls, answer.finish_reason) == ('{"name":"Ada"}', [],
                                                                       "stop")
    data["content"] = [{"type": "tool_use", "id": "toolu_2", "name": "get_weather",
                        "input": {"city": "Oslo"}}]
    answer = AnthropicDialect().parse_answer(data, with_output)
    assert answer.tool_calls == [ToolCall("toolu_2", "get_weather", {"city": "Oslo"})]
    assert (answer.text, answer.finish_reason) == ("", "tool_calls")
    data["stop_reason"] = "max_tokens"
    assert AnthropicDialect().parse_answer(data).finish_reason == "length"


def anthropic_tool_stream(name: str) -> list[tuple[str | None, Any]]:
    return [
        ("message_start", {"type": "message_start", "message": {
            "usage": {"input_tokens": 5, "output_tokens": 1}}}),
        ("content_block_start", {"type": "content_block_start", "index": 0, "content_block": {
            "type": "tool_use", "id": "toolu_1", "name": name, "input": {}}}),
        ("content_block_delta", {"type": "content_block_delta", "index": 0, "delta": {
            "type": "input_json_delta", "partial_json": ""}}),
        ("content_block_delta", {"type": "content_block_delta", "index": 0, "delta": {
            "type": "input_json_delta", "partial_json": '{"city": '}}),
        ("content_block_delta", {"type": "content_block_delta", "index": 0, "delta": {
            "type": "input_json_delta", "partial_json": '"Oslo"}'}}),
        ("content_block_stop", {"type": "content_block_stop", "index": 0}),
        ("message_delta", {"type": "message_delta", "delta": {"stop_reason": "tool_use"},
                           "usage": {"output_tokens": 9}}),
        ("message_stop", {"type": "message_stop"})]


def test_anthropic_streams_tool_calls_and_the_answer_tool_as_text() -> None:
    out, end = feed(AnthropicDialect().stream_parser(request(tools=(WEATHER,))),
                    anthropic_tool_stream("get_weather"))
    assert out == [ToolCall("toolu_1", "get_weather", {"city": "Oslo"})]
    assert end[1] == "tool_calls"
    out, end = feed(AnthropicDialect().stream_parser(request(
        output=OutputFormat("json_object"))), anthropic_tool_stream("json_answer"))
    assert out == [TextDelta('{"city": '), TextDelta('"Oslo"}')]
    assert end[1] == "stop"


def test_anthropic_refuses_fields_it_cannot_honour() -> None:
    dialect = AnthropicDialect()
    for field, value in (("seed", 1), ("seed", 0), ("presence_penalty", 0.5),
                         ("frequency_penalty", -0.5), ("logprobs", True), ("top_logprobs", 2)):
        refusal = dialect.unsupported("m", request(**{field: value}))
        assert refusal is not None and refusal.param == field
    tiff = Message("user", "x", images=(ImagePart("data:image/tiff;base64,AAAA"),))
    assert dialect.unsupported("m", request(tiff)) == Refusal(
        "messages", "Anthropic models take images of type image/gif, image/jpeg, image/png, "
        "image/webp, not image/tiff")
    both = request(temperature=0.5, top_p=0.9)
    assert dialect.unsupported("claude-sonnet-4-5-20250929", both) == Refusal(
        "top_p", "claude-sonnet-4-5-20250929 takes `temperature` or `top_p`, not both")
    assert dialect.unsupported("claude-3-5-haiku-latest", both) is None
    reserved = ToolSpec("json_answer", "", {"type": "object"})
    refusal = dialect.unsupported("m", request(tools=(reserved,),
                                               output=OutputFormat("json_object")))
    assert refusal is not None and refusal.param == "tools"
    assert dialect.unsupported("m", request(top_p=0.5, user="u", logprobs=False,
                                            presence_penalty=0.0, top_logprobs=0,
                                            tools=(WEATHER,))) is None


# ---- Gemini ------------------------------------------------------------------------------


def test_gemini_tools_tool_config_and_sampling_fields() -> None:
    body = GeminiDialect().body("gemini-2.5-flash", request(
        tools=(WEATHER,), tool_choice=ToolChoice("function", "get_weather"), top_p=0.5,
        seed=7, presence_penalty=0.1, frequency_penalty=0.2, logprobs=True, top_logprobs=2,
        user="u-1", stop=("END",), max_tokens=40))
    assert body == {
        "contents": [{"role": "user", "parts": [{"text": "Hi"}]}],
        "generationConfig": {"maxOutputTokens": 40, "stopSequences": ["END"], "topP": 0.5,
                             "seed": 7, "presencePenalty": 0.1, "frequencyPenalty": 0.2,
                             "responseLogprobs": True, "logprobs": 2},
        "tools": [{"functionDeclarations": [{
            "name": "get_weather", "description": "The weather in a city",
            "parametersJsonSchema": WEATHER.parameters}]}],
        "toolConfig": {"functionCallingConfig": {"mode": "ANY",
                                                 "allowedFunctionNames": ["get_weather"]}}}
    for kind, mode in (("auto", "AUTO"), ("none", "NONE"), ("required", "ANY")):
        choice = ToolChoice(kind)  # type: ignore[arg-type]
        assert GeminiDialect().body("m", request(tools=(WEATHER,), tool_choice=choice)
                                    )["toolConfig"] == {"functionCallingConfig": {"mode": mode}}


def test_gemini_round_trip_matches_results_by_name() -> None:
    unnamed = (*ROUND_TRIP[:4], Message("tool", "14:05", tool_call_id="call_b"),
               ROUND_TRIP[5])
    for history in (ROUND_TRIP, unnamed):
        body = GeminiDialect().body("gemini-2.5-flash", request(*history))
        assert body["systemInstruction"] == {"parts": [{"text": "Be brief."}]}
        assert body["contents"] == [
            {"role": "user", "parts": [{"text": "Weather and time in Paris?"}]},
            {"role": "model", "parts": [
                {"text": "Checking."},
                {"functionCall": {"name": "get_weather", "args": {"city": "Paris"}}},
                {"functionCall": {"name": "get_time", "args": {"city": "Paris"}}}]},
            {"role": "user", "parts": [
                {"functionResponse": {"name": "get_weather",
                                      "response": {"result": "18C, sunny"}}},
                {"functionResponse": {"name": "get_time", "response": {"result": "14:05"}}},
                {"text": "Thanks, and tomorrow?"}]}]


def test_gemini_thought_signatures_travel_in_the_call_id() -> None:
    data = {"candidates": [{"content": {"role": "model", "parts": [
        {"functionCall": {"name": "get_weather", "args": {"city": "Oslo"}},
         "thoughtSignature": "c2lnbmF0dXJl+/="},
        {"functionCall": {"name": "get_time", "args": {"city": "Oslo"}}}]},
        "finishReason": "STOP"}]}
    calls = tuple(GeminiDialect().parse_answer(data).tool_calls)
    assert [c.id for c in calls] == ["call_0~c2lnbmF0dXJl+/=", "call_1"]
    history = (Message("user", "Oslo?"), Message("assistant", "", tool_calls=calls))
    for model in ("gemini-2.5-flash", "gemini-3-pro-preview"):
        parts = GeminiDialect().body(model, request(*history))["contents"][1]["parts"]
        assert parts == [
            {"functionCall": {"name": "get_weather", "args": {"city": "Oslo"}},
             "thoughtSignature": "c2lnbmF0dXJl+/="},
            {"functionCall": {"name": "get_time", "args": {"city": "Oslo"}}}]
    # A call without a signature (made by another model) gets Google's stand-in on Gemini 3.
    unsigned = (Message("user", "Oslo?"), Message("assistant", "", tool_calls=CALLS))
    parts = GeminiDialect().body("gemini-3-flash", request(*unsigned))["contents"][1]["parts"]
    assert [p.get("thoughtSignature") for p in parts] == [
        "skip_thought_signature_validator", None]
    parts = GeminiDialect().body("gemini-2.5-flash", request(*unsigned))["contents"][1]["parts"]
    assert all("thoughtSignature" not in p for p in parts)


def test_gemini_images_and_json_output() -> None:
    body = GeminiDialect().body("m", request(
        Message("user", "What is this?", images=(ImagePart(PNG), ImagePart(HTTPS))),
        output=OutputFormat("json_schema", SCHEMA)))
    assert body["contents"] == [{"role": "user", "parts": [
        {"text": "What is this?"},
        {"inlineData": {"mimeType": "image/png", "data": "iVBORw0KGgo="}},
        {"fileData": {"mimeType": "image/jpeg", "fileUri": HTTPS}}]}]
    assert body["generationConfig"] == {"responseMimeType": "application/json",
                                        "responseJsonSchema": SCHEMA}
    body = GeminiDialect().body("m", request(output=OutputFormat("json_object")))
    assert body["generationConfig"] == {"responseMimeType": "application/json"}


def test_gemini_reads_function_calls_with_stable_ids_whole_and_streamed() -> None:
    data = {"candidates": [{"content": {"role": "model", "parts": [
        {"functionCall": {"name": "get_weather", "args": {"city": "Oslo"}}},
        {"functionCall": {"name": "get_time", "args": {"city": "Oslo"}}}]},
        "finishReason": "STOP"}]}
    answer = GeminiDialect().parse_answer(data)
    assert answer.tool_calls == [ToolCall("call_0", "get_weather", {"city": "Oslo"}),
                                 ToolCall("call_1", "get_time", {"city": "Oslo"})]
    assert answer.finish_reason == "tool_calls"
    first = {"candidates": [{"content": {"role": "model", "parts": [
        {"functionCall": {"name": "get_weather", "args": {"city": "Oslo"}}}]}}]}
    second = {"candidates": [{"content": {"role": "model", "parts": [
        {"functionCall": {"name": "get_time", "args": {"city": "Oslo"}}}]},
        "finishReason": "STOP"}]}
    out, end = feed(GeminiDialect().stream_parser(), [(None, first), (None, second)])
    assert out == answer.tool_calls and end[1] == "tool_calls"


def test_gemini_reads_logprobs_as_openai_entries() -> None:
    data = {"candidates": [{"content": {"parts": [{"text": "Hi"}]}, "finishReason": "STOP",
                            "logprobsResult": {
                                "chosenCandidates": [{"token": "Hi", "logProbability": -0.5}],
                                "topCandidates": [{"candidates": [
                                    {"token": "Hi", "logProbability": -0.5},
                                    {"token": "Yo", "logProbability": -1.5}]}]}}]}
    entry = {"token": "Hi", "logprob": -0.5, "bytes": [72, 105], "top_logprobs": [
        {"token": "Hi", "logprob": -0.5, "bytes": [72, 105]},
        {"token": "Yo", "logprob": -1.5, "bytes": [89, 111]}]}
    assert GeminiDialect().parse_answer(data).logprobs == [entry]
    out, _ = feed(GeminiDialect().stream_parser(), [(None, data)])
    assert out == [TextDelta("Hi", (entry,))]


def test_gemini_refuses_serial_tool_calls_and_images_of_unknown_type() -> None:
    dialect = GeminiDialect()
    refusal = dialect.unsupported("m", request(tools=(WEATHER,), parallel_tool_calls=False))
    assert refusal is not None and refusal.param == "parallel_tool_calls"
    unknown = Message("user", "x", images=(ImagePart("https://example.com/image?id=3"),))
    refusal = dialect.unsupported("m", request(unknown))
    assert refusal is not None and refusal.param == "messages"
    assert dialect.unsupported("m", request(Message("user", "x", images=(
        ImagePart(HTTPS),)), seed=3, logprobs=True, user="u", parallel_tool_calls=True)) is None
