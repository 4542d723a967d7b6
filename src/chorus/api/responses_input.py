"""The request of OpenAI's Responses API (`POST /v1/responses`) read into Chorus's terms: its
input items as messages (and as the input items it stores), its tools, tool choice, text
format and sampling fields. Every refusal names the field, in the Responses API's spelling."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from typing import Any, Literal

import orjson
from pydantic import Field

from chorus.api import RequestBody
from chorus.api.doors import DoorBody
from chorus.api.parts import JSONSchemaIn, client_tools, image_of, output_of, tool_spec
from chorus.errors import InvalidRequest, NotFound
from chorus.modes import Sampling
from chorus.modes.base import ClientTools
from chorus.records import record
from chorus.store.ids import new_id
from chorus.types import JSON, ImagePart, Message, OutputFormat, ToolCall, ToolChoice

REFUSED = {
    "reasoning": "reasoning is not supported: Chorus's models take no reasoning effort and "
                 "give no reasoning summaries",
    "background": "background responses are not supported: ask with stream to follow a "
                  "long answer",
    "include": "include is not supported: Chorus returns no reasoning, search or "
               "code-interpreter items",
    "prompt": "prompt templates are not supported: send input and instructions",
    "conversation": "conversation objects are not supported: continue a conversation with "
                    "previous_response_id",
    "max_tool_calls": "max_tool_calls is not supported",
    "top_logprobs": "top_logprobs is not supported on /v1/responses",
}
"""Fields of the Responses API that would change the answer and that Chorus cannot honour;
a false, empty or null value asks for nothing and passes."""
SYSTEM_ROLES = ("system", "developer")


class InputPart(RequestBody):
    """A content part: `input_text`, `input_image` (user); `output_text`, `refusal`
    (assistant)."""

    type: str = Field(max_length=40)
    text: str | None = None
    image_url: str | None = None
    file_id: str | None = Field(None, max_length=200)
    detail: Literal["auto", "low", "high"] | None = None
    refusal: str | None = None


class InputItem(RequestBody):
    """One input item: a message (`type` "message" or left out), `function_call` or
    `function_call_output`."""

    type: str | None = Field(None, max_length=40)
    id: str | None = Field(None, min_length=1, max_length=200)
    role: str | None = Field(None, max_length=40)
    content: str | list[InputPart] | None = None
    call_id: str | None = Field(None, min_length=1, max_length=200)
    name: str | None = Field(None, max_length=64)
    arguments: str | None = Field(None, max_length=500_000)
    output: str | list[InputPart] | None = None


class ToolIn(RequestBody):
    """A tool in the Responses API's flat shape; only `function` tools are offered."""

    type: str = Field(max_length=60)
    name: str | None = Field(None, max_length=64)
    description: str | None = Field(None, max_length=100_000)
    parameters: dict[str, Any] | None = None
    strict: bool | None = None


class ChoiceIn(RequestBody):
    type: str = Field(max_length=60)
    name: str | None = Field(None, max_length=64)


class FormatIn(RequestBody):
    type: Literal["text", "json_object", "json_schema"]
    name: str | None = Field(None, min_length=1, max_length=64)
    schema_: dict[str, Any] | None = Field(None, alias="schema")
    strict: bool | None = None
    description: str | None = None


class TextIn(RequestBody):
    format: FormatIn | None = None
    verbosity: str | None = None


class ResponseBody(DoorBody):
    REFUSED = REFUSED
    model: str = Field(min_length=1, max_length=200)
    input: str | list[InputItem] = Field(min_length=1)
    instructions: str | None = None
    tools: list[ToolIn] | None = Field(None, max_length=128)
    tool_choice: Literal["auto", "none", "required"] | ChoiceIn | None = None
    parallel_tool_calls: bool | None = None
    text: TextIn | None = None
    temperature: float | None = Field(None, ge=0, le=2)
    top_p: float | None = Field(None, ge=0, le=1)
    max_output_tokens: int | None = Field(None, ge=1, le=1_000_000)
    metadata: dict[str, str] | None = Field(None, max_length=16)
    store: bool | None = None
    stream: bool | None = None
    previous_response_id: str | None = Field(None, min_length=1, max_length=64)
    truncation: Literal["auto", "disabled"] | None = None
    user: str | None = Field(None, max_length=256)
    safety_identifier: str | None = Field(None, max_length=256)

    @property
    def stored(self) -> bool:
        return self.store is not False


@record
class Input:
    """The request's input: system messages (instructions first), the conversation's other
    messages, and the input items as stored and listed (each with an id)."""

    system: tuple[Message, ...]
    messages: tuple[Message, ...]
    items: tuple[JSON, ...]


def referenced(body: ResponseBody) -> set[str]:
    """The ids the input's `item_reference` items name."""
    if isinstance(body.input, str):
        return set()
    return {item.id for item in body.input if item.type == "item_reference" and item.id}


def input_of(body: ResponseBody, known_calls: frozenset[str] | None, max_chars: int,
             stored: Mapping[str, JSON]) -> Input:
    """`input` as messages; `known_calls` are the call ids the previous response made (None:
    the session's, checked when the turn starts); `stored` holds the output items that
    `item_reference` items name."""
    system: list[Message] = []
    if body.instructions:
        system.append(Message("system", body.instructions))
    if isinstance(body.input, str):
        if len(body.input) > max_chars:
            raise InvalidRequest(f"input: the question may have at most {max_chars} "
                                 "characters", param="input")
        item: JSON = {"id": new_id("msg"), "type": "message", "role": "user",
                      "status": "completed",
                      "content": [{"type": "input_text", "text": body.input}]}
        return Input(tuple(system), (Message("user", body.input),), (item,))
    messages: list[Message] = []
    items: list[JSON] = []
    calls = set(known_calls or ())
    for index, raw in enumerate(body.input):
        where = f"input[{index}]"
        found = _dereferenced(raw, where, stored) if raw.type == "item_reference" else None
        message, item = _item_of(InputItem.model_validate(found) if found else raw, where,
                                 None if known_calls is None else calls)
        item = found or item
        items.append(item)
        if message.role == "system":
            system.append(message)
        elif message.role == "assistant" and not message.content and messages \
                and messages[-1].role == "assistant":
            messages[-1] = replace(messages[-1],
                                   tool_calls=messages[-1].tool_calls + message.tool_calls)
        else:
            messages.append(message)
        calls.update(c.id for c in message.tool_calls)
    _check_conversation(messages, max_chars)
    return Input(tuple(system), tuple(messages), tuple(items))


def _dereferenced(item: InputItem, where: str, stored: Mapping[str, JSON]) -> JSON:
    """The stored output item an `item_reference` names."""
    found = stored.get(item.id or "")
    if found is None:
        raise NotFound(f"{where}: item_reference {item.id!r} names no output item of your "
                       "stored responses", param="input")
    return found


def _check_conversation(messages: list[Message], max_chars: int) -> None:
    if not messages or messages[-1].role not in ("user", "tool"):
        raise InvalidRequest("input: the last item must be a user message or a "
                             "function_call_output", param="input")
    asked = next((m for m in reversed(messages) if m.role == "user"), None)
    if asked is not None and len(asked.content) > max_chars:
        raise InvalidRequest(f"input: the question may have at most {max_chars} characters",
                             param="input")


def _item_of(item: InputItem, where: str, calls: set[str] | None) -> tuple[Message, JSON]:
    kind = item.type or "message"
    item_id = item.id or new_id({"message": "msg", "function_call": "fc"}.get(kind, "fco"))
    if kind == "message":
        return _message_of(item, where, item_id)
    if kind == "function_call":
        if not item.call_id or not item.name:
            raise InvalidRequest(f"{where}: a function_call needs call_id and name",
                                 param="input")
        arguments = item.arguments or "{}"
        call = ToolCall(item.call_id, item.name, _arguments(arguments, where))
        return Message("assistant", "", tool_calls=(call,)), {
            "id": item_id, "type": "function_call", "call_id": item.call_id, "name": item.name,
            "arguments": arguments, "status": "completed"}
    if kind == "function_call_output":
        if not item.call_id:
            raise InvalidRequest(f"{where}: a function_call_output needs call_id",
                                 param="input")
        if calls is not None and item.call_id not in calls:
            raise InvalidRequest(f"{where}: function_call_output call_id {item.call_id!r} "
                                 "answers no function_call before it (in the input or the "
                                 "previous response)", param="input")
        output = _output_text(item.output, where)
        return Message("tool", output, tool_call_id=item.call_id), {
            "id": item_id, "type": "function_call_output", "call_id": item.call_id,
            "output": output, "status": "completed"}
    raise InvalidRequest(f"{where}: item type {kind!r} is not supported: message, "
                         "function_call, function_call_output or item_reference",
                         param="input")


def _message_of(item: InputItem, where: str, item_id: str) -> tuple[Message, JSON]:
    role = item.role
    if role not in ("user", "assistant", *SYSTEM_ROLES):
        raise InvalidRequest(f"{where}.role {role!r} is not supported: user, assistant, "
                             "system or developer", param="input")
    images: tuple[ImagePart, ...] = ()
    if isinstance(item.content, str) or item.content is None:
        text = item.content or ""
        kind = "output_text" if role == "assistant" else "input_text"
        parts: list[JSON] = [{"type": kind, "text": text}]
    else:
        text, images, parts = _parts_of(item.content, role, f"{where}.content")
    if role == "assistant":
        parts = [{**p, "annotations": []} for p in parts]
    json: JSON = {"id": item_id, "type": "message", "role": role, "status": "completed",
                  "content": parts}
    if role in SYSTEM_ROLES:
        return Message("system", text), json
    if role == "assistant":
        return Message("assistant", text), json
    return Message("user", text, images=images), json


def _parts_of(parts: list[InputPart], role: str, where: str
              ) -> tuple[str, tuple[ImagePart, ...], list[JSON]]:
    """A message's text, its images and its parts as stored (an inline image's bytes are
    not kept)."""
    allowed = ("output_text", "refusal") if role == "assistant" else ("input_text",
                                                                       "input_image")
    texts: list[str] = []
    images: list[ImagePart] = []
    stored: list[JSON] = []
    for index, part in enumerate(parts):
        at = f"{where}[{index}]"
        if part.type not in allowed:
            raise InvalidRequest(f"{at}: a {role} message's parts are "
                                 f"{' or '.join(allowed)}, not {part.type!r}", param="input")
        if part.type == "input_image":
            if part.image_url is None:
                raise InvalidRequest(f"{at}: an input_image needs image_url (Chorus keeps "
                                     "no files, so file_id is not supported)", param="input")
            images.append(image_of(part.image_url, part.detail, at, "input"))
            url = None if part.image_url.startswith("data:") else part.image_url
            stored.append({"type": "input_image", "image_url": url,
                           "detail": part.detail or "auto", "file_id": None})
            continue
        text = part.refusal if part.type == "refusal" else part.text
        texts.append(text or "")
        stored.append({"type": part.type, "text": text or ""} if part.type != "refusal"
                      else {"type": "refusal", "refusal": text or ""})
    return "\n".join(texts), tuple(images), stored


def _output_text(output: str | list[InputPart] | None, where: str) -> str:
    if output is None or isinstance(output, str):
        return output or ""
    texts: list[str] = []
    for index, part in enumerate(output):
        if part.type != "input_text":
            raise InvalidRequest(f"{where}.output[{index}]: a function's output is text "
                                 f"(input_text), not {part.type!r}", param="input")
        texts.append(part.text or "")
    return "\n".join(texts)


def _arguments(raw: str, where: str) -> JSON:
    try:
        value = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise InvalidRequest(f"{where}.arguments: not JSON", param="input") from exc
    if not isinstance(value, dict):
        raise InvalidRequest(f"{where}.arguments: not a JSON object", param="input")
    return value


def tools_of(body: ResponseBody) -> ClientTools | None:
    """`tools` (function tools only), `tool_choice` and `parallel_tool_calls`."""
    specs = []
    for index, tool in enumerate(body.tools or ()):
        where = f"tools[{index}]"
        if tool.type != "function":
            raise InvalidRequest(f"{where}: Chorus offers function tools only, not "
                                 f"{tool.type!r}", param="tools")
        if not tool.name:
            raise InvalidRequest(f"{where}: a function tool needs a name", param="tools")
        specs.append(tool_spec(tool.name, tool.description, tool.parameters, tool.strict,
                               where))
    return client_tools(specs, _choice_of(body.tool_choice), body.parallel_tool_calls)


def _choice_of(choice: str | ChoiceIn | None) -> ToolChoice | None:
    if choice is None:
        return None
    if isinstance(choice, ChoiceIn):
        if choice.type != "function" or not choice.name:
            raise InvalidRequest('tool_choice: auto, none, required, or {"type": "function", '
                                 '"name": …}', param="tool_choice")
        return ToolChoice("function", choice.name)
    return ToolChoice(choice)  # type: ignore[arg-type]


def output_format(body: ResponseBody) -> OutputFormat | None:
    """`text.format`: text, json_object, or json_schema with its name and schema."""
    text = body.text
    if text is None:
        return None
    if text.verbosity is not None:
        raise InvalidRequest("text.verbosity is not supported", param="text.verbosity")
    format_ = text.format
    if format_ is None or format_.type != "json_schema":
        return output_of(format_.type, None, "text.format") if format_ else None
    if format_.name is None:
        raise InvalidRequest("text.format: json_schema needs a name", param="text.format.name")
    schema = JSONSchemaIn.model_validate({"name": format_.name, "schema": format_.schema_,
                                         "strict": format_.strict,
                                         "description": format_.description})
    return output_of("json_schema", schema, "text.format")


def sampling_of(body: ResponseBody) -> Sampling:
    return Sampling(temperature=body.temperature, max_tokens=body.max_output_tokens,
                    top_p=body.top_p, user=body.safety_identifier or body.user)
