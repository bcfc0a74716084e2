"""Home: what Latent Lab is, which data is in use, the model cache, and one click to prepare the
lecture set. It imports no torch (1-1.5 s on two cores), so the dashboard opens at once; the Train
page says which device trains."""
import numpy as np
import streamlit as st

from aecore.spec import lecture_specs
from app import dataset_choice, figures, resources, training

dataset_name = dataset_choice.current_dataset()
data = resources.dataset(dataset_name)
registry = resources.registry()

st.title("Latent Lab")
st.markdown("#### See what autoencoders learn: train one, draw a digit, walk its latent space.")

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
    for spec in specs:
        key, status, job = resources.model_status(spec)
        rows.append({"model": spec.label(), "status": status, "key": key, "job": job})
    # Markdown, not st.dataframe: no pandas on the server nor data grid in the browser (bench.interaction).
    st.markdown("| model | status | key |\n|---|---|---|\n" +
                "\n".join(f"| {r['model']} | {r['status']} | `{r['key']}` |" for r in rows))
    missing = [s for s, r in zip(specs, rows) if r["status"] != "ready"]
    if missing:
        if st.button(f"Prepare the lecture set ({len(missing)} to train)", type="primary",
                     icon=":material/school:"):
            for spec in missing:
                training.submit(spec)
            st.rerun()
    else:
        st.success("Every lecture model is trained and cached: pages open without waiting.")
    for job in (r["job"] for r in rows if r["status"] != "ready"):
        if job is not None and not job.done:
            training.job_progress(job, curves=False, key=f"home-{job.key}")
with right:
    st.subheader("A few digits from the data")
    rng = np.random.default_rng(0)
    idx = rng.choice(len(data.x_test), 48, replace=False)
    # inline and at its own size (the browser scales it up, pixelated): no fetch from the server, which
    # is busy importing torch for the next page just as this one is shown
    st.image(figures.inline_png(figures.tile(data.x_test[idx] / 255.0, ncols=8)), width="stretch")

st.divider()
st.markdown("**Pages:** Train a model and watch its loss · Draw a digit and see it reconstructed · "
            "Walk a VAE's latent grid · Map the codes with PCA, t-SNE or UMAP · Look at the filters · "
            "Follow greedy layer-wise pretraining · Manage the model cache.")
