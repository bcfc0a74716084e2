"""Lesson 4, Pretraining: greedy layer-wise pretraining against random initialisation when only 100 digits
carry labels (source 004, the deeplearning.net SdA tutorial, as its `theano-sda-lecture` recipe), then the
Stacked page's model, which learns from every label."""
from __future__ import annotations

import streamlit as st

from aecore.sampling import stratified_sample
from aecore.spec import lecture_spec
from app import exports, figures, words
from app.lessons.lesson import Lesson, Predict, Step, StepContext

LABELS = 100  # labelled training digits fine-tuning and the random-init baseline learn from
HELPS, SAME, HURTS = "Yes: clearly fewer errors", "No: about the same", "No: more errors"


def few_labels_spec(dataset: str):
    """The Stacked page's model (the recipe) with fine-tuning and its baseline on LABELS labelled digits
    (pretraining sees them all)."""
    return lecture_spec("stacked", dataset, labels=LABELS)


def few_labels_model(ctx: StepContext):
    return ctx.model(few_labels_spec(ctx.dataset),
                     why=f"This lesson pretrains source 004's network, then fine-tunes it on {LABELS} labels.")


def _stages(stored) -> dict[str, list[dict]]:
    stages: dict[str, list[dict]] = {}
    for entry in stored.meta.get("history", []):
        stages.setdefault(entry["stage"], []).append(entry)
    return stages


def _errors(stored) -> tuple[float, float] | None:
    """(test error pretrained + fine-tuned, test error from random initialisation)."""
    metrics = stored.meta.get("metrics", {})
    tuned, scratch = metrics.get("finetune_test_accuracy"), metrics.get("random_init_test_accuracy")
    return None if tuned is None or scratch is None else (1 - tuned, 1 - scratch)


# ---- step 1: the 100 labelled digits ------------------------------------------------------------------

def labelled_view(ctx: StepContext) -> None:
    y = ctx.data.y_train
    picked = stratified_sample(y, LABELS, few_labels_spec(ctx.dataset).train.seed)  # the trainer's own sample
    with ctx.highlight(f"the only {len(picked)} labelled digits, of {len(y):,}"):
        st.image(figures.enlarge(figures.tile(ctx.data.x_train[picked] / 255.0, ncols=20), 2), width="stretch")
    spec = few_labels_spec(ctx.dataset)
    st.caption(f"Both networks: 784 → {' → '.join(map(str, spec.model.hidden))} → 10, sigmoid units, "
               f"{spec.train.epochs} fine-tuning epochs at most (early stopping on the validation digits).")


# ---- step 2: pretraining, one layer at a time, without labels -----------------------------------------

def pretraining_view(ctx: StepContext) -> None:
    stored = few_labels_model(ctx)
    if stored is None:
        return
    stages = _stages(stored)
    layers = [name for name in stages if name.startswith("pretrain")]
    cols = st.columns(len(layers) or 1, gap="medium")
    for col, name in zip(cols, layers):
        with col, ctx.highlight(f"{name}: no labels used"):
            st.plotly_chart(figures.stage_figure({name: stages[name]}, splits=("val",), title=name.capitalize(),
                                                 y_title="reconstruction loss", height=300),
                            width="stretch", key=ctx.key(f"curve-{name}"))
    st.caption(words.term("pretraining"))


# ---- step 3: predict, then the two test errors ----------------------------------------------------------

def verdict(ctx: StepContext) -> str | None:
    stored = few_labels_model(ctx) if ctx.revealed else None
    errors = None if stored is None else _errors(stored)
    if errors is None:
        return None
    tuned, scratch = errors
    _, within, _ = words.accuracy_gap(1 - tuned, 1 - scratch, len(ctx.data.x_test))
    return SAME if within else HELPS if tuned < scratch else HURTS


def errors_view(ctx: StepContext) -> None:
    stored = few_labels_model(ctx)
    if stored is None:
        return
    if not ctx.revealed:
        with ctx.highlight(f"test error with {LABELS} labels: guess first"):
            left, right = st.columns(2)
            left.metric("Pretrained, then fine-tuned", "?")
            right.metric("Random initialisation", "?")
        st.caption(f"Both networks have seen the same {LABELS} labels; the errors are on all "
                   f"{len(ctx.data.x_test):,} test digits.")
        return
    errors = _errors(stored)
    if errors is None:
        st.error("This model has no test errors stored; retrain it on the Stacked pretraining page.")
        return
    tuned, scratch = errors
    _, _, sentence = words.accuracy_gap(1 - tuned, 1 - scratch, len(ctx.data.x_test))
    with ctx.highlight(f"test error with {LABELS} labels"):
        left, right = st.columns(2)
        left.metric("Pretrained, then fine-tuned", f"{tuned:.1%}")
        right.metric("Random initialisation", f"{scratch:.1%}")
    st.caption(sentence.replace("vs random init", ""))


# ---- step 4: the fine-tuning curves ---------------------------------------------------------------------

def curves_view(ctx: StepContext) -> None:
    stored = few_labels_model(ctx)
    if stored is None:
        return
    stages = _stages(stored)
    compare = {shown: stages[name] for name, shown in (("fine-tune", "pretrained, fine-tuned"),
                                                       ("random init", "random init")) if name in stages}
    with ctx.highlight("the first epochs"):
        st.plotly_chart(figures.stage_figure(compare, "accuracy", title="Validation accuracy per epoch",
                                             y_title="validation accuracy", percent=True, height=380),
                        width="stretch", key=ctx.key("finetune"))


# ---- step 5: what the pretrained first layer learned ------------------------------------------------------

def filters_view(ctx: StepContext) -> None:
    stored = few_labels_model(ctx)
    if stored is None:
        return
    found = exports.filter_picture(stored.key, 100)
    if found is None:
        return
    with ctx.highlight("each tile: one unit's 784 input weights"):
        st.image(found[0], width="stretch",
                 caption=f"Layer 1's first {found[1]} filters after pretraining and fine-tuning")


# ---- step 6: the Stacked page's model, with every label -------------------------------------------------

def every_label_view(ctx: StepContext) -> None:
    few = few_labels_model(ctx)
    full = ctx.model(lecture_spec("stacked", ctx.dataset), why="This step shows the Stacked page's model.")
    if few is None or full is None:
        return
    n_test = len(ctx.data.x_test)
    rows = []
    for name, stored, labels in ((f"{few.meta.get('label', '')}", few, LABELS),
                                 (f"{full.meta.get('label', '')}", full, len(ctx.data.x_train))):
        errors = _errors(stored)
        if errors is not None:
            gap, within, _ = words.accuracy_gap(1 - errors[0], 1 - errors[1], n_test)
            rows.append((labels, name, errors, gap, within))
    with ctx.highlight("the gap at each number of labels"):
        st.markdown("| labels | model | pretrained | random init | gap |\n|--:|:--|--:|--:|:--|\n" + "".join(
            f"| {labels:,} | {name} | {e[0]:.1%} | {e[1]:.1%} | {gap.replace(' vs random init', '')}"
            f"{' (noise)' if within else ''} |\n" for labels, name, e, gap, within in rows))
    st.caption("Test errors; the gap is in accuracy points, ± one standard error. Both rows are the same "
               "network and recipe; only the number of labels differs.")


LESSON = Lesson(
    slug="pretraining", title="Pretraining", source="004",
    question="Does learning each layer without labels first help a network that has only 100 labelled digits?",
    steps=(
        Step("Only 100 labels", f"Two identical networks must learn the ten digits from these {LABELS} labelled "
             "digits alone. One starts from random weights. The other is pretrained first, one layer at a time, "
             "on every training digit without its label.", labelled_view),
        Step("Pretraining without labels", "Each layer learns alone as a denoising autoencoder on the codes of "
             "the layers below it. Its loss falls although no label was used.", pretraining_view),
        Step("Guess: does it help?", "Both networks are now fine-tuned on the same 100 labels for the same "
             "epochs.", errors_view,
             predict=Predict("Does pretraining help with 100 labels?", verdict, options=(HELPS, SAME, HURTS))),
        Step("How they learn", "The pretrained network starts from weights shaped by pretraining, the other "
             "from random ones. Compare their first epochs of fine-tuning.", curves_view),
        Step("What layer 1 learned", "These are the first layer's weights after pretraining and fine-tuning. "
             "After 5 pretraining epochs on 3,600 digits they may still look like noise, unlike the source's "
             "stroke detectors. What they are worth is what step 3 measured.", filters_view),
        Step("With every label", "The Stacked page's network learns from all training labels. Compare its gap "
             "with the gap at 100 labels.", every_label_view),
    ),
)
