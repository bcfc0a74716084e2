"""The dashboard's one piece of HTTP routing: nested paths redirect to their page.

Streamlit answers any unknown path with its index.html, whose scripts are linked relative to the
page (`./static/js/...`). Under a nested path such as `/train/extra` they resolve to
`/train/static/js/...`, which is answered with index.html again, and the browser shows a blank
white page. `NestedPathRedirect` sends such paths to their first segment (`/train`), where the page
(or, for an unknown name, Streamlit's "page not found" and Home) renders.
"""
from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

# Path segments of what Streamlit itself serves: never redirected. The browser also probes them below a
# page (`/train/_stcore/health` must stay a 404, so it finds the server's root).
STREAMLIT_PREFIXES = frozenset({"_stcore", "static", "media", "component", "app", "auth", "oauth2callback", "-"})

Asgi = Callable[[dict, Callable[[], Awaitable[dict]], Callable[[dict], Awaitable[None]]], Awaitable[None]]


def page_of(path: str) -> str | None:
    """The page path a nested request path should show (`/train/extra` -> `/train`), else None."""
    parts = [p for p in path.split("/") if p]
    if len(parts) < 2 or STREAMLIT_PREFIXES.intersection(parts) or path.startswith("//"):
        return None
    return "/" + parts[0]


class NestedPathRedirect:
    """ASGI middleware: a GET or HEAD of a nested page path is redirected (302) to its page."""

    def __init__(self, app: Asgi):
        self.app = app

    async def __call__(self, scope: dict[str, Any], receive, send) -> None:
        is_page_request = scope["type"] == "http" and scope.get("method") in ("GET", "HEAD")
        target = page_of(scope.get("path", "")) if is_page_request else None
        if target is None:
            await self.app(scope, receive, send)
            return
        query = scope.get("query_string", b"")
        location = target + ("?" + query.decode("latin-1") if query else "")
        await send({"type": "http.response.start", "status": 302,
                    "headers": [(b"location", location.encode("latin-1")), (b"cache-control", b"no-cache"),
                                (b"content-length", b"0")]})
        await send({"type": "http.response.body", "body": b""})
