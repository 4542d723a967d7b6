"""The Google Gemini dialect: `generateContent` and `streamGenerateContent?alt=sse`."""

from __future__ import annotations

import mimetypes
import re
from collections.abc import Iterator, Sequence
from typing import Any
from urllib.parse import urlsplit

from chorus.errors import UpstreamError
from chorus.providers.wire import Answer, ErrorBody, Refusal, stream_json, tool_arguments
from chorus.types import JSON, ImagePart, Message, ModelRequest, TextDelta, ToolCall, Usage

VERSIONED = re.compile(r"/v\d+[a-z0-9]*$")
FINISH_REASONS = {
    "STOP": "stop",
    "MAX_TOKENS": "length",
    "SAFETY": "content_filter",
    "RECITATION": "content_filter",
    "LANGUAGE": "content_filter",
    "BLOCKLIST": "content_filter",
    "PROHIBITED_CONTENT": "content_filter",
    "SPII": "content_filter",
    "IMAGE_SAFETY": "content_filter",
}
RETRYABLE_STATUS = frozenset({"RESOURCE_EXHAUSTED", "UNAVAILABLE", "INTERNAL",
                              "DEADLINE_EXCEEDED"})
CREDENTIAL_REASONS = frozenset({"API_KEY_INVALID", "API_KEY_SERVICE_BLOCKED"})
SIGNED_MODELS = re.compile(r"gemini-([3-9]|\d\d)")
"""Gemini 3 and later refuse a replayed function call without its `thoughtSignature`."""
SKIP_SIGNATURE = "skip_thought_signature_validator"
"""Google's documented stand-in for a signature that was lost (e.g. a call made by another
model); real signatures travel in the call id and win."""
SIGNATURE_MARK = "~"
"""Separates a call's id from its thought signature: `call_0~<signature>` (not base64)."""
CALLING_MODES = {"auto": "AUTO", "required": "ANY", "function": "ANY", "none": "NONE"}


def image_mime(image: ImagePart) -> str | None:
    """The media type of an image: a `data:` URL says it; a URL's file extension may."""
    inline = image.inline
    if inline is not None:
        return inline[0]
    found, _ = mimetypes.guess_type(urlsplit(image.url).path, strict=False)
    return found if found and found.startswith("image/") else None


def image_part(image: ImagePart) -> JSON:
    """`inlineData` for bytes; `fileData` for a URL Gemini fetches itself."""
    inline = image.inline
    if inline is not None:
        return {"inlineData": {"mimeType": inline[0], "data": inline[1]}}
    return {"fileData": {"mimeType": image_mime(image), "fileUri": image.url}}


def contents(messages: Sequence[Message], signed: bool = False) -> tuple[str, list[JSON]]:
    """The system instruction apart; `user`/`model` turns with same-role neighbours merged.

    `signed`: the model needs each turn's first function call to carry a thought signature."""
    system = "\n\n".join(m.content for m in messages if m.role == "system" and m.content.strip())
    out: list[JSON] = []
    names = {call.id: call.name for m in messages for call in m.tool_calls}
    for message in messages:
        if message.tool_calls or message.role == "tool" or message.images:
            _add_parts(out, message, names, signed)
            continue
        if message.role == "system" or not message.content.strip():
            continue
        role = "model" if message.role == "assistant" else "user"
        if out and out[-1]["role"] == role and "text" in out[-1]["parts"][0]:
            out[-1]["parts"][0]["text"] += "\n\n" + message.content
        elif out and out[-1]["role"] == role:
            out[-1]["parts"].append({"text": message.content})
        else:
            out.append({"role": role, "parts": [{"text": message.content}]})
    return system, out


def _call_part(call: ToolCall, first: bool, signed: bool) -> JSON:
    """A replayed call, with the thought signature its id carries (see `_calls`)."""
    part: JSON = {"functionCall": {"name": call.name, "args": call.arguments}}
    signature = call.id.partition(SIGNATURE_MARK)[2]
    if signature or (signed and first):
        part["thoughtSignature"] = signature or SKIP_SIGNATURE
    return part


def _add_parts(out: list[JSON], message: Message, names: dict[str, str],
               signed: bool) -> None:
    """Function calls are parts of a `model` turn; their responses, of the next `user` turn
    (matched by the function's name: Gemini has no call ids); images follow their text."""
    role = "model" if message.role == "assistant" else "user"
    parts: list[JSON] = []
    if message.role == "tool":
        name = message.name or names.get(message.tool_call_id or "", "")
        parts.append({"functionResponse": {"name": name,
                                           "response": {"result": message.content}}})
    else:
        if message.content.strip():
            parts.append({"text": message.content})
        parts += [image_part(image) for image in message.images]
        parts += [_call_part(call, i == 0, signed) for i, call in enumerate(message.tool_calls)]
    if out and out[-1]["role"] == role:
        out[-1]["parts"] += parts
    else:
        out.append({"role": role, "parts": parts})


def _calls(data: JSON, first_index: int) -> list[ToolCall]:
    """The function calls of the first candidate; Gemini may give them no id."""
    candidates = data.get("candidates")
    if not candidates or not isinstance(candidates[0], dict):
        return []
    parts = (candidates[0].get("content") or {}).get("parts") or ()
    found = [p for p in parts if isinstance(p, dict) and isinstance(p.get("functionCall"), dict)]
    return [ToolCall(_call_id(part, first_index + i), str(part["functionCall"].get("name")),
                     tool_arguments(part["functionCall"].get("args")))
            for i, part in enumerate(found)]


def _call_id(part: JSON, index: int) -> str:
    """Gemini's id or `call_<n>`; a thought signature rides along after `~`, so the client
    hands it back with the call's history and Gemini 3 gets it replayed unchanged."""
    call_id = str(part["functionCall"].get("id") or f"call_{index}")
    signature = part.get("thoughtSignature")
    return f"{call_id}{SIGNATURE_MARK}{signature}" if isinstance(signature, str) else call_id


def _logprobs(data: JSON) -> list[JSON]:
    """Gemini's `logprobsResult` of the first candidate as OpenAI `logprobs.content` entries."""
    candidates = data.get("candidates")
    first = candidates[0] if isinstance(candidates, list) and candidates else None
    result = first.get("logprobsResult") if isinstance(first, dict) else None
    if not isinstance(result, dict):
        return []
    chosen = result.get("chosenCandidates") or []
    tops = result.get("topCandidates") or []
    entries: list[JSON] = []
    for i, pick in enumerate(chosen):
        top = tops[i].get("candidates") or [] if i < len(tops) else []
        entries.append({**_entry(pick), "top_logprobs": [_entry(c) for c in top]})
    return entries


def _entry(candidate: JSON) -> JSON:
    token = str(candidate.get("token") or "")
    return {"token": token, "logprob": float(candidate.get("logProbability") or 0.0),
            "bytes": list(token.encode())}


def _usage(data: Any) -> Usage | None:
    """Thinking tokens are billed as output, so they count as completion tokens."""
    if not isinstance(data, dict) or "promptTokenCount" not in data:
        return None
    output = int(data.get("candidatesTokenCount") or 0) + int(data.get("thoughtsTokenCount") or 0)
    return Usage(int(data.get("promptTokenCount") or 0), output)


def _candidate(data: JSON) -> tuple[str, str | None]:
    """Text of the first candidate (thought summaries left out) and its finish reason."""
    candidates = data.get("candidates")
    if not candidates:
        feedback = data.get("promptFeedback")
        if isinstance(feedback, dict) and feedback.get("blockReason"):
            return "", "content_filter"
        return "", None
    first = candidates[0]
    if not isinstance(first, dict):
        raise UpstreamError(f"unexpected answer shape: {str(data)[:200]}")
    parts = (first.get("content") or {}).get("parts") or ()
    text = "".join(str(p.get("text") or "") for p in parts
                   if isinstance(p, dict) and not p.get("thought"))
    reason = first.get("finishReason")
    if not reason:
        return text, None
    if any(isinstance(p, dict) and "functionCall" in p for p in parts):
        return text, "tool_calls"
    return text, FINISH_REASONS.get(str(reason), "stop")


def _sampling(request: ModelRequest) -> JSON:
    """The sampling fields Gemini has, under its names, when set."""
    fields = {"topP": request.top_p, "seed": request.seed,
              "presencePenalty": request.presence_penalty,
              "frequencyPenalty": request.frequency_penalty,
              "responseLogprobs": request.logprobs or None,
              "logprobs": request.top_logprobs if request.logprobs else None}
    return {name: value for name, value in fields.items() if value is not None}


def _error(data: JSON) -> tuple[str | None, str | None, list[Any]]:
    """Status, message and details of `{"error": {"code", "message", "status", "details"}}`."""
    error = data.get("error")
    if not isinstance(error, dict):
        return None, (str(error) if error else None), []
    details = error.get("details")
    return (str(error["status"]) if error.get("status") else None,
            str(error.get("message") or error),
            details if isinstance(details, list) else [])


def _seconds(duration: object) -> float | None:
    """Protobuf JSON durations look like "37s" or "1.5s"."""
    if isinstance(duration, str) and duration.endswith("s"):
        try:
            return float(duration[:-1])
        except ValueError:
            return None
    return None


class GeminiStream:
    def __init__(self, request: ModelRequest | None = None) -> None:
        self.usage: Usage | None = None
        self.finish_reason: str | None = None
        self.calls = 0

    def feed(self, event: str | None, data: str) -> Iterator[TextDelta | ToolCall]:
        chunk = stream_json(data)
        if "error" in chunk:
            status, message, _ = _error(chunk)
            raise UpstreamError(f"{status or 'error'}: {message or 'error in stream'}",
                                retryable=status in RETRYABLE_STATUS)
        text, reason = _candidate(chunk)
        # Every chunk may carry the running usage; the last one holds the totals.
        self.usage = _usage(chunk.get("usageMetadata")) or self.usage
        if reason:
            self.finish_reason = reason
        if text:
            yield TextDelta(text, tuple(_logprobs(chunk)))
        calls = _calls(chunk, self.calls)
        self.calls += len(calls)
        yield from calls

    def finish(self) -> tuple[Usage | None, str]:
        # Gemini sends no end marker: a stream is complete once a finish reason came.
        if self.finish_reason is None:
            raise UpstreamError("the stream ended before a finishReason", retryable=True)
        return self.usage, self.finish_reason


class GeminiDialect:
    name = "gemini"

    def url(self, base_url: str, upstream: str, stream: bool) -> str:
        base = base_url.rstrip("/")
        if not VERSIONED.search(base):
            base += "/v1beta"  # the SDK's base URL has no version; ours ends in one
        method = "streamGenerateContent?alt=sse" if stream else "generateContent"
        return f"{base}/models/{upstream.removeprefix('models/')}:{method}"

    def headers(self, api_key: str | None) -> dict[str, str]:
        return {"x-goog-api-key": api_key} if api_key else {}

    def body(self, upstream: str, request: ModelRequest) -> JSON:
        system, turns = contents(request.messages, SIGNED_MODELS.search(upstream) is not None)
        body: JSON = {"contents": turns}
        if system:
            body["systemInstruction"] = {"parts": [{"text": system}]}
        config: JSON = {}
        if request.temperature is not None:
            config["temperature"] = request.temperature
        if request.max_tokens is not None:
            config["maxOutputTokens"] = request.max_tokens
        if request.stop:
            config["stopSequences"] = list(request.stop)
        config.update(_sampling(request))
        if request.output is not None:
            config["responseMimeType"] = "application/json"
            if request.output.kind == "json_schema":
                config["responseJsonSchema"] = request.output.schema or {}
        if config:
            body["generationConfig"] = config
        if request.tools:
            body["tools"] = [{"functionDeclarations": [
                {"name": t.name, "description": t.description, "parametersJsonSchema":
                 t.parameters} for t in request.tools]}]
        choice = request.tool_choice
        if choice is not None and request.tools:
            calling: JSON = {"mode": CALLING_MODES[choice.kind]}
            if choice.kind == "function":
                calling["allowedFunctionNames"] = [choice.name]
            body["toolConfig"] = {"functionCallingConfig": calling}
        return body

    def unsupported(self, upstream: str, request: ModelRequest) -> Refusal | None:
        if request.parallel_tool_calls is False and request.tools:
            return Refusal("parallel_tool_calls", "Gemini models cannot be kept from calling "
                           "several functions at once")
        for message in request.messages:
            for image in message.images:
                if image_mime(image) is None:
                    return Refusal("messages", "Gemini needs an image's media type: give a "
                                   "data: URL, or an https: URL ending in an image file "
                                   f"extension (.png, .jpg, .webp, ...), not {image.url[:100]}")
        return None

    def parse_answer(self, data: JSON, request: ModelRequest | None = None) -> Answer:
        if "candidates" not in data and "promptFeedback" not in data:
            raise UpstreamError(f"unexpected answer shape: {str(data)[:200]}")
        text, reason = _candidate(data)
        return Answer(text, _usage(data.get("usageMetadata")), reason or "stop",
                      _calls(data, 0), _logprobs(data))

    def stream_parser(self, request: ModelRequest | None = None) -> GeminiStream:
        return GeminiStream(request)

    def read_error(self, status: int, data: JSON) -> ErrorBody:
        code, message, details = _error(data)
        reasons = {d.get("reason") for d in details if isinstance(d, dict)}
        delays = [_seconds(d.get("retryDelay")) for d in details if isinstance(d, dict)]
        # A wrong key is a 400 INVALID_ARGUMENT with reason API_KEY_INVALID, not a 401.
        credentials = status in (401, 403) or bool(reasons & CREDENTIAL_REASONS)
        return ErrorBody(f"{code}: {message}" if code and message else message, credentials,
                         next((d for d in delays if d is not None), None))
