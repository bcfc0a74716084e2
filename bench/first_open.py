"""First open: how long each page takes to show its real content to a student who opens the dashboard
for the first time, measured in Debian's Chromium with Playwright.

A fresh data home (no model trained) and a fresh numba cache (UMAP's kernels not compiled), the
server started with the README's command, offline, on the embedded MNIST sample. The browser opens
Home, then clicks the sidebar's link to every other page of app/navigation.py's PAGES as a student does,
and times each page from the click to its real content on screen (`CONTENT`): pictures, charts or
tables from a trained model (the model each page needs is trained on the spot, as the one shared job),
with no training progress left on the page (the Face-off: its table, while it trains the families
still missing). Then it visits every page again, and times the same. The target: within 20 s on first
open, within 2 s once trained.

    python -m bench.first_open
    python -m bench.first_open --quick   # Train and Models only: a smoke test
"""
from __future__ import annotations

import tempfile
import time
from pathlib import Path

from bench.common import bench_parser, emit_json, machine, print_machine, print_table
from bench.lecture_hall.server import dashboard, log_tracebacks
from tests.browser import CHROMIUM, CHROMIUM_ARGS, missing_browser_reason, wait_for_run_end

TARGET_FIRST_S = 20.0
TARGET_AGAIN_S = 2.0
TIMEOUT_S = 300.0  # give up on a page after this long
MAIN = '[data-testid="stMain"]'
LESSON_VIEW = '.st-key-lesson-view :is(img, canvas, svg, table, [data-testid="stMetric"])'
# Per page script of app/navigation.py's PAGES but Home: what shows its real content, how many of them,
# and whether it counts only once no training progress is left on the page.
CONTENT = {
    "lessons.py": (LESSON_VIEW, 1, True),  # lesson 1's first view, its models trained
    "train.py": ('[data-testid="stPlotlyChart"]', 1, True),  # the trained model's loss curves
    "draw.py": ('[data-testid="stImage"]', 3, True),  # test digits, masked, reconstructed
    "latent_grid.py": ('[data-testid="stImage"]', 1, True),  # the decoded grid
    "embeddings.py": ('[data-testid="stEChartsChart"][aria-label*="test digits"] canvas', 1, True),  # the map
    "filters.py": ('[data-testid="stImage"]', 2, True),  # the filter pair
    "denoise.py": ('[data-testid="stImage"]', 6, True),  # one digit: target, corrupted, each model's rebuild and error
    "stacked.py": ('[data-testid="stPlotlyChart"]', 2, True),  # pretraining and fine-tuning
    "classics.py": ("h3", 5, True),  # one card per source
    # the table of the models trained so far: the other families' lecture models train one after another
    "faceoff.py": ('[data-testid="stTable"]', 1, False),
    "symbols.py": ('[data-testid="stSelectbox"]', 1, True),  # the model picked, trained: ready for symbols
    "models.py": ('[data-testid="stImage"]', 1, True),  # reconstructions of the chosen model
}
QUICK_PAGES = ("train", "models")  # the lecture ae trains in seconds: a smoke test, not the 500-epoch VAE


def timed_pages() -> list[tuple[str, str, str, int, bool]]:
    """(sidebar path, title, selector, count, quiet) of every page in app/navigation.py's PAGES but Home, in
    the sidebar's order."""
    from app.navigation import PAGES

    unknown = [file for file, *_ in PAGES if file != "home.py" and file not in CONTENT]
    if unknown:
        raise SystemExit(f"bench.first_open has no real-content condition for {', '.join(unknown)}: add it to CONTENT")
    return [(file.removesuffix(".py"), title, *CONTENT[file]) for file, title, *_ in PAGES if file != "home.py"]

# True when the page shows `count` of `selector` in its main area and, if `quiet`, no training progress.
_SHOWN = f"""([selector, count, quiet]) => {{
    const main = document.querySelector('{MAIN}');
    return !!main && !(quiet && main.querySelector('[data-testid="stProgress"]'))
        && main.querySelectorAll(selector).length >= count;
}}"""


def open_and_time(page, path: str, selector: str, count: int, quiet: bool = True) -> float | None:
    """Click the sidebar's link to `path`; seconds until its content is shown, or None past TIMEOUT_S."""
    started = time.perf_counter()
    page.locator(f'[data-testid="stSidebarNav"] a[href$="/{path}"]').first.click()
    page.wait_for_function("path => location.pathname.endsWith(path)", arg=path, timeout=30000)
    page.wait_for_timeout(200)  # the old page's elements go once the new run has started
    try:
        page.wait_for_function(_SHOWN, arg=[selector, count, quiet], timeout=TIMEOUT_S * 1000, polling=100)
    except Exception:  # Playwright's TimeoutError: the page never showed its content
        return None
    shown = time.perf_counter() - started
    wait_for_run_end(page, 120000)  # let the run finish before the next click
    return shown


def main(argv: list[str] | None = None) -> dict:
    parser = bench_parser(__doc__.splitlines()[0])
    parser.set_defaults(dataset="mnist-sample")
    args = parser.parse_args(argv)
    if args.dataset != "mnist-sample":
        raise SystemExit("first_open measures the embedded default, --dataset mnist-sample: on the full sets "
                         "a page asks before it trains")
    reason = missing_browser_reason()
    if reason:
        raise SystemExit(f"first_open needs a browser: {reason}")
    from playwright.sync_api import sync_playwright

    pages = [p for p in timed_pages() if not args.quick or p[0] in QUICK_PAGES]
    info = machine()
    print_machine(info)
    rows, results = [], {}
    with tempfile.TemporaryDirectory(prefix="first-open-") as tmp:
        home, numba = Path(tmp) / "home", Path(tmp) / "numba"
        home.mkdir()
        log = Path(tmp) / "server.log"
        started = time.perf_counter()
        with dashboard(home, log, warmup=True, numba_cache=numba) as (url, _), sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
            page = browser.new_page(viewport={"width": 1280, "height": 900})
            page.goto(url)
            page.locator(f'{MAIN} [data-testid="stImage"]').first.wait_for(timeout=120000)
            home_s = time.perf_counter() - started
            wait_for_run_end(page, 120000)
            for visit in ("first", "again"):
                for path, title, selector, count, quiet in pages:
                    results.setdefault(path, {"title": title})[visit] = open_and_time(page, path, selector, count,
                                                                                      quiet)
            browser.close()
        errors = log_tracebacks(log)
    for path, title, *_ in pages:
        first, again = results[path]["first"], results[path]["again"]
        rows.append([title, first, again, first is not None and first <= TARGET_FIRST_S,
                     again is not None and again <= TARGET_AGAIN_S])
    print(f"\nserver started -> Home's digits shown: {home_s:.1f} s")
    print_table(f"Seconds from a click on the sidebar to the page's real content ({'--quick: ' if args.quick else ''}"
                f"fresh data home and numba cache, embedded MNIST sample)",
                ["page", "first open s", "again s", f"<= {TARGET_FIRST_S:g} s", f"<= {TARGET_AGAIN_S:g} s"], rows)
    if errors:
        print("server errors:", *errors, sep="\n  ")
    payload = {
        "benchmark": "first_open", "dataset": "mnist-sample", "quick": args.quick, "machine": info,
        "home_s": home_s, "pages": results,
        "target_first_s": TARGET_FIRST_S, "target_again_s": TARGET_AGAIN_S,
        "meets_target": all(r[3] and r[4] for r in rows), "server_errors": errors,
    }
    emit_json(payload)
    return payload


if __name__ == "__main__":
    main()
