"""Filters & codes: what the first layer looks for (a denoising autoencoder at corruption 0 and 0.3
side by side, then one unit of any model up close: `app.inspector`, then any trained model), how similar
the codes of chosen digits are compared with their pixels, and how well a linear classifier reads the
digit's class from the codes."""
import numpy as np
import streamlit as st

from aecore.errors import AecoreError
from aecore.filters import picture_correlation
from aecore.metrics import cosine_similarity_matrix, encode_images
from aecore.recipes import lecture_budget, lecture_recipe
from aecore.spec import lecture_spec
from app import controls, dataset_choice, exports, figures, inspector, maps, resources, settings, training, words

FILTER_COUNTS = [25, 49, 100, 196]
PAIR_SPARE_REM = 25.5  # the window's height less a filter picture's (heading, labels, the three-line sentence below),
# in the page's text size, so the projector view's larger text keeps the sentence on the screen too
PAIR_MIN_PX = 240

dataset_name = dataset_choice.current_dataset()
data = resources.dataset(dataset_name)
names = list(data.class_names)


def filter_count_control() -> int:
    settings.init_from_query("flt_n", "filters", 100, cast=int, choices=FILTER_COUNTS)
    n = st.select_slider("Filters shown", FILTER_COUNTS, key="flt_n")
    settings.set_query(filters=n)
    return n


def show_filters(key: str, label: str, n_filters: int) -> np.ndarray | None:
    """Draw the model's first `n_filters` filters; returns the picture shown (None if there is none)."""
    try:
        found = exports.filter_picture(key, n_filters)
    except AecoreError as e:
        st.error(str(e))
        return None
    if found is None:
        st.info(f"**{label}** starts with a convolution: it has no 28×28 filters to show.")
        return None
    picture, shown = found
    st.image(figures.enlarge(picture, 3), caption=f"{label}: first {shown} filters", width="stretch")
    return picture


def pair_budget(spec) -> str:
    """The training budget of the pair's models, as a share of the source's steps."""
    found = lecture_recipe("dae", {"level": 0.0})
    if found is None:
        return f"{spec.train.epochs} epochs"
    return lecture_budget(found, len(data.x_train), spec.train.epochs).describe()


def parse_classes(text: str) -> list[int]:
    classes = sorted({int(v) for v in text.split(",") if v.strip()})
    if not 1 <= len(classes) <= 4 or not all(0 <= c < len(names) for c in classes):
        raise ValueError(text)
    return classes


def digit_controls() -> tuple[list[int], int]:
    """Classes to compare and examples per class (kept in the URL)."""
    settings.init_from_query("flt_classes", "classes", [4, 7, 9], cast=parse_classes)
    settings.init_from_query("flt_per", "per_class", 3, cast=int, lo=1, hi=5)
    cols = st.columns([3, 1])
    classes = cols[0].multiselect("Classes", list(range(len(names))), key="flt_classes",
                                  format_func=lambda c: names[c], max_selections=4)
    per_class = cols[1].slider("Digits per class", 1, 5, key="flt_per")
    settings.set_query(classes=",".join(map(str, classes)), per_class=per_class)
    return sorted(classes), per_class


def similarity_summary(sim: np.ndarray, labels: np.ndarray) -> str:
    """Mean similarity of two digits of the same class vs of different classes, as text."""
    same = labels[:, None] == labels[None, :]
    pairs = {"same": same & ~np.eye(len(labels), dtype=bool), "different": ~same}
    means = [f"{sim[m].mean():.2f}" if m.any() else "–" for m in pairs.values()]
    return " vs ".join(means)


st.title("Filters & codes")

# ---- the classic picture: denoising makes the filters look for strokes --------------------------
heading_col, count_col = st.columns([3, 1], gap="large", vertical_alignment="bottom")
heading_col.subheader("First-layer filters: plain vs denoising autoencoder",
                      help=words.term("filter") + " Each tile is scaled to its own range.")
anything_trained = bool(resources.registry().store.keys())
with count_col:
    n_filters = filter_count_control() if anything_trained else 100
lecture = [(level, lecture_spec("dae", dataset_name, level=level)) for level in (0.0, 0.3)]
# The pair and the sentence under it fit one screen, down to a 1280x720 projector: each picture is at
# most the window's height less the page's heading and text.
st.html(f"<style>.st-key-flt-pair [data-testid='stImage'] img {{ max-height: max({PAIR_MIN_PX}px, "
        f"calc(100vh - {PAIR_SPARE_REM}rem)); object-fit: contain; object-position: center; }}</style>")
cols = st.container(key="flt-pair").columns(2, gap="large")
pictures = {}  # corruption level -> (model key, picture shown)
for col, (level, spec) in zip(cols, lecture):
    with col:
        st.markdown(f"**Corruption {level:g}**" + (" — a plain autoencoder" if level == 0 else
                                                   " — 30% of pixels masked in training"),
                    help=words.term("corruption"))
        stored = training.ensure_trained(spec, why="The comparison needs both.", key=f"flt-offer-{level:g}")
        if stored is not None:
            # the full label ("dae 500 masking 0.3 init sigmoid zero bias") is cut off under a half-width picture
            picture = show_filters(stored.key, f"{spec.model.hidden[0]}-unit dA, corruption {level:g}", n_filters)
            if picture is not None:
                pictures[level] = (stored.key, picture)
if len(pictures) == 2:  # the caption states what was measured on the two pictures above
    (plain_key, plain_picture), (dae_key, dae_picture) = pictures[0.0], pictures[0.3]
    st.markdown(words.filter_pair_caption(picture_correlation(plain_picture, dae_picture),
                                          exports.filter_concentration_of(plain_key, n_filters),
                                          exports.filter_concentration_of(dae_key, n_filters))
                + f" Both by the dA tutorial's recipe: {pair_budget(lecture[0][1])}.")
if not anything_trained:  # the offers above are all there is to do
    st.stop()

# ---- one unit up close ----------------------------------------------------------------------------
st.divider()
inspector.inspector_section(dataset_name, n_filters, default=lecture[1][1])

# ---- one model: filters, code similarity, linear probe --------------------------------------------
st.divider()
st.subheader("Inside one model")
picker_col, _ = st.columns([2, 3])
with picker_col:
    # the denoising autoencoder of the pair above: its filters look for strokes
    picked = controls.model_picker(dataset_name, label="Model", default=lecture[1][1], key="flt_model",
                                   why="Codes need a trained model.")
if picked is None:
    st.stop()
key, stored = picked
label = stored.meta.get("label", key)

left, right = st.columns([2, 3], gap="large")
with left:
    show_filters(key, label, n_filters)

with right:
    st.markdown("##### Linear probe: can a linear classifier read the class from the codes?",
                help=words.term("linear probe"))
    probed = st.session_state.setdefault("flt_probed", [])
    if key not in probed:
        slot = st.empty()  # the button goes once clicked: the results take its place
        if slot.button("Fit the linear probes", icon=":material/insights:", key="flt-probe",
                       help="Logistic regression on up to 5,000 training digits, scored on the test split."):
            probed.append(key)
            slot.empty()
    if key in probed:
        try:
            with st.spinner("Fitting logistic regressions on codes and on raw pixels…"):
                code_acc = maps.code_probe_accuracy(key, dataset_name)
                pixel_acc = maps.pixel_probe_accuracy(dataset_name)
        except AecoreError as e:
            st.error(str(e))
        else:
            m = st.columns(2)
            m[0].metric(f"Test accuracy on the codes ({stored.model.code_dim} numbers)", f"{code_acc:.1%}",
                        f"{(code_acc - pixel_acc) * 100:+.1f} points vs pixels")
            m[1].metric("Test accuracy on raw pixels (784 numbers)", f"{pixel_acc:.1%}")

    st.markdown("##### Cosine similarity of a few digits: codes vs pixels", help=words.term("cosine similarity"))
    classes, per_class = digit_controls()
    if classes:
        y = np.asarray(data.y_test)
        chosen = np.concatenate([np.flatnonzero(y == c)[:per_class] for c in classes])
        digits = data.x_test[chosen]
        st.image(figures.enlarge(figures.tile(digits / 255.0, ncols=len(chosen)), 2),
                 width=min(60 * len(chosen), 900))
        codes = encode_images(stored.model, digits)
        code_sim = cosine_similarity_matrix(codes)
        pixel_sim = cosine_similarity_matrix(digits.reshape(len(digits), -1).astype(np.float32))
        st.markdown(f"Mean similarity, same class vs different class: "
                    f"**codes {similarity_summary(code_sim, y[chosen])}** · "
                    f"pixels {similarity_summary(pixel_sim, y[chosen])}")
    else:
        st.info("Pick a few classes to compare.")

if classes:
    tick = [f"{names[y[i]]} #{i}" for i in chosen]
    a, b = st.columns(2, gap="large")
    a.plotly_chart(figures.heatmap(code_sim, tick, f"codes ({codes.shape[1]}-d)", height=520), width="stretch")
    b.plotly_chart(figures.heatmap(pixel_sim, tick, "pixels (784-d)", height=520), width="stretch")
