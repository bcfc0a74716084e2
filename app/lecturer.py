"""The lecturer role: who may stop others' training runs, delete models and prepare the lecture set.

A lecture hall shares one server. When the lecturer sets a password (Streamlit's secrets
`lecturer_password`, or the environment variable LATENTLAB_LECTURER_PASSWORD), those controls need it,
typed once per browser session in the sidebar; without a password (a laptop) everyone may use them.
A session may always stop its own runs.
"""
from __future__ import annotations

import hmac
import os
import uuid

import streamlit as st

ENV_PASSWORD = "LATENTLAB_LECTURER_PASSWORD"
SECRET_PASSWORD = "lecturer_password"


def password() -> str | None:
    """The lecturer's password, or None when none is set."""
    try:
        secret = st.secrets.get(SECRET_PASSWORD)
    except Exception:  # no secrets.toml, or one that does not parse: Streamlit raises its own errors
        secret = None
    value = secret if isinstance(secret, str) and secret else os.environ.get(ENV_PASSWORD)
    return value or None


def session_owner() -> str:
    """This browser session's name for the jobs it submits."""
    return st.session_state.setdefault("session_owner", uuid.uuid4().hex)


def may_manage() -> bool:
    """Whether this session may stop others' runs, delete models and prepare the lecture set."""
    return password() is None or bool(st.session_state.get("lecturer_unlocked"))


def may_stop(job) -> bool:
    """Whether this session may stop `job`: its own, or any when it may manage."""
    return job.owner == session_owner() or may_manage()


def _unlock() -> None:
    typed = st.session_state.get("lecturer_password_typed", "")
    st.session_state["lecturer_password_typed"] = ""  # a password never stays in a field
    expected = password() or ""
    ok = bool(typed) and hmac.compare_digest(typed.encode(), expected.encode())
    st.session_state["lecturer_unlocked"] = ok
    st.session_state["lecturer_refused"] = not ok


def lecturer_controls() -> None:
    """The sidebar's unlock field; nothing when no password is set."""
    if password() is None:
        return
    if st.session_state.get("lecturer_unlocked"):
        st.caption("Lecturer controls unlocked: you may stop any run, delete models and prepare the lecture set.")
        if st.button("Lock", key="lecturer_lock", icon=":material/lock:"):
            st.session_state["lecturer_unlocked"] = False
            st.rerun()
        return
    with st.expander("Lecturer", icon=":material/lock:"):
        st.text_input("Password", type="password", key="lecturer_password_typed", on_change=_unlock,
                      help="Stopping others' runs, deleting models and preparing the lecture set need it.")
        if st.session_state.pop("lecturer_refused", False):
            st.error("That is not the lecturer's password.")


def locked_note(what: str) -> None:
    """Say in one line that `what` needs the lecturer."""
    st.caption(f"Only the lecturer can {what} (unlock in the sidebar).")
