"""The map server's queue: how long 8 sessions asking for different t-SNE maps at once wait.

Starts one `MapWorker` (the dashboard's map process), fits one map to warm it, then 8 threads ask at
once for 8 different t-SNE maps (2,000 points each, as the Embeddings page's default, PCA-32 of test
images standing in for a model's codes, a different seed per request). Measured twice side by side:
with the queue bounded as shipped (`MAX_WAITING` requests waiting behind the one in flight; more are
refused at once with "the map server is busy") and unbounded (every request waits its turn).
"""
from __future__ import annotations

import threading
import time

import numpy as np

from aecore.maps.worker import MAX_WAITING, MapServerBusy, MapWorker
from bench.common import bench_parser, emit_json, load_bench_data, machine, print_machine, print_table

REQUESTS = 8
POINTS = 2000


def codes_for(data, n: int) -> np.ndarray:
    x = data.x_test[:n].reshape(n, -1).astype(np.float32) / 255.0
    x -= x.mean(axis=0)
    _, _, vt = np.linalg.svd(x, full_matrices=False)
    return (x @ vt[:32].T).astype(np.float32)  # (n, 32)


def concurrent_requests(worker: MapWorker, codes: np.ndarray, requests: int) -> list[dict]:
    """Each request's outcome and seconds from asking to its map (or its refusal)."""
    results: list[dict] = [{} for _ in range(requests)]
    start = threading.Barrier(requests)

    def ask(i: int) -> None:
        start.wait()
        t0 = time.perf_counter()
        try:
            worker.fit(codes, "tsne", seed=100 + i)
            results[i] = {"outcome": "map", "seconds": time.perf_counter() - t0}
        except MapServerBusy:
            results[i] = {"outcome": "busy", "seconds": time.perf_counter() - t0}

    threads = [threading.Thread(target=ask, args=(i,)) for i in range(requests)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return results


def main(argv: list[str] | None = None) -> dict:
    parser = bench_parser(__doc__.splitlines()[0])
    args = parser.parse_args(argv)
    data = load_bench_data(args.dataset, args.quick)
    n = 300 if args.quick else min(POINTS, len(data.x_test))
    requests = 3 if args.quick else REQUESTS
    codes = codes_for(data, n)
    info = machine()
    print_machine(info)
    figures: dict = {"benchmark": "map_queue", "dataset": data.name, "machine": info, "points": n,
                     "requests": requests, "quick": args.quick}
    rows = []
    for name, max_waiting in (("bounded", MAX_WAITING), ("unbounded", requests)):
        worker = MapWorker(max_waiting=max_waiting)
        try:
            t0 = time.perf_counter()
            worker.fit(codes, "tsne", seed=0)  # start and warm the child: a server has done this already
            one = time.perf_counter() - t0
            results = concurrent_requests(worker, codes, requests)
        finally:
            worker.close()
        served = sorted(r["seconds"] for r in results if r["outcome"] == "map")
        busy = [r["seconds"] for r in results if r["outcome"] == "busy"]
        figures[name] = {"max_waiting": max_waiting, "first_fit_s": one, "served_s": served, "refused": len(busy),
                         "refused_within_s": max(busy, default=None)}
        rows.append([name, max_waiting, len(served), len(busy), f"{served[0]:.1f}", f"{served[-1]:.1f}",
                     f"{max(busy):.2f}" if busy else "-"])
    print_table(f"{requests} concurrent t-SNE requests, {n:,} points each",
                ["queue", "max waiting", "maps", "refused", "fastest map s", "slowest map s", "refused within s"],
                rows)
    emit_json(figures)
    return figures


if __name__ == "__main__":
    main()
