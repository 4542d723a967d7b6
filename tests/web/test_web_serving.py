"""The web app's files: served at `/` with a strict policy, nothing outside the web folder."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from tests.conftest import Harness, harness_for

WEB = Path(__file__).resolve().parents[2] / "src" / "chorus" / "web"
# Ways to turn a string into markup or code; the app builds every node with textContent.
FORBIDDEN = re.compile(r"innerHTML|outerHTML|insertAdjacentHTML|document\.write|\beval\(|"
                       r"new Function|createContextualFragment|DOMParser|srcdoc")


@pytest.fixture
async def app(tmp_path: Path) -> AsyncIterator[Harness]:
    async with harness_for(f"sqlite:///{tmp_path}/web.db") as h:
        yield h


async def test_the_page_and_its_modules_are_served_with_a_strict_policy(app: Harness) -> None:
    page = await app.client.get("/")
    assert page.status_code == 200
    assert page.headers["content-type"] == "text/html; charset=utf-8"
    policy = page.headers["content-security-policy"]
    assert "script-src 'self'" in policy and "object-src 'none'" in policy
    assert "unsafe-inline" not in policy and "unsafe-eval" not in policy
    assert page.headers["x-content-type-options"] == "nosniff"
    assets = re.findall(r'(?:src|href)="(/web/[^"]+)"', page.text)
    assert "/web/app.js" in assets and "/web/style.css" in assets
    for path in assets:
        response = await app.client.get(path)
        assert response.status_code == 200, path
    module = await app.client.get("/web/js/markdown.js")
    assert module.headers["content-type"] == "text/javascript; charset=utf-8"
    assert (await app.client.head("/")).status_code == 200


@pytest.mark.parametrize("path", ["/web/../api/web.py", "/web/%2e%2e/api/web.py",
                                  "/web/..%2f..%2fconfig.py", "/web/js", "/web/missing.js",
                                  "/web/../data/README.md"])
async def test_nothing_outside_the_web_folder_is_served(app: Harness, path: str) -> None:
    response = await app.client.get(path)
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "not_found"


def test_every_module_imported_exists_and_no_code_parses_html() -> None:
    sources = [*WEB.glob("*.js"), *WEB.glob("js/*.js")]
    assert len(sources) > 5
    for source in sources:
        text = source.read_text()
        assert not FORBIDDEN.search(text), f"{source.name} builds markup from strings"
        for target in re.findall(r'from "(\.[^"]+)"', text):
            assert (source.parent / target).resolve().is_file(), f"{source.name}: {target}"
    assets = set(re.findall(r'"/web/([^"]+)"', (WEB / "index.html").read_text()))
    assert all((WEB / asset).is_file() for asset in assets)
