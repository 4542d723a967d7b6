"""Absolute http(s) URLs, split once."""

from __future__ import annotations

import urllib.parse
from collections.abc import Mapping

from chorus.records import record


@record
class URL:
    """An absolute http(s) URL, split once into what a request needs."""

    scheme: str
    host: str
    port: int
    target: str
    """Path and query, as sent on the request line."""

    @classmethod
    def parse(cls, url: str) -> URL:
        try:
            parts = urllib.parse.urlsplit(url)
            port = parts.port
        except ValueError as exc:
            raise ValueError(f"not a valid URL: {url!r}") from exc
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError(f"not an http(s) URL: {url!r}")
        return cls(parts.scheme, parts.hostname,
                   port or (443 if parts.scheme == "https" else 80),
                   (parts.path or "/") + (f"?{parts.query}" if parts.query else ""))

    def with_params(self, params: Mapping[str, str | int]) -> URL:
        query = urllib.parse.urlencode({k: str(v) for k, v in params.items()})
        joiner = "&" if "?" in self.target else "?"
        return URL(self.scheme, self.host, self.port, f"{self.target}{joiner}{query}")

    @property
    def authority(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        default = 443 if self.scheme == "https" else 80
        return host if self.port == default else f"{host}:{self.port}"

    @property
    def origin(self) -> str:
        return f"{self.scheme}://{self.authority}"
