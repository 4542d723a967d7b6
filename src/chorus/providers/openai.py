"""The OpenAI chat-completions dialect; it also serves every OpenAI-compatible server."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import orjson

from chorus.errors import UpstreamError
from chorus.providers.wire import Answer, ErrorBody
from chorus.types import JSON, ModelRequest, TextDelta, Usage

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


class OpenAIStream:
    def __init__(self) -> None:
        self.usage: Usage | None = None
        self.finish_reason = "stop"
        self.done = False

    def feed(self, event: str | None, data: str) -> Iterator[TextDelta]:
        if data == "[DONE]":
            self.done = True
            return
        try:
            chunk = orjson.loads(data)
        except orjson.JSONDecodeError as exc:
            raise UpstreamError(f"malformed stream chunk: {data[:200]!r}") from exc
        if not isinstance(chunk, dict):
            raise UpstreamError(f"malformed stream chunk: {data[:200]!r}")
        if "error" in chunk:
            raise UpstreamError(_message(chunk) or "error event in stream")
        self.usage = _usage(chunk.get("usage")) or self.usage
        for choice in chunk.get("choices") or ():
            if choice.get("index", 0) != 0:
                continue
            text = (choice.get("delta") or {}).get("content")
            if text:
                yield TextDelta(text)
            if choice.get("finish_reason"):
                self.finish_reason = choice["finish_reason"]

    def finish(self) -> tuple[Usage | None, str]:
        if not self.done:
            raise UpstreamError("the stream ended before [DONE]", retryable=True)
        return self.usage, self.finish_reason


class OpenAIDialect:
    name = "openai"

    def url(self, base_url: str, upstream: str, stream: bool) -> str:
        return f"{base_url.rstrip('/')}/chat/completions"

    def headers(self, api_key: str | None) -> dict[str, str]:
        return {"authorization": f"Bearer {api_key}"} if api_key else {}

    def body(self, upstream: str, request: ModelRequest) -> JSON:
        body: JSON = {
            "model": upstream,
            "messages": [{"role": m.role, "content": m.content} for m in request.messages],
            "stream": request.stream,
        }
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

    def parse_answer(self, data: JSON) -> Answer:
        try:
            choice = data["choices"][0]
            text = choice["message"].get("content") or ""
        except (KeyError, IndexError, TypeError, AttributeError) as exc:
            raise UpstreamError(f"unexpected answer shape: {str(data)[:200]}") from exc
        return Answer(text, _usage(data.get("usage")), choice.get("finish_reason") or "stop")

    def stream_parser(self) -> OpenAIStream:
        return OpenAIStream()

    def read_error(self, status: int, data: JSON) -> ErrorBody:
        return ErrorBody(_message(data), credentials=status in (401, 403))
