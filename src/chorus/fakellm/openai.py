"""The fake's OpenAI chat-completions wire format."""

from __future__ import annotations

import time

import orjson

from chorus.fakellm.wire import Parsed, Route
from chorus.types import JSON, ToolCall

ERROR_TYPES = {400: "invalid_request_error", 401: "invalid_request_error",
               429: "rate_limit_exceeded", 500: "server_error"}


def _content_text(content: object) -> str:
    if isinstance(content, list):
        return "".join(str(p.get("text", "")) for p in content if isinstance(p, dict))
    return "" if content is None else str(content)


class OpenAIWire:
    routes: tuple[Route, ...] = (Route("/v1/chat/completions"), Route("/chat/completions"))

    def parse(self, body: JSON, path_model: str | None, stream_path: bool) -> Parsed:
        messages = [(str(m.get("role")), _content_text(m.get("content")))
                    for m in body.get("messages", [])]
        options = body.get("stream_options") or {}
        tools = [t["function"]["name"] for t in body.get("tools") or ()
                 if isinstance(t, dict) and "function" in t]
        return Parsed(str(body.get("model", "")), messages, bool(body.get("stream")),
                      bool(options.get("include_usage")), tools or None)

    def answer(self, model: str, text: str, usage: tuple[int, int]) -> JSON:
        return {
            "id": "chatcmpl-fake", "object": "chat.completion", "created": int(time.time()),
            "model": model,
            "choices": [{"index": 0, "message": {"role": "assistant", "content": text},
                         "logprobs": None, "finish_reason": "stop"}],
            "usage": _usage(usage),
        }

    def tool_answer(self, model: str, call: ToolCall, usage: tuple[int, int]) -> JSON:
        message = {"role": "assistant", "content": None,
                   "tool_calls": [_tool_call_json(call)]}
        return {"id": "chatcmpl-fake", "object": "chat.completion", "created": int(time.time()),
                "model": model,
                "choices": [{"index": 0, "message": message, "finish_reason": "tool_calls"}],
                "usage": _usage(usage)}

    def start(self, model: str, usage: tuple[int, int]) -> list[bytes]:
        return [_frame(_chunk(model, {"role": "assistant", "content": ""}, None))]

    def delta(self, model: str, text: str) -> bytes:
        return _frame(_chunk(model, {"content": text}, None))

    def end(self, model: str, usage: tuple[int, int], include_usage: bool) -> list[bytes]:
        frames = [_frame(_chunk(model, {}, "stop"))]
        if include_usage:
            frames.append(_frame({**_chunk(model, {}, None), "choices": [],
                                  "usage": _usage(usage)}))
        frames.append(b"data: [DONE]\n\n")
        return frames

    def tool_frames(self, model: str, call: ToolCall, usage: tuple[int, int]) -> list[bytes]:
        first = {"index": 0, "id": call.id, "type": "function",
                 "function": {"name": call.name, "arguments": ""}}
        args = {"index": 0, "function": {"arguments": orjson.dumps(call.arguments).decode()}}
        return [
            _frame(_chunk(model, {"role": "assistant", "content": None, "tool_calls": [first]},
                          None)),
            _frame(_chunk(model, {"tool_calls": [args]}, None)),
            _frame(_chunk(model, {}, "tool_calls")),
            _frame({**_chunk(model, {}, None), "choices": [], "usage": _usage(usage)}),
            b"data: [DONE]\n\n",
        ]

    def malformed(self) -> bytes:
        return b'data: {"id": "chatcmpl-fake", "choices": [{"delta": {"content": "trunc\n\n'

    def error(self, status: int, message: str) -> JSON:
        return {"error": {"message": message, "type": ERROR_TYPES.get(status, "api_error"),
                          "param": None, "code": None}}


def _tool_call_json(call: ToolCall) -> JSON:
    return {"id": call.id, "type": "function",
            "function": {"name": call.name, "arguments": orjson.dumps(call.arguments).decode()}}


def _usage(usage: tuple[int, int]) -> JSON:
    return {"prompt_tokens": usage[0], "completion_tokens": usage[1],
            "total_tokens": usage[0] + usage[1]}


def _chunk(model: str, delta: JSON, finish: str | None) -> JSON:
    return {"id": "chatcmpl-fake", "object": "chat.completion.chunk", "created": 0,
            "model": model, "choices": [{"index": 0, "delta": delta, "finish_reason": finish}]}


def _frame(payload: JSON) -> bytes:
    return b"data: " + orjson.dumps(payload) + b"\n\n"
