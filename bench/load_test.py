"""`python -m bench.load_test`: a lecture hall of students on one Latent Lab server, over loopback.

Starts one dashboard (`streamlit run app/Home.py`, 127.0.0.1 only) on a fresh model cache holding the
default ae and vae, and opens N sessions that speak Streamlit's websocket protocol themselves (see
`bench.lecture_hall.client`): each moves between pages, sets sliders and select boxes, draws digits
and asks for maps, at random but seeded. Meanwhile two sessions press Train on the same new settings
at the same moment and a third on different settings, and pairs of sessions ask for the same new
UMAP map at the same moment.

Measured: how long a rerun takes (sending it to its `script_finished`), the errors a user would see
(exception elements, compile errors, broken connections, reruns that never finish), sessions lost,
the server's peak memory (its process tree's VmRSS), and how many training runs saved a model.
Prints a table, then one JSON object as the last line; exits 1 when a bar is missed.
"""
from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import resource
import shutil
import statistics
import sys
import tempfile
import time
from dataclasses import asdict
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs

import websockets

from bench.lecture_hall.client import Problem, Run, Session
from bench.lecture_hall.server import MemorySampler, SaveWatcher, dashboard, entry_spec, log_tracebacks, prepare_home
from bench.lecture_hall.students import EMBEDDINGS, Student, TrainSettings

GIB = 2 ** 30
BARS = {"p95_rerun_s": 1.5, "peak_rss_gib": 4.0}
INTERACTIVE = ("load", "nav", "widget", "select", "draw", "map", "train")  # what a user waits for
SHARED_CODE, OTHER_CODE = 24, 12  # code sizes of the two new ae configurations pressed on Train
PAIR_NEIGHBOURS = (7, 9, 11, 13)  # UMAP neighbours no random student asks for: always a new map
DEFAULT_NUMBA_CACHE = Path.home() / ".cache" / "aecore" / "numba"


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m bench.load_test", description=__doc__.split("\n\n")[0])
    p.add_argument("--sessions", type=int, default=30, help="concurrent sessions (at least 5; default 30)")
    p.add_argument("--duration", type=float, default=120, help="seconds of random activity (default 120)")
    p.add_argument("--seed", type=int, default=0, help="seeds every session's choices (default 0)")
    p.add_argument("--dataset", default="mnist-sample", help="dataset of the seed models (default mnist-sample)")
    p.add_argument("--train-epochs", type=int, default=10, help="epochs of the configs pressed on Train")
    p.add_argument("--umap-pairs", type=int, default=2, help="moments when two sessions ask for one new UMAP map")
    p.add_argument("--no-media", action="store_true", help="do not fetch the pages' images from /media")
    p.add_argument("--numba-cache", default=str(DEFAULT_NUMBA_CACHE),
                   help="NUMBA_CACHE_DIR for the server, so UMAP compiles once per machine ('' to leave unset)")
    p.add_argument("--streamlit-option", action="append", default=[], metavar="SECTION.NAME=VALUE",
                   help="extra Streamlit config option for the server, e.g. runner.postScriptGC=false (what-if runs)")
    p.add_argument("--home", default=None, help="AECORE_HOME to create (default: a new temporary folder)")
    p.add_argument("--keep", action="store_true", help="keep the temporary AECORE_HOME and server log")
    return p


# ---- statistics ---------------------------------------------------------------------------------------

def percentile(values: list[float], q: float) -> float | None:
    """The q-quantile (0..1) by linear interpolation, None for no values."""
    if not values:
        return None
    v = sorted(values)
    pos = (len(v) - 1) * q
    lo = int(pos)
    hi = min(lo + 1, len(v) - 1)
    return v[lo] + (v[hi] - v[lo]) * (pos - lo)


def summary(values: list[float]) -> dict[str, Any]:
    r = lambda x: None if x is None else round(x, 3)  # noqa: E731
    return {"n": len(values), "median": r(statistics.median(values)) if values else None,
            "p95": r(percentile(values, 0.95)), "max": r(max(values)) if values else None}


def category(run: Run) -> str:
    return "map_fit" if run.fitted else run.kind


# ---- the lecture ----------------------------------------------------------------------------------------

class Lecture:
    """N students on one server, with the scripted moments at fixed times after the start."""

    def __init__(self, url: str, server, args: argparse.Namespace):
        self.url, self.server, self.args = url, server, args
        self.sessions: list[Session] = []
        self.students: list[Student] = []
        self.shared = TrainSettings(SHARED_CODE, args.train_epochs)
        self.other = TrainSettings(OTHER_CODE, args.train_epochs)
        self.train_pressed: list[dict] = []
        self.umap_pairs: list[dict] = []
        self.notes: list[str] = []
        self.started_at = time.monotonic()  # when every session has opened its first page

    async def run(self) -> None:
        args = self.args
        # The lecturer opens the dashboard first: the first run of the app imports torch and the core.
        lecturer = Session(self.url, -1, fetch_media=not args.no_media)
        await lecturer.connect()
        await lecturer.rerun("warmup")
        await lecturer.close()

        for i in range(args.sessions):
            s = Session(self.url, i, fetch_media=not args.no_media)
            self.sessions.append(s)
            self.students.append(Student(s, random.Random(f"{args.seed}-{i}")))
        arrive = random.Random(args.seed)

        async def arrive_and_open(student: Student) -> None:
            await asyncio.sleep(arrive.uniform(0, min(3.0, args.duration / 10)))  # students trickle in
            try:
                await student.session.connect()
            except (TimeoutError, OSError, websockets.WebSocketException) as e:
                student.session.mark_lost(f"could not connect: {type(e).__name__}: {e}")
                return
            await student.open()

        await asyncio.gather(*(arrive_and_open(s) for s in self.students))
        start = self.started_at = time.monotonic()
        end = start + args.duration
        train_at = start + min(max(3.0, 0.15 * args.duration), args.duration * 0.5)
        pair_at = [start + args.duration * (0.3 + 0.4 * k / max(args.umap_pairs - 1, 1))
                   for k in range(args.umap_pairs)]
        trainers = asyncio.Barrier(3)
        self._pair_barriers = [asyncio.Barrier(2) for _ in pair_at]
        roles = []
        for i, student in enumerate(self.students):
            if i in (0, 1):
                roles.append(self._trainer(student, self.shared, train_at, end, trainers))
            elif i == 2:
                roles.append(self._trainer(student, self.other, train_at, end, trainers))
            elif i in (3, 4):
                roles.append(self._umap_pair(student, pair_at, end))
            else:
                roles.append(student.live_until(end))
        await asyncio.gather(*roles)

    async def close(self) -> None:
        await asyncio.gather(*(s.close() for s in self.sessions), return_exceptions=True)

    async def _trainer(self, student: Student, settings: TrainSettings, at: float, end: float,
                       barrier: asyncio.Barrier) -> None:
        await student.think(max(at - time.monotonic(), 0))  # listening, until the lecturer says "train"
        ready = await student.prepare_training(settings)
        try:
            await asyncio.wait_for(barrier.wait(), 90)
        except (TimeoutError, asyncio.BrokenBarrierError):
            await barrier.abort()
            self.notes.append(f"session {student.session.number}: the others never got ready to press Train")
            ready = False
        if not ready:
            self.notes.append(f"session {student.session.number}: could not press Train on {settings}")
        else:
            pressed_at = time.monotonic()
            run = await student.press_train()
            self.train_pressed.append({"session": student.session.number, "code": settings.code,
                                       "epochs": settings.epochs, "at": pressed_at,
                                       "seconds": None if run is None else round(run.seconds, 3),
                                       "status": None if run is None else run.status})
            await student.watch(max(end - time.monotonic(), 0))  # the live panel, until the job ends
        await student.live_until(end)

    async def _umap_pair(self, student: Student, times: list[float], end: float) -> None:
        for k, at in enumerate(times):
            value = PAIR_NEIGHBOURS[k % len(PAIR_NEIGHBOURS)]
            if k == 0:
                # They open Embeddings from a link that shows PCA with UMAP set to `value` neighbours
                # (a quick map), listen until the moment, then both switch the method to UMAP.
                await student.navigate(EMBEDDINGS, query=f"method=pca&neighbors={value}")
                change = (student.session.widget("Method", "radio"), "UMAP")
            else:  # later: a UMAP map on screen, then both move the Neighbours slider to `value`
                await student.live_until(at - 2)
                await student.navigate(EMBEDDINGS)
                method = student.session.widget("Method", "radio")
                if method is not None and "UMAP" in method.proto.options:
                    await student.set(method, "UMAP", kind="map")
                change = (student.session.widget("Neighbours", "slider"), value)
            await student.think(max(at - time.monotonic(), 0))
            try:
                await asyncio.wait_for(self._pair_barriers[k].wait(), 90)
            except (TimeoutError, asyncio.BrokenBarrierError):
                await self._pair_barriers[k].abort()
                self.notes.append(f"UMAP pair {k}: session {student.session.number} was left alone")
                continue
            record = {"pair": k, "session": student.session.number, "neighbours": value,
                      "at": round(time.monotonic() - self.started_at, 3)}
            widget, new = change
            if widget is None:
                record.update(status="no widget to change", seconds=None, fitted=False, exceptions=0, shown="")
            else:
                run = await student.set(widget, new, kind="map")
                shown = parse_qs(student.session.query_string)
                record.update(status=run.status, seconds=round(run.seconds, 3), fitted=run.fitted,
                              exceptions=run.exceptions,
                              shown=f"{shown.get('method', ['?'])[0]} {shown.get('neighbors', ['?'])[0]}")
            record["server_alive"] = self.server.poll() is None
            self.umap_pairs.append(record)
        await student.live_until(end)


async def wait_for_saves(watcher: SaveWatcher, want: int, timeout_s: float) -> None:
    deadline = time.monotonic() + timeout_s
    while watcher.total() < want and time.monotonic() < deadline:
        await asyncio.sleep(0.2)


# ---- the report ---------------------------------------------------------------------------------------

def job_figures(watcher: SaveWatcher, home: Path, shared: TrainSettings, other: TrainSettings) -> dict:
    saves = dict(watcher.saves)
    for key in watcher.entries:  # polling can miss the short-lived temporary folder, never the entry
        saves.setdefault(key, 1)
    runs = []
    for key, n in sorted(saves.items()):
        spec = entry_spec(home, key)
        runs.append({"key": key, "label": spec.get("label", "?"), "saves": n,
                     "config": "shared" if shared.matches(spec) else "other" if other.matches(spec) else "unexpected"})
    return {"method": watcher.method, "runs_total": sum(saves.values()),
            "shared_config_runs": sum(r["saves"] for r in runs if r["config"] == "shared"),
            "other_config_runs": sum(r["saves"] for r in runs if r["config"] == "other"),
            "unexpected_runs": sum(r["saves"] for r in runs if r["config"] == "unexpected"),
            "new_entries": len(watcher.entries), "by_key": runs}


def build_report(lecture: Lecture, *, jobs: dict, peak_rss: int, server_alive: bool, tracebacks: list[str],
                 load_before: list[float], load_after: list[float], wall_s: float, home: Path,
                 log_path: Path) -> dict:
    runs = [r for s in lecture.sessions for r in s.runs]
    ok = [r for r in runs if r.status == "ok"]
    problems: list[Problem] = [p for s in lecture.sessions for p in s.problems]
    interactive = [r.seconds for r in ok if r.kind in INTERACTIVE and not r.fitted]
    by_kind: dict[str, list[float]] = {}
    for r in ok:
        by_kind.setdefault(category(r), []).append(r.seconds)
    by_page: dict[str, list[float]] = {}
    for r in ok:
        if r.kind in INTERACTIVE and not r.fitted:
            by_page.setdefault(r.page, []).append(r.seconds)
    fits = [r for r in runs if r.fitted]
    crashed = [s.number for s in lecture.sessions if not s.alive and s.closed_reason is not None]
    by_problem: dict[str, int] = {}
    for p in problems:
        by_problem[p.kind] = by_problem.get(p.kind, 0) + 1
    pairs_ok = bool(lecture.umap_pairs) and all(
        p["status"] == "ok" and p["exceptions"] == 0 and p["server_alive"] for p in lecture.umap_pairs) and \
        len(lecture.umap_pairs) == 2 * lecture.args.umap_pairs
    latency = summary(interactive)
    alerts = [a for s in lecture.sessions for a in s.error_alerts]
    report = {
        "sessions": lecture.args.sessions, "duration_s": lecture.args.duration, "seed": lecture.args.seed,
        "streamlit_options": lecture.args.streamlit_option,
        "wall_s": round(wall_s, 1), "reruns": len(runs), "reruns_ok": len(ok),
        "rerun_latency_s": latency,
        "latency_by_kind_s": {k: summary(v) for k, v in sorted(by_kind.items())},
        "interactive_latency_by_page_s": {k: summary(v) for k, v in sorted(by_page.items())},
        # A map fitted by more than one session: ProjectionCache computes a miss in every session
        # that asks before the first fit is stored.
        "slowest_interactive": [{"page": r.page, "kind": r.kind, "seconds": round(r.seconds, 2),
                                 "at_s": round(r.started - lecture.started_at, 1)}
                                for r in sorted((r for r in ok if r.kind in INTERACTIVE and not r.fitted),
                                                key=lambda r: -r.seconds)[:15]],
        "map_fits": {"runs": len(fits), "distinct_maps": len({r.map_id for r in fits}),
                     "duplicate_fits": len(fits) - len({r.map_id for r in fits})},
        "errors": len(problems), "errors_by_kind": by_problem,
        "error_samples": [asdict(p) for p in problems[:10]],
        "error_alerts": len(alerts), "error_alert_samples": sorted(set(alerts))[:10],
        "warnings": sorted({w for s in lecture.sessions for w in s.warnings})[:10],
        "crashed_sessions": len(crashed), "crashed_session_ids": crashed,
        "server_alive": server_alive, "server_peak_rss_mib": round(peak_rss / 2 ** 20, 1),
        "server_tracebacks": len(tracebacks), "server_traceback_samples": tracebacks[:10],
        "jobs": jobs, "umap_pairs": lecture.umap_pairs,
        "train_pressed": [{**p, "at": round(p["at"] - lecture.started_at, 2)} for p in lecture.train_pressed],
        "media": {"fetched": sum(s.media_fetched for s in lecture.sessions),
                  "missing": sum(s.media_missing for s in lecture.sessions)},
        "received_mib": round(sum(s.bytes_received for s in lecture.sessions) / 2 ** 20, 1),
        "messages": {"received": sum(s.messages_received for s in lecture.sessions),
                     "from_cache": sum(s.cache_hits for s in lecture.sessions)},
        "client_cpu_s": round(resource.getrusage(resource.RUSAGE_SELF).ru_utime
                              + resource.getrusage(resource.RUSAGE_SELF).ru_stime, 1),
        "load_average_before": load_before, "load_average_after": load_after,
        "notes": lecture.notes, "aecore_home": str(home), "server_log": str(log_path),
    }
    bars = {
        "zero errors": (len(problems), 0, len(problems) == 0),
        "zero crashed sessions": (len(crashed), 0, not crashed and server_alive),
        "one job for the shared config": (jobs["shared_config_runs"], 1, jobs["shared_config_runs"] == 1),
        "one job for the other config": (jobs["other_config_runs"], 1, jobs["other_config_runs"] == 1),
        "server memory below 4 GiB": (round(peak_rss / GIB, 2), BARS["peak_rss_gib"],
                                      0 < peak_rss < BARS["peak_rss_gib"] * GIB),
        "p95 rerun latency below 1.5 s": (latency["p95"], BARS["p95_rerun_s"],
                                          latency["p95"] is not None and latency["p95"] < BARS["p95_rerun_s"]),
        "simultaneous UMAP maps survive": (len(lecture.umap_pairs), 2 * lecture.args.umap_pairs, pairs_ok),
    }
    report["bars"] = {name: {"value": v, "limit": lim, "ok": ok} for name, (v, lim, ok) in bars.items()}
    report["ok"] = all(ok for _, _, ok in bars.values())
    return report


def print_table(report: dict) -> None:
    fmt = lambda x: "-" if x is None else f"{x:.3f}"  # noqa: E731
    print(f"\nLecture hall: {report['sessions']} sessions for {report['duration_s']:g} s "
          f"(seed {report['seed']}), {report['reruns']} reruns, wall {report['wall_s']} s")
    print(f"load average before {report['load_average_before']} after {report['load_average_after']}")
    print("phases (s): " + ", ".join(f"{k} {v}" for k, v in report.get("phases_s", {}).items()) + "\n")
    print(f"{'rerun kind':<14}{'n':>6}{'median s':>11}{'p95 s':>9}{'max s':>9}")
    rows = [("interactive", report["rerun_latency_s"])] + list(report["latency_by_kind_s"].items())
    for name, s in rows:
        print(f"{name:<14}{s['n']:>6}{fmt(s['median']):>11}{fmt(s['p95']):>9}{fmt(s['max']):>9}")
    for name, s in report["interactive_latency_by_page_s"].items():
        print(f"  on {name[:18]:<18}{s['n']:>4}{fmt(s['median']):>11}{fmt(s['p95']):>9}{fmt(s['max']):>9}")
    print("  (interactive = load, nav, widget, select, draw, map, train runs that fitted no new map;"
          " map_fit = runs that fitted a t-SNE/UMAP map; auto = the live panel's own refreshes)\n")
    fits = report["map_fits"]
    print(f"map fits: {fits['runs']} runs fitted {fits['distinct_maps']} distinct maps"
          f" ({fits['duplicate_fits']} fitted again by another session)")
    jobs = report["jobs"]
    print(f"training runs saved: {jobs['runs_total']} ({jobs['method']}): shared config {jobs['shared_config_runs']},"
          f" other config {jobs['other_config_runs']}, unexpected {jobs['unexpected_runs']}")
    for r in jobs["by_key"]:
        print(f"  {r['key']}  {r['label']:<24} {r['config']:<10} saved {r['saves']}x")
    for p in report["umap_pairs"]:
        print(f"UMAP pair {p['pair']}: session {p['session']} asked for {p['neighbours']} neighbours, shown"
              f" {p.get('shown')} -> {p['status']}"
              f" in {p['seconds']} s, fitted {p['fitted']}, server alive {p['server_alive']}")
    print(f"errors {report['errors']} {report['errors_by_kind']} · error boxes (st.error) {report['error_alerts']}"
          f" · crashed sessions {report['crashed_sessions']} · server tracebacks {report['server_tracebacks']}")
    for e in report["error_samples"]:
        print(f"  session {e['session']} {e['kind']} on {e['page']}: {e['text'][:200]}")
    for a in report["error_alert_samples"]:
        print(f"  st.error: {a[:200]}")
    for t in report["server_traceback_samples"]:
        print(f"  server: {t[:200]}")
    for n in report["notes"]:
        print(f"  note: {n}")
    print(f"server peak RSS {report['server_peak_rss_mib']} MiB · media fetched {report['media']['fetched']}"
          f" (missing {report['media']['missing']}) · received {report['received_mib']} MiB in"
          f" {report['messages']['received']} messages ({report['messages']['from_cache']} by cache reference)"
          f" · client CPU {report['client_cpu_s']} s\n")
    print(f"{'bar':<34}{'value':>10}{'limit':>8}  ok")
    for name, b in report["bars"].items():
        print(f"{name:<34}{str(b['value']):>10}{str(b['limit']):>8}  {'yes' if b['ok'] else 'NO'}")
    print(f"\n{'PASS' if report['ok'] else 'FAIL'}\n")


# ---- the whole run --------------------------------------------------------------------------------------

def run_load_test(args: argparse.Namespace) -> dict:
    """Prepare a model cache, start the server, run the lecture, stop everything; returns the report."""
    if args.sessions < 5:
        raise SystemExit("--sessions must be at least 5 (three press Train, two ask for UMAP together)")
    load_before = [round(v, 2) for v in os.getloadavg()]
    started = time.monotonic()
    home = Path(args.home) if args.home else Path(tempfile.mkdtemp(prefix="latentlab-load-"))
    home.mkdir(parents=True, exist_ok=True)
    log_path = home / "streamlit.log"
    try:
        print(f"preparing {home} (default ae and vae on {args.dataset})", flush=True)
        prepare_home(home, args.dataset)
        phases = {"prepare": time.monotonic()}
        numba = Path(args.numba_cache) if args.numba_cache else None
        with dashboard(home, log_path, warmup=True, numba_cache=numba,
                       options=tuple(args.streamlit_option)) as (url, server), \
                MemorySampler(server.pid) as memory, SaveWatcher(home / "models") as watcher:
            print(f"server {url} (pid {server.pid}); {args.sessions} sessions for {args.duration:g} s", flush=True)
            phases["server_start"] = time.monotonic()
            lecture = Lecture(url, server, args)

            async def go() -> None:
                try:
                    await lecture.run()
                    phases["lecture"] = time.monotonic()
                    configs = {p["code"] for p in lecture.train_pressed}
                    if configs:  # let the jobs the students started finish and save
                        await wait_for_saves(watcher, len(configs), 180)
                finally:
                    await lecture.close()

            asyncio.run(go())
            phases["drain"] = time.monotonic()
            server_alive = server.poll() is None
            time.sleep(0.5)  # the last save's rename
        phases["stop"] = time.monotonic()
        jobs = job_figures(watcher, home, lecture.shared, lecture.other)
        report = build_report(lecture, jobs=jobs, peak_rss=memory.peak, server_alive=server_alive,
                              tracebacks=log_tracebacks(log_path), load_before=load_before,
                              load_after=[round(v, 2) for v in os.getloadavg()],
                              wall_s=time.monotonic() - started, home=home, log_path=log_path)
        # Seconds spent in each phase; "lecture" runs from the first session's arrival to the last action.
        marks = [started, *phases.values()]
        report["phases_s"] = {name: round(b - a, 1) for name, a, b in zip(phases, marks, marks[1:])}
    finally:
        if not args.keep and not args.home:
            shutil.rmtree(home, ignore_errors=True)
    return report


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    report = run_load_test(args)
    print_table(report)
    print(json.dumps(report, default=str))
    return 0 if report["ok"] else 1


if __name__ == "__main__":
    sys.exit(main())
