"""Maps of the codes: the dashboard's t-SNE and UMAP paths against scikit-learn, and UMAP's start-up.

t-SNE: the codes of `--points` (10,000) test digits under the default `ae` (from the model store,
trained first if missing) are mapped by the dashboard's path, `project_codes(codes, "tsne")`
(openTSNE), and by `sklearn.manifold.TSNE()` with its default settings. The figures are wall time
and how well each 2-D map keeps the classes apart: leave-one-out 10-nearest-neighbour accuracy of
the labels in the map (the same figure in the original code space is given as the ceiling). With
`--variants` (and whenever the dashboard misses its target) a few openTSNE settings are also timed.

UMAP, on `--umap-points` (5,000) codes: the first map in a fresh Python process with numba's cache
cold (NUMBA_CACHE_DIR an empty folder), again in a second fresh process with that cache now warm, and
in this process after `warm_up_umap()`; and how long a fitted map takes to come back out of the
dashboard's `ProjectionCache`.

    python -m bench.maps
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import textwrap
import time
from dataclasses import replace
from pathlib import Path

import numpy as np

from aecore.maps import ProjectionCache, warm_up_umap
from aecore.maps.honesty import knn_accuracy
from aecore.maps.projection import TSNE_EARLY_ITERS, TSNE_INTS_IN_INTERVAL, TSNE_ITERS, TSNE_JOBS
from aecore.metrics import encode_images
from aecore.runs import get_or_train
from aecore.spec import make_spec
from aecore.store import ModelStore
from bench.common import (
    Stopwatch,
    bench_parser,
    emit_json,
    load_bench_data,
    machine,
    print_machine,
    print_table,
    ratio,
    set_threads,
)

TARGET_TSNE_SPEEDUP = 3.0  # ours at least this many times faster than scikit-learn's TSNE()
TARGET_KNN_DROP = 0.02  # ours at most this much lower in 10-NN accuracy
TARGET_CACHE_S = 0.3  # a cached map comes back within this
NEIGHBOURS = 10
REPO_ROOT = Path(__file__).resolve().parent.parent
DASHBOARD = 'dashboard: project_codes(codes, "tsne")'
SKLEARN = "sklearn.manifold.TSNE() defaults"

# openTSNE settings tried beside the dashboard's (with --variants, or when it misses its target): each a
# dict of TSNE() arguments changed from the dashboard's (perplexity 30, 1 thread, FFT gradients with 2
# interpolation points per interval, exact neighbours, 125 + 250 iterations). None reports progress.
TSNE_VARIANTS = {
    "dashboard settings, no progress callbacks": {},
    "openTSNE defaults (250 + 500 iterations, 1 point per interval, Annoy, 2 threads)": {
        "early_exaggeration_iter": 250, "n_iter": 500, "ints_in_interval": 1, "neighbors": "annoy",
        "negative_gradient_method": "auto", "n_jobs": 2},
    "1 point per interval": {"ints_in_interval": 1},
    "Annoy neighbours": {"neighbors": "annoy"},
    "2 threads": {"n_jobs": 2},
    "Barnes-Hut": {"negative_gradient_method": "bh"},
    "250 + 500 iterations": {"early_exaggeration_iter": 250, "n_iter": 500},
}


def default_codes(dataset: str, n: int, quick: bool) -> tuple[np.ndarray, np.ndarray, str]:
    """(codes (n, D), labels (n,), model key): the default ae's codes of n seeded test digits."""
    spec = make_spec("ae", dataset)
    if quick:
        spec = replace(spec, train=replace(spec.train, epochs=1))
    t0 = time.perf_counter()
    stored, trained = get_or_train(spec, ModelStore(), device="cpu")
    print(f"default ae {'trained' if trained else 'loaded from the store'} in {time.perf_counter() - t0:.1f} s "
          f"(key {stored.key})")
    data = load_bench_data(dataset, quick=False)
    idx = np.arange(len(data.x_test))
    if n < len(idx):
        idx = np.sort(np.random.default_rng(0).choice(len(idx), size=n, replace=False))
    # A copy: torch warns about the dataset's read-only arrays.
    return encode_images(stored.model, np.array(data.x_test[idx])), np.asarray(data.y_test[idx]), stored.key


def warm_up_tsne() -> None:
    """Import both t-SNE libraries and fit a tiny map with each, so neither timing pays one-time costs."""
    from openTSNE import TSNE as OpenTSNE
    from sklearn.manifold import TSNE

    tiny = np.random.default_rng(0).standard_normal((100, 8)).astype(np.float32)
    OpenTSNE(perplexity=10, n_iter=10, early_exaggeration_iter=10, n_jobs=1, random_state=0).fit(tiny)
    TSNE(perplexity=10, max_iter=250, random_state=0).fit_transform(tiny)


def timed_map(fit) -> tuple[np.ndarray, float, float]:
    """(points, wall seconds, CPU seconds of this process, all threads) of `fit()`."""
    clock = Stopwatch().start()
    points = np.asarray(fit())
    return points, clock.elapsed, clock.cpu


def sklearn_tsne(codes: np.ndarray, seed: int = 0) -> np.ndarray:
    from sklearn.manifold import TSNE

    return TSNE(random_state=seed).fit_transform(codes)


def opentsne(codes: np.ndarray, settings: dict, seed: int = 0) -> np.ndarray:
    """openTSNE with the dashboard's settings, `settings` changed."""
    from openTSNE import TSNE

    args = {"perplexity": 30.0, "n_jobs": TSNE_JOBS, "random_state": seed, "negative_gradient_method": "fft",
            "ints_in_interval": TSNE_INTS_IN_INTERVAL, "neighbors": "exact",
            "early_exaggeration_iter": TSNE_EARLY_ITERS, "n_iter": TSNE_ITERS} | settings
    return TSNE(**args).fit(codes)


_FIRST_MAP = textwrap.dedent("""
    import json, sys, time
    t0 = time.perf_counter()
    import numpy as np
    from aecore.maps.projection import project_codes
    codes = np.load(sys.argv[1])
    t1 = time.perf_counter()
    project_codes(codes, sys.argv[2], seed=0)
    t2 = time.perf_counter()
    print(json.dumps({"import_s": t1 - t0, "map_s": t2 - t1}))
""")


def first_map_in_fresh_process(codes_file: Path, method: str, numba_cache: Path) -> dict[str, float]:
    """Seconds for the first `project_codes` of a new Python process whose numba cache is `numba_cache`.

    Returns ``map_s`` (the call, including importing UMAP and compiling or loading its kernels),
    ``import_s`` (numpy and aecore before it) and ``process_s`` (the whole process, start to exit).
    """
    env = dict(os.environ, NUMBA_CACHE_DIR=str(numba_cache))
    t0 = time.perf_counter()
    done = subprocess.run([sys.executable, "-c", _FIRST_MAP, str(codes_file), method], env=env,
                          cwd=REPO_ROOT, capture_output=True, text=True, check=False)
    process_s = time.perf_counter() - t0
    if done.returncode != 0:
        raise RuntimeError(f"the fresh process failed:\n{done.stderr[-2000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1]) | {"process_s": process_s}


def umap_start_up(codes: np.ndarray, labels: np.ndarray, workdir: Path, fresh_processes: bool) -> dict:
    """UMAP's first-map times (cold and warm numba cache, fresh processes; in-process after
    `warm_up_umap()`), the seconds to get the fitted map back from a `ProjectionCache`, and the map's
    10-NN label accuracy beside that of UMAP with its own defaults (NN-descent, 500 epochs)."""
    numba_cache = workdir / "numba-cache"
    numba_cache.mkdir()
    codes_file = workdir / "umap-codes.npy"
    np.save(codes_file, codes)
    out: dict = {"points": len(codes)}
    if fresh_processes:
        out["cold"] = first_map_in_fresh_process(codes_file, "umap", numba_cache)
        print(f"  UMAP first map, fresh process, cold numba cache: {out['cold']['map_s']:.1f} s", flush=True)
        out["warm"] = first_map_in_fresh_process(codes_file, "umap", numba_cache)
        print(f"  UMAP first map, fresh process, warm numba cache: {out['warm']['map_s']:.1f} s", flush=True)
    if "umap" not in sys.modules:  # this process then uses the same cache as the fresh ones
        os.environ["NUMBA_CACHE_DIR"] = str(numba_cache)
    t0 = time.perf_counter()
    warm_up_umap()
    out["warm_up_s"] = time.perf_counter() - t0
    cache = ProjectionCache()
    t0 = time.perf_counter()
    ours = cache.project("bench", codes, "umap")
    out["in_process_s"] = time.perf_counter() - t0
    out["knn"] = knn_accuracy(ours.points, labels)
    print(f"  UMAP map in this process after warm_up_umap() ({out['warm_up_s']:.1f} s): "
          f"{out['in_process_s']:.1f} s", flush=True)
    t0 = time.perf_counter()
    cache.project("bench", codes, "umap")
    out["cached_s"] = time.perf_counter() - t0
    import umap

    t0 = time.perf_counter()
    theirs = umap.UMAP(random_state=0, n_jobs=1).fit_transform(codes)
    out["umap_defaults_s"] = time.perf_counter() - t0
    out["knn_umap_defaults"] = knn_accuracy(theirs, labels)
    print(f"  UMAP 10-NN accuracy: dashboard {out['knn']:.3f}, umap-learn defaults {out['knn_umap_defaults']:.3f} "
          f"({out['umap_defaults_s']:.1f} s, its neighbour search compiling)", flush=True)
    return out


def main(argv: list[str] | None = None) -> dict:
    parser = bench_parser(__doc__.split("\n\n")[0])
    parser.add_argument("--points", type=int, default=10_000, help="codes mapped by t-SNE")
    parser.add_argument("--umap-points", type=int, default=5_000, help="codes mapped by UMAP")
    parser.add_argument("--variants", action="store_true", help="also time other openTSNE settings")
    parser.add_argument("--no-sklearn", action="store_true", help="skip scikit-learn's TSNE (slow)")
    parser.add_argument("--umap", action=argparse.BooleanOptionalAction, default=None,
                        help="time UMAP (default: yes, except with --quick: compiling it takes a minute)")
    parser.add_argument("--fresh-processes", action=argparse.BooleanOptionalAction, default=True,
                        help="time UMAP's first map in fresh processes, cold and warm numba cache (default: yes)")
    args = parser.parse_args(argv)
    if args.quick:
        args.points, args.umap_points = min(args.points, 300), min(args.umap_points, 300)
    with_umap = (not args.quick) if args.umap is None else args.umap
    set_threads(args.threads)
    info = machine()
    print_machine(info)

    codes, labels, model_key = default_codes(args.dataset, max(args.points, args.umap_points), args.quick)
    tsne_codes, tsne_labels = codes[:args.points], labels[:args.points]
    print(f"{len(tsne_codes):,} codes of {codes.shape[1]} numbers ({args.dataset} test digits)", flush=True)

    warm_up_tsne()
    cache = ProjectionCache()
    ours = timed_map(lambda: cache.project(model_key, tsne_codes, "tsne").points)
    t0 = time.perf_counter()
    cache.project(model_key, tsne_codes, "tsne")
    tsne_cached_s = time.perf_counter() - t0
    print(f"  dashboard t-SNE (openTSNE): {ours[1]:.1f} s", flush=True)
    maps = {DASHBOARD: ours}
    if not args.no_sklearn:
        maps[SKLEARN] = timed_map(lambda: sklearn_tsne(tsne_codes))
        print(f"  scikit-learn TSNE(): {maps[SKLEARN][1]:.1f} s", flush=True)
    sk = maps.get(SKLEARN)
    speedup = ratio(sk[1], ours[1]) if sk else float("nan")
    knn = {name: knn_accuracy(points, tsne_labels) for name, (points, _, _) in maps.items()}
    knn_ours, knn_sk = knn[DASHBOARD], knn.get(SKLEARN, float("nan"))
    missed = not (speedup >= TARGET_TSNE_SPEEDUP and knn_ours >= knn_sk - TARGET_KNN_DROP)
    variants = {}
    if args.variants or (missed and sk and not args.quick):
        for name, settings in TSNE_VARIANTS.items():
            points, seconds, cpu = timed_map(lambda settings=settings: opentsne(tsne_codes, settings))
            variants[name] = {"settings": settings, "seconds": seconds, "cpu_seconds": cpu,
                              "knn": knn_accuracy(points, tsne_labels)}
            print(f"  openTSNE, {name}: {seconds:.1f} s", flush=True)

    code_knn = knn_accuracy(tsne_codes, tsne_labels)
    rows = [[name, seconds, cpu, ratio(sk[1], seconds) if sk else None, knn[name]]
            for name, (_, seconds, cpu) in maps.items()]
    rows += [[f"openTSNE, {name}", v["seconds"], v["cpu_seconds"], ratio(sk[1], v["seconds"]) if sk else None,
              v["knn"]] for name, v in variants.items()]
    rows.append([f"(the {codes.shape[1]}-d codes themselves)", None, None, None, code_knn])
    print_table(f"t-SNE of {len(tsne_codes):,} codes: wall time and leave-one-out {NEIGHBOURS}-NN label accuracy "
                "in 2-D",
                ["map", "seconds", "CPU s", "x faster than sklearn", f"{NEIGHBOURS}-NN accuracy"], rows)
    print(f"\ndashboard vs scikit-learn: {speedup:.2f}x faster (target >= {TARGET_TSNE_SPEEDUP:g}), "
          f"10-NN accuracy {knn_ours - knn_sk:+.3f} (target >= -{TARGET_KNN_DROP})")

    umap: dict = {"points": 0}
    if with_umap:
        with tempfile.TemporaryDirectory(prefix="bench-maps-") as tmp:
            umap = umap_start_up(codes[:args.umap_points], labels[:args.umap_points], Path(tmp),
                                 args.fresh_processes)
    rows = []
    if "cold" in umap:
        rows += [["first map, fresh process, cold numba cache", umap["cold"]["map_s"], umap["cold"]["process_s"]],
                 ["first map, fresh process, warm numba cache", umap["warm"]["map_s"], umap["warm"]["process_s"]]]
    if with_umap:
        rows += [["warm_up_umap() in this process", umap["warm_up_s"], None],
                 ["map in this process after warm_up_umap()", umap["in_process_s"], None],
                 ["map fetched again from ProjectionCache", umap["cached_s"], None]]
    rows.append([f"t-SNE map ({len(tsne_codes):,} codes) fetched again from ProjectionCache", tsne_cached_s, None])
    print_table(f"UMAP of {umap['points']:,} codes, and maps from the cache: seconds" if with_umap else
                "Maps from the cache: seconds (UMAP skipped)", ["step", "seconds", "whole process"], rows)

    cached_s = max(umap.get("cached_s", 0.0), tsne_cached_s)
    payload = {
        "benchmark": "maps", "dataset": args.dataset, "machine": info, "quick": args.quick, "model_key": model_key,
        "tsne": {"points": len(tsne_codes), "ours_s": ours[1], "ours_cpu_s": ours[2],
                 "sklearn_s": sk[1] if sk else None, "sklearn_cpu_s": sk[2] if sk else None,
                 "speedup": speedup, "target_speedup": TARGET_TSNE_SPEEDUP,
                 "knn_ours": knn_ours, "knn_sklearn": knn_sk if sk else None, "knn_codes": code_knn,
                 "knn_difference": knn_ours - knn_sk, "target_knn_drop": TARGET_KNN_DROP,
                 "meets_target": not missed, "variants": variants},
        "umap": {"points": umap["points"], "cold": umap.get("cold"), "warm": umap.get("warm"),
                 "warm_up_s": umap.get("warm_up_s"), "in_process_s": umap.get("in_process_s"),
                 "knn": umap.get("knn"), "knn_umap_defaults": umap.get("knn_umap_defaults"),
                 "umap_defaults_s": umap.get("umap_defaults_s")},
        "cache": {"umap_s": umap.get("cached_s"), "tsne_s": tsne_cached_s, "target_s": TARGET_CACHE_S,
                  "meets_target": bool(cached_s <= TARGET_CACHE_S)},
    }
    emit_json(payload)
    return payload


if __name__ == "__main__":
    main()
