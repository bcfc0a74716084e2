"""Stacked pretraining: a stacked denoising autoencoder trained greedily, one layer at a time, then
fine-tuned on the labels, against the same network trained from random initialisation."""
import streamlit as st

from aecore.errors import AecoreError
from aecore.spec import lecture_spec
from app import controls, dataset_choice, exports, figures, resources, words

dataset_name = dataset_choice.current_dataset()

st.title("Stacked pretraining")
st.markdown("#### Train one layer at a time as a denoising autoencoder, then fine-tune the whole stack.")
picked = controls.model_picker(dataset_name, label="Stacked model", default=lecture_spec("stacked", dataset_name),
                               key="stk_model", accept=lambda s: s.family == "stacked",
                               why="This page follows a stacked denoising autoencoder through its training.")
if picked is None:
    st.stop()
key, stored = picked
cfg = stored.model.cfg
history = stored.meta.get("history", [])
stages: dict[str, list[dict]] = {}
for entry in history:
    stages.setdefault(entry["stage"], []).append(entry)

widths = " → ".join(map(str, (784, *cfg.hidden, cfg.num_classes)))
levels = " / ".join(f"{v:g}" for v in cfg.levels)
finetune = (f"at most {stored.spec.train.epochs} fine-tuning epochs, stopping after {cfg.patience} without a "
            "better validation error" if cfg.patience else f"{stored.spec.train.epochs} fine-tuning epochs")
st.caption(f"Network {widths} · masking corruption per layer {levels} · {cfg.pretrain_epochs} pretraining "
           f"epoch(s) per layer · {finetune}")

# ---- 1. greedy layer-wise pretraining ------------------------------------------------------------
st.subheader("1 · Greedy layer-wise pretraining", help=words.term("pretraining"))
pretrain = [name for name in stages if name.startswith("pretrain")]
curves, filters = st.columns([3, 2], gap="large")
with curves:
    if not pretrain:
        st.info("This model skipped pretraining (0 epochs per layer): fine-tuning started from random weights.")
    for k, name in enumerate(pretrain):
        below = "the pixels" if k == 0 else f"layer {k}'s codes"
        st.plotly_chart(figures.stage_figure({name: stages[name]}, splits=("val", "train"),
                                             title=f"{name.capitalize()}: rebuild {below} from a corrupted copy",
                                             y_title="reconstruction loss", height=340),
                        width="stretch", key=f"stk-pre-{k}")
    st.caption("Each layer learns alone, on the codes of the frozen layers below it; no labels yet.")
with filters:
    try:
        found = exports.filter_picture(key, 100)
    except AecoreError as e:
        st.error(str(e))
        found = None
    if found is not None:
        st.image(figures.enlarge(found[0], 3), caption=f"Layer 1's first {found[1]} filters (after fine-tuning)",
                 width="stretch")

# ---- 2. fine-tuning vs random initialisation -----------------------------------------------------
st.subheader("2 · Fine-tuning on the labels vs training from random initialisation", help=words.term("fine-tuning"))
chart, numbers = st.columns([3, 2], gap="large")
compare = {name: stages[name] for name in ("fine-tune", "random init") if name in stages}
chart.plotly_chart(figures.stage_figure(compare, "accuracy", title="Validation accuracy per epoch",
                                        y_title="validation accuracy", percent=True, height=440),
                   width="stretch", key="stk-finetune")
with numbers:
    metrics = stored.meta.get("metrics", {})
    tuned, scratch = metrics.get("finetune_test_accuracy"), metrics.get("random_init_test_accuracy")
    gap = None
    if tuned is not None and scratch is not None:
        gap = words.accuracy_gap(tuned, scratch, len(resources.dataset(dataset_name).x_test))
    if tuned is not None:
        st.metric("Test accuracy, pretrained + fine-tuned", f"{tuned:.2%}", None if gap is None else gap[0],
                  delta_color="off" if gap is not None and gap[1] else "normal", help=words.term("accuracy"))
    if scratch is not None:
        st.metric("Test accuracy, random initialisation", f"{scratch:.2%}")
    if gap is not None:
        st.caption(gap[2])
    st.caption("Same network, same labels, " + ("same epoch limit and stopping rule" if cfg.patience else
                                                 "same number of epochs") + "; only the starting weights differ.")
