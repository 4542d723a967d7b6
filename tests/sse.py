"""Chat and collect events: the one way tests read Chorus's server-sent events.

Every streamed door frames its events the same way (`chorus/streaming.py`): an optional
`event: NAME` line, one `data: ...` line, a blank line. Chat Completions sends unnamed
frames and ends with `data: [DONE]`.

- `stream_events` asks a door to stream and returns all its events (`stream_chunks`: Chat
  Completions' chunks);
- `parse_events` reads a whole SSE body already in hand;
- `events_as_they_come` reads a live stream frame by frame, for tests that act (or hang up)
  mid-answer.

An event is `(name, data)`: the name is "" for an unnamed frame, the data is the parsed JSON,
or the string "[DONE]". A frame with any other field, or without data, fails the test.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterable
from typing import Any

import httpx2 as httpx
import orjson

Event = tuple[str, Any]


def parse_frame(lines: Iterable[str]) -> Event:
    """One frame's `event:` and `data:` lines as (name, data)."""
    fields: dict[str, str] = {}
    for line in lines:
        key, sep, value = line.partition(": ")
        assert sep and key in ("event", "data") and key not in fields, f"bad SSE line {line!r}"
        fields[key] = value
    assert "data" in fields, f"SSE frame without data: {fields}"
    data = fields["data"]
    return fields.get("event", ""), data if data == "[DONE]" else orjson.loads(data)


def parse_events(raw: str | bytes) -> list[Event]:
    """The events of a whole SSE body, in order."""
    text = raw.decode() if isinstance(raw, bytes) else raw
    return [parse_frame(frame.splitlines()) for frame in text.split("\n\n") if frame.strip()]


async def stream_events(client: httpx.AsyncClient, path: str, body: dict[str, Any],
                        headers: dict[str, str] | None = None) -> list[Event]:
    """POST `body` with `"stream": true` to a chat door (`/v1/chat`, `/v1/chat/completions`,
    `/v1/responses`, `/v1/messages`), check that it streams and return every event it sent."""
    response = await client.post(path, headers=headers, json={**body, "stream": True})
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/event-stream"), response.text
    return parse_events(response.content)


async def events_as_they_come(response: httpx.Response) -> AsyncIterator[Event]:
    """The events of a streaming response, each as soon as its frame is complete (a frame cut
    off by the end of the stream is not one)."""
    frame: list[str] = []
    async for line in response.aiter_lines():
        if line:
            frame.append(line)
        elif frame:
            yield parse_frame(frame)
            frame = []


async def stream_chunks(client: httpx.AsyncClient, body: dict[str, Any],
                        headers: dict[str, str] | None = None) -> list[Any]:
    """Chat Completions streamed: its chunks (unnamed frames) in order, "[DONE]" included."""
    events = await stream_events(client, "/v1/chat/completions", body, headers)
    assert not any(name for name, _ in events), events
    return [data for _, data in events]
