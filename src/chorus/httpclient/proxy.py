"""Outbound proxies from the environment: which origin goes through which proxy, and the
CONNECT tunnel that keeps TLS end to end."""

from __future__ import annotations

import asyncio
import base64
import ipaddress
import urllib.parse
from collections.abc import Mapping

from chorus.httpclient.errors import ConnectError
from chorus.httpclient.url import URL
from chorus.records import record


@record
class Proxy:
    url: URL
    authorization: str | None


def proxy_for(url: URL, env: Mapping[str, str]) -> Proxy | None:
    """The proxy for `url`; loopback is never proxied (a proxy cannot reach our loopback)."""
    address = env.get(url.scheme) or env.get("all")
    if not address or _loopback(url.host) or _bypassed(url.host, env.get("no", "")):
        return None
    parts = urllib.parse.urlsplit(address if "://" in address else f"http://{address}")
    if parts.scheme != "http":
        raise ConnectError(f"only http:// proxies are supported, not {address!r}")
    authorization = None
    if parts.username is not None:
        user = urllib.parse.unquote(parts.username)
        password = urllib.parse.unquote(parts.password or "")
        authorization = "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()
    return Proxy(URL.parse(f"http://{parts.hostname}:{parts.port or 80}"), authorization)


def _loopback(host: str) -> bool:
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return host == "localhost" or host.endswith(".localhost")


def _bypassed(host: str, no_proxy: str) -> bool:
    """NO_PROXY: `*`, or hosts and domains (`example.com` also covers `api.example.com`)."""
    for entry in no_proxy.replace(" ", "").lower().split(","):
        if entry == "*":
            return True
        name = entry.lstrip(".")
        if name.count(":") == 1:  # host:port; the port is not compared
            name = name.split(":")[0]
        if name and (host == name or host.endswith("." + name)):
            return True
    return False


async def tunnel(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, url: URL,
                  proxy: Proxy) -> None:
    """Ask the proxy for a tunnel to the origin (CONNECT), for TLS end to end."""
    auth = f"proxy-authorization: {proxy.authorization}\r\n" if proxy.authorization else ""
    where = f"[{url.host}]:{url.port}" if ":" in url.host else f"{url.host}:{url.port}"
    writer.write(f"CONNECT {where} HTTP/1.1\r\nhost: {where}\r\n{auth}\r\n".encode())
    try:
        head = await reader.readuntil(b"\r\n\r\n")
    except (asyncio.IncompleteReadError, asyncio.LimitOverrunError) as exc:
        raise ConnectError(f"the proxy {proxy.url.origin} broke off the tunnel") from exc
    status = head.split(b"\r\n", 1)[0].decode("latin-1")
    if status.split(" ", 2)[1:2] != ["200"]:
        raise ConnectError(f"the proxy {proxy.url.origin} refused the tunnel: {status}")
