"""Face-off: one model of every family, trained on the same data with the same seed and measured the
same way (reconstruction error per pixel, linear-probe and 10-NN accuracy of the codes, training
time), then each model's reconstructions of the same test digits and of the user's drawing. Families
without a model get the lecture's, trained for everyone while the finished rows are shown."""
import numpy as np
import streamlit as st

from aecore.configs import FAMILIES
from aecore.faceoff import NEIGHBOURS, pick_contenders
from aecore.spec import lecture_spec
from app import comparisons, controls, dataset_choice, drawing, figures, resources, training, words

SEED = 0  # the seed of every lecture model: the face-off compares models trained with it
SCALE = 3  # the 28-pixel digits of the reconstruction rows, enlarged

dataset_name = dataset_choice.current_dataset()
data = resources.dataset(dataset_name)
lecture = {family: lecture_spec(family, dataset_name) for family in FAMILIES}
lecture_keys = {family: resources.model_key(spec) for family, spec in lecture.items()}


def train_missing(missing: list[str]) -> None:
    """Start the lecture model of each family in `missing` (one shared job each, run one after another);
    show the running job's progress and name the waiting ones. A model that would take long, or a run
    that was stopped or failed, is offered with a button instead."""
    waiting, offered = [], []
    for family in missing:
        spec = lecture[family]
        job = resources.registry().get(lecture_keys[family])
        seconds = training.estimated_seconds(spec, len(data.x_train))
        if job is None and seconds <= training.AUTO_TRAIN_MAX_S:
            job = training.submit(spec, shared=True)
        if job is not None and not job.done:
            waiting.append(job)
        elif job is None or job.state != "done":
            offered.append((spec, seconds, job))
    if waiting:
        running = next((j for j in waiting if j.state == "running"), waiting[0])
        st.caption(f"Training the lecture's model of {len(waiting)} more "
                   f"{'family' if len(waiting) == 1 else 'families'} for everyone on this server, one after "
                   f"another: {', '.join(j.title for j in waiting)}. Each row appears as its model is done.")
        training.job_progress(running, curves=False, key="faceoff")
    for spec, seconds, job in offered:
        if job is not None and job.state == "failed":
            st.error(job.error)
        if st.button(f"Train {spec.label()} ({training.duration_text(seconds)})", key=f"faceoff-train-{spec.family}",
                     icon=":material/play_arrow:"):
            if training.submit(spec, shared=True) is not None:
                st.rerun()


def figure_table(rows: list[dict]) -> dict[str, list[str]]:
    """The face-off's figures, one row per model, as text a lecture hall can read."""
    return {
        "model": [r["label"] for r in rows],
        "code size": [str(r["code_dim"]) for r in rows],
        "BCE / pixel": [f"{r['bce']:.4f}" for r in rows],
        "MSE / pixel": [f"{r['mse']:.4f}" for r in rows],
        "linear probe": [f"{r['probe_accuracy']:.1%}" for r in rows],
        f"{NEIGHBOURS}-NN": [f"{r['knn_accuracy']:.1%}" for r in rows],
        "trained in": ["?" if r["train_seconds"] is None else
                       f"{r['train_seconds']:.0f} s, {r['epochs']} epoch{'s' if r['epochs'] != 1 else ''}"
                       for r in rows],
    }


def best_sentence(rows: list[dict]) -> str:
    best = lambda field, low: min(rows, key=lambda r: r[field] if low else -r[field])["family"]  # noqa: E731
    return (f"Best reconstruction: **{best('bce', True)}**. Best linear probe: **{best('probe_accuracy', False)}**. "
            f"Best {NEIGHBOURS}-NN: **{best('knn_accuracy', False)}**.")


def reading_notes(rows: list[dict]) -> list[str]:
    """What a lecturer should say about rows that look odd: codes at chance, a classifier's decoder."""
    chance = 1 / len(data.class_names)
    notes = [f"**{r['family']}**: its codes classify no better than guessing (linear probe "
             f"{r['probe_accuracy']:.0%}, {NEIGHBOURS}-NN {r['knn_accuracy']:.0%}; a guess is right {chance:.0%} "
             "of the time): they say nothing of the digit's class, and its reconstructions look alike."
             for r in rows if max(r["probe_accuracy"], r["knn_accuracy"]) < 1.5 * chance]
    if any(r["family"] == "stacked" for r in rows):
        notes.append("**stacked**: " + words.STACKED_RECONSTRUCTIONS)
    return notes


def strip(digits: np.ndarray, last: np.ndarray | None) -> np.ndarray:
    """Digits side by side, then a white gap and `last` (the drawing, or its reconstruction) if given."""
    tiles = list(digits) + ([np.ones((28, 28), np.float32), last] if last is not None else [])
    return figures.enlarge(figures.tile(np.stack(tiles), ncols=len(tiles)), SCALE)


def reconstruction_rows(rows: list[dict]) -> None:
    idx = tuple(int(i) for i in drawing.grid_indices(data.y_test, per_class=1))  # one test digit of each class
    drawn = st.session_state.get("drawing")
    label, picture = st.columns([1, 4], gap="medium", vertical_alignment="center")
    label.markdown("**Originals**")
    picture.image(figures.inline_png(strip(data.x_test[list(idx)] / 255.0, drawn)), width="stretch",
                  caption="one test digit of each class" + (", then your drawing" if drawn is not None else ""))
    for row in rows:
        recon = comparisons.test_reconstructions(row["key"], dataset_name, idx)
        out = None if drawn is None else drawing.respond(row["key"], drawn)
        if recon is None:
            continue
        label, picture = st.columns([1, 4], gap="medium", vertical_alignment="center")
        label.markdown(f"**{row['label']}**")
        picture.image(figures.inline_png(strip(recon, None if out is None else out[0])), width="stretch")
    if drawn is None:
        st.caption("Draw a digit on the Draw & reconstruct page: each model's rebuild of it appears at the end "
                   "of its row.")


st.title("Face-off")
picked = pick_contenders(controls.trained_models(dataset_name), SEED, preferred=list(lecture_keys.values()))
missing = [family for family in FAMILIES if family not in picked]
if missing:
    train_missing(missing)
if not picked:
    st.stop()

with st.spinner("Measuring each model on the test digits…"):
    rows = [row for row in (comparisons.model_row(meta["key"], dataset_name) for meta in picked.values()) if row]
if not rows:  # every picked entry failed to load (a damaged store entry counts as missing)
    st.info("No model could be measured: the stored models picked here could not be read (the Models page "
            "lists what the store holds).")
    st.stop()
st.table(figure_table(rows), border="horizontal")
counts = sorted({r["train_images"] or len(data.x_train) for r in rows})
trained_on = f"{counts[0]:,}" if len(counts) == 1 else f"{counts[0]:,} to {counts[-1]:,}"
st.caption(f"One model per family, each trained on {trained_on} training digits with seed {SEED}, "
           f"measured on the same {len(data.x_test):,} test digits. Reconstruction error is the binary "
           "cross-entropy (BCE) and the squared error (MSE) per pixel of each model's rebuild of each test "
           "digit — not the families' own training losses, which differ (a VAE's adds its KL term). "
           f"Linear probe: a logistic regression on the codes; {NEIGHBOURS}-NN: a vote of the {NEIGHBOURS} "
           "nearest training codes; both give the share of test digits classified right. Training time as "
           "recorded when the model was trained, on whatever else that machine was running then.")
if len(rows) > 1:
    st.markdown(best_sentence(rows))
for note in reading_notes(rows):
    st.markdown(note)

st.subheader("The same digits, rebuilt by each model")
reconstruction_rows(rows)
