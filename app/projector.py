"""The projector view and the page styles that keep results legible in a lecture room: a per-session
setting kept in the URL (`?projector=1`, a sidebar toggle) that enlarges chart text and the page's own
text, and darker captions in every view."""
from __future__ import annotations

import streamlit as st
from streamlit.runtime.scriptrunner import get_script_run_ctx

from app import settings

KEY = "projector"
PAGE_TEXT_PX = 20  # the page's base text in the projector view (Streamlit's is 16 px; its sizes are in rem)
# Streamlit's captions are light grey: darker, so they survive a washed-out projector. Its main area
# starts 6rem down: 3rem leaves the header's buttons clear and gives a 720-pixel screen back 48 pixels.
STYLE = ("[data-testid='stCaptionContainer'] { color: #3b3d45; }"
         "[data-testid='stMainBlockContainer'] { padding-top: 3rem; }")
PROJECTOR_STYLE = f"html {{ font-size: {PAGE_TEXT_PX}px; }}"


def is_on() -> bool:
    """Whether this session shows the projector view (False outside a page run, e.g. in unit tests)."""
    if get_script_run_ctx(suppress_warning=True) is None:
        return False
    # a fragment's run does not draw the sidebar's toggle: its value is then the one `settings` kept
    return bool(st.session_state.get(KEY, st.session_state.get(settings._KEPT, {}).get(KEY, False)))


def projector_controls() -> bool:
    """The sidebar's projector toggle (kept in the URL as `projector=1`); returns whether it is on."""
    settings.init_from_query(KEY, KEY, False, cast=lambda v: v in ("1", "true", "on"), choices=[False, True])
    on = st.toggle("Projector view", key=KEY,
                   help="Larger text in the page and its charts, for a lecture room. Kept in the link.")
    if on:
        st.query_params[KEY] = "1"
    else:
        st.query_params.pop(KEY, None)
    return on


def page_style() -> str:
    """The CSS for this session's view, for `st.html`."""
    return "<style>" + STYLE + (PROJECTOR_STYLE if is_on() else "") + "</style>"
