"""The fake's Anthropic Messages wire format: `POST /v1/messages`, JSON or named SSE events."""

from __future__ import annotations

import orjson

from chorus.fakellm.wire import Parsed, Route
from chorus.types import JSON, ToolCall

ERROR_TYPES = {400: "invalid_request_error", 401: "authentication_error",
               403: "permission_error", 404: "not_found_error", 413: "request_too_large",
               429: "rate_limit_error", 500: "api_error", 529: "overloaded_error"}
MESSAGE_ID = "msg_fake0000000000000000"


def _text(content: object) -> str:
    if isinstance(content, list):
        return "".join(str(b.get("text", "")) for b in content
                       if isinstance(b, dict) and b.get("type", "text") == "text")
    return "" if content is None else str(content)


def _turns(role: str, content: object) -> list[tuple[str, str]]:
    """One message as (role, text) pairs; each tool_result block is a `tool` turn."""
    if not isinstance(content, list):
        return [(role, _text(content))]
    results = [("tool", _text(b.get("content"))) for b in content
               if isinstance(b, dict) and b.get("type") == "tool_result"]
    text = _text(content)
    return [*results, (role, text)] if text or not results else results


def _usage(usage: tuple[int, int]) -> JSON:
    return {"input_tokens": usage[0], "output_tokens": usage[1]}


def _message(model: str, content: list[JSON], stop_reason: str | None,
             usage: JSON) -> JSON:
    return {"id": MESSAGE_ID, "type": "message", "role": "assistant", "model": model,
            "content": content, "stop_reason": stop_reason, "stop_sequence": None,
            "usage": usage}


def _event(name: str, payload: JSON) -> bytes:
    return b"event: " + name.encode() + b"\ndata: " + orjson.dumps(payload) + b"\n\n"


class AnthropicWire:
    routes: tuple[Route, ...] = (Route("/v1/messages"), Route("/messages"))

    def parse(self, body: JSON, path_model: str | None, stream_path: bool) -> Parsed:
        messages: list[tuple[str, str]] = []
        if body.get("system"):
            messages.append(("system", _text(body["system"])))
        for message in body["messages"]:
            messages += _turns(str(message["role"]), message.get("content"))
        tools = [str(t["name"]) for t in body.get("tools") or () if isinstance(t, dict)]
        return Parsed(str(body["model"]), messages, bool(body.get("stream")), True,
                      tools or None)

    def answer(self, model: str, text: str, usage: tuple[int, int]) -> JSON:
        return _message(model, [{"type": "text", "text": text}], "end_turn", _usage(usage))

    def tool_answer(self, model: str, call: ToolCall, usage: tuple[int, int]) -> JSON:
        block = {"type": "tool_use", "id": f"toolu_{call.id}", "name": call.name,
                 "input": call.arguments}
        return _message(model, [block], "tool_use", _usage(usage))

    def start(self, model: str, usage: tuple[int, int]) -> list[bytes]:
        return [
            _event("message_start", {"type": "message_start", "message": _message(
                model, [], None, {"input_tokens": usage[0], "output_tokens": 1})}),
            _event("content_block_start", {"type": "content_block_start", "index": 0,
                                           "content_block": {"type": "text", "text": ""}}),
            _event("ping", {"type": "ping"}),
        ]

    def delta(self, model: str, text: str) -> bytes:
        return _event("content_block_delta", {"type": "content_block_delta", "index": 0,
                                              "delta": {"type": "text_delta", "text": text}})

    def end(self, model: str, usage: tuple[int, int], include_usage: bool) -> list[bytes]:
        return [
            _event("content_block_stop", {"type": "content_block_stop", "index": 0}),
            _event("message_delta", {"type": "message_delta",
                                     "delta": {"stop_reason": "end_turn", "stop_sequence": None},
                                     "usage": {"output_tokens": usage[1]}}),
            _event("message_stop", {"type": "message_stop"}),
        ]

    def tool_frames(self, model: str, call: ToolCall, usage: tuple[int, int]) -> list[bytes]:
        arguments = orjson.dumps(call.arguments).decode()
        half = len(arguments) // 2
        block = {"type": "tool_use", "id": f"toolu_{call.id}", "name": call.name, "input": {}}
        return [
            _event("message_start", {"type": "message_start", "message": _message(
                model, [], None, {"input_tokens": usage[0], "output_tokens": 1})}),
            _event("content_block_start", {"type": "content_block_start", "index": 0,
                                           "content_block": block}),
            *(_event("content_block_delta", {
                "type": "content_block_delta", "index": 0,
                "delta": {"type": "input_json_delta", "partial_json": part}})
              for part in (arguments[:half], arguments[half:])),
            _event("content_block_stop", {"type": "content_block_stop", "index": 0}),
            _event("message_delta", {"type": "message_delta",
                                     "delta": {"stop_reason": "tool_use", "stop_sequence": None},
                                     "usage": {"output_tokens": usage[1]}}),
            _event("message_stop", {"type": "message_stop"}),
        ]

    def malformed(self) -> bytes:
        return (b'event: content_block_delta\ndata: {"type": "content_block_delta", '
                b'"index": 0, "delta": {"type": "text_de\n\n')

    def error(self, status: int, message: str) -> JSON:
        return {"type": "error",
                "error": {"type": ERROR_TYPES.get(status, "api_error"), "message": message}}
