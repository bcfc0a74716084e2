"""Which page this browser session runs now and ran before: a page tells a user who has just come to
it (its elements are gone from the browser) from one who stays on it and clicks."""
from __future__ import annotations

import streamlit as st


def record_page(name: str) -> None:
    """Called by the entry script before each full run of a page: which page this session runs now."""
    st.session_state["_page_before"] = st.session_state.get("_page_now")
    st.session_state["_page_now"] = name


def stayed_on_page() -> bool:
    """True when this session's previous run was of the same page: its elements are still in the
    browser. False when the user has just come to the page (or reloaded it)."""
    before = st.session_state.get("_page_before")
    return before is not None and before == st.session_state.get("_page_now")
