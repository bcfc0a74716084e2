"""Training in the dashboard costs nothing extra: a job started from the Train page and watched
there, against the same spec trained headless in this process.

Two kinds of watcher poll the page while the job runs (its progress bar reruns every second, its
loss curves and latent scatter every two seconds):
- "page polls": a websocket session speaking Streamlit's protocol (bench.lecture_hall), which
  reruns the live fragments on their intervals as a browser would, so the server does all of a
  watched page's work, but nothing on this machine draws it;
- "Chromium": the page open in Chromium on the same two cores, drawing every update as well.

All times are the Trainer's own (`seconds` in the run's metadata: start of training to the end of
its test evaluation, data loading left out), for the same number of epochs. Each repeat runs the
three in rotating order, each dashboard run on a fresh server with an empty model cache, and each
headless run in a fresh process, as `python -m aecore train` does. Both sides are then a process's
first training run, which is the slower one: in 8 of 9 processes tried on a 2-core machine (runs of
3 and 10 epochs), the first run took longer than the same process's later ones (up to 1.5 s more for
10 epochs of about 12 s), so a headless reference trained again and again in this process would
favour it.

With `--busy-core`, another process keeps one core busy during the dashboard's runs (the headless
run, the reference, has the machine to itself), as the map worker does while it fits a map or, on a
fresh machine, compiles UMAP's kernels: the dashboard's jobs then train on the cores left
(`aecore.device.CoreSharing`).

    python -m bench.dashboard_overhead                 # the Train page's default ae on Fashion-MNIST
    python -m bench.dashboard_overhead --repeats 3 --family dae
    python -m bench.dashboard_overhead --repeats 2 --busy-core
"""
from __future__ import annotations

import contextlib
import multiprocessing
import random
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor, ThreadPoolExecutor
from pathlib import Path

from aecore.configs import FAMILIES
from aecore.data import load_dataset
from aecore.runs import train_spec
from aecore.spec import RunSpec
from aecore.store import ModelStore
from aecore.trainer import TrainConfig
from bench.common import bench_parser, emit_json, machine, median, print_machine, print_table, ratio, set_threads
from tests.browser import CHROMIUM, CHROMIUM_ARGS, dashboard, missing_browser_reason

TARGET_RATIO = 1.15


def polled_run(dataset: str, family: str, epochs: int) -> tuple[RunSpec, dict]:
    """Train from the Train page, watched by a websocket session; (spec, metadata) of the run."""
    import asyncio

    from bench.lecture_hall.client import Session
    from bench.lecture_hall.students import TRAIN, Student

    async def watch(url: str) -> None:
        session = Session(url, 0, fetch_media=True, timeout_s=600)
        await session.connect()
        try:
            student = Student(session, random.Random(0))
            # The first run reads the dataset from the URL, as a browser opening this link would.
            await session.rerun("load", query=f"data={dataset}")
            await student.navigate(TRAIN, query=f"data={dataset}&family={family}&epochs={epochs}")
            run = await student.press_train()
            if run is None or run.status != "ok":
                raise RuntimeError(f"could not start training from the page: {session.problems}")
            await student.watch(60 * 60)  # until the live panel stops refreshing: the job ended
        finally:
            await session.close()

    with tempfile.TemporaryDirectory(prefix="latentlab-overhead-") as tmp, dashboard(Path(tmp)) as url:
        with ThreadPoolExecutor(1) as pool:  # Playwright's sync API keeps an event loop in this thread
            pool.submit(asyncio.run, watch(url)).result()
        return stored_run(Path(tmp))


def headless_run(spec: RunSpec, dataset: str, threads: int | None = None) -> dict:
    """Train `spec` in a fresh process on the CPU (`threads`: torch's own choice if None); its figures."""
    with ProcessPoolExecutor(1, mp_context=multiprocessing.get_context("spawn")) as pool:
        return pool.submit(_train_here, spec.to_dict(), dataset, threads).result()


def _train_here(spec: dict, dataset: str, threads: int | None) -> dict:
    set_threads(threads)
    result = train_spec(RunSpec.from_dict(spec), load_dataset(dataset), device="cpu")
    return {"seconds": result.seconds, "epochs": len(result.history), "samples_per_s": result.samples_per_s}


def stored_run(home: Path) -> tuple[RunSpec, dict]:
    store = ModelStore(home / "models")
    deadline = time.monotonic() + 60
    while not store.keys() and time.monotonic() < deadline:  # the job saves just after its last update
        time.sleep(0.2)
    (key,) = store.keys()
    found = store.load(key)
    return found.spec, found.meta


def dashboard_run(browser, dataset: str, family: str, epochs: int) -> tuple[RunSpec, dict]:
    """Train from the Train page with its defaults and `epochs`, watching it; (spec, metadata) of the run."""
    with tempfile.TemporaryDirectory(prefix="latentlab-overhead-") as tmp, dashboard(Path(tmp)) as url:
        page = browser.new_page(viewport={"width": 1400, "height": 1600})
        page.goto(f"{url}/train?data={dataset}&family={family}&epochs={epochs}")
        page.wait_for_selector('[data-testid="stMain"] h1', timeout=120000)
        page.get_by_role("button", name="Train", exact=False).first.click()
        page.wait_for_selector('[data-testid="stProgress"]', timeout=60000)
        page.get_by_text("is already trained on this data").wait_for(timeout=30 * 60 * 1000)
        page.close()
        return stored_run(Path(tmp))


@contextlib.contextmanager
def busy_core(enabled: bool = True):
    """Another process spinning on one core for the length of the block."""
    if not enabled:
        yield
        return
    spinner = subprocess.Popen([sys.executable, "-c", "while True: pass"])
    try:
        yield
    finally:
        spinner.kill()
        spinner.wait()


def main(argv: list[str] | None = None) -> dict:
    parser = bench_parser(__doc__.splitlines()[0])
    parser.add_argument("--family", default="ae", choices=FAMILIES)
    parser.add_argument("--epochs", type=int, default=None, help="epochs of both runs (default: TrainConfig's)")
    parser.add_argument("--repeats", type=int, default=3, help="rounds of the three runs, order rotating")
    parser.add_argument("--no-chromium", action="store_true", help="leave out the Chromium watcher")
    parser.add_argument("--busy-core", action="store_true",
                        help="another process keeps a core busy during the dashboard's runs")
    args = parser.parse_args(argv)
    set_threads(args.threads)
    if args.quick:
        args.dataset, args.epochs, args.repeats = "mnist-sample", args.epochs or 2, 1
    reason = missing_browser_reason()
    if reason:
        raise SystemExit(f"cannot run: {reason}")
    from playwright.sync_api import sync_playwright

    epochs = args.epochs or TrainConfig().epochs
    data = load_dataset(args.dataset)
    info = machine()
    print_machine(info)
    print(f"{args.family} on {data.name}: {len(data.x_train):,} training images, {epochs} epochs per run", flush=True)
    pairs = []
    with contextlib.ExitStack() as stack:
        pw = stack.enter_context(sync_playwright())
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        stack.callback(browser.close)
        spec = None
        kinds = ["headless", "page polls"] + ([] if args.no_chromium else ["Chromium"])
        for repeat in range(args.repeats):
            pair = {}
            # The first repeat starts with a dashboard run: it gives the spec, the page's own defaults.
            turn = (repeat + 1) % len(kinds)
            for where in kinds[turn:] + kinds[:turn]:
                if where == "headless":
                    pair[where] = headless_run(spec, data.name, args.threads)
                else:
                    with busy_core(args.busy_core):
                        spec, meta = (polled_run(data.name, args.family, epochs) if where == "page polls" else
                                      dashboard_run(browser, data.name, args.family, epochs))
                    pair[where] = {"seconds": meta["seconds"], "epochs": len(meta["history"]),
                                   "samples_per_s": meta["samples_per_s"]}
                print(f"  repeat {repeat + 1}: {where}: {pair[where]['epochs']} epochs in "
                      f"{pair[where]['seconds']:.1f} s", flush=True)
            pair["ratio"] = ratio(pair["page polls"]["seconds"], pair["headless"]["seconds"])
            if "Chromium" in pair:
                pair["ratio_chromium"] = ratio(pair["Chromium"]["seconds"], pair["headless"]["seconds"])
            pairs.append(pair)

    overhead = median(p["ratio"] for p in pairs)
    overhead_chromium = median(p["ratio_chromium"] for p in pairs) if not args.no_chromium else float("nan")
    rows = [[where, median(p[where]["epochs"] for p in pairs), median(p[where]["seconds"] for p in pairs),
             median(p[where]["samples_per_s"] for p in pairs),
             1.0 if where == "headless" else median(p["ratio" if where == "page polls" else "ratio_chromium"]
                                                    for p in pairs)]
            for where in kinds]
    busy = " with another process busy on a core" if args.busy_core else ""
    print_table(f"{spec.label()} on {data.name}, {epochs} epochs: headless, and from the Train page while it is "
                f"watched{busy} (medians of {len(pairs)})", ["where", "epochs", "seconds", "samples/s", "x headless"],
                rows)
    print(f"\nwatched by a polling page / headless: {overhead:.3f} (target <= {TARGET_RATIO}); "
          f"with Chromium drawing it on the same cores: {overhead_chromium:.3f}")
    payload = {"benchmark": "dashboard_overhead", "dataset": data.name, "family": args.family, "epochs": epochs,
               "machine": info, "quick": args.quick, "busy_core": args.busy_core, "spec": spec.to_dict(),
               "pairs": pairs, "ratio": overhead, "ratio_chromium": overhead_chromium, "target_ratio": TARGET_RATIO,
               "same_epochs": all(p[k]["epochs"] == p["headless"]["epochs"] for p in pairs for k in kinds),
               "meets_target": overhead <= TARGET_RATIO}
    emit_json(payload)
    return payload


if __name__ == "__main__":
    main()
