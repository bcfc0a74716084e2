"""Opening the dashboard's pages under Streamlit's AppTest as a visitor does: Home first, then the page by
its script, with the URL's query string and the session's state set beforehand."""
from __future__ import annotations

from pathlib import Path
from typing import Any

from streamlit.testing.v1 import AppTest

HOME = Path(__file__).resolve().parents[1] / "app" / "Home.py"


def open_page(page: str | None = None, query: dict[str, str] | None = None, *,
              session: dict[str, Any] | None = None, timeout_s: float = 60) -> AppTest:
    """Run Home, then switch to `pages/<page>` (e.g. "denoise.py"; None stays on Home).

    Parameters
    ----------
    page : the page's script in `pages/`, or None for Home.
    query : the URL's query string, set before Home runs.
    session : session_state values set before the page runs (e.g. a drawing kept from another page).
    timeout_s : the longest one run may take.

    Returns
    -------
    The AppTest after the page's run; the page raised no exception.
    """
    at = AppTest.from_file(str(HOME), default_timeout=timeout_s)
    for name, value in (query or {}).items():
        at.query_params[name] = value
    at.run()
    for name, value in (session or {}).items():
        at.session_state[name] = value
    if page:
        at.switch_page(f"../pages/{page}").run()
    assert not at.exception, [e.value for e in at.exception]
    return at
