"""Map redraw: what showing a map again costs in this Chromium, by how the map is drawn.

The dashboard answers a cached map in a fast rerun; the rest of "shows again" is the browser. A map
the browser has not shown yet is a new chart: for the Embeddings page an ECharts chart
(`figures.map_chart`, drawn on a 2-D canvas), for the other pages' plotly maps a new plotly plot and,
for WebGL traces, a new WebGL context, which headless Chromium without a GPU renders in software.
This benchmark switches a bare page (`bench/map_redraw_page.py`) between two maps and times click ->
map drawn, for the Embeddings map, for the plotly map figure drawn as WebGL or SVG at a few sizes,
and for a plain picture of the same points: the floor each way of drawing sets, whatever the
dashboard does.

    python -m bench.map_redraw
    python -m bench.map_redraw --switches 10
"""
from __future__ import annotations

import tempfile
import time
from pathlib import Path

from bench.common import bench_parser, emit_json, machine, median, print_machine, print_table
from bench.lecture_hall.server import dashboard
from tests.browser import CHROMIUM, CHROMIUM_ARGS, missing_browser_reason

PAGE = "bench/map_redraw_page.py"
TARGET_S = 0.3
WAYS = [("picture", 5000), ("echarts", 20), ("svg", 20), ("webgl", 20), ("echarts", 1000), ("svg", 1000),
        ("webgl", 1000), ("echarts", 5000), ("svg", 5000), ("webgl", 5000)]

# The map named `which` is on the page and drawn: its picture, its plotly title and all its points, or
# its ECharts chart named (ECharts names it once laid out; it paints on the next animation frames).
DRAWN = """([which, points]) => {
  const shown = [...document.querySelectorAll('[data-testid="stCaptionContainer"]')]
                .some(c => c.innerText === 'shown ' + which);
  if (!shown) return false;
  const chart = document.querySelector('[data-testid="stEChartsChart"]');
  if (chart) return chart.getAttribute('aria-label') === which && !!chart.querySelector('canvas');
  const p = document.querySelector('.js-plotly-plot');
  if (!p) { const img = document.querySelector('[data-testid="stImage"] img'); return !!img && img.complete; }
  return !!p._fullLayout && p._fullLayout.title.text.includes('>' + which + '<')
         && p._fullData.reduce((n, t) => n + t._length, 0) >= points;
}"""


def time_switches(browser, url: str, draw: str, points: int, switches: int) -> list[float]:
    """Seconds from clicking the other map's radio button to that map drawn, `switches` times."""
    page = browser.new_page(viewport={"width": 1400, "height": 1000})
    try:
        page.goto(f"{url}/?draw={draw}&points={points}")
        page.wait_for_function(DRAWN, arg=["A", points], timeout=60000)
        times = []
        for i in range(switches + 1):
            which = "B" if i % 2 == 0 else "A"
            page.wait_for_timeout(400)
            started = time.perf_counter()
            page.get_by_text(which, exact=True).click()
            page.wait_for_function(DRAWN, arg=[which, points], timeout=60000, polling="raf")
            page.evaluate("() => new Promise(done => requestAnimationFrame(() => requestAnimationFrame(done)))")
            if i:  # the first switch also builds map B on the server
                times.append(time.perf_counter() - started)
        return times
    finally:
        page.close()


def main(argv: list[str] | None = None) -> dict:
    parser = bench_parser(__doc__.splitlines()[0])
    parser.add_argument("--switches", type=int, default=6, help="timed switches per way of drawing")
    args = parser.parse_args(argv)
    ways = WAYS
    if args.quick:
        args.switches, ways = 2, [("picture", 1000), ("echarts", 20), ("svg", 20), ("webgl", 20)]
    reason = missing_browser_reason()
    if reason:
        raise SystemExit(f"cannot run: {reason}")
    from playwright.sync_api import sync_playwright

    info = machine()
    print_machine(info)
    results = {}
    with tempfile.TemporaryDirectory(prefix="latentlab-redraw-") as home, \
            dashboard(Path(home), warmup=False, script=PAGE, options=("runner.postScriptGC=false",)) as (url, _), \
            sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            for _round in range(2):  # two rounds, interleaved, so a busy moment does not land on one way only
                for draw, points in ways:
                    results.setdefault(f"{draw}-{points}", []).extend(
                        time_switches(browser, url, draw, points, max(1, args.switches // 2)))
        finally:
            browser.close()
    rows = []
    for draw, points in ways:
        times = results[f"{draw}-{points}"]
        rows.append([draw, f"{points:,}", len(times), median(times), max(times), median(times) <= TARGET_S])
        print(f"  {draw} {points:,} points: {', '.join(f'{t:.2f}' for t in times)} s", flush=True)
    print_table("Click -> the other map drawn, a bare Streamlit page in headless Chromium",
                ["drawn as", "points", "switches", "median s", "worst s", f"<= {TARGET_S} s"], rows)
    payload = {"benchmark": "map_redraw", "machine": info, "quick": args.quick, "target_s": TARGET_S,
               "seconds": results, "median_s": {k: median(v) for k, v in results.items()}}
    emit_json(payload)
    return payload


if __name__ == "__main__":
    main()
