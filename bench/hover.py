"""Hover: how often the Latent grid's plane redraws the digit under a moving pointer, in Chromium.

The page ships `app.hover_plane.plane_view_html` in an `st.iframe` frame. This
benchmark builds that same HTML for the lecture's 2-D vae (trained into AECORE_HOME if missing),
loads it into headless Chromium as the frame's document, at the frame's size, and drives the mouse
across the plane for a few seconds with Playwright. The page counts its own redraws
(`window.hoverDraws`: crosshair, blended digit and code text, once per animation frame that had a
move) and the milliseconds its redraws took; updates per second are redraws over the seconds of
moving. No server takes part: the atlas is inlined in the page as a data URL (the dashboard serves it
by URL instead).

    python -m bench.hover
    python -m bench.hover --seconds 10
"""
from __future__ import annotations

import math
import time

from bench.common import bench_parser, emit_json, machine, print_machine
from tests.browser import CHROMIUM, CHROMIUM_ARGS, missing_browser_reason

TARGET_PER_S = 30
FRAME_WIDTH = 880  # the page's main column at 1280 wide with the sidebar open


def hover_html(dataset: str, quick: bool = False) -> tuple[str, dict]:
    """The hover view's HTML for the lecture vae on `dataset` (`quick`: a one-epoch 32-unit vae), as the
    page builds it, and its sizes."""

    from aecore.data import load_dataset
    from aecore.latent import posterior
    from aecore.metrics import encode_images
    from aecore.runs import get_or_train
    from aecore.spec import lecture_spec, make_spec
    from app.hover_plane import ATLAS_SIDE, data_url, plane_atlas, plane_view_html

    spec = make_spec("vae", dataset, hidden=(32,), latent=2, epochs=1) if quick else lecture_spec("vae", dataset)
    stored, _ = get_or_train(spec)
    data = load_dataset(dataset)
    codes = encode_images(stored.model, data.x_test)
    started = time.perf_counter()
    atlas, view = plane_atlas(stored.model, codes)
    atlas_s = time.perf_counter() - started
    mu, sigma = posterior(stored.model, data.x_test[:1])
    mark = {"name": "test digit #0", "mu": mu[0], "sigma": sigma[0]}
    html = plane_view_html(data_url(atlas), ATLAS_SIDE, view, codes, data.y_test, data.class_names, mark=mark)
    served = plane_view_html("/media/atlas.webp", ATLAS_SIDE, view, codes, data.y_test, data.class_names, mark=mark)
    return html, {"atlas_side": ATLAS_SIDE, "atlas_kb": round(len(atlas) / 1024),
                  "html_kb": round(len(served) / 1024), "atlas_s": round(atlas_s, 3),
                  "points": int(len(codes)), "span": [round(float(v), 3) for v in view]}


def measure(html: str, seconds: float) -> dict:
    """Move the mouse over the plane for `seconds`; redraws and moves per second."""
    from playwright.sync_api import sync_playwright

    from app.hover_plane import HEIGHT

    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": FRAME_WIDTH, "height": HEIGHT})
            page.set_content(html)
            page.wait_for_function("() => document.body.dataset.ready === '1' && window.hoverDraws > 0")
            box = page.locator("#plane").bounding_box()
            cx, cy, r = box["x"] + box["width"] / 2, box["y"] + box["height"] / 2, box["width"] * 0.4
            draws0, ms0 = page.evaluate("() => [window.hoverDraws, window.hoverDrawMs]")
            moves, started = 0, time.perf_counter()
            while (elapsed := time.perf_counter() - started) < seconds:
                t = moves * 0.05  # a Lissajous path: every part of the plane, no two moves at one spot
                page.mouse.move(cx + r * math.sin(3 * t), cy + r * math.sin(2 * t + 0.5))
                moves += 1
            page.evaluate("() => new Promise(done => requestAnimationFrame(() => requestAnimationFrame(done)))")
            draws, ms = page.evaluate("() => [window.hoverDraws, window.hoverDrawMs]")
            draws, ms = draws - draws0, ms - ms0
        finally:
            browser.close()
    return {"updates_per_s": round(draws / elapsed, 1), "moves_per_s": round(moves / elapsed, 1),
            "draws": draws, "moves": moves, "seconds": round(elapsed, 2),
            "ms_per_redraw": round(ms / max(draws, 1), 3)}


def main(argv: list[str] | None = None) -> dict:
    parser = bench_parser(__doc__.splitlines()[0])
    parser.set_defaults(dataset="mnist-sample")  # the embedded default the page opens on
    parser.add_argument("--seconds", type=float, default=5.0, help="seconds of pointer moves (default 5)")
    args = parser.parse_args(argv)
    reason = missing_browser_reason()
    if reason is not None:
        raise SystemExit(f"bench.hover needs Chromium: {reason}")
    info = machine()
    print_machine(info)
    html, sizes = hover_html(args.dataset, args.quick)
    result = measure(html, 1.0 if args.quick else args.seconds)
    print(f"{result['updates_per_s']} redraws/s from {result['moves_per_s']} pointer moves/s over "
          f"{result['seconds']} s, {result['ms_per_redraw']} ms of script per redraw; "
          f"atlas {sizes['atlas_side']}x{sizes['atlas_side']} decodes, "
          f"{sizes['atlas_kb']} KB, built in {sizes['atlas_s']} s; page {sizes['html_kb']} KB; "
          f"target {TARGET_PER_S}/s: {'met' if result['updates_per_s'] >= TARGET_PER_S else 'NOT met'}")
    payload = {"benchmark": "hover", "dataset": args.dataset, "quick": args.quick,
               "machine": info | {"load_after": _load()}, **sizes, **result, "target_per_s": TARGET_PER_S,
               "meets_target": result["updates_per_s"] >= TARGET_PER_S}
    emit_json(payload)
    return payload


def _load() -> list[float] | None:
    import os
    try:
        return [round(v, 2) for v in os.getloadavg()]
    except OSError:
        return None


if __name__ == "__main__":
    main()
