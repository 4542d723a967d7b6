"""The OpenAI chat-completions dialect; it also serves every OpenAI-compatible server."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import orjson

from chorus.errors import UpstreamError
from chorus.providers.wire import Answer, ErrorBody, Refusal, stream_json, tool_arguments
from chorus.types import (
    JSON,
    ImagePart,
    Message,
    ModelRequest,
    OutputFormat,
    TextDelta,
    ToolCall,
    ToolChoice,
    ToolSpec,
    Usage,
)

REASONING_MODEL = re.compile(r"^(o\d|gpt-5)")
"""OpenAI's reasoning models refuse `max_tokens` and `temperature`; they take
`max_completion_tokens` instead."""


def _usage(data: Any) -> Usage | None:
    if not isinstance(data, dict):
        return None
    return Usage(int(data.get("prompt_tokens") or 0), int(data.get("completion_tokens") or 0))


def _message(data: JSON) -> str | None:
    error = data.get("error")
    if isinstance(error, dict):
        return str(error.get("message") or error)
    return str(error) if error else None


def _logprobs(choice: JSON) -> list[JSON]:
    """The `logprobs.content` entries of a choice (a whole answer's or a stream chunk's)."""
    found = choice.get("logprobs")
    content = found.get("content") if isinstance(found, dict) else None
    return [e for e in content if isinstance(e, dict)] if isinstance(content, list) else []


def _finish(reason: str, called: bool) -> str:
    """Some OpenAI-compatible servers say `stop` after tool calls; the caller needs to know."""
    return "tool_calls" if called and reason == "stop" else reason


def _image_json(image: ImagePart) -> JSON:
    url: JSON = {"url": image.url}
    if image.detail is not None:
        url["detail"] = image.detail
    return {"type": "image_url", "image_url": url}


def _message_json(message: Message) -> JSON:
    if message.role == "tool":
        return {"role": "tool", "tool_call_id": message.tool_call_id, "content": message.content}
    out: JSON = {"role": message.role, "content": message.content}
    if message.images:
        text = [{"type": "text", "text": message.content}] if message.content else []
        out["content"] = text + [_image_json(image) for image in message.images]
    if message.tool_calls:
        out["content"] = message.content or None
        out["tool_calls"] = [
            {"id": call.id, "type": "function",
             "function": {"name": call.name, "arguments": orjson.dumps(call.arguments).decode()}}
            for call in message.tool_calls]
    return out


def _tool_json(tool: ToolSpec) -> JSON:
    function: JSON = {"name": tool.name, "description": tool.description,
                      "parameters": tool.parameters}
    if tool.strict is not None:
        function["strict"] = tool.strict
    return {"type": "function", "function": function}


def _tool_choice_json(choice: ToolChoice) -> str | JSON:
    if choice.kind == "function":
        return {"type": "function", "function": {"name": choice.name}}
    return choice.kind


def _response_format(output: OutputFormat) -> JSON:
    if output.kind == "json_object":
        return {"type": "json_object"}
    schema: JSON = {"name": output.name, "schema": output.schema or {}}
    if output.strict is not None:
        schema["strict"] = output.strict
    if output.description is not None:
        schema["description"] = output.description
    return {"type": "json_schema", "json_schema": schema}


def _sampling(request: ModelRequest) -> JSON:
    """The fields OpenAI takes exactly as we hold them, when set."""
    fields = {"top_p": request.top_p, "seed": request.seed,
              "presence_penalty": request.presence_penalty,
              "frequency_penalty": request.frequency_penalty, "logprobs": request.logprobs,
              "top_logprobs": request.top_logprobs, "user": request.user,
              "parallel_tool_calls": request.parallel_tool_calls if request.tools else None}
    return {name: value for name, value in fields.items() if value is not None}


class OpenAIStream:
    def __init__(self) -> None:
        self.usage: Usage | None = None
        self.finish_reason = "stop"
        self.done = False
        self.called = False
        self._calls: dict[int, dict[str, str]] = {}
        """Tool calls being streamed, by index: id, name and the argument text so far."""

    def _tool_deltas(self, deltas: object) -> None:
        for delta in deltas if isinstance(deltas, list) else ():
            if not isinstance(delta, dict):
                continue
            call = self._calls.setdefault(int(delta.get("index") or 0),
                                          {"id": "", "name": "", "arguments": ""})
            function = delta.get("function") or {}
            call["id"] = delta.get("id") or call["id"]
            call["name"] = function.get("name") or call["name"]
            call["arguments"] += function.get("arguments") or ""

    def _whole_calls(self) -> Iterator[ToolCall]:
        calls, self._calls = self._calls, {}
        self.called = self.called or bool(calls)
        for index, call in sorted(calls.items()):
            yield ToolCall(call["id"] or f"call_{index}", call["name"],
                           tool_arguments(call["arguments"]))

    def feed(self, event: str | None, data: str) -> Iterator[TextDelta | ToolCall]:
        if data == "[DONE]":
            self.done = True
            yield from self._whole_calls()
            return
        chunk = stream_json(data)
        if "error" in chunk:
            raise UpstreamError(_message(chunk) or "error event in stream")
        # Each chunk, the usual case first: no usage yet, text without logprobs, no calls.
        usage = chunk.get("usage")
        if usage is not None:
            self.usage = _usage(usage) or self.usage
        for choice in chunk.get("choices") or ():
            if choice.get("index", 0) != 0:
                continue
            delta = choice.get("delta") or {}
            text = delta.get("content")
            if text:
                yield TextDelta(text, tuple(_logprobs(choice)) if choice.get("logprobs") else ())
            calls = delta.get("tool_calls")
            if calls:
                self._tool_deltas(calls)
            if choice.get("finish_reason"):
                self.finish_reason = choice["finish_reason"]
                yield from self._whole_calls()

    def finish(self) -> tuple[Usage | None, str]:
        if not self.done:
            raise UpstreamError("the stream ended before [DONE]", retryable=True)
        return self.usage, _finish(self.finish_reason, self.called)


class OpenAIDialect:
    name = "openai"

    def url(self, base_url: str, upstream: str, stream: bool) -> str:
        return f"{base_url.rstrip('/')}/chat/completions"

    def headers(self, api_key: str | None) -> dict[str, str]:
        return {"authorization": f"Bearer {api_key}"} if api_key else {}

    def body(self, upstream: str, request: ModelRequest) -> JSON:
        body: JSON = {
            "model": upstream,
            "messages": [_message_json(m) for m in request.messages],
            "stream": request.stream,
        }
        if request.tools:
            body["tools"] = [_tool_json(tool) for tool in request.tools]
        if request.tool_choice is not None and request.tools:
            body["tool_choice"] = _tool_choice_json(request.tool_choice)
        if request.output is not None:
            body["response_format"] = _response_format(request.output)
        body.update(_sampling(request))
        if request.stream:
            body["stream_options"] = {"include_usage": True}
        reasoning = REASONING_MODEL.match(upstream) is not None
        if request.temperature is not None and not reasoning:
            body["temperature"] = request.temperature
        if request.max_tokens is not None:
            body["max_completion_tokens" if reasoning else "max_tokens"] = request.max_tokens
        if request.stop:
            body["stop"] = list(request.stop)
        return body

    def unsupported(self, upstream: str, request: ModelRequest) -> Refusal | None:
        """OpenAI-compatible upstreams take every field we hold; they judge them themselves."""
        return None

    def parse_answer(self, data: JSON, request: ModelRequest | None = None) -> Answer:
        try:
            choice = data["choices"][0]
            text = choice["message"].get("content") or ""
            calls = [ToolCall(str(c.get("id") or f"call_{i}"), str(c["function"]["name"]),
                              tool_arguments(c["function"].get("arguments")))
                     for i, c in enumerate(choice["message"].get("tool_calls") or ())]
        except (KeyError, IndexError, TypeError, AttributeError) as exc:
            raise UpstreamError(f"unexpected answer shape: {str(data)[:200]}") from exc
        return Answer(text, _usage(data.get("usage")),
                      _finish(choice.get("finish_reason") or "stop", bool(calls)), calls,
                      _logprobs(choice))

    def stream_parser(self, request: ModelRequest | None = None) -> OpenAIStream:
        return OpenAIStream()

    def read_error(self, status: int, data: JSON) -> ErrorBody:
        return ErrorBody(_message(data), credentials=status in (401, 403))
