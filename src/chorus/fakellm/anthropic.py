"""The fake's Anthropic Messages wire format: `POST /v1/messages`, JSON or named SSE events."""

from __future__ import annotations

from collections.abc import Sequence

import orjson

from chorus.fakellm.wire import Calls, Parsed, Route, as_calls
from chorus.types import (
    JSON,
    ImagePart,
    Message,
    ModelRequest,
    OutputFormat,
    ToolCall,
    ToolChoice,
    ToolSpec,
)

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


def _image(block: JSON) -> ImagePart:
    source = block.get("source") or {}
    if source.get("type") == "base64":
        return ImagePart(f"data:{source.get('media_type')};base64,{source.get('data')}")
    return ImagePart(str(source.get("url")))


def _messages(data: JSON, names: dict[str, str]) -> list[Message]:
    """One Anthropic message as ours: tool results become `tool` messages before its text."""
    role = str(data["role"])
    content = data.get("content")
    blocks = [b for b in content if isinstance(b, dict)] if isinstance(content, list) else []
    calls = tuple(ToolCall(str(b["id"]), str(b["name"]), b.get("input") or {})
                  for b in blocks if b.get("type") == "tool_use")
    names.update({call.id: call.name for call in calls})
    out = [Message("tool", _text(b.get("content")), tool_call_id=str(b["tool_use_id"]),
                   name=names.get(str(b["tool_use_id"])))
           for b in blocks if b.get("type") == "tool_result"]
    images = tuple(_image(b) for b in blocks if b.get("type") == "image")
    text = _text(content)
    if text or calls or images or not out:
        out.append(Message("assistant" if role == "assistant" else "user", text, calls,
                           images=images))
    return out


def _choice(raw: object) -> tuple[ToolChoice | None, bool | None]:
    """Anthropic's tool_choice as ours, and whether parallel calls were turned off."""
    if not isinstance(raw, dict):
        return None, None
    serial = False if raw.get("disable_parallel_tool_use") else None
    kinds = {"auto": "auto", "any": "required", "none": "none"}
    if raw.get("type") == "tool":
        return ToolChoice("function", str(raw.get("name"))), serial
    kind = kinds.get(str(raw.get("type")))
    return (ToolChoice(kind) if kind else None), serial  # type: ignore[arg-type]


def decode(body: JSON) -> ModelRequest:
    """A Messages body in our terms."""
    names: dict[str, str] = {}
    messages = [Message("system", _text(body["system"]))] if body.get("system") else []
    for message in body["messages"]:
        messages += _messages(message, names)
    tools = tuple(ToolSpec(str(t["name"]), str(t.get("description", "")),
                           t.get("input_schema") or {"type": "object"}, t.get("strict"))
                  for t in body.get("tools") or () if isinstance(t, dict) and "name" in t)
    choice, parallel = _choice(body.get("tool_choice"))
    found = ((body.get("output_config") or {}).get("format")
             or body.get("output_format") or {})
    output = (OutputFormat("json_schema", found.get("schema"))
              if found.get("type") == "json_schema" else None)
    stop = body.get("stop_sequences")
    return ModelRequest(tuple(messages), body.get("temperature"), body.get("max_tokens"),
                        tuple(stop) if stop else None, bool(body.get("stream")), tools, choice,
                        parallel, output, top_p=body.get("top_p"))


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
                      tools or None, decode(body))

    def answer(self, model: str, text: str, usage: tuple[int, int],
               logprobs: Sequence[JSON] = ()) -> JSON:
        return _message(model, [{"type": "text", "text": text}], "end_turn", _usage(usage))

    def tool_answer(self, model: str, calls: Calls, usage: tuple[int, int]) -> JSON:
        blocks: list[JSON] = [{"type": "tool_use", "id": f"toolu_{call.id}", "name": call.name,
                               "input": call.arguments} for call in as_calls(calls)]
        return _message(model, blocks, "tool_use", _usage(usage))

    def start(self, model: str, usage: tuple[int, int]) -> list[bytes]:
        return [
            _event("message_start", {"type": "message_start", "message": _message(
                model, [], None, {"input_tokens": usage[0], "output_tokens": 1})}),
            _event("content_block_start", {"type": "content_block_start", "index": 0,
                                           "content_block": {"type": "text", "text": ""}}),
            _event("ping", {"type": "ping"}),
        ]

    def delta(self, model: str, text: str, logprobs: Sequence[JSON] = ()) -> bytes:
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

    def tool_frames(self, model: str, calls: Calls, usage: tuple[int, int]) -> list[bytes]:
        """Each call a tool_use block whose input comes as input_json_delta fragments."""
        frames = [_event("message_start", {"type": "message_start", "message": _message(
            model, [], None, {"input_tokens": usage[0], "output_tokens": 1})})]
        for index, call in enumerate(as_calls(calls)):
            arguments = orjson.dumps(call.arguments).decode()
            half = len(arguments) // 2
            block = {"type": "tool_use", "id": f"toolu_{call.id}", "name": call.name,
                     "input": {}}
            frames.append(_event("content_block_start", {
                "type": "content_block_start", "index": index, "content_block": block}))
            frames += [_event("content_block_delta", {
                "type": "content_block_delta", "index": index,
                "delta": {"type": "input_json_delta", "partial_json": part}})
                for part in (arguments[:half], arguments[half:])]
            frames.append(_event("content_block_stop", {"type": "content_block_stop",
                                                        "index": index}))
        return [
            *frames,
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
