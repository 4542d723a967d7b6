"""The `web_search` tool: offered to every model call when the operator configured a backend.

The loop runs inside `Caller.stream`, so every mode gets it: the model is offered the tool in
its dialect's format; each call it makes is searched and answered; after `max_calls` searches
the model gets one last round without tools, the exchanges written out as text, and must
answer. Each round is a fresh upstream call with the provider's full timeouts, so the time a
call may take stretches by one round per search (plus each search's own timeout).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import replace

from chorus.config import SearchConfig
from chorus.httpclient import Client
from chorus.records import record
from chorus.types import (
    JSON,
    Message,
    ModelRequest,
    ProviderChunk,
    StreamEnd,
    TextDelta,
    ToolCall,
    ToolSpec,
    Usage,
)
from chorus.websearch import SearchBackend, SearchFailed, SearchResult, build_backend

WEB_SEARCH = ToolSpec(
    name="web_search",
    description=("Search the web. Use it for recent events and for facts you are not sure of. "
                 "Returns numbered results with title, URL and a snippet; cite the URLs you "
                 "use."),
    parameters={"type": "object",
                "properties": {"query": {"type": "string",
                                         "description": "What to search for, a few keywords"}},
                "required": ["query"]},
)
QUESTION_CHARS = 2000

Round = Callable[[ModelRequest], AsyncIterator[ProviderChunk]]
"""One upstream call (fitted, priced and recorded by the Caller)."""


class WebSearch:
    """The server's web search: its backend and limits, and whether a request gets the tool."""

    def __init__(self, config: SearchConfig | None, client: Client) -> None:
        self.backend, self.off_reason = build_backend(config, client)
        self.max_calls = config.max_calls if config else 0
        self.results = config.results if config else 0

    def for_request(self, enabled: bool, test: bool) -> tuple[ToolLoop | None, str]:
        """The request's tool loop, or None; and what `details.tools` says."""
        if not enabled:
            return None, "off: enable_tools is false"
        if self.backend is None:
            return None, f"off: {self.off_reason}"
        if test:
            return None, "off: simulated models do not search"
        return ToolLoop(self.backend, self.max_calls, self.results), "on"


@record
class Search:
    model: str
    query: str
    results: int
    error: str | None

    def as_json(self) -> JSON:
        return {"model": self.model, "query": self.query, "results": self.results,
                "error": self.error}


class ToolLoop:
    """One request's tool use: the loop of each model call, and every source it was given."""

    def __init__(self, backend: SearchBackend, max_calls: int, results: int) -> None:
        self.backend = backend
        self.max_calls = max_calls
        self.results = results
        self.searches: list[Search] = []
        self.sources: dict[str, SearchResult] = {}

    def details(self) -> JSON:
        return {"sources": [{"title": r.title, "url": r.url} for r in self.sources.values()],
                "searches": [s.as_json() for s in self.searches]}

    async def run(self, model: str, request: ModelRequest, call: Round
                  ) -> AsyncIterator[TextDelta | StreamEnd]:
        """Rounds until the model answers without calling a tool; the usage is their sum."""
        messages, usage, searched, wrote = request.messages, Usage(), 0, False
        while True:
            last = searched >= self.max_calls
            offer = replace(request, messages=_written_out(messages) if last else messages,
                            tools=() if last else (WEB_SEARCH,))
            calls: list[ToolCall] = []
            text: list[str] = []
            end = StreamEnd(Usage())
            async for chunk in call(offer):
                if isinstance(chunk, TextDelta):
                    if wrote and not text:
                        yield TextDelta("\n\n")  # a new round's text is a new paragraph
                    text.append(chunk.text)
                    yield chunk
                elif isinstance(chunk, ToolCall):
                    calls.append(chunk)
                else:
                    end = chunk
            usage.add(end.usage)
            wrote = wrote or bool(text)
            if last or not calls:
                yield StreamEnd(usage, "stop" if calls else end.finish_reason)
                return
            answers = await asyncio.gather(*(
                self._answer(model, tool_call, allowed=searched + index < self.max_calls)
                for index, tool_call in enumerate(calls)))
            searched += len(calls)  # every call counts, so a model that errs cannot loop
            messages = (*messages, Message("assistant", "".join(text), tool_calls=tuple(calls)),
                        *(Message("tool", answer, tool_call_id=c.id, name=c.name)
                          for c, answer in zip(calls, answers, strict=True)))

    async def _answer(self, model: str, call: ToolCall, allowed: bool) -> str:
        """What the model is told: the results, or why there are none."""
        if call.name != WEB_SEARCH.name:
            return f"There is no tool named {call.name!r}; only web_search exists."
        query = call.arguments.get("query")
        if not isinstance(query, str) or not query.strip():
            return "web_search needs a non-empty `query` string."
        if not allowed:
            return (f"Not searched: the limit of {self.max_calls} web searches for this answer "
                    "is reached. Answer from the results you have.")
        try:
            results = await self.backend.search(query.strip(), self.results)
        except SearchFailed as exc:
            self.searches.append(Search(model, query, 0, str(exc)))
            return (f"The web search failed: {exc}. Answer from what you know, and say that "
                    "the search failed.")
        self.searches.append(Search(model, query, len(results), None))
        for result in results:
            self.sources.setdefault(result.url, result)
        return _results_text(query, results)


def _results_text(query: str, results: Sequence[SearchResult]) -> str:
    if not results:
        return f"No results for {query!r}."
    lines = [f"Results for {query!r}:"]
    for number, result in enumerate(results, 1):
        lines += ["", f"[{number}] {result.title}", f"URL: {result.url}", result.snippet]
    return "\n".join(lines)


def _written_out(messages: Sequence[Message]) -> tuple[Message, ...]:
    """The tool exchanges as plain text, for the last round that offers no tools."""
    question = next((m.content for m in reversed(messages)
                     if m.role == "user" and not m.tool_calls), "")
    out: list[Message] = []
    for message in messages:
        if message.tool_calls:
            asked = "; ".join(str(c.arguments.get("query", c.name)) for c in message.tool_calls)
            out.append(Message("assistant", f"{message.content}\n(searched the web for: {asked})"
                               .strip()))
        elif message.role == "tool":
            out.append(Message("user", f"Web search results:\n{message.content}"))
        else:
            out.append(message)
    out.append(Message("user", "No more web searches are possible. Answer now, from the "
                               f"results above and what you know: {question[:QUESTION_CHARS]}"))
    return tuple(out)
