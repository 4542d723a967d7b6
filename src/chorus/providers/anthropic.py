"""The Anthropic Messages dialect: `POST /v1/messages`, its SSE events and its usage."""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence
from typing import Any

from chorus.errors import UpstreamError
from chorus.providers.wire import Answer, ErrorBody, stream_json, tool_arguments
from chorus.types import JSON, Message, ModelRequest, TextDelta, ToolCall, Usage

API_VERSION = "2023-06-01"
DEFAULT_MAX_TOKENS = 4096
"""Anthropic requires `max_tokens`; this is what a request that sets none gets."""
MAX_TEMPERATURE = 1.0
"""Anthropic's temperature range is 0 to 1 (ours, like OpenAI's, goes to 2)."""
VERSIONED = re.compile(r"/v\d+[a-z0-9]*$")

FINISH_REASONS = {
    "end_turn": "stop",
    "stop_sequence": "stop",
    "pause_turn": "stop",
    "max_tokens": "length",
    "model_context_window_exceeded": "length",
    "tool_use": "tool_calls",
    "refusal": "content_filter",
}
RETRYABLE_ERRORS = frozenset({"overloaded_error", "api_error", "rate_limit_error"})


def finish_reason(stop_reason: object) -> str:
    return FINISH_REASONS.get(str(stop_reason), "stop") if stop_reason else "stop"


def turns(messages: Sequence[Message]) -> tuple[str, list[JSON]]:
    """The system prompt apart; user and assistant turns with same-role neighbours merged."""
    system = "\n\n".join(m.content for m in messages if m.role == "system" and m.content.strip())
    out: list[JSON] = []
    for message in messages:
        if message.tool_calls or message.role == "tool":
            _add_blocks(out, message)
            continue
        if message.role == "system" or not message.content.strip():
            continue  # Anthropic refuses empty text blocks
        if out and out[-1]["role"] == message.role and isinstance(out[-1]["content"], str):
            out[-1]["content"] += "\n\n" + message.content
        elif out and out[-1]["role"] == message.role:
            out[-1]["content"].append({"type": "text", "text": message.content})
        else:
            out.append({"role": message.role, "content": message.content})
    return system, out


def _add_blocks(out: list[JSON], message: Message) -> None:
    """Tool use rides in assistant content blocks; its results in the next user turn's."""
    role = "user" if message.role == "tool" else "assistant"
    blocks: list[JSON] = []
    if message.role == "tool":
        blocks.append({"type": "tool_result", "tool_use_id": message.tool_call_id,
                       "content": message.content})
    else:
        if message.content.strip():
            blocks.append({"type": "text", "text": message.content})
        blocks += [{"type": "tool_use", "id": call.id, "name": call.name,
                    "input": call.arguments} for call in message.tool_calls]
    if out and out[-1]["role"] == role:
        last = out[-1]
        if isinstance(last["content"], str):
            last["content"] = [{"type": "text", "text": last["content"]}]
        last["content"] += blocks
    else:
        out.append({"role": role, "content": blocks})


def _usage(data: Any, into: Usage | None = None) -> Usage | None:
    """Anthropic counts cached prompt tokens apart; all of them are prompt tokens to us."""
    if not isinstance(data, dict):
        return into
    usage = into or Usage()
    prompt = [data.get(k) for k in ("input_tokens", "cache_creation_input_tokens",
                                    "cache_read_input_tokens")]
    if any(isinstance(v, int) for v in prompt):
        usage.prompt_tokens = sum(v for v in prompt if isinstance(v, int))
    if isinstance(data.get("output_tokens"), int):
        usage.completion_tokens = data["output_tokens"]
    return usage


def _error(data: JSON) -> tuple[str | None, str | None]:
    """The error's type and message from `{"type": "error", "error": {"type", "message"}}`."""
    error = data.get("error")
    if isinstance(error, dict):
        kind = error.get("type")
        return (str(kind) if kind else None), str(error.get("message") or error)
    return None, (str(error) if error else None)


class AnthropicStream:
    def __init__(self) -> None:
        self.usage: Usage | None = None
        self.finish_reason = "stop"
        self.done = False
        self._tools: dict[int, tuple[str, str, list[str]]] = {}
        """tool_use blocks being streamed, by index: id, name and the JSON text so far."""

    def feed(self, event: str | None, data: str) -> Iterator[TextDelta | ToolCall]:
        payload = stream_json(data)
        kind = payload.get("type") or event
        if kind == "content_block_delta":
            delta = payload.get("delta")
            if not isinstance(delta, dict):
                raise UpstreamError(f"malformed stream event: {data[:200]!r}")
            if delta.get("type") == "text_delta" and delta.get("text"):
                yield TextDelta(str(delta["text"]))
            elif delta.get("type") == "input_json_delta":
                tool = self._tools.get(int(payload.get("index") or 0))
                if tool is not None:
                    tool[2].append(str(delta.get("partial_json") or ""))
        elif kind == "content_block_start":
            block = payload.get("content_block")
            if isinstance(block, dict) and block.get("type") == "tool_use":
                self._tools[int(payload.get("index") or 0)] = (
                    str(block.get("id") or ""), str(block.get("name") or ""), [])
        elif kind == "content_block_stop":
            tool = self._tools.pop(int(payload.get("index") or 0), None)
            if tool is not None:
                yield ToolCall(tool[0], tool[1], tool_arguments("".join(tool[2])))
        elif kind == "message_start":
            message = payload.get("message")
            self.usage = _usage(message.get("usage") if isinstance(message, dict) else None)
        elif kind == "message_delta":
            self.usage = _usage(payload.get("usage"), self.usage)
            delta = payload.get("delta")
            if isinstance(delta, dict) and delta.get("stop_reason"):
                self.finish_reason = finish_reason(delta["stop_reason"])
        elif kind == "message_stop":
            self.done = True
        elif kind == "error":
            error_type, message = _error(payload)
            raise UpstreamError(f"{error_type or 'error'}: {message or 'error event in stream'}",
                                retryable=error_type in RETRYABLE_ERRORS)
        # ping and event kinds added later carry nothing for us

    def finish(self) -> tuple[Usage | None, str]:
        if not self.done:
            raise UpstreamError("the stream ended before message_stop", retryable=True)
        return self.usage, self.finish_reason


class AnthropicDialect:
    name = "anthropic"

    def url(self, base_url: str, upstream: str, stream: bool) -> str:
        base = base_url.rstrip("/")
        # Accept the SDKs' base URL (no version) as well as ours (ending in /v1).
        return f"{base}/messages" if VERSIONED.search(base) else f"{base}/v1/messages"

    def headers(self, api_key: str | None) -> dict[str, str]:
        headers = {"anthropic-version": API_VERSION}
        if api_key:
            headers["x-api-key"] = api_key
        return headers

    def body(self, upstream: str, request: ModelRequest) -> JSON:
        system, messages = turns(request.messages)
        body: JSON = {
            "model": upstream,
            "messages": messages,
            "max_tokens": request.max_tokens or DEFAULT_MAX_TOKENS,
            "stream": request.stream,
        }
        if system:
            body["system"] = system
        if request.temperature is not None:
            body["temperature"] = min(request.temperature, MAX_TEMPERATURE)
        if request.stop:
            body["stop_sequences"] = list(request.stop)
        if request.tools:
            body["tools"] = [{"name": t.name, "description": t.description,
                              "input_schema": t.parameters} for t in request.tools]
        return body

    def parse_answer(self, data: JSON) -> Answer:
        content = data.get("content")
        if data.get("type") == "error" or not isinstance(content, list):
            raise UpstreamError(f"unexpected answer shape: {str(data)[:200]}")
        blocks = [block for block in content if isinstance(block, dict)]
        text = "".join(str(b.get("text") or "") for b in blocks if b.get("type") == "text")
        calls = [ToolCall(str(b.get("id") or ""), str(b.get("name") or ""),
                          tool_arguments(b.get("input")))
                 for b in blocks if b.get("type") == "tool_use"]
        return Answer(text, _usage(data.get("usage")), finish_reason(data.get("stop_reason")),
                      calls)

    def stream_parser(self) -> AnthropicStream:
        return AnthropicStream()

    def read_error(self, status: int, data: JSON) -> ErrorBody:
        error_type, message = _error(data)
        if error_type and message:
            message = f"{error_type}: {message}"
        return ErrorBody(message, credentials=status in (401, 403))
