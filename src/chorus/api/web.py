"""The web app: `/` serves the single page, `/web/...` its static assets (no build step), and
`/docs` the API reference, with Swagger UI from `web/vendor/` rather than a CDN."""

from __future__ import annotations

from pathlib import Path

from fastapi import APIRouter
from fastapi.responses import FileResponse

from chorus.errors import NotFound

router = APIRouter(include_in_schema=False)

WEB_DIR = Path(__file__).resolve().parent.parent / "web"
MEDIA_TYPES = {
    ".html": "text/html; charset=utf-8",
    ".js": "text/javascript; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".svg": "image/svg+xml",
    ".png": "image/png",
    ".ico": "image/x-icon",
}
# Defence in depth behind the markdown renderer: even a rendering bug cannot run inline script,
# load code from elsewhere or send data anywhere but this server.
CSP = ("default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
       "connect-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; "
       "frame-ancestors 'none'")
HEADERS = {
    "content-security-policy": CSP,
    "x-content-type-options": "nosniff",
    "referrer-policy": "no-referrer",
    # Revalidate every time: after an upgrade the modules must not mix old and new versions.
    "cache-control": "no-cache",
}


def asset(relative: str) -> FileResponse:
    """A file under the web directory, or 404; nothing outside it is ever served."""
    target = (WEB_DIR / relative).resolve()
    media_type = MEDIA_TYPES.get(target.suffix)
    if media_type is None or not target.is_relative_to(WEB_DIR) or not target.is_file():
        raise NotFound(f"no web asset {relative}")
    return FileResponse(target, media_type=media_type, headers=HEADERS)


# Plain functions: FastAPI runs them in its thread pool, so the file checks never block the loop.
@router.api_route("/", methods=["GET", "HEAD"])
def index() -> FileResponse:
    return asset("index.html")


@router.api_route("/docs", methods=["GET", "HEAD"])
def docs() -> FileResponse:
    """Swagger UI over /openapi.json, its code served from the package: no CDN."""
    return asset("docs.html")


@router.api_route("/web/{relative:path}", methods=["GET", "HEAD"])
def web_asset(relative: str) -> FileResponse:
    return asset(relative)
