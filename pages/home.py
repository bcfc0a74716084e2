"""Home: what Latent Lab is, which data is in use, the model cache, and one click to prepare the
lecture set. It imports no torch (1-1.5 s on two cores), so the dashboard opens at once; the Train
page says which device trains."""
import numpy as np
import streamlit as st

from aecore.spec import lecture_specs
from app import dataset_choice, figures, lecturer, navigation, resources, training

dataset_name = dataset_choice.current_dataset()
data = resources.dataset(dataset_name)
registry = resources.registry()

USED_ON = ["Train, Embeddings", "Filters", "Draw, Filters", "Latent grid", "Draw"]  # per lecture_specs entry


def status_text(status: str, job) -> str:
    """A lecture model's state in words: ready, training (epoch 3 of 10), waiting, not trained."""
    if status == "running" and job is not None and job.latest:
        return f"training (epoch {job.latest['epoch']} of {job.latest['epochs']})"
    return {"queued": "waiting to train", "running": "training", "failed": "failed",
            "cancelled": "stopped"}.get(status, status)


st.title("Latent Lab")
st.markdown("#### See what autoencoders learn: train one, draw a digit, walk its latent space.")
st.markdown(
    "An **autoencoder** is a neural network that learns to copy a picture through a narrow middle layer, "
    "the **code**: a handful of numbers instead of the digit's 784 pixels. To rebuild the digit from so "
    "few numbers it has to learn what digits have in common, so similar digits get similar codes, and "
    "the space of all codes (the *latent space*) has a shape you can explore. A *denoising* autoencoder "
    "learns to rebuild clean digits from damaged ones; a *variational* autoencoder (VAE) learns a smooth "
    "latent space you can draw new digits from.")
st.markdown("**Where to start:** open **Draw & reconstruct**, draw a digit with the mouse or a finger and "
            "watch each model rebuild it; then walk the **Latent grid**. Every page trains what it needs "
            "the first time it is opened.")
navigation.page_links()

cols = st.columns(3)
cols[0].metric("Data in use", dataset_choice.SHORT_NAMES.get(dataset_name, dataset_name))
cols[1].metric("Training images", f"{len(data.x_train):,}",
               help=f"{len(data.x_val):,} more for validation, {len(data.x_test):,} for testing")
cols[2].metric("Models in the cache", len(registry.store.keys()))
st.caption(data.description)

left, right = st.columns([3, 2], gap="large")
with left:
    st.subheader("The lecture set")
    specs = lecture_specs(dataset_name)
    rows = []
    for spec, used_on in zip(specs, USED_ON):
        key, status, job = resources.model_status(spec)
        rows.append({"model": spec.label(), "used on": used_on, "status": status, "job": job})
    # Markdown, not st.dataframe: no pandas on the server nor data grid in the browser (bench.interaction).
    st.markdown("| model | shown on | status |\n|---|---|---|\n" +
                "\n".join(f"| {r['model']} | {r['used on']} | {status_text(r['status'], r['job'])} |" for r in rows))
    missing = [s for s, r in zip(specs, rows) if r["status"] != "ready"]
    active = [r for r in rows if r["job"] is not None and not r["job"].done]
    if active:
        running = [r["model"] for r in active if r["status"] == "running"]
        waiting = len(active) - len(running)
        st.button("Preparing the lecture set: " + (f"training {running[0]}" if running else "starting") +
                  (f", {waiting} waiting" if waiting else ""), type="primary", icon=":material/school:",
                  disabled=True, key="home-preparing")
    elif missing and not lecturer.may_manage():
        lecturer.locked_note("prepare the lecture set")
    elif missing:
        seconds = sum(training.estimated_seconds(s, len(data.x_train)) for s in missing)
        if st.button(f"Prepare the lecture set ({len(missing)} to train, {training.duration_text(seconds)})",
                     type="primary", icon=":material/school:", key="home-prepare"):
            for spec in missing:
                training.submit(spec, shared=True)  # the lecture's models, for everyone
            st.rerun()
    else:
        st.success("Every lecture model is trained and cached: pages open without waiting.")
    for job in (r["job"] for r in active):
        training.job_progress(job, curves=False, key=f"home-{job.key}")
with right:
    st.subheader("A few digits from the data")
    rng = np.random.default_rng(0)
    idx = rng.choice(len(data.x_test), 48, replace=False)
    # inline and at its own size (the browser scales it up, pixelated): no fetch from the server, which
    # is busy importing torch for the next page just as this one is shown
    st.image(figures.inline_png(figures.tile(data.x_test[idx] / 255.0, ncols=8)), width="stretch")
