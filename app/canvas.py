"""The digit canvas: streamlit-drawable-canvas, made to send each stroke the moment it is released.

streamlit-drawable-canvas 0.13 sends a drawing 200 ms after the last change (a fixed debounce in its
bundle), two thirds of the 300 ms a user should wait for a reconstruction. Its toolbar has a button
that sends at once, "Update the app with this drawing", which also cancels the pending send. A
small in-page script presses it as the mouse or finger that drew a stroke is lifted. If a later
version of the canvas renames that button, the canvas keeps its own timing; a browser test watches
for that.
"""
from __future__ import annotations

import functools
from typing import Any

import streamlit as st

SEND_BUTTON_TITLE = "Update the app with this drawing"  # the canvas toolbar's send button
# The toolbar's states (hidden, shown on hover, pinned) all sit wholly above the canvas, 0.5rem clear of it.
TOOLBAR_ABOVE_CSS = (".dc-toolbar, .dc-root:hover > .dc-toolbar, .dc-toolbar:hover, .dc-toolbar:focus-within, "
                     ".dc-toolbar[data-pinned=true] { top: auto; bottom: 100%; }")

# Runs in the app's page (components v2 are not in an iframe). A stroke starts on a <canvas> inside the
# drawable canvas's root; the release presses that canvas's send button in a new task, after fabric.js
# has finished the stroke and the canvas has queued its own, slower send.
_SEND_ON_RELEASE_JS = """
export default function ({ parentElement }) {
  // This script's own element is empty: take it out of the layout, so it adds no gap below the canvas.
  const own = (parentElement.host || parentElement).closest('[data-testid="stElementContainer"]');
  if (own) own.style.display = "none";
  let root = null;
  const start = (event) => {
    const path = event.composedPath();
    root = path[0] instanceof HTMLCanvasElement
      ? path.find((el) => el.classList && el.classList.contains("canvas-root")) || null : null;
  };
  const release = () => {
    const drawn = root;
    root = null;
    if (!drawn) return;
    setTimeout(() => {
      const send = drawn.getRootNode().querySelector('button[title="%s"]');
      if (send) send.click();
    }, 0);
  };
  // The canvas's toolbar waits, invisible, over the canvas's top 30 px (top: -1rem, 46 px tall) and takes
  // any press there: put it above the canvas in every state, in each canvas's own shadow root.
  const liftToolbars = () => {
    for (const host of document.querySelectorAll('[data-testid="stBidiComponentIsolated"]')) {
      const shadow = host.shadowRoot;
      if (!shadow || !shadow.querySelector(".canvas-root")) continue;
      if (shadow.querySelector("style[data-toolbar-above]")) continue;
      const style = document.createElement("style");
      style.dataset.toolbarAbove = "";
      style.textContent = "%s";
      shadow.appendChild(style);
    }
  };
  liftToolbars();
  let queued = false;
  const watch = new MutationObserver(() => {
    if (queued) return;
    queued = true;
    requestAnimationFrame(() => { queued = false; liftToolbars(); });
  });
  watch.observe(document.body, { childList: true, subtree: true });
  document.addEventListener("mousedown", start, true);
  document.addEventListener("touchstart", start, true);
  document.addEventListener("mouseup", release, true);
  document.addEventListener("touchend", release, true);
  return () => {
    watch.disconnect();
    document.removeEventListener("mousedown", start, true);
    document.removeEventListener("touchstart", start, true);
    document.removeEventListener("mouseup", release, true);
    document.removeEventListener("touchend", release, true);
  };
}
""" % (SEND_BUTTON_TITLE, TOOLBAR_ABOVE_CSS)  # noqa: UP031 (% leaves the JavaScript's braces alone)

@functools.cache
def _send_on_release():
    # Registered on first use: a component registers with the running app's component registry.
    return st.components.v2.component("latentlab.send_on_release", js=_SEND_ON_RELEASE_JS)


def digit_canvas(key: str, side: int, stroke_width: int, initial_drawing: dict | None = None) -> Any:
    """A black square canvas for drawing a digit in white, showing `initial_drawing` (a `json_data` of
    this canvas) when mounted; returns the canvas's `CanvasResult`."""
    from streamlit_drawable_canvas import st_canvas  # registers a component: only inside a running app

    result = st_canvas(stroke_width=stroke_width, stroke_color="#FFFFFF", background_color="#000000",
                       height=side, width=side, drawing_mode="freedraw", update_streamlit=True,
                       initial_drawing=initial_drawing,
                       return_image_data=True, key=key)
    _send_on_release()(key=f"{key}_send_on_release")
    return result
