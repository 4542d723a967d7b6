"""Web search as a tool: the loop in each dialect against fake-llm and a fake search backend."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from typing import Any

import pytest
import sqlalchemy as sa
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from chorus.config import FileConfig, ModeDefaults, ModelConfig, ProviderConfig, SearchConfig
from chorus.fakellm.anthropic import AnthropicWire
from chorus.fakellm.gemini import GeminiWire
from chorus.fakellm.openai import OpenAIWire
from chorus.httpclient import Client
from chorus.providers.registry import DIALECTS
from chorus.store.schema import usage_records
from chorus.tools import WEB_SEARCH
from chorus.types import ToolCall
from chorus.websearch import BraveSearch, SearchFailed, SearxngSearch, TavilySearch
from tests.conftest import FakeUpstream, Harness, ServerThread, harness_for
from tests.sse import stream_events

DIALECT_PATHS = {"openai": "/v1", "anthropic": "/v1", "gemini": "/v1beta"}
QUESTION = "latest news about quokkas"


class FakeSearch:
    """A search backend speaking SearXNG's JSON (and Brave's and Tavily's) on a real socket."""

    def __init__(self) -> None:
        self.queries: list[str] = []
        self.headers: list[dict[str, str]] = []
        self.status = 200

    def results(self, query: str, count: int = 3) -> list[dict[str, str]]:
        slug = re.sub(r"\W+", "-", query.lower()).strip("-")
        return [{"url": f"https://example.org/{slug}/{i}", "title": f"Result {i} &amp; <b>co</b>",
                 "content": f"Snippet {i} about {query}"} for i in range(1, count + 1)]

    async def searxng(self, request: Request) -> Response:
        query = request.query_params["q"]
        self.queries.append(query)
        if self.status != 200:
            return JSONResponse({"error": "boom"}, self.status)
        assert request.query_params["format"] == "json"
        return JSONResponse({"query": query, "number_of_results": 3,
                             "results": self.results(query)})

    async def brave(self, request: Request) -> Response:
        self.headers.append(dict(request.headers))
        query = request.query_params["q"]
        web = [{"title": r["title"], "url": r["url"], "description": r["content"]}
               for r in self.results(query, int(request.query_params["count"]))]
        return JSONResponse({"type": "search", "web": {"type": "search", "results": web}})

    async def tavily(self, request: Request) -> Response:
        self.headers.append(dict(request.headers))
        body = await request.json()
        return JSONResponse({"query": body["query"],
                             "results": [{**r, "score": 0.9}
                                         for r in self.results(body["query"],
                                                               body["max_results"])]})

    def app(self) -> Starlette:
        return Starlette(routes=[Route("/search", self.searxng), Route("/brave", self.brave),
                                 Route("/tavily", self.tavily, methods=["POST"])])


@pytest.fixture(scope="module")
def search_server() -> Iterator[tuple[ServerThread, FakeSearch]]:
    fake = FakeSearch()
    with ServerThread(fake.app()) as server:
        yield server, fake


@pytest.fixture
def search(search_server: tuple[ServerThread, FakeSearch]) -> tuple[str, FakeSearch]:
    server, fake = search_server
    fake.queries.clear()
    fake.headers.clear()
    fake.status = 200
    return server.url, fake


def tool_config(fake: FakeUpstream, search_url: str | None, upstream: str,
                max_calls: int = 3) -> FileConfig:
    return FileConfig(
        providers=[ProviderConfig(name=d, dialect=d, base_url=fake.url + path,  # type: ignore[arg-type]
                                  api_key="k", max_retries=0)
                   for d, path in DIALECT_PATHS.items()],
        models=[ModelConfig(id=d, provider=d, upstream=upstream) for d in DIALECT_PATHS],
        defaults=ModeDefaults(default_model="openai"),
        search=SearchConfig(backend="searxng", url=search_url, max_calls=max_calls, results=3)
        if search_url else None)


@asynccontextmanager
async def with_tools(database_url: str, fake: FakeUpstream, search_url: str | None,
                     upstream: str = "small@tool=web_search,tool_calls=2", max_calls: int = 3
                     ) -> AsyncIterator[Harness]:
    config = tool_config(fake, search_url, upstream, max_calls)
    async with harness_for(database_url, file=config) as h:
        yield h


async def ask(h: Harness, model: str, **extra: Any) -> dict:
    headers = await h.headers(test=extra.pop("test", False))
    response = await h.client.post("/v1/chat", headers=headers,
                                   json={"message": QUESTION, "model": model, **extra})
    assert response.status_code == 200, response.text
    return response.json()


def offered(dialect: str, body: dict) -> list[str]:
    if dialect == "openai":
        return [t["function"]["name"] for t in body.get("tools", ())]
    if dialect == "anthropic":
        assert all("input_schema" in t for t in body.get("tools", ()))
        return [t["name"] for t in body.get("tools", ())]
    return [d["name"] for t in body.get("tools", ()) for d in t["functionDeclarations"]]


def tool_results(dialect: str, body: dict) -> list[tuple[str, str]]:
    """(call id or name, result text) of every tool result in a request body."""
    if dialect == "openai":
        return [(m["tool_call_id"], m["content"]) for m in body["messages"]
                if m["role"] == "tool"]
    if dialect == "anthropic":
        return [(b["tool_use_id"], b["content"]) for m in body["messages"]
                if isinstance(m["content"], list) for b in m["content"]
                if b["type"] == "tool_result"]
    return [(p["functionResponse"]["name"], p["functionResponse"]["response"]["result"])
            for c in body["contents"] for p in c["parts"] if "functionResponse" in p]


@pytest.mark.parametrize("dialect", list(DIALECT_PATHS))
async def test_the_tool_loop_in_each_dialect(database_url: str, fake_llm: FakeUpstream,
                                             search: tuple[str, FakeSearch],
                                             dialect: str) -> None:
    url, backend = search
    async with with_tools(database_url, fake_llm, url) as h:
        answer = await ask(h, dialect)
        assert answer["content"].startswith("Fake answer to:")
        bodies = [r["body"] for r in fake_llm.requests]
        assert len(bodies) == 3 and [r.get("tool_call") for r in fake_llm.requests] == [
            "web_search", "web_search", None]
        assert all(offered(dialect, b) == ["web_search"] for b in bodies)
        assert [len(tool_results(dialect, b)) for b in bodies] == [0, 1, 2]
        first_id, first_text = tool_results(dialect, bodies[2])[0]
        assert first_id in ("call_1", "toolu_call_1", "web_search")
        assert first_text.startswith(f"Results for '{QUESTION}':")
        assert "[1] Result 1 & co\nURL: https://example.org/latest-news-about-quokkas/1" in (
            first_text)
        assert backend.queries == [QUESTION, QUESTION]
        details = answer["details"]
        assert details["tools"] == "on"
        assert details["sources"] == [
            {"title": "Result 1 & co", "url": "https://example.org/latest-news-about-quokkas/1"},
            {"title": "Result 2 & co", "url": "https://example.org/latest-news-about-quokkas/2"},
            {"title": "Result 3 & co", "url": "https://example.org/latest-news-about-quokkas/3"}]
        assert details["searches"] == [
            {"model": dialect, "query": QUESTION, "results": 3, "error": None}] * 2
        assert answer["usage"]["completion_tokens"] == 8 + 8 + 24
        await h.services.store.usage.flush()
        async with h.services.store.engine.connect() as conn:
            rounds = (await conn.execute(sa.select(sa.func.count()).select_from(usage_records)
                                         .where(usage_records.c.session_id
                                                == answer["session_id"]))).scalar()
        assert rounds == 3


async def test_a_model_asking_for_too_many_calls_must_answer(
        database_url: str, fake_llm: FakeUpstream, search: tuple[str, FakeSearch]) -> None:
    url, backend = search
    async with with_tools(database_url, fake_llm, url,
                          upstream="small@tool=web_search,tool_calls=9", max_calls=2) as h:
        answer = await ask(h, "anthropic")
        bodies = [r["body"] for r in fake_llm.requests]
        assert len(bodies) == 3 and len(backend.queries) == 2
        last = bodies[-1]
        assert "tools" not in last
        text = str(last["messages"])
        assert "(searched the web for: latest news about quokkas)" in text
        assert "No more web searches are possible" in text and "Web search results:" in text
        assert answer["content"].startswith("Fake answer to: Web search results:")
        assert len(answer["details"]["searches"]) == 2


async def test_a_failing_search_is_told_to_the_model(
        database_url: str, fake_llm: FakeUpstream, search: tuple[str, FakeSearch]) -> None:
    url, backend = search
    backend.status = 500
    async with with_tools(database_url, fake_llm, url,
                          upstream="small@tool=web_search,tool_calls=1") as h:
        answer = await ask(h, "gemini")
        (_, result), = tool_results("gemini", fake_llm.requests[-1]["body"])
        assert result.startswith("The web search failed: searxng answered HTTP 500")
        details = answer["details"]
        assert details["sources"] == [] and details["tools"] == "on"
        assert details["searches"][0]["error"].startswith("searxng answered HTTP 500")
        assert answer["content"].startswith("Fake answer to:")


async def test_streamed_answer_after_tool_rounds(
        database_url: str, fake_llm: FakeUpstream, search: tuple[str, FakeSearch]) -> None:
    url, _ = search
    async with with_tools(database_url, fake_llm, url) as h:
        headers = await h.headers(test=False)
        events = await stream_events(h.client, "/v1/chat",
                                     {"message": QUESTION, "model": "openai"}, headers)
        names = [name for name, _ in events]
        assert names[0] == "session" and names[-2:] == ["message.completed", "done"]
        assert "message.delta" in names and "error" not in names
        completed = events[-2][1]
        assert completed["details"]["tools"] == "on" and completed["details"]["sources"]


async def test_tools_off_say_why(database_url: str, fake_llm: FakeUpstream,
                                 search: tuple[str, FakeSearch]) -> None:
    url, backend = search
    async with with_tools(database_url, fake_llm, None) as h:
        answer = await ask(h, "openai")
        assert answer["details"]["tools"] == "off: no search backend configured"
        assert "sources" not in answer["details"]
        assert "tools" not in fake_llm.requests[-1]["body"]
    async with with_tools(database_url, fake_llm, url) as h:
        answer = await ask(h, "openai", enable_tools=False)
        assert answer["details"]["tools"] == "off: enable_tools is false"
        assert "tools" not in fake_llm.requests[-1]["body"]
        simulated = await ask(h, "gpt-4o", test=True)
        assert simulated["details"]["tools"] == "off: simulated models do not search"
    assert backend.queries == []
    config = tool_config(fake_llm, url, "small")
    config.search = SearchConfig(backend="brave")
    async with harness_for(database_url, file=config) as h:
        answer = await ask(h, "openai")
        assert answer["details"]["tools"] == "off: the brave search backend has no API key"


async def test_brave_tavily_and_searxng_backends(search: tuple[str, FakeSearch]) -> None:
    url, backend = search
    async with Client() as client:
        brave = await BraveSearch(client, 5, f"{url}/brave", "brave-key").search("a b", 2)
        assert [r.url for r in brave] == ["https://example.org/a-b/1", "https://example.org/a-b/2"]
        assert brave[0].title == "Result 1 & co" and brave[0].snippet == "Snippet 1 about a b"
        assert backend.headers[-1]["x-subscription-token"] == "brave-key"
        tavily = await TavilySearch(client, 5, f"{url}/tavily", "tvly-key").search("c", 1)
        assert [r.url for r in tavily] == ["https://example.org/c/1"]
        assert backend.headers[-1]["authorization"] == "Bearer tvly-key"
        backend.status = 403
        with pytest.raises(SearchFailed, match=r"add `json` to search\.formats"):
            await SearxngSearch(client, 5, url).search("x", 3)
        with pytest.raises(SearchFailed, match="cannot be reached"):
            await SearxngSearch(client, 5, "http://127.0.0.1:9").search("x", 3)


def test_the_tool_spec_is_a_json_schema() -> None:
    assert WEB_SEARCH.parameters["required"] == ["query"]
    assert WEB_SEARCH.parameters["properties"]["query"]["type"] == "string"


@pytest.mark.parametrize("dialect", list(DIALECT_PATHS))
def test_whole_answers_with_tool_calls_parse_in_each_dialect(dialect: str) -> None:
    wire = {"openai": OpenAIWire, "anthropic": AnthropicWire, "gemini": GeminiWire}[dialect]()
    data = wire.tool_answer("m", ToolCall("call_1", "web_search", {"query": "q"}), (5, 8))
    answer = DIALECTS[dialect]().parse_answer(data)  # type: ignore[index]
    expected_id = {"openai": "call_1", "anthropic": "toolu_call_1", "gemini": "call_0"}[dialect]
    assert answer.tool_calls == [ToolCall(expected_id, "web_search", {"query": "q"})]
    assert answer.text == ""
