"""The fake upstream's HTTP core: knobs, injected faults and a record of what it received."""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import re
from collections import Counter, deque
from collections.abc import AsyncIterator, Awaitable, Callable

import orjson
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response, StreamingResponse
from starlette.routing import Route

from chorus.fakellm.anthropic import AnthropicWire
from chorus.fakellm.gemini import GeminiWire
from chorus.fakellm.knobs import Knobs, from_headers, from_model
from chorus.fakellm.openai import OpenAIWire
from chorus.fakellm.wire import FakeWire, Parsed
from chorus.providers import simulated_agent as agent
from chorus.types import JSON, ModelRequest, ToolCall

FILLER = ("the", "answer", "is", "clear", "and", "simple", "here", "because", "each", "part",
          "fits", "together", "well", "so", "we", "can", "move", "on", "with", "confidence")
RECORDED_HEADERS = ("authorization", "x-api-key", "x-goog-api-key", "anthropic-version",
                    "content-type", "user-agent")


def uses_agent(request: ModelRequest) -> bool:
    """Whether the answer is decided like a simulated model's: tools were offered or answered,
    JSON or log probabilities were asked for, images came, or stop strings were set. (The
    `tool` knob, when set, decides tool calls itself.)"""
    last = request.messages[-1] if request.messages else None
    return bool(request.tools or request.output or request.logprobs or request.stop
                or any(m.images for m in request.messages)
                or (last is not None and last.role == "tool"))


class StreamCut(Exception):
    """Raised inside a stream to drop the connection mid-answer, as a failing upstream does."""


def json_response(payload: JSON, status: int = 200,
                  headers: dict[str, str] | None = None) -> Response:
    return Response(orjson.dumps(payload), status, headers, media_type="application/json")


def answer_pieces(parsed: Parsed, tokens: int) -> list[str]:
    """`Fake answer to: <question>` then filler, `tokens` pieces in all, deterministic."""
    question = next((text for role, text in reversed(parsed.messages) if role == "user"), "")
    head = ["Fake"] + [f" {w}" for w in f"answer to: {' '.join(question.split()[:12])}".split()]
    filler = (f" {w}" for w in itertools.cycle(FILLER))
    pieces = (head + [next(filler) for _ in range(max(0, tokens - len(head)))])[:tokens]
    if pieces:
        pieces[-1] += "."
    return pieces


async def _until_disconnected(request: Request, limit: float = 3600) -> None:
    """Hold a request until its client gives up, so a hang never outlives its test."""
    with contextlib.suppress(TimeoutError):
        async with asyncio.timeout(limit):
            while (await request.receive())["type"] != "http.disconnect":
                pass


class FakeLLM:
    """The fake server's state; `app()` serves it."""

    def __init__(self, knobs: Knobs | None = None, record: bool = True,
                 keep: int = 10_000) -> None:
        self.knobs = knobs or Knobs()
        self.record = record
        self.requests: deque[JSON] = deque(maxlen=keep)
        self.counts: Counter[str] = Counter()
        self.wires: dict[str, FakeWire] = {"openai": OpenAIWire(),
                                           "anthropic": AnthropicWire(),
                                           "gemini": GeminiWire()}

    def app(self) -> Starlette:
        routes = [Route(route.path, self._endpoint(wire, route.stream), methods=["POST"])
                  for wire in self.wires.values() for route in wire.routes]
        routes += [
            Route("/v1/models", self._models, methods=["GET"]),
            Route("/api/tags", self._tags, methods=["GET"]),
            Route("/_fake/requests", self._recorded, methods=["GET", "DELETE"]),
        ]
        return Starlette(routes=routes)

    def _endpoint(self, wire: FakeWire, stream_path: bool
                  ) -> Callable[[Request], Awaitable[Response]]:
        async def endpoint(request: Request) -> Response:
            if stream_path and request.query_params.get("alt") != "sse":
                return json_response(wire.error(400, "this fake streams only with ?alt=sse"),
                                     400)
            return await self.handle(request, wire, request.path_params.get("model"),
                                     stream_path)
        return endpoint

    async def handle(self, request: Request, wire: FakeWire, path_model: str | None,
                     stream_path: bool) -> Response:
        try:
            body = orjson.loads(await request.body())
            parsed = wire.parse(body, path_model, stream_path)
            model, knobs = from_model(from_headers(self.knobs, dict(request.headers)),
                                      parsed.model)
        except (orjson.JSONDecodeError, ValueError, KeyError, TypeError, AttributeError) as exc:
            return json_response(wire.error(400, f"bad request: {exc}"), 400)
        record: JSON = {"path": request.url.path, "model": parsed.model, "body": body,
                        "headers": {h: request.headers[h] for h in RECORDED_HEADERS
                                    if h in request.headers},
                        "query": dict(request.query_params),
                        "peer": request.client.port if request.client else None,
                        "completed": False, "cancelled": False}
        if self.record:
            self.requests.append(record)
        self.counts[parsed.model] += 1
        fault = knobs.fault
        if knobs.times and self.counts[parsed.model] > knobs.times:
            fault = "none"
        if fault == "hang":
            record["hung"] = True
            await _until_disconnected(request)
            return Response(status_code=499)
        if fault in ("500", "429", "401"):
            status = int(fault)
            headers = {"retry-after": f"{knobs.retry_after:g}"} if status == 429 else None
            return json_response(wire.error(status, f"injected fault {status}"), status, headers)
        if knobs.ttft_ms:
            await asyncio.sleep(knobs.ttft_ms / 1000)
        prompt = sum(len(text.split()) for _, text in parsed.messages)
        call = self._tool_call(parsed, knobs)
        pieces = answer_pieces(parsed, knobs.tokens)
        calls = [call] if call is not None else []
        asked = parsed.request
        if not knobs.tool and asked is not None and uses_agent(asked):
            reply = agent.reply(model, asked, "".join(pieces))
            calls = list(reply.calls)
            pieces = (agent.json_pieces(reply.text) if asked.output
                      else re.findall(r"\s*\S+|\s+$", reply.text))
        if calls:
            record["tool_call"] = calls[0].name
            record["tool_calls"] = [c.name for c in calls]
            if not parsed.stream:
                record["completed"] = True
                return json_response(wire.tool_answer(model, calls, (prompt, 8)))
            return self._stream(wire.tool_frames(model, calls, (prompt, 8)), record)
        usage = (prompt, len(pieces))
        probs = ([agent.logprobs(model, piece, asked.top_logprobs) for piece in pieces]
                 if asked is not None and asked.logprobs else [])
        if not parsed.stream:
            answer = wire.answer(model, "".join(pieces), usage,
                                 [entry for found in probs for entry in found])
            return await self._whole(request, answer,
                                     len(pieces) / knobs.tps if knobs.tps > 0 else 0.0,
                                     fault, record)
        return StreamingResponse(self._frames(wire, model, pieces, usage, parsed, knobs, fault,
                                              record, probs), media_type="text/event-stream")

    def _tool_call(self, parsed: Parsed, knobs: Knobs) -> ToolCall | None:
        if not knobs.tool or not parsed.tools or knobs.tool not in parsed.tools:
            return None
        done = sum(1 for role, _ in parsed.messages if role == "tool")
        if done >= knobs.tool_calls:
            return None
        question = next((t for r, t in reversed(parsed.messages) if r == "user"), "")
        return ToolCall(f"call_{done + 1}", knobs.tool, {"query": question[:100] or "news"})

    async def _whole(self, request: Request, answer: JSON, seconds: float, fault: str,
                     record: JSON) -> Response:
        """An answer asked for whole arrives when a stream of it would have ended, and the
        stream faults break it too: `cut` ends the body early, `malformed` is not JSON."""
        if seconds:
            try:
                await asyncio.wait_for(_until_disconnected(request), seconds)
            except TimeoutError:
                pass
            else:
                record["cancelled"] = True
                return Response(status_code=499)
        body = orjson.dumps(answer)
        if fault == "malformed":
            return Response(body[: len(body) // 2], media_type="application/json")
        if fault == "cut":
            async def cut() -> AsyncIterator[bytes]:
                yield body[: len(body) // 2]
                raise StreamCut("injected cut in the middle of the answer")
            return StreamingResponse(cut(), media_type="application/json",
                                     headers={"content-length": str(len(body))})
        record["completed"] = True
        return Response(body, media_type="application/json")

    def _stream(self, frames: list[bytes], record: JSON) -> StreamingResponse:
        async def send() -> AsyncIterator[bytes]:
            for frame in frames:
                yield frame
            record["completed"] = True
        return StreamingResponse(send(), media_type="text/event-stream")

    async def _frames(self, wire: FakeWire, model: str, pieces: list[str],
                      usage: tuple[int, int], parsed: Parsed, knobs: Knobs, fault: str,
                      record: JSON, probs: list[tuple[JSON, ...]]
                      ) -> AsyncIterator[bytes]:
        delay = 1 / knobs.tps if knobs.tps > 0 else 0.0
        try:
            for frame in wire.start(model, usage):
                yield frame
            for index, piece in enumerate(pieces):
                if index == knobs.cut_after and fault == "cut":
                    raise StreamCut(f"injected cut after {index} chunks")
                if index == knobs.cut_after and fault == "malformed":
                    yield wire.malformed()
                yield wire.delta(model, piece, probs[index] if probs else ())
                if delay:
                    await asyncio.sleep(delay)
            for frame in wire.end(model, usage, parsed.include_usage):
                yield frame
            record["completed"] = True
        except asyncio.CancelledError:
            record["cancelled"] = True
            raise

    async def _models(self, request: Request) -> Response:
        return json_response({"object": "list", "data": [
            {"id": name, "object": "model", "created": 0, "owned_by": "fake"}
            for name in ("small", "large")]})

    async def _tags(self, request: Request) -> Response:
        return json_response({"models": [{"name": "llama3.2:latest", "model": "llama3.2:latest",
                                          "size": 2019393189},
                                         {"name": "qwen2.5:7b", "model": "qwen2.5:7b",
                                          "size": 4683087332}]})

    async def _recorded(self, request: Request) -> Response:
        if request.method == "DELETE":
            self.requests.clear()
            self.counts.clear()
        return json_response({"requests": list(self.requests)})
