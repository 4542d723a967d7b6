"""The Anthropic Messages dialect: `POST /v1/messages`, its SSE events and its usage."""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence
from typing import Any

import orjson

from chorus.errors import UpstreamError
from chorus.providers.wire import Answer, ErrorBody, Refusal, stream_json, tool_arguments
from chorus.types import JSON, ImagePart, Message, ModelRequest, TextDelta, ToolCall, Usage

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
NATIVE_OUTPUT = re.compile(r"claude-(opus|sonnet|haiku)-(4-[5-9]|[5-9])")
"""Models with Anthropic's structured outputs (`output_config.format`, strict tools): the
Claude 4.5 family and later. They get `output_config` for a strict `json_schema`; other
models, and schemas not marked strict, answer in JSON through a forced tool."""
ONE_SAMPLER = re.compile(r"claude-(opus-4-1|(opus|sonnet|haiku)-(4-[5-9]|[5-9]))")
"""Models that refuse `temperature` and `top_p` together (Opus 4.1, the 4.5 family, later)."""
ANSWER_TOOL = "json_answer"
"""The tool a model without native structured output is made to call; its input is the answer."""
IMAGE_TYPES = frozenset({"image/jpeg", "image/png", "image/gif", "image/webp"})


def finish_reason(stop_reason: object) -> str:
    return FINISH_REASONS.get(str(stop_reason), "stop") if stop_reason else "stop"


def turns(messages: Sequence[Message]) -> tuple[str, list[JSON]]:
    """The system prompt apart; user and assistant turns with same-role neighbours merged."""
    system = "\n\n".join(m.content for m in messages if m.role == "system" and m.content.strip())
    out: list[JSON] = []
    for message in messages:
        if message.tool_calls or message.role == "tool" or message.images:
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


UNCONSTRAINED = ("minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum", "multipleOf",
                 "minLength", "maxLength", "maxItems", "minProperties", "maxProperties")
"""Constraints Anthropic's structured outputs do not take: moved into the description (the
core validates the answer against the client's own schema)."""
NESTED = ("properties", "$defs", "definitions")
NESTED_LISTS = ("anyOf", "allOf", "oneOf", "prefixItems")


def native_schema(schema: JSON) -> JSON:
    """A client's strict JSON Schema in the form Anthropic's structured outputs accept:
    objects closed (`additionalProperties: false`), oneOf as anyOf, and the constraints it
    lacks (bounds, lengths, item counts above 1) stated in the description instead."""
    out: JSON = {}
    notes: list[str] = []
    for key, value in schema.items():
        if key in UNCONSTRAINED or (key == "minItems" and isinstance(value, int) and value > 1):
            notes.append(f"{key}: {value}")
        elif key in NESTED and isinstance(value, dict):
            out[key] = {k: native_schema(v) if isinstance(v, dict) else v
                        for k, v in value.items()}
        elif key in NESTED_LISTS and isinstance(value, list):
            out["anyOf" if key == "oneOf" else key] = [
                native_schema(v) if isinstance(v, dict) else v for v in value]
        elif key == "items" and isinstance(value, dict):
            out[key] = native_schema(value)
        else:
            out[key] = value
    if out.get("type") == "object" or "properties" in out:
        out["additionalProperties"] = False
    if notes:
        described = str(out.get("description") or "")
        out["description"] = f"{described} ({', '.join(notes)})".strip()
    return out


def _unsupported_fields(request: ModelRequest) -> tuple[tuple[str, bool], ...]:
    """Fields that change the answer and have no Anthropic equivalent, and whether they are
    asked for (a zero penalty is the default, so it asks for nothing; seed 0 is a seed)."""
    return (("seed", request.seed is not None),
            ("presence_penalty", bool(request.presence_penalty)),
            ("frequency_penalty", bool(request.frequency_penalty)),
            ("logprobs", bool(request.logprobs)),
            ("top_logprobs", bool(request.top_logprobs)))


def image_block(image: ImagePart) -> JSON:
    """A `data:` URL as a base64 source; an `https:` URL as a URL source Anthropic fetches."""
    inline = image.inline
    if inline is None:
        return {"type": "image", "source": {"type": "url", "url": image.url}}
    return {"type": "image", "source": {"type": "base64", "media_type": inline[0],
                                        "data": inline[1]}}


def _add_blocks(out: list[JSON], message: Message) -> None:
    """Tool use rides in assistant content blocks; its results in the next user turn's, with
    the results of the calls made together; images are blocks after their message's text."""
    role = "user" if message.role in ("tool", "user") else "assistant"
    blocks: list[JSON] = []
    if message.role == "tool":
        blocks.append({"type": "tool_result", "tool_use_id": message.tool_call_id,
                       "content": message.content})
    else:
        if message.content.strip():
            blocks.append({"type": "text", "text": message.content})
        blocks += [image_block(image) for image in message.images]
        blocks += [{"type": "tool_use", "id": call.id, "name": call.name,
                    "input": call.arguments} for call in message.tool_calls]
    if out and out[-1]["role"] == role:
        last = out[-1]
        if isinstance(last["content"], str):
            last["content"] = [{"type": "text", "text": last["content"]}]
        last["content"] += blocks
    else:
        out.append({"role": role, "content": blocks})


ANSWER_DESCRIPTION = "Give your answer: its input is the whole answer, as JSON."


def tool_json(name: str, description: str, schema: JSON, strict: bool) -> JSON:
    tool: JSON = {"name": name, "description": description, "input_schema": schema}
    if strict:
        tool["strict"] = True
    return tool


def _tool_choice(request: ModelRequest) -> JSON | None:
    """OpenAI's choice in Anthropic's terms; `parallel_tool_calls: false` rides along."""
    choice = request.tool_choice
    if not request.tools or (choice is None and request.parallel_tool_calls is not False):
        return None
    kind = choice.kind if choice is not None else "auto"
    if kind == "none":
        return {"type": "none"}
    out: JSON = ({"type": "tool", "name": choice.name} if choice is not None and kind ==
                 "function" else {"type": "any" if kind == "required" else "auto"})
    if request.parallel_tool_calls is False:
        out["disable_parallel_tool_use"] = True
    return out


def _answer_choice(request: ModelRequest) -> JSON:
    """With the answer tool offered: a named client tool stays forced; with client tools that
    may be called, any tool (a client one or the answer); otherwise the answer tool."""
    choice = request.tool_choice
    kind = choice.kind if choice is not None else "auto"
    if kind == "function" or (request.tools and kind in ("auto", "required")):
        out: JSON = ({"type": "tool", "name": choice.name} if choice is not None and
                     kind == "function" else {"type": "any"})
        if request.parallel_tool_calls is False:
            out["disable_parallel_tool_use"] = True
        return out
    return {"type": "tool", "name": ANSWER_TOOL}


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


def answers_by_tool(request: ModelRequest | None) -> bool:
    """Whether a `json_answer` tool use in the answer is the structured answer itself."""
    return request is not None and request.output is not None


def _finish(stop_reason: object, client_calls: int) -> str:
    """`tool_use` for the answer tool alone is a finished answer, not a call to make."""
    reason = finish_reason(stop_reason)
    return "stop" if reason == "tool_calls" and not client_calls else reason


class AnthropicStream:
    def __init__(self, request: ModelRequest | None = None) -> None:
        self.usage: Usage | None = None
        self.finish_reason = "stop"
        self.done = False
        self._tools: dict[int, tuple[str, str, list[str]]] = {}
        """tool_use blocks being streamed, by index: id, name and the JSON text so far."""
        self._answer_tool = answers_by_tool(request)
        self._answer_index: int | None = None
        """The block of the answer tool, whose input is streamed on as text."""
        self._client_calls = 0

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
                index = int(payload.get("index") or 0)
                partial = str(delta.get("partial_json") or "")
                tool = self._tools.get(index)
                if index == self._answer_index and partial:
                    yield TextDelta(partial)
                elif tool is not None:
                    tool[2].append(partial)
        elif kind == "content_block_start":
            block = payload.get("content_block")
            index = int(payload.get("index") or 0)
            if isinstance(block, dict) and block.get("type") == "tool_use":
                name = str(block.get("name") or "")
                if self._answer_tool and name == ANSWER_TOOL:
                    self._answer_index = index
                else:
                    self._tools[index] = (str(block.get("id") or ""), name, [])
        elif kind == "content_block_stop":
            tool = self._tools.pop(int(payload.get("index") or 0), None)
            if tool is not None:
                self._client_calls += 1
                yield ToolCall(tool[0], tool[1], tool_arguments("".join(tool[2])))
        elif kind == "message_start":
            message = payload.get("message")
            self.usage = _usage(message.get("usage") if isinstance(message, dict) else None)
        elif kind == "message_delta":
            self.usage = _usage(payload.get("usage"), self.usage)
            delta = payload.get("delta")
            if isinstance(delta, dict) and delta.get("stop_reason"):
                self.finish_reason = _finish(delta["stop_reason"], self._client_calls)
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
        if request.top_p is not None:
            body["top_p"] = request.top_p
        if request.user is not None:
            body["metadata"] = {"user_id": request.user}
        native = NATIVE_OUTPUT.search(upstream) is not None
        tools = [tool_json(t.name, t.description, t.parameters, native and bool(t.strict))
                 for t in request.tools]
        choice = _tool_choice(request)
        output = request.output
        if output is not None and output.kind == "json_schema" and native and output.strict:
            body["output_config"] = {"format": {"type": "json_schema",
                                                "schema": native_schema(output.schema or {})}}
        elif output is not None:
            schema = output.schema if output.kind == "json_schema" else None
            tools.append(tool_json(ANSWER_TOOL, output.description or ANSWER_DESCRIPTION,
                                   schema or {"type": "object"}, False))
            choice = _answer_choice(request)
        if tools:
            body["tools"] = tools
        if choice is not None:
            body["tool_choice"] = choice
        return body

    def unsupported(self, upstream: str, request: ModelRequest) -> Refusal | None:
        for param, asked in _unsupported_fields(request):
            if asked:
                return Refusal(param, f"Anthropic models do not support `{param}`")
        if (request.temperature is not None and request.top_p is not None
                and ONE_SAMPLER.search(upstream)):
            return Refusal("top_p", f"{upstream} takes `temperature` or `top_p`, not both")
        for message in request.messages:
            for image in message.images:
                inline = image.inline
                if inline is not None and inline[0] not in IMAGE_TYPES:
                    return Refusal("messages", f"Anthropic models take images of type "
                                   f"{', '.join(sorted(IMAGE_TYPES))}, not {inline[0]}")
        if request.output is not None and any(t.name == ANSWER_TOOL for t in request.tools):
            return Refusal("tools", f"the tool name `{ANSWER_TOOL}` is reserved for "
                           "structured output with Anthropic models")
        return None

    def parse_answer(self, data: JSON, request: ModelRequest | None = None) -> Answer:
        content = data.get("content")
        if data.get("type") == "error" or not isinstance(content, list):
            raise UpstreamError(f"unexpected answer shape: {str(data)[:200]}")
        blocks = [block for block in content if isinstance(block, dict)]
        text = "".join(str(b.get("text") or "") for b in blocks if b.get("type") == "text")
        uses = [b for b in blocks if b.get("type") == "tool_use"]
        if answers_by_tool(request):
            answer = [b for b in uses if b.get("name") == ANSWER_TOOL]
            uses = [b for b in uses if b.get("name") != ANSWER_TOOL]
            text += "".join(orjson.dumps(b.get("input") or {}).decode() for b in answer)
        calls = [ToolCall(str(b.get("id") or ""), str(b.get("name") or ""),
                          tool_arguments(b.get("input"))) for b in uses]
        return Answer(text, _usage(data.get("usage")), _finish(data.get("stop_reason"),
                                                                len(calls)), calls)

    def stream_parser(self, request: ModelRequest | None = None) -> AnthropicStream:
        return AnthropicStream(request)

    def read_error(self, status: int, data: JSON) -> ErrorBody:
        error_type, message = _error(data)
        if error_type and message:
            message = f"{error_type}: {message}"
        return ErrorBody(message, credentials=status in (401, 403))
