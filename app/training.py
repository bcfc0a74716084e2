"""Starting training jobs from a page and watching them live.

Jobs run in `aecore`'s process-wide registry, so a page never blocks and a second tab asking for the
same model joins the running job. The progress panel is one fragment that redraws itself while the
job runs, then reruns the page once so the page can show the trained model.
"""
from __future__ import annotations

import math
from collections.abc import Callable

import streamlit as st

from aecore.errors import AecoreError
from aecore.jobs import Job
from aecore.spec import RunSpec
from app import figures, resources, words

REFRESH_S = 1.0  # the progress bar alone (each redraw costs a watching browser on the same cores)
CHARTS_REFRESH_S = 2.0  # the progress bar with live charts (see job_progress)
LIVE_POINTS = 300  # points per live chart (loss line, latent scatter): each redraw costs the browser
LIVE_HEIGHT = 380  # pixels, as the finished model's loss chart
LIVE_SCATTER_HEIGHT = 480  # pixels: ten classes' legend stands beside the points


def submit(spec: RunSpec) -> Job | None:
    """Start or join the job for `spec`; shows a one-line error and returns None for bad settings."""
    try:
        job = resources.registry().submit(spec)
    except AecoreError as e:
        st.error(str(e))
        return None
    mine = st.session_state.setdefault("my_jobs", [])
    if job.key not in mine:
        mine.append(job.key)
    return job


def status_line(job: Job, p: dict | None = None) -> str:
    """The progress text for snapshot `p` (default: the job's newest). A model trained in stages
    (stacked) also counts its epochs over all stages, as the loss chart's x axis does."""
    p = job.latest if p is None else p
    if job.state == "queued":
        return "Waiting for another training run to finish…"
    if p is None:
        return "Starting…"
    stage = "" if p["stage"] == "train" else f"{p['stage']} · "
    text = f"{stage}epoch {p['epoch']}/{p['epochs']}"
    steps = max(p["steps"], 1)
    if p["total_steps"] > p["epochs"] * steps:  # more than one stage
        text += f" ({math.ceil(p['global_step'] / steps)} of {p['total_steps'] // steps} over all stages)"
    text += f" · {p['samples_per_s']:,.0f} samples/s"
    if job.state == "running":
        text += f" · about {max(p['eta_s'], 0):.0f} s left"
    return text


def epochs_done(p: dict) -> float:
    """Epochs trained at snapshot `p`, over all stages, fractional within an epoch: the x of the loss
    chart's newest point."""
    return p["global_step"] / max(p["steps"], 1)


def job_progress(job: Job, *, curves: bool = True, key: str = "job",
                 also: Callable[[Job], None] | None = None) -> None:
    """Progress bar and Stop button, then live loss curves, for `job`; reruns the page when it ends.

    `also(job)` draws more beside the curves (e.g. the latent scatter forming). Bar, text and curves
    are one fragment drawn from one list of snapshots, so the text never names another epoch than the
    chart shows (two fragments on their own timers drifted apart on a busy server). It redraws every
    CHARTS_REFRESH_S with charts, REFRESH_S without: redrawing charts is what a watching browser
    spends its CPU on, and on a shared machine that CPU comes out of the training run
    (bench.dashboard_overhead).
    """
    was_running = not job.done
    live = curves or also is not None

    @st.fragment(run_every=(CHARTS_REFRESH_S if live else REFRESH_S) if was_running else None)
    def panel():
        snaps = job.progress()
        p = snaps[-1] if snaps else None if live else job.latest
        fraction = p["global_step"] / max(p["total_steps"], 1) if p else 0.0
        label = job.spec.label()
        parts = [k for k in snaps[-1]["train"] if k not in ("loss", "accuracy")] if snaps else []
        # Every chart is built before anything is drawn, so the bar's text and the charts reach the
        # browser together rather than a chart's build time apart.
        charts = [] if not (curves and snaps) else [
            (figures.live_loss_chart([(label, snaps)], title="loss per image", max_points=LIVE_POINTS), "loss",
             f"loss curves of {label}, {epochs_done(snaps[-1]):.2f} epochs trained")]
        if charts and len(parts) > 1:  # e.g. reconstruction vs KL
            charts.append((figures.live_loss_chart([(label, snaps)], parts=parts, title="loss parts",
                                                   max_points=LIVE_POINTS), "parts", f"loss parts of {label}"))
        if job.state in ("queued", "running"):
            cols = st.columns([5, 1])
            cols[0].progress(min(fraction, 1.0), text=f"**{label}** — {status_line(job, p)}")
            if cols[1].button("Stop", key=f"{key}-stop-{job.key}", icon=":material/stop:", width="stretch"):
                job.cancel()
        elif job.state == "failed":
            st.error(job.error or "training failed")
        elif job.state == "cancelled":
            st.warning(f"{label} was stopped after {len(job.epochs())} epoch(s); "
                       "the partly trained model is not saved.")
        if job.warning:
            st.warning(job.warning)
        if charts:
            # keyed ECharts charts: each refresh updates the browser's chart instead of mounting a new one
            for col, (option, name, alt) in zip(st.columns(len(charts)), charts):
                col.echarts_chart(option, height=LIVE_HEIGHT, key=f"{key}-{name}-{job.key}", alt=alt)
            st.caption(words.loss_meaning(job.spec.family))
        if also is not None:
            also(job)
        if was_running and job.done:
            st.rerun()

    panel()


def train_offer(spec: RunSpec, *, why: str, key: str) -> None:
    """For pages that need a model: say it is missing and offer to train it in one click."""
    model_key, stored, job = resources.find_model(spec)
    if job is not None and not job.done:
        job_progress(job, key=key)
        return
    if job is not None and job.state == "failed":
        st.error(job.error)
    st.info(f"{why} No **{spec.label()}** has been trained on this dataset yet.")
    if st.button(f"Train {spec.label()} now", key=f"{key}-train", type="primary", icon=":material/play_arrow:"):
        if submit(spec) is not None:
            st.rerun()
