"""A session's settings: each widget's value kept for the whole browser session, started from the
URL's query string once and written back to it, so that a page visited again is as it was left and
a lecturer can share a link to a view.

Streamlit forgets a widget's value at the end of any run that does not draw the widget: a visit to
another page, but also a run of one fragment of the same page (a stroke on the canvas, a click on a
map, a progress bar's refresh), which does not run the entry script. So every setting is also kept
under a plain session key that no run ever drops, and put back before its widget is drawn again.
"""
from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import streamlit as st

_KEPT = "_kept_settings"  # session_state: widget key -> the setting's latest value


def keep(key: str, start: Callable[[], Any], fits: Callable[[Any], bool] = lambda value: True) -> Any:
    """Make session_state[key] hold this session's latest value of a setting, before its widget is drawn.

    The widget's own value if Streamlit still has it, else the value kept from the last run that drew
    it, else `start()` (called once per session, or again when the latest value no longer `fits`, e.g.
    a model was deleted). Returns the value.
    """
    kept = st.session_state.setdefault(_KEPT, {})
    if key in st.session_state and fits(st.session_state[key]):
        value = st.session_state[key]
    elif key not in st.session_state and key in kept and fits(kept[key]):
        value = st.session_state[key] = kept[key]
    else:
        value = st.session_state[key] = start()
    kept[key] = value
    return value


def kept_value(key: str, default: Any = None) -> Any:
    """The value kept for a setting in this session (even while its widget is not drawn), or `default`."""
    return st.session_state.get(_KEPT, {}).get(key, default)


def forget(key: str) -> None:
    """Drop a setting and its kept value, so that it starts again (e.g. the canvas is cleared)."""
    st.session_state.pop(key, None)
    st.session_state.setdefault(_KEPT, {}).pop(key, None)


def init_from_query(key: str, param: str, default: Any, *, cast: Callable[[str], Any] = str,
                    choices: Sequence[Any] | None = None, lo: float | None = None, hi: float | None = None) -> None:
    """Keep session_state[key] (see `keep`), started once per session from `?param=` if it is valid,
    else from `default`.

    Query values are untrusted text: they are cast, range-checked and matched against `choices`;
    anything else is ignored. None of them ever names a file. A value kept from earlier in the session
    that no longer fits (the choices depend on the dataset, or a model was deleted) goes back to
    `default`, not to the URL: the URL counts once.
    """
    seen = key in st.session_state or key in st.session_state.get(_KEPT, {})

    def start() -> Any:
        raw = None if seen else st.query_params.get(param)
        if raw is not None:
            try:
                candidate = cast(raw)
                if fits_range(candidate, choices, lo, hi):
                    return candidate
            except (ValueError, TypeError):
                pass
        return default

    keep(key, start, lambda value: fits_range(value, choices, lo, hi))


def fits_range(value: Any, choices: Sequence[Any] | None = None, lo: float | None = None,
               hi: float | None = None) -> bool:
    """True if `value` is one of `choices` (when given) and within [lo, hi] (where given)."""
    try:
        return (choices is None or value in choices) and (lo is None or value >= lo) and (hi is None or value <= hi)
    except TypeError:  # e.g. a value of another type than the bounds
        return False


def set_query(**params: Any) -> None:
    """Write the page's settings to the URL (values as text)."""
    for name, value in params.items():
        st.query_params[name] = str(value)
