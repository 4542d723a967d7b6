"""`/docs`: Swagger UI served from the package under the app's policy, and safe redirects."""

from __future__ import annotations

import re

import httpx2 as httpx

from tests.web.browser import Live, Page, expect


def test_docs_and_their_assets_come_from_this_server_with_the_apps_headers(live: Live) -> None:
    page = httpx.get(live.url + "/docs")
    assert page.status_code == 200
    assert page.headers["content-type"] == "text/html; charset=utf-8"
    policy = page.headers["content-security-policy"]
    assert "script-src 'self'" in policy and "unsafe-inline" not in policy
    assert page.headers["x-content-type-options"] == "nosniff"
    assert page.headers["referrer-policy"] == "no-referrer"
    assert "//" not in re.sub(r"<!doctype[^>]*>", "", page.text), "no URL off this server"
    assets = re.findall(r'(?:src|href)="(/web/[^"]+)"', page.text)
    assert "/web/vendor/swagger-ui/swagger-ui-bundle.js" in assets
    assert "/web/vendor/swagger-ui/swagger-ui.css" in assets
    for path in assets:
        asset = httpx.get(live.url + path)
        assert asset.status_code == 200, path
        assert asset.headers["content-security-policy"] == policy
    assert httpx.get(live.url + "/redoc").status_code == 404, "redoc would load from a CDN"


def test_docs_render_every_operation_offline_under_the_policy(page: Page, live: Live) -> None:
    requested: list[str] = []
    violations: list[str] = []
    page.on("request", lambda request: requested.append(request.url))
    page.on("console", lambda message: violations.append(message.text)
            if "Content Security Policy" in message.text else None)
    page.goto(live.url + "/docs")
    expect(page.locator(".opblock").first).to_be_visible()
    expect(page.locator(".opblock-summary-path", has_text="/v1/chat/completions")).to_be_visible()
    assert page.locator(".opblock").count() > 10
    assert all(url.startswith((live.url, "data:")) for url in requested), requested
    assert not violations, violations


def test_the_trailing_slash_redirect_never_points_at_the_host_a_client_sent(live: Live) -> None:
    for path, target in (("/healthz/", "/healthz"), ("/v1/sessions/?limit=2&offset=1",
                                                         "/v1/sessions?limit=2&offset=1"),
                         ("/docs/", "/docs")):
        response = httpx.get(live.url + path, headers={"host": "evil.example"})
        assert response.status_code == 307, path
        assert response.headers["location"] == target
    assert httpx.get(live.url + "/nowhere/").status_code == 404
