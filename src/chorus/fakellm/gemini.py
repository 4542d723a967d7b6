"""The fake's Gemini wire format: `models/{m}:generateContent` and `:streamGenerateContent`."""

from __future__ import annotations

import orjson

from chorus.fakellm.wire import Parsed, Route
from chorus.types import JSON, ToolCall

STATUSES = {400: "INVALID_ARGUMENT", 401: "UNAUTHENTICATED", 403: "PERMISSION_DENIED",
            404: "NOT_FOUND", 429: "RESOURCE_EXHAUSTED", 500: "INTERNAL", 503: "UNAVAILABLE"}
RESPONSE_ID = "fakeResponse0000"


def _get(body: JSON, camel: str, snake: str) -> object:
    """Google's JSON accepts both spellings of a field."""
    return body.get(camel, body.get(snake))


def _turns(content: JSON) -> list[tuple[str, str]]:
    """One content as (role, text) pairs; each functionResponse part is a `tool` turn."""
    role = "assistant" if content.get("role") == "model" else "user"
    parts = [p for p in content.get("parts") or () if isinstance(p, dict)]
    results = [("tool", orjson.dumps(_get(p, "functionResponse", "function_response")).decode())
               for p in parts if _get(p, "functionResponse", "function_response")]
    text = "".join(str(p.get("text", "")) for p in parts)
    return [*results, (role, text)] if text or not results else results


def _declarations(tool: JSON) -> list[JSON]:
    found = _get(tool, "functionDeclarations", "function_declarations")
    return [d for d in found if isinstance(d, dict)] if isinstance(found, list) else []


def _usage(usage: tuple[int, int]) -> JSON:
    return {"promptTokenCount": usage[0], "candidatesTokenCount": usage[1],
            "totalTokenCount": usage[0] + usage[1]}


def _response(model: str, parts: list[JSON], finish: str | None,
              usage: JSON | None) -> JSON:
    candidate: JSON = {"content": {"parts": parts, "role": "model"}, "index": 0}
    if finish:
        candidate["finishReason"] = finish
    payload: JSON = {"candidates": [candidate]}
    if usage is not None:
        payload["usageMetadata"] = usage
    payload["modelVersion"] = model
    payload["responseId"] = RESPONSE_ID
    return payload


def _frame(payload: JSON) -> bytes:
    return b"data: " + orjson.dumps(payload) + b"\r\n\r\n"


class GeminiWire:
    routes: tuple[Route, ...] = (
        Route("/v1beta/models/{model}:generateContent"),
        Route("/v1beta/models/{model}:streamGenerateContent", stream=True),
        Route("/v1/models/{model}:generateContent"),
        Route("/v1/models/{model}:streamGenerateContent", stream=True),
    )

    def parse(self, body: JSON, path_model: str | None, stream_path: bool) -> Parsed:
        messages: list[tuple[str, str]] = []
        system = _get(body, "systemInstruction", "system_instruction")
        if isinstance(system, dict):
            messages.append(("system", "".join(str(p.get("text", ""))
                                               for p in system.get("parts") or ())))
        for content in body["contents"]:
            messages += _turns(content)
        tools = [str(d["name"]) for tool in body.get("tools") or () if isinstance(tool, dict)
                 for d in _declarations(tool)]
        return Parsed(str(path_model or ""), messages, stream_path, True, tools or None)

    def answer(self, model: str, text: str, usage: tuple[int, int]) -> JSON:
        return _response(model, [{"text": text}], "STOP", _usage(usage))

    def tool_answer(self, model: str, call: ToolCall, usage: tuple[int, int]) -> JSON:
        part = {"functionCall": {"name": call.name, "args": call.arguments}}
        return _response(model, [part], "STOP", _usage(usage))

    def start(self, model: str, usage: tuple[int, int]) -> list[bytes]:
        return []  # Gemini's first chunk already carries text

    def delta(self, model: str, text: str) -> bytes:
        return _frame(_response(model, [{"text": text}], None, None))

    def end(self, model: str, usage: tuple[int, int], include_usage: bool) -> list[bytes]:
        return [_frame(_response(model, [{"text": ""}], "STOP", _usage(usage)))]

    def tool_frames(self, model: str, call: ToolCall, usage: tuple[int, int]) -> list[bytes]:
        part = {"functionCall": {"name": call.name, "args": call.arguments}}
        return [_frame(_response(model, [part], "STOP", _usage(usage)))]

    def malformed(self) -> bytes:
        return b'data: {"candidates": [{"content": {"parts": [{"text": "trunc\r\n\r\n'

    def error(self, status: int, message: str) -> JSON:
        return {"error": {"code": status, "message": message,
                          "status": STATUSES.get(status, "UNKNOWN")}}
