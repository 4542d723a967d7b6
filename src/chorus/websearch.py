"""Web search backends for the `web_search` tool: SearXNG's JSON API, Brave Search, Tavily."""

from __future__ import annotations

import html
import re
from typing import Any, Protocol

from chorus.config import SearchConfig
from chorus.httpclient import Client, HTTPError, Timeout
from chorus.records import record

BRAVE_URL = "https://api.search.brave.com/res/v1/web/search"
TAVILY_URL = "https://api.tavily.com/search"
SNIPPET_CHARS = 500
_TAGS = re.compile(r"<[^>]+>")


class SearchFailed(Exception):
    """The search backend did not answer usefully; the message says why, for the model too."""


@record
class SearchResult:
    title: str
    url: str
    snippet: str


class SearchBackend(Protocol):
    name: str

    async def search(self, query: str, count: int) -> list[SearchResult]:
        """Up to `count` results; raise SearchFailed."""
        ...


def _plain(text: object, limit: int = SNIPPET_CHARS) -> str:
    """Snippets come with HTML highlighting and entities; the model wants plain text."""
    flat = " ".join(html.unescape(_TAGS.sub("", str(text or ""))).split())
    return flat if len(flat) <= limit else flat[:limit].rsplit(" ", 1)[0] + "…"


def _results(items: Any, snippet_key: str, count: int) -> list[SearchResult]:
    if not isinstance(items, list):
        raise SearchFailed("the search answer has no result list")
    found = [SearchResult(_plain(item.get("title"), 200), str(item["url"]),
                          _plain(item.get(snippet_key)))
             for item in items if isinstance(item, dict) and item.get("url")]
    return found[:count]


class HttpSearch:
    """The HTTP part every backend shares: one call, its timeout, its failures."""

    name = "search"

    def __init__(self, client: Client, timeout: float, url: str, key: str = "") -> None:
        self.client = client
        self.timeout = timeout
        self.url = url
        self.key = key

    async def _json(self, method: str, url: str, **kwargs: Any) -> Any:
        try:
            response = await self.client.request(method, url, timeouts=self.timeout, **kwargs)
        except Timeout as exc:
            raise SearchFailed(f"{self.name} did not answer within {self.timeout:g}s") from exc
        except HTTPError as exc:
            raise SearchFailed(f"{self.name} cannot be reached: {exc}") from exc
        if response.status_code >= 400:
            raise SearchFailed(f"{self.name} answered HTTP {response.status_code}: "
                               f"{response.text[:200]}")
        try:
            return response.json()
        except ValueError as exc:
            raise SearchFailed(f"{self.name} answered something that is not JSON") from exc


class SearxngSearch(HttpSearch):
    name = "searxng"

    def __init__(self, client: Client, timeout: float, url: str) -> None:
        super().__init__(client, timeout, url.rstrip("/") + "/search")

    async def search(self, query: str, count: int) -> list[SearchResult]:
        try:
            data = await self._json("GET", self.url, params={"q": query, "format": "json"})
        except SearchFailed as exc:
            if "HTTP 403" in str(exc):
                raise SearchFailed("searxng refused format=json: add `json` to search.formats "
                                   "in the instance's settings.yml") from exc
            raise
        return _results(data.get("results") if isinstance(data, dict) else None, "content",
                        count)


class BraveSearch(HttpSearch):
    name = "brave"

    async def search(self, query: str, count: int) -> list[SearchResult]:
        data = await self._json("GET", self.url, params={"q": query, "count": count},
                                headers={"accept": "application/json",
                                         "x-subscription-token": self.key})
        web = data.get("web") if isinstance(data, dict) else None
        return _results(web.get("results") if isinstance(web, dict) else [], "description",
                        count)


class TavilySearch(HttpSearch):
    name = "tavily"

    async def search(self, query: str, count: int) -> list[SearchResult]:
        data = await self._json("POST", self.url, json={"query": query, "max_results": count},
                                headers={"authorization": f"Bearer {self.key}"})
        return _results(data.get("results") if isinstance(data, dict) else None, "content",
                        count)


def build_backend(config: SearchConfig | None, client: Client
                  ) -> tuple[SearchBackend | None, str]:
    """The configured backend, or None and why tools are off."""
    if config is None:
        return None, "no search backend configured"
    if config.backend == "searxng":
        if not config.url:
            return None, "the searxng search backend has no url"
        return SearxngSearch(client, config.timeout, config.url), ""
    if not config.api_key:
        return None, f"the {config.backend} search backend has no API key"
    if config.backend == "brave":
        return BraveSearch(client, config.timeout, config.url or BRAVE_URL, config.api_key), ""
    return TavilySearch(client, config.timeout, config.url or TAVILY_URL, config.api_key), ""
