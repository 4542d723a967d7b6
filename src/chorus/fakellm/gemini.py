"""The fake's Gemini wire format: `models/{m}:generateContent` and `:streamGenerateContent`."""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

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


def _image(part: JSON) -> ImagePart | None:
    inline = _get(part, "inlineData", "inline_data")
    if isinstance(inline, dict):
        return ImagePart(f"data:{_get(inline, 'mimeType', 'mime_type')};base64,"
                         f"{inline.get('data')}")
    found = _get(part, "fileData", "file_data")
    return ImagePart(str(_get(found, "fileUri", "file_uri"))) if isinstance(found, dict) \
        else None


def _messages(content: JSON, calls_so_far: list[ToolCall]) -> list[Message]:
    """One content as our messages; calls get ids `call_<n>` in order, and each function
    response answers the latest call of its name."""
    parts = [p for p in content.get("parts") or () if isinstance(p, dict)]
    text = "".join(str(p.get("text", "")) for p in parts)
    images = tuple(i for i in map(_image, parts) if i is not None)
    if content.get("role") == "model":
        found = [_get(p, "functionCall", "function_call") for p in parts]
        calls = [ToolCall(f"call_{len(calls_so_far) + i}", str(c["name"]), c.get("args") or {})
                 for i, c in enumerate(c for c in found if isinstance(c, dict))]
        calls_so_far += calls
        return [Message("assistant", text, tuple(calls))]
    out: list[Message] = []
    for part in parts:
        response = _get(part, "functionResponse", "function_response")
        if isinstance(response, dict):
            name = str(response.get("name"))
            call = next((c for c in reversed(calls_so_far) if c.name == name), None)
            result = response.get("response")
            content_text = (str(result["result"]) if isinstance(result, dict) and "result" in
                            result else orjson.dumps(result).decode())
            out.append(Message("tool", content_text, tool_call_id=call.id if call else None,
                               name=name))
    if text or images or not out:
        out.append(Message("user", text, images=images))
    return out


def _choice(body: JSON) -> ToolChoice | None:
    config = _get(body, "toolConfig", "tool_config")
    calling = _get(config, "functionCallingConfig", "function_calling_config") \
        if isinstance(config, dict) else None
    if not isinstance(calling, dict):
        return None
    names = _get(calling, "allowedFunctionNames", "allowed_function_names")
    mode = str(calling.get("mode"))
    if mode == "ANY" and isinstance(names, list) and len(names) == 1:
        return ToolChoice("function", str(names[0]))
    kinds: dict[str, Any] = {"AUTO": "auto", "ANY": "required", "NONE": "none"}
    return ToolChoice(kinds[mode]) if mode in kinds else None


def _parameters(declaration: JSON) -> JSON:
    found = (_get(declaration, "parametersJsonSchema", "parameters_json_schema")
             or declaration.get("parameters"))
    return found if isinstance(found, dict) else {"type": "object"}


def decode(body: JSON) -> ModelRequest:
    """A generateContent body in our terms."""
    messages: list[Message] = []
    system = _get(body, "systemInstruction", "system_instruction")
    if isinstance(system, dict):
        messages.append(Message("system", "".join(str(p.get("text", ""))
                                                  for p in system.get("parts") or ())))
    calls: list[ToolCall] = []
    for content in body["contents"]:
        messages += _messages(content, calls)
    tools = tuple(ToolSpec(str(d["name"]), str(d.get("description", "")), _parameters(d))
                  for tool in body.get("tools") or () if isinstance(tool, dict)
                  for d in _declarations(tool))
    found = _get(body, "generationConfig", "generation_config")
    config: JSON = found if isinstance(found, dict) else {}
    most = _get(config, "maxOutputTokens", "max_output_tokens")
    output = None
    if _get(config, "responseMimeType", "response_mime_type") == "application/json":
        schema = (_get(config, "responseJsonSchema", "response_json_schema")
                  or _get(config, "responseSchema", "response_schema"))
        output = (OutputFormat("json_schema", schema) if isinstance(schema, dict)
                  else OutputFormat("json_object"))
    stop = _get(config, "stopSequences", "stop_sequences")
    logprobs = _get(config, "responseLogprobs", "response_logprobs")
    return ModelRequest(
        tuple(messages), config.get("temperature"), most if isinstance(most, int) else None,
        tuple(stop) if isinstance(stop, list) and stop else None, tools=tools,
        tool_choice=_choice(body), output=output, seed=config.get("seed"),
        logprobs=bool(logprobs) or None, top_logprobs=config.get("logprobs"))


def _logprobs_result(entries: Sequence[JSON]) -> JSON:
    """OpenAI-style entries as Gemini's `logprobsResult`."""
    def candidate(entry: JSON) -> JSON:
        return {"token": entry["token"], "logProbability": entry["logprob"]}
    return {"chosenCandidates": [candidate(e) for e in entries],
            "topCandidates": [{"candidates": [candidate(t) for t in e.get("top_logprobs", ())]}
                              for e in entries]}


SIGNED = re.compile(r"gemini-([3-9]|\d\d)")
"""Models that sign their function calls and refuse a replayed call without the signature."""
SIGNATURE = "ZmFrZSBzaWduYXR1cmU="


def _call_part(model: str, call: ToolCall, first: bool) -> JSON:
    """A function call; Gemini 3 signs the first call of an answer."""
    part: JSON = {"functionCall": {"name": call.name, "args": call.arguments}}
    if first and SIGNED.match(model):
        part["thoughtSignature"] = SIGNATURE
    return part


def _check_signatures(contents: list[JSON]) -> None:
    """Gemini 3's rule: each model turn's first function call carries its signature."""
    for content in contents:
        calls = [p for p in content.get("parts") or ()
                 if isinstance(p, dict) and _get(p, "functionCall", "function_call")]
        if content.get("role") == "model" and calls and not _get(
                calls[0], "thoughtSignature", "thought_signature"):
            raise ValueError("Function call is missing a thought_signature in functionCall "
                             "parts")


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
        if SIGNED.match(path_model or ""):
            _check_signatures(body["contents"])
        messages: list[tuple[str, str]] = []
        system = _get(body, "systemInstruction", "system_instruction")
        if isinstance(system, dict):
            messages.append(("system", "".join(str(p.get("text", ""))
                                               for p in system.get("parts") or ())))
        for content in body["contents"]:
            messages += _turns(content)
        tools = [str(d["name"]) for tool in body.get("tools") or () if isinstance(tool, dict)
                 for d in _declarations(tool)]
        return Parsed(str(path_model or ""), messages, stream_path, True, tools or None,
                      decode(body))

    def answer(self, model: str, text: str, usage: tuple[int, int],
               logprobs: Sequence[JSON] = ()) -> JSON:
        payload = _response(model, [{"text": text}], "STOP", _usage(usage))
        if logprobs:
            payload["candidates"][0]["logprobsResult"] = _logprobs_result(logprobs)
        return payload

    def tool_answer(self, model: str, calls: Calls, usage: tuple[int, int]) -> JSON:
        parts = [_call_part(model, call, i == 0) for i, call in enumerate(as_calls(calls))]
        return _response(model, parts, "STOP", _usage(usage))

    def start(self, model: str, usage: tuple[int, int]) -> list[bytes]:
        return []  # Gemini's first chunk already carries text

    def delta(self, model: str, text: str, logprobs: Sequence[JSON] = ()) -> bytes:
        payload = _response(model, [{"text": text}], None, None)
        if logprobs:
            payload["candidates"][0]["logprobsResult"] = _logprobs_result(logprobs)
        return _frame(payload)

    def end(self, model: str, usage: tuple[int, int], include_usage: bool) -> list[bytes]:
        return [_frame(_response(model, [{"text": ""}], "STOP", _usage(usage)))]

    def tool_frames(self, model: str, calls: Calls, usage: tuple[int, int]) -> list[bytes]:
        """One chunk per function call (Gemini sends each call whole), the last finishing."""
        listed = as_calls(calls)
        return [_frame(_response(model, [_call_part(model, c, i == 0)],
                                 "STOP" if i == len(listed) - 1 else None,
                                 _usage(usage) if i == len(listed) - 1 else None))
                for i, c in enumerate(listed)]

    def malformed(self) -> bytes:
        return b'data: {"candidates": [{"content": {"parts": [{"text": "trunc\r\n\r\n'

    def error(self, status: int, message: str) -> JSON:
        return {"error": {"code": status, "message": message,
                          "status": STATUSES.get(status, "UNKNOWN")}}
