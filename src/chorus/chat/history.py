"""A session's stored messages as the conversation models read, and how a turn's messages are
stored: images by reference (a `data:` image only by its type and size), tool calls and their
results with their ids."""

from __future__ import annotations

from collections.abc import Sequence

from chorus.store.sessions import MessageRow
from chorus.types import JSON, ImagePart, Message, ToolCall


def stored_details(message: Message) -> JSON | None:
    """What a message keeps in its row's `details` besides its text."""
    if message.role == "tool":
        return {"tool_call_id": message.tool_call_id, "name": message.name}
    if message.tool_calls:
        return {"tool_calls": tool_calls_json(message.tool_calls)}
    if message.images:
        return {"images": [_stored_image(image) for image in message.images]}
    return None


def tool_calls_json(calls: Sequence[ToolCall]) -> list[JSON]:
    return [{"id": c.id, "name": c.name, "arguments": c.arguments} for c in calls]


def _stored_image(image: ImagePart) -> JSON:
    inline = image.inline
    if inline is None:
        return {"url": image.url, "detail": image.detail}
    media_type, data = inline
    return {"media_type": media_type, "bytes": len(data) * 3 // 4}


def message_of(row: MessageRow) -> Message:
    """A stored message as context; a `data:` image was not kept, so it is left out."""
    details = row.details or {}
    if row.role == "tool":
        return Message("tool", row.content, tool_call_id=details.get("tool_call_id"),
                       name=details.get("name"))
    if row.role == "assistant":
        calls = tuple(ToolCall(c["id"], c["name"], c["arguments"])
                      for c in details.get("tool_calls") or ())
        return Message("assistant", row.content, tool_calls=calls)
    images = tuple(ImagePart(i["url"], i.get("detail")) for i in details.get("images") or ()
                   if "url" in i)
    return Message("user", row.content, images=images)


def history_of(rows: Sequence[MessageRow]) -> tuple[Message, ...]:
    """Earlier turns as context; a question whose answer failed is left out with it."""
    out: list[Message] = []
    for index, row in enumerate(rows):
        if row.error is not None:
            continue
        if row.role == "user":
            answer = rows[index + 1] if index + 1 < len(rows) else None
            if answer is not None and answer.error is not None:
                continue
        if row.role in ("user", "assistant", "tool"):
            out.append(message_of(row))
    return tuple(out)
