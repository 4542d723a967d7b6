"""The fake's OpenAI chat-completions wire format."""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Any

import orjson

from chorus.fakellm.wire import Calls, Parsed, Route, arguments_json, as_calls
from chorus.types import (
    JSON,
    ImagePart,
    Message,
    ModelRequest,
    OutputFormat,
    Role,
    ToolCall,
    ToolChoice,
    ToolSpec,
)

ERROR_TYPES = {400: "invalid_request_error", 401: "invalid_request_error",
               429: "rate_limit_exceeded", 500: "server_error"}

ROLES: dict[str, Role] = {"system": "system", "developer": "system", "user": "user",
                          "assistant": "assistant", "tool": "tool"}


def _content_text(content: object) -> str:
    if isinstance(content, list):
        return "".join(str(p.get("text", "")) for p in content if isinstance(p, dict))
    return "" if content is None else str(content)


def _images(content: object) -> tuple[ImagePart, ...]:
    if not isinstance(content, list):
        return ()
    return tuple(ImagePart(str(p["image_url"]["url"]), p["image_url"].get("detail"))
                 for p in content if isinstance(p, dict) and p.get("type") == "image_url")


def _message(data: JSON, names: dict[str, str]) -> Message:
    calls = tuple(ToolCall(str(c["id"]), str(c["function"]["name"]),
                           arguments_json(c["function"].get("arguments")))
                  for c in data.get("tool_calls") or ())
    names.update({call.id: call.name for call in calls})
    call_id = data.get("tool_call_id")
    return Message(ROLES.get(str(data.get("role")), "user"),
                   _content_text(data.get("content")), calls,
                   str(call_id) if call_id else None,
                   names.get(str(call_id)) if call_id else None, _images(data.get("content")))


def _choice(raw: object) -> ToolChoice | None:
    if isinstance(raw, dict):
        return ToolChoice("function", str(raw["function"]["name"]))
    return ToolChoice(raw) if raw in ("auto", "none", "required") else None


def _output(raw: object) -> OutputFormat | None:
    if not isinstance(raw, dict) or raw.get("type") not in ("json_object", "json_schema"):
        return None
    if raw["type"] == "json_object":
        return OutputFormat("json_object")
    spec = raw.get("json_schema") or {}
    return OutputFormat("json_schema", spec.get("schema"), str(spec.get("name") or "response"),
                        spec.get("strict"))


def decode(body: JSON) -> ModelRequest:
    """A chat-completions body in our terms."""
    names: dict[str, str] = {}
    tools = tuple(ToolSpec(str(t["function"]["name"]), str(t["function"].get("description", "")),
                           t["function"].get("parameters") or {"type": "object"},
                           t["function"].get("strict"))
                  for t in body.get("tools") or () if isinstance(t, dict) and "function" in t)
    stop = body.get("stop")
    options: dict[str, Any] = {k: body.get(k) for k in (
        "temperature", "top_p", "seed", "presence_penalty", "frequency_penalty", "logprobs",
        "top_logprobs", "user", "parallel_tool_calls")}
    return ModelRequest(
        tuple(_message(m, names) for m in body.get("messages", [])),
        max_tokens=body.get("max_completion_tokens") or body.get("max_tokens"),
        stop=(stop,) if isinstance(stop, str) else tuple(stop) if stop else None,
        stream=bool(body.get("stream")), tools=tools, tool_choice=_choice(body.get("tool_choice")),
        output=_output(body.get("response_format")), **options)


class OpenAIWire:
    routes: tuple[Route, ...] = (Route("/v1/chat/completions"), Route("/chat/completions"))

    def parse(self, body: JSON, path_model: str | None, stream_path: bool) -> Parsed:
        messages = [(str(m.get("role")), _content_text(m.get("content")))
                    for m in body.get("messages", [])]
        options = body.get("stream_options") or {}
        tools = [t["function"]["name"] for t in body.get("tools") or ()
                 if isinstance(t, dict) and "function" in t]
        return Parsed(str(body.get("model", "")), messages, bool(body.get("stream")),
                      bool(options.get("include_usage")), tools or None, decode(body))

    def answer(self, model: str, text: str, usage: tuple[int, int],
               logprobs: Sequence[JSON] = ()) -> JSON:
        return {
            "id": "chatcmpl-fake", "object": "chat.completion", "created": int(time.time()),
            "model": model,
            "choices": [{"index": 0, "message": {"role": "assistant", "content": text},
                         "logprobs": {"content": list(logprobs)} if logprobs else None,
                         "finish_reason": "stop"}],
            "usage": _usage(usage),
        }

    def tool_answer(self, model: str, calls: Calls, usage: tuple[int, int]) -> JSON:
        message = {"role": "assistant", "content": None,
                   "tool_calls": [_tool_call_json(call) for call in as_calls(calls)]}
        return {"id": "chatcmpl-fake", "object": "chat.completion", "created": int(time.time()),
                "model": model,
                "choices": [{"index": 0, "message": message, "finish_reason": "tool_calls"}],
                "usage": _usage(usage)}

    def start(self, model: str, usage: tuple[int, int]) -> list[bytes]:
        return [_frame(_chunk(model, {"role": "assistant", "content": ""}, None))]

    def delta(self, model: str, text: str, logprobs: Sequence[JSON] = ()) -> bytes:
        chunk = _chunk(model, {"content": text}, None)
        if logprobs:
            chunk["choices"][0]["logprobs"] = {"content": list(logprobs)}
        return _frame(chunk)

    def end(self, model: str, usage: tuple[int, int], include_usage: bool) -> list[bytes]:
        frames = [_frame(_chunk(model, {}, "stop"))]
        if include_usage:
            frames.append(_frame({**_chunk(model, {}, None), "choices": [],
                                  "usage": _usage(usage)}))
        frames.append(b"data: [DONE]\n\n")
        return frames

    def tool_frames(self, model: str, calls: Calls, usage: tuple[int, int]) -> list[bytes]:
        """Each call as OpenAI streams it: id and name first, then argument fragments."""
        frames = [_frame(_chunk(model, {"role": "assistant", "content": None}, None))]
        for index, call in enumerate(as_calls(calls)):
            first = {"index": index, "id": call.id, "type": "function",
                     "function": {"name": call.name, "arguments": ""}}
            frames.append(_frame(_chunk(model, {"tool_calls": [first]}, None)))
            arguments = orjson.dumps(call.arguments).decode()
            half = len(arguments) // 2
            frames += [_frame(_chunk(model, {"tool_calls": [
                {"index": index, "function": {"arguments": part}}]}, None))
                for part in (arguments[:half], arguments[half:])]
        return [
            *frames,
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
