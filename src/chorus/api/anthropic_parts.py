"""Anthropic's request shapes (content blocks, tools, tool choice) read into Chorus's types.

Every check here names the field it refuses (`param`), in the spelling of the request.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field

from chorus.api import RequestBody
from chorus.api.parts import client_tools, image_of, tool_spec
from chorus.errors import InvalidRequest
from chorus.modes.base import ClientTools
from chorus.types import ImagePart, Message, ToolCall, ToolChoice

ERROR_PREFIX = "Error: "
"""Put before a tool_result's text when `is_error` is true (Chorus has no error flag)."""


class ImageSourceIn(RequestBody):
    type: str = Field(max_length=40)
    media_type: str | None = Field(None, max_length=100)
    data: str | None = None
    url: str | None = None


class BlockIn(RequestBody):
    """A content block: text, image, tool_use or tool_result."""

    type: str = Field(max_length=60)
    text: str | None = None
    source: ImageSourceIn | None = None
    id: str | None = Field(None, max_length=200)
    name: str | None = Field(None, max_length=128)
    input: dict[str, Any] | None = None
    tool_use_id: str | None = Field(None, max_length=200)
    content: str | list[BlockIn] | None = None
    is_error: bool | None = None


class MessageIn(RequestBody):
    role: Literal["user", "assistant"]
    content: str | list[BlockIn]


class ToolIn(RequestBody):
    type: str | None = Field(None, max_length=80)
    name: str = Field(min_length=1, max_length=128)
    description: str | None = Field(None, max_length=100_000)
    input_schema: dict[str, Any] | None = None
    strict: bool | None = None


class ToolChoiceIn(RequestBody):
    type: Literal["auto", "any", "tool", "none"]
    name: str | None = Field(None, max_length=128)
    disable_parallel_tool_use: bool | None = None


def text_of(blocks: str | list[BlockIn] | None, where: str, param: str) -> str:
    """The text of a string or of text blocks (a system prompt, a tool result)."""
    if blocks is None or isinstance(blocks, str):
        return blocks or ""
    for index, block in enumerate(blocks):
        if block.type != "text" or block.text is None:
            raise InvalidRequest(f"{where}[{index}]: only text blocks are supported here, "
                                 f"not {block.type!r}", param=param)
    return "\n".join(block.text or "" for block in blocks)


def image_block(block: BlockIn, where: str) -> ImagePart:
    source = block.source
    if source is None:
        raise InvalidRequest(f"{where}: an image block needs a source", param="messages")
    if source.type == "base64" and source.media_type and source.data is not None:
        return image_of(f"data:{source.media_type};base64,{source.data}", None, where,
                        "messages")
    if source.type == "url" and source.url:
        return image_of(source.url, None, where, "messages")
    raise InvalidRequest(f"{where}: an image source is base64 (media_type, data) or url; "
                         f"{source.type!r} is not supported", param="messages")


def tool_result(block: BlockIn, where: str) -> Message:
    if not block.tool_use_id:
        raise InvalidRequest(f"{where}: a tool_result needs tool_use_id", param="messages")
    text = text_of(block.content, f"{where}.content", "messages")
    return Message("tool", ERROR_PREFIX + text if block.is_error else text,
                   tool_call_id=block.tool_use_id)


def user_turn(blocks: list[BlockIn], where: str) -> list[Message]:
    """A user turn: its tool results (each a `tool` message), then its text and images."""
    results: list[Message] = []
    texts: list[str] = []
    images: list[ImagePart] = []
    for index, block in enumerate(blocks):
        at = f"{where}.content[{index}]"
        if block.type == "text":
            texts.append(block.text or "")
        elif block.type == "image":
            images.append(image_block(block, at))
        elif block.type == "tool_result":
            results.append(tool_result(block, at))
        else:
            raise InvalidRequest(f"{at}: a user's blocks are text, image or tool_result, not "
                                 f"{block.type!r}", param="messages")
    if texts or images:
        results.append(Message("user", "\n".join(texts), images=tuple(images)))
    return results


def assistant_turn(blocks: list[BlockIn], where: str) -> Message:
    texts: list[str] = []
    calls: list[ToolCall] = []
    for index, block in enumerate(blocks):
        at = f"{where}.content[{index}]"
        if block.type == "text":
            texts.append(block.text or "")
        elif block.type == "tool_use" and block.id and block.name:
            calls.append(ToolCall(block.id, block.name, block.input or {}))
        elif block.type == "tool_use":
            raise InvalidRequest(f"{at}: a tool_use block needs id and name", param="messages")
        else:
            raise InvalidRequest(f"{at}: an assistant's blocks are text or tool_use, not "
                                 f"{block.type!r}", param="messages")
    return Message("assistant", "".join(texts), tool_calls=tuple(calls))


def conversation_of(system_: str | list[BlockIn] | None, messages: list[MessageIn],
                    max_chars: int) -> tuple[Message, ...]:
    """The system prompt and every message, in Chorus's terms; the last turn is the user's."""
    out: list[Message] = []
    system = text_of(system_, "system", "system")
    if system:
        out.append(Message("system", system))
    for index, message in enumerate(messages):
        blocks = [BlockIn(type="text", text=message.content)] \
            if isinstance(message.content, str) else message.content
        where = f"messages[{index}]"
        if message.role == "user":
            out.extend(user_turn(blocks, where))
        else:
            out.append(assistant_turn(blocks, where))
    if not out or out[-1].role not in ("user", "tool"):
        raise InvalidRequest("messages: the last message must be the user's (a question or "
                             "tool results); prefilling the assistant's answer is not "
                             "supported", param="messages")
    asked = next((m for m in reversed(out) if m.role == "user"), None)
    if asked is None or (not asked.content.strip() and not asked.images):
        raise InvalidRequest("messages: the last user message is empty", param="messages")
    if len(asked.content) > max_chars:
        raise InvalidRequest(f"messages: the question may have at most {max_chars} characters",
                             param="messages")
    return tuple(out)


def tools_of(tools: list[ToolIn] | None, choice: ToolChoiceIn | None) -> ClientTools | None:
    """Client tools with the choice; server tools are a 400 naming their type."""
    specs = []
    for index, tool in enumerate(tools or ()):
        where = f"tools[{index}]"
        if tool.type not in (None, "custom"):
            raise InvalidRequest(f"{where}: server tool {tool.type!r} is not supported: "
                                 "Chorus offers client tools (name, description, "
                                 "input_schema) only", param=f"{where}.type")
        if tool.input_schema is None:
            raise InvalidRequest(f"{where}: a tool needs input_schema",
                                 param=f"{where}.input_schema")
        specs.append(tool_spec(tool.name, tool.description, tool.input_schema, tool.strict,
                               where))
    if choice is None:
        return client_tools(specs, None, None)
    if choice.type == "tool" and not choice.name:
        raise InvalidRequest("tool_choice: type tool needs the tool's name", param="tool_choice")
    kinds: dict[str, Literal["auto", "none", "required", "function"]] = {
        "auto": "auto", "any": "required", "tool": "function", "none": "none"}
    parallel = False if choice.disable_parallel_tool_use else None
    return client_tools(specs, ToolChoice(kinds[choice.type], choice.name), parallel)


