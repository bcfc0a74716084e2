"""Train: choose a family and its settings, train it as a background job, watch the loss curves and
the latent space form live, overlay runs, and replay the latent space epoch by epoch."""
import numpy as np
import streamlit as st

from aecore.device import pick_device
from aecore.errors import AecoreError
from aecore.spec import lecture_spec
from app import controls, dataset_choice, figures, resources, training, words

dataset_name = dataset_choice.current_dataset()
data = resources.dataset(dataset_name)

st.title("Train")
try:
    spec = controls.spec_controls(dataset_name)
except AecoreError as e:  # settings from the URL or widgets that the core refuses
    st.error(str(e))
    st.stop()

key, stored, job = resources.find_model(spec)
# The family's lecture model trains as soon as it is shown when that takes seconds (the embedded sample):
# the page is never empty. Other settings, and a run the user stopped, wait for the button.
auto = stored is None and job is None and key == resources.model_key(lecture_spec(spec.family, dataset_name)) \
    and training.estimated_seconds(spec, len(data.x_train)) <= training.AUTO_TRAIN_MAX_S
if auto:
    job = training.submit(spec, shared=True)  # the family's lecture model, for everyone
go_col, info_col = st.columns([1, 3])
with go_col:
    start = st.button("Train", type="primary", icon=":material/play_arrow:", width="stretch",
                      disabled=stored is not None or (job is not None and not job.done))
with info_col:
    if stored is not None:
        st.success(f"**{spec.label()}** is already trained on this data (cached as `{key[:8]}`): "
                   "shown below without waiting.")
    elif auto:
        st.caption(f"Training **{spec.label()}**, this family's lecture model, at once: it takes "
                   f"{training.duration_text(training.estimated_seconds(spec, len(data.x_train)))}. "
                   "Change the settings to train another.")
    elif job is None or job.done:
        took = training.duration_text(training.estimated_seconds(spec, len(data.x_train)))
        st.caption(f"Takes {took} on this server's {str(pick_device()).upper()}, as a background job: "
                   "leave the page and come back, it keeps going.")
if start and training.submit(spec) is not None:  # else its one-line reason stays on the page
    st.rerun()


def live_latent(job):
    probe = job.latest_probe
    if probe is None:
        return
    # about LIVE_POINTS of the probe digits, evenly through the set (it is in class order)
    every = slice(None, None, max(1, len(probe.labels) // training.LIVE_POINTS))
    title = f"Probe digits' codes after {figures.snapshot_label(probe.name)}"
    title += " (PCA-2)" if probe.reduced_with_pca else ""
    st.echarts_chart(figures.live_scatter_chart(probe.codes[every], probe.labels[every], data.class_names, title),
                     height=training.LIVE_SCATTER_HEIGHT, key=f"live-latent-{job.key}")


if job is not None and job.done and job.warning:  # e.g. trained but the cache could not save it
    st.warning(job.warning)
if job is not None and not job.done:
    training.job_progress(job, key="train", also=live_latent)
elif job is not None and job.state in ("failed", "cancelled"):
    training.job_progress(job, key="train")

if stored is not None:
    meta = stored.meta
    test = meta["final"]["test"]
    parts = [(k, v) for k, v in test.items() if k not in ("loss", "accuracy")]
    cols = st.columns(4)
    cols[0].metric("Test loss", f"{test.get('loss', float('nan')):.2f}", help=words.term("test loss"))
    for i, (k, v) in enumerate(parts[:2] if len(parts) > 1 else []):  # e.g. reconstruction and KL
        cols[i + 1].metric(f"Test {k}", f"{v:.2f}", help=words.TERMS.get(k.lower()))
    cols[3].metric("Training time", f"{meta['seconds']:.1f} s",
                   help=f"{meta['samples_per_s']:,.0f} samples/s on {meta.get('device', '?')}")
    if meta.get("metrics"):  # a compact table, so the loss curves below stay on a projector's screen
        with st.expander(f"This family's other figures ({len(meta['metrics'])})"):
            st.table(words.metric_rows(meta["metrics"]))

    st.subheader("Loss curves")
    others = [m for m in controls.trained_models(dataset_name) if m["key"] != key]
    overlay = st.multiselect("Overlay other runs on this data", [m["key"] for m in others],
                             format_func=lambda k: next(m.get("label", k) for m in others if m["key"] == k),
                             key="overlay", help="e.g. a denoising autoencoder at corruption 0 vs 0.3")
    runs = [(spec.label(), meta["history"])] + [(m.get("label", m["key"]), m["history"])
                                                 for m in others if m["key"] in overlay]
    st.plotly_chart(figures.loss_figure(runs, height=420, title="loss per image"), width="stretch")
    st.caption(words.loss_meaning(spec.family))
    parts = [k for k in (meta["history"][-1]["train"] if meta["history"] else {}) if k not in ("loss", "accuracy")]
    if len(parts) > 1:
        st.plotly_chart(figures.loss_figure([(spec.label(), meta["history"])], parts=parts, title="loss parts"),
                        width="stretch")
        st.caption(" ".join(words.TERMS[k] for k in parts if k in words.TERMS))

    probe = meta.get("probe") or {}
    snaps = [np.asarray(s) for s in probe.get("snapshots", [])]
    if snaps:
        st.subheader("How the latent space formed")
        st.caption(words.term("probe digits") + (" " + words.term("PCA-2") if probe.get("reduced_with_pca") else ""))
        names = probe["snapshot_names"]
        i = st.slider("Epoch", 1, len(snaps), len(snaps), key="replay") - 1 if len(snaps) > 1 else 0
        title = f"Probe digits' codes after {figures.snapshot_label(names[i])}"
        title += " (PCA-2 of the code)" if probe.get("reduced_with_pca") else ""
        st.plotly_chart(figures.probe_scatter(snaps[i], np.asarray(probe["labels"]), data.class_names, title,
                                              axes=figures.probe_axes([snaps[i]])), width="stretch")
