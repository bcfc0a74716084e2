"""Training in the dashboard costs nothing extra: a job started from the Train page, which Chromium
keeps open (its progress panel reruns twice a second, drawing the loss curves and the latent
scatter), against the same spec trained headless in this process.

Both times are the Trainer's own (`seconds` in the run's metadata: start of training to the end of
its test evaluation, data loading left out), for the same number of epochs. Each repeat runs the two
in alternating order, each dashboard run on a fresh server with an empty model cache.

    python -m bench.dashboard_overhead                 # the Train page's default ae on Fashion-MNIST
    python -m bench.dashboard_overhead --repeats 3 --family dae
"""
from __future__ import annotations

import contextlib
import tempfile
from pathlib import Path

from aecore.data import load_dataset
from aecore.models import MODELS
from aecore.runs import train_spec
from aecore.spec import RunSpec
from aecore.store import ModelStore
from aecore.trainer import TrainConfig
from bench.common import bench_parser, emit_json, machine, median, print_machine, print_table, ratio, set_threads
from tests.browser import CHROMIUM, CHROMIUM_ARGS, dashboard, missing_browser_reason

TARGET_RATIO = 1.15


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
        store = ModelStore(Path(tmp) / "models")
        (key,) = store.keys()
        found = store.load(key)
        return found.spec, found.meta


def main(argv: list[str] | None = None) -> dict:
    parser = bench_parser(__doc__.splitlines()[0])
    parser.add_argument("--family", default="ae", choices=sorted(MODELS))
    parser.add_argument("--epochs", type=int, default=None, help="epochs of both runs (default: TrainConfig's)")
    parser.add_argument("--repeats", type=int, default=2, help="pairs of runs, order alternating")
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
        for repeat in range(args.repeats):
            pair = {}
            order = ["dashboard", "headless"] if repeat % 2 == 0 else ["headless", "dashboard"]
            for where in order:
                if where == "dashboard":
                    spec, meta = dashboard_run(browser, data.name, args.family, epochs)
                    pair["dashboard"] = {"seconds": meta["seconds"], "epochs": len(meta["history"]),
                                         "samples_per_s": meta["samples_per_s"]}
                else:
                    result = train_spec(spec, data, device="cpu")  # spec: the dashboard's, from its first run
                    pair["headless"] = {"seconds": result.seconds, "epochs": len(result.history),
                                        "samples_per_s": result.samples_per_s}
                print(f"  repeat {repeat + 1}: {where}: {pair[where]['epochs']} epochs in "
                      f"{pair[where]['seconds']:.1f} s", flush=True)
            pair["ratio"] = ratio(pair["dashboard"]["seconds"], pair["headless"]["seconds"])
            pairs.append(pair)

    overhead = median(p["ratio"] for p in pairs)
    rows = [[where, median(p[where]["epochs"] for p in pairs), median(p[where]["seconds"] for p in pairs),
             median(p[where]["samples_per_s"] for p in pairs)] for where in ("headless", "dashboard")]
    print_table(f"{spec.label()} on {data.name}, {epochs} epochs: headless vs from the Train page in Chromium "
                f"(medians of {len(pairs)})", ["where", "epochs", "seconds", "samples/s"], rows)
    print(f"\ndashboard / headless time: {overhead:.3f} (target <= {TARGET_RATIO}); per pair: "
          + ", ".join(f"{p['ratio']:.3f}" for p in pairs))
    payload = {"benchmark": "dashboard_overhead", "dataset": data.name, "family": args.family, "epochs": epochs,
               "machine": info, "quick": args.quick, "spec": spec.to_dict(),
               "pairs": pairs, "ratio": overhead, "target_ratio": TARGET_RATIO,
               "same_epochs": all(p["dashboard"]["epochs"] == p["headless"]["epochs"] for p in pairs),
               "meets_target": overhead <= TARGET_RATIO}
    emit_json(payload)
    return payload


if __name__ == "__main__":
    main()
