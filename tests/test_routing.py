"""Nested URLs redirect to their page (`app.routing`): Streamlit's index.html links its scripts
relative to the page, so under `/train/extra` they were not found and the page stayed blank."""
from __future__ import annotations

import asyncio

import pytest

from app.routing import NestedPathRedirect, page_of


@pytest.mark.parametrize("path, page", [
    ("/train/extra", "/train"), ("/train/extra/more/", "/train"), ("/no-such-page/x", "/no-such-page"),
    ("/", None), ("/train", None), ("/train/", None), ("/static/js/index.js", None), ("/_stcore/health", None),
    ("/_stcore/stream", None), ("/train/_stcore/health", None),
    ("/train/_stcore/host-config", None), ("/media/abc.png", None), ("/component/x/index.html", None),
    ("//evil.com/x", None),
])
def test_page_of(path, page):
    assert page_of(path) == page


def _call(path: str, method: str = "GET", query: bytes = b"") -> list[dict]:
    sent, passed = [], []

    async def inner(scope, receive, send):
        passed.append(scope["path"])

    async def send(message):
        sent.append(message)

    scope = {"type": "http", "method": method, "path": path, "query_string": query}
    asyncio.run(NestedPathRedirect(inner)(scope, None, send))
    return sent if sent else passed


def test_nested_get_redirects_with_its_query():
    start = _call("/train/extra", query=b"model=vae&epochs=3")[0]
    assert start["status"] == 302 and (b"location", b"/train?model=vae&epochs=3") in start["headers"]


def test_other_requests_pass_through():
    assert _call("/train") == ["/train"]
    assert _call("/static/js/index.js") == ["/static/js/index.js"]
    assert _call("/train/extra", method="POST") == ["/train/extra"]
