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
from app import figures, lecturer, resources, words

REFRESH_S = 1.0  # the progress bar alone (each redraw costs a watching browser on the same cores)
CHARTS_REFRESH_S = 2.0  # the progress bar with live charts (see job_progress)
LIVE_POINTS = 300  # points per live chart (loss line, latent scatter): each redraw costs the browser
LIVE_HEIGHT = 380  # pixels, as the finished model's loss chart
LIVE_SCATTER_HEIGHT = 480  # pixels: ten classes' legend stands beside the points
# Training images per second of each family's lecture model on a 2-core CPU machine shared with other
# work (bench.first_open's machine), to say how long a model will take before it is trained. vae: the
# Keras recipe's 500 epochs of 3,600 digits took 73-78 s quiet (bench/README "Classic recipes").
CPU_SAMPLES_PER_S = {"ae": 3000, "dae": 3000, "sparse": 3000, "contractive": 1500, "vae": 20000,
                     "conv_vae": 600, "stacked": 1200}
AUTO_TRAIN_MAX_S = 120  # a page trains the model it needs without asking when that should take at most this


def submit(spec: RunSpec, *, shared: bool = False) -> Job | None:
    """Start or join the job for `spec`; shows a one-line error and returns None for bad settings or
    when this session already has a run waiting. A `shared` job (a model a page needs for everyone)
    belongs to no session and counts against none."""
    try:
        job = resources.registry().submit(spec, owner=None if shared else lecturer.session_owner())
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
        place = resources.registry().queue_position(job)
        return f"Waiting for its turn: {_ordinal(place)} in line…" if place else "Waiting for its turn…"
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


def _ordinal(n: int) -> str:
    return f"{n}{'th' if 10 <= n % 100 <= 20 else {1: 'st', 2: 'nd', 3: 'rd'}.get(n % 10, 'th')}"


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
        label = job.title
        parts = [k for k in snaps[-1]["train"] if k not in ("loss", "accuracy", "error")] if snaps else []
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
            if lecturer.may_stop(job) and cols[1].button("Stop", key=f"{key}-stop-{job.key}", icon=":material/stop:",
                                                         width="stretch"):
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


def estimated_seconds(spec: RunSpec, n_train: int) -> float:
    """About how long training `spec` on `n_train` images takes on a CPU (CPU_SAMPLES_PER_S)."""
    epochs = spec.train.epochs
    if spec.family == "stacked":  # fine-tuning and the random-init baseline (on its labelled few), plus pretraining
        labelled = min(spec.model.labels or n_train, n_train)
        epochs = 2 * epochs * labelled / n_train + spec.model.pretrain_epochs * len(spec.model.hidden)
    return epochs * n_train / CPU_SAMPLES_PER_S.get(spec.family, 1000)


def duration_text(seconds: float) -> str:
    """'about 20 s', 'about 3 min'."""
    return f"about {max(5, round(seconds / 5) * 5):.0f} s" if seconds < 90 else f"about {round(seconds / 60):.0f} min"


def ensure_trained(spec: RunSpec, *, why: str, key: str):
    """The stored model of `spec`, or None while it is not trained yet.

    A model that should train within AUTO_TRAIN_MAX_S (the page models on the embedded sample) starts
    training at once, as the one background job every session that needs it joins, and its live
    progress is shown; the page reruns when it is done. A longer one is offered with how long it
    should take. A run the user stopped is offered again rather than restarted.
    """
    _, stored, job = resources.find_model(spec)
    if stored is not None:
        return stored
    if job is not None and not job.done:
        st.caption(f"{why} Training **{spec.label()}** now, for everyone on this server; the page "
                   "fills in when it is done.")
        job_progress(job, key=key)
        return None
    seconds = estimated_seconds(spec, len(resources.dataset(spec.dataset).x_train))
    if job is None and seconds <= AUTO_TRAIN_MAX_S:
        job = submit(spec, shared=True)
        if job is not None and not job.done:
            st.caption(f"{why} Training **{spec.label()}** now ({duration_text(seconds)}), for everyone "
                       "on this server; the page fills in when it is done.")
            job_progress(job, key=key)
        elif job is not None:  # it was in the store after all
            st.rerun()
        return None
    if job is not None and job.state == "failed":
        st.error(job.error)
    st.info(f"{why} **{spec.label()}** is not trained on this dataset yet: training it takes "
            f"{duration_text(seconds)} on this server.")
    if st.button(f"Train {spec.label()} now", key=f"{key}-train", type="primary", icon=":material/play_arrow:"):
        if submit(spec, shared=True) is not None:  # the page's model, for everyone
            st.rerun()
    return None
