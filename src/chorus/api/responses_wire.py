"""A turn's result as OpenAI's Responses API writes it: the response object, its output items
and the stream's events (`response.created` … `response.completed`), each with its
`sequence_number`."""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass, field

import orjson

from chorus import streaming
from chorus.api.completions import konnect_of
from chorus.chat.turn import TurnResult
from chorus.errors import ChorusError
from chorus.records import record
from chorus.store.ids import new_id
from chorus.types import JSON, ToolCall


@record
class Frame:
    """What every rendering of one response shares: its id, when it began, and the request's
    fields the response object echoes."""

    id: str
    created_at: int
    echo: JSON


def usage_json(result: TurnResult) -> JSON:
    usage = result.usage
    return {"input_tokens": usage.prompt_tokens,
            "input_tokens_details": {"cached_tokens": 0, "cache_write_tokens": 0},
            "output_tokens": usage.completion_tokens,
            "output_tokens_details": {"reasoning_tokens": 0},
            "total_tokens": usage.total_tokens}


def status_of(result: TurnResult) -> str:
    return "incomplete" if result.finish_reason == "length" else "completed"


def text_part(text: str) -> JSON:
    return {"type": "output_text", "text": text, "annotations": [], "logprobs": []}


def message_item(item_id: str, text: str | None, status: str) -> JSON:
    """The answer's message item; `text` None while it is still being written."""
    content = [] if text is None else [text_part(text)]
    return {"id": item_id, "type": "message", "role": "assistant", "status": status,
            "content": content}


def call_item(item_id: str, call: ToolCall, status: str = "completed",
              arguments: str | None = None) -> JSON:
    return {"id": item_id, "type": "function_call", "call_id": call.id, "name": call.name,
            "arguments": orjson.dumps(call.arguments).decode() if arguments is None
            else arguments, "status": status}


@dataclass(slots=True)
class ItemIds:
    """The ids of the output items, chosen as they are first sent."""

    message: str = field(default_factory=lambda: new_id("msg"))
    calls: list[str] = field(default_factory=list)

    def call(self, index: int) -> str:
        while len(self.calls) <= index:
            self.calls.append(new_id("fc"))
        return self.calls[index]


def has_message(result: TurnResult) -> bool:
    """A tool-calling answer with no text has only its function_call items."""
    return bool(result.content) or not result.tool_calls


def output_of(result: TurnResult, ids: ItemIds) -> list[JSON]:
    items: list[JSON] = []
    if has_message(result):
        items.append(message_item(ids.message, result.content, status_of(result)))
    items.extend(call_item(ids.call(i), c) for i, c in enumerate(result.tool_calls))
    return items


def response_json(frame: Frame, status: str, output: list[JSON], *,
                  result: TurnResult | None = None, error: ChorusError | None = None) -> JSON:
    """The response object: in progress, finished with `result`, or failed with `error`."""
    body: JSON = {
        "id": frame.id, "object": "response", "created_at": frame.created_at,
        "status": status, "background": False, "error": None, "incomplete_details": None,
        **frame.echo, "output": output, "usage": None,
    }
    if result is not None:
        body["usage"] = usage_json(result)
        body["completed_at"] = int(time.time())
        body["konnect"] = konnect_of(result)
        if status == "incomplete":
            body["incomplete_details"] = {"reason": "max_output_tokens"}
    if error is not None:
        body["error"] = {"code": error.code, "message": error.message}
    return body


def finished_json(frame: Frame, result: TurnResult, ids: ItemIds) -> JSON:
    return response_json(frame, status_of(result), output_of(result, ids), result=result)


def failed_json(frame: Frame, error: ChorusError) -> JSON:
    return response_json(frame, "failed", [], error=error)


class EventWriter:
    """Frames the stream's events in order, numbering them."""

    def __init__(self, frame: Frame) -> None:
        self.frame = frame
        self.ids = ItemIds()
        self.sequence = 0
        self.text_started = False

    def event(self, kind: str, payload: JSON) -> bytes:
        data = {"type": kind, "sequence_number": self.sequence, **payload}
        self.sequence += 1
        return streaming.event(kind, data)

    def opening(self) -> Iterator[bytes]:
        body = response_json(self.frame, "in_progress", [])
        yield self.event("response.created", {"response": body})
        yield self.event("response.in_progress", {"response": body})

    def _start_text(self) -> Iterator[bytes]:
        if self.text_started:
            return
        self.text_started = True
        yield self.event("response.output_item.added", {
            "output_index": 0, "item": message_item(self.ids.message, None, "in_progress")})
        yield self.event("response.content_part.added", {
            "item_id": self.ids.message, "output_index": 0, "content_index": 0,
            "part": text_part("")})

    def delta(self, text: str) -> Iterator[bytes]:
        yield from self._start_text()
        yield self.event("response.output_text.delta", {
            "item_id": self.ids.message, "output_index": 0, "content_index": 0,
            "delta": text, "logprobs": []})

    def finished(self, result: TurnResult) -> Iterator[bytes]:
        """The answer's items closed (its text as sent), its calls, then the response."""
        index = 0
        if has_message(result):
            yield from self._start_text()
            text = result.content
            where = {"item_id": self.ids.message, "output_index": 0, "content_index": 0}
            yield self.event("response.output_text.done", {**where, "text": text,
                                                           "logprobs": []})
            yield self.event("response.content_part.done", {**where, "part": text_part(text)})
            yield self.event("response.output_item.done", {
                "output_index": 0, "item": message_item(self.ids.message, text,
                                                        status_of(result))})
            index = 1
        for offset, call in enumerate(result.tool_calls):
            yield from self._call(index + offset, self.ids.call(offset), call)
        body = finished_json(self.frame, result, self.ids)
        kind = "response.completed" if body["status"] == "completed" else "response.incomplete"
        yield self.event(kind, {"response": body})

    def _call(self, index: int, item_id: str, call: ToolCall) -> Iterator[bytes]:
        arguments = orjson.dumps(call.arguments).decode()
        yield self.event("response.output_item.added", {
            "output_index": index, "item": call_item(item_id, call, "in_progress", "")})
        where = {"item_id": item_id, "output_index": index}
        yield self.event("response.function_call_arguments.delta", {**where,
                                                                    "delta": arguments})
        yield self.event("response.function_call_arguments.done", {
            **where, "name": call.name, "arguments": arguments})
        yield self.event("response.output_item.done", {"output_index": index,
                                                       "item": call_item(item_id, call)})

    def failed(self, error: ChorusError) -> bytes:
        return self.event("response.failed", {"response": failed_json(self.frame, error)})
