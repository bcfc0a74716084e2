"""Embeddings: a model's codes of test digits mapped to 2-D with PCA, t-SNE or UMAP. Select digits on
the map to see them; a digit drawn on the Draw page appears on the same map as a star, next to its
nearest training digits in code space."""
import hashlib
import time

import numpy as np
import streamlit as st

from aecore.errors import AecoreError
from aecore.maps import method_params
from aecore.maps.honesty import map_caveat, settings_warnings
from aecore.metrics import encode_images
from aecore.sampling import stratified_sample
from aecore.spec import lecture_spec
from app import controls, dataset_choice, exports, figures, maps, page_visits, resources, settings, words

POINT_CHOICES = (250, 500, 1000, 2000, 5000, 10000)
MAX_SHOWN = 100  # selected digits shown as images: a stratified sample of a larger selection
NEIGHBOURS = 8
MAP_HEIGHT = 680
SMALL_MAP_HEIGHT = 200  # the PCA beside a t-SNE or UMAP map
HIDDEN_MAP_STYLE = ("flex: none !important; height: 0 !important; min-height: 0; overflow: hidden; "
                    "visibility: hidden; margin-bottom: -1rem;")  # a kept map out of sight, no gap left (below)
MIN_DISTS = [0.0, 0.01, 0.05, 0.1, 0.25, 0.5, 0.8, 0.99]  # UMAP min_dist choices

dataset_name = dataset_choice.current_dataset()
data = resources.dataset(dataset_name)
n_test = len(data.x_test)


def map_controls() -> dict:
    """Method, its settings, number of points and seed; each kept in the URL."""
    points = sorted({n for n in POINT_CHOICES if n < n_test} | {n_test})
    settings.init_from_query("emb_method", "method", "umap", choices=list(maps.METHOD_NAMES))
    settings.init_from_query("emb_n", "points", min(2000, n_test), cast=int, choices=points)
    settings.init_from_query("emb_seed", "seed", 0, cast=int, lo=0, hi=9999)
    settings.init_from_query("emb_perplexity", "perplexity", 30, cast=int, lo=5, hi=100)
    settings.init_from_query("emb_neighbors", "neighbors", 15, cast=int, lo=2, hi=100)
    settings.init_from_query("emb_min_dist", "min_dist", 0.1, cast=float, choices=MIN_DISTS)
    method = st.radio("Method", list(maps.METHOD_NAMES), key="emb_method", horizontal=True,
                      format_func=maps.METHOD_NAMES.get,
                      help=" ".join(words.term(m) for m in ("PCA", "t-SNE", "UMAP")))
    if method == "tsne":
        st.slider("Perplexity", 5, 100, key="emb_perplexity", step=5,
                  help="About how many neighbours each point tries to keep close.")
    elif method == "umap":
        st.slider("Neighbours", 2, 100, key="emb_neighbors",
                  help="Small: local detail. Large: the global layout.")
        st.select_slider("Minimum distance", MIN_DISTS, key="emb_min_dist",
                         help="How tightly points may pack together in the map.")
    n = st.select_slider("Test digits", points, key="emb_n", format_func=lambda v: f"{v:,}")
    seed = st.number_input("Seed", 0, 9999, key="emb_seed", step=1,
                           help="Picks the digits (when not all are used) and seeds the map.")
    settings.set_query(method=method, points=n, seed=seed)
    if method == "tsne":
        settings.set_query(perplexity=st.session_state.emb_perplexity)
    elif method == "umap":
        settings.set_query(neighbors=st.session_state.emb_neighbors, min_dist=st.session_state.emb_min_dist)
    params = method_params(method, st.session_state.emb_perplexity, st.session_state.emb_neighbors,
                           st.session_state.emb_min_dist)
    return {"method": method, "params": params, "n": int(n), "seed": int(seed)}


def session_memo(name: str, token, make):
    """`make()`, remembered in this session until `token` changes, so a rerun of the same map skips
    encoding the drawing and placing it again."""
    memo = st.session_state.get(name)
    if memo is None or memo[0] != token:
        memo = (token, make())
        st.session_state[name] = memo
    return memo[1]


def placed_drawing(drawing: np.ndarray, digest: str, model, proj, map_id: str) -> tuple[np.ndarray, np.ndarray]:
    """(the drawing's code (1, D), its place on the map (1, 2))."""
    def place():
        code = encode_images(model, drawing[None])
        return code, proj.transform(code)

    return session_memo("emb_placed", (map_id, digest), place)


def kept_maps(base: tuple) -> dict[str, tuple[str, object]]:
    """The maps kept on the page, method -> (map id, chart), for `base` (the model, the digits and the
    drawing). A map the browser has not shown is a new chart (its key names the map), 0.19 s to appear
    with 5,000 points (bench.map_redraw); the last map of each method stays on the page, hidden while
    another is shown, so switching back shows a chart that is already there. Emptied when the user
    comes to the page (its charts are gone) or changes the model, digits or drawing."""
    kept = st.session_state.get("emb_kept")
    if kept is None or kept["base"] != base or not page_visits.stayed_on_page():
        kept = {"base": base, "maps": {}}
        st.session_state["emb_kept"] = kept
    return kept["maps"]


def map_chart(points, labels, title: str, subtitle: str, method: str, n: int, extra, idx: np.ndarray) -> dict:
    return figures.map_chart(points, labels, data.class_names, title=title, subtitle=subtitle, height=MAP_HEIGHT,
                             marker_size=5 if n > 3000 else 7, extra=extra, ids=idx, images=data.x_test[idx],
                             equal_axes=method == "pca")  # t-SNE and UMAP axes have no units: fill the space


st.title("Embeddings")
# The lecture's 32-d autoencoder: a map of 2-D codes (the Latent grid's VAE) would only show strands.
default_model = lecture_spec("ae", dataset_name)
if not resources.registry().store.keys():  # nothing trained at all: the training gets the full width
    controls.model_picker(dataset_name, label="Model", default=default_model, key="emb_model",
                          why="The map shows a trained model's codes.")
    st.stop()

left, right, side = st.columns([0.9, 2.6, 1], gap="medium")
with left:
    picked = controls.model_picker(dataset_name, label="Model", default=default_model, key="emb_model",
                                   why="The map shows a trained model's codes.")
    if picked is None:
        st.stop()
    model_key, stored = picked
    chosen_map = map_controls()
    stem = f"{exports.download_stem(stored.meta.get('label', model_key), model_key)}-{chosen_map['n']}"
    st.download_button("Export (.zip)", lambda: exports.projector_zip_of(
                           model_key, dataset_name, chosen_map["n"], chosen_map["seed"], stem),
                       f"{stem}-projector.zip", mime="application/zip", on_click="ignore",
                       icon=":material/download:", key="emb-dl-projector", width="stretch",
                       help="For the Embedding Projector (projector.tensorflow.org): these digits' codes as "
                            "vectors.tsv, metadata.tsv (label, class, test index) and sprite.png; Load the two "
                            "TSV files there.")

method, params, n, seed = chosen_map["method"], chosen_map["params"], chosen_map["n"], chosen_map["seed"]
started = time.perf_counter()
bar = right.empty()
frame = right.empty()
if not maps.is_cached(model_key, n, method, params, seed):
    # An empty map where the map will appear: the browser loads its charting code while the server fits.
    frame.echarts_chart(figures.map_frame(f"{maps.METHOD_NAMES[method]} of {n:,} test digits",
                                          "fitting the map…"), height=MAP_HEIGHT)


def report(fraction: float, message: str) -> None:
    bar.progress(min(max(float(fraction), 0.0), 1.0), text=message)


try:
    idx, codes = maps.test_codes(model_key, dataset_name, n, seed)
    proj, fitted = maps.projection(model_key, codes, method, params, seed, report)
except AecoreError as e:
    frame.empty()
    right.error(str(e))
    st.stop()
bar.empty()
frame.empty()
elapsed = time.perf_counter() - started
labels = np.asarray(data.y_test)[idx]


def map_id_of(map_method: str, map_params: dict) -> str:
    """The map's settings name it: a new map gets a new chart key, so it starts with an empty selection."""
    return f"{model_key}-{map_method}-{'-'.join(str(v) for v in map_params.values())}-{n}-{seed}"


map_id = map_id_of(method, params)
drawing = st.session_state.get("drawing")
extra, drawn_code = None, None
drawing_digest = None if drawing is None else \
    hashlib.sha1(np.ascontiguousarray(drawing, dtype=np.float32).tobytes()).hexdigest()
kept = kept_maps((model_key, dataset_name, n, seed, drawing_digest))
if drawing is not None:
    try:
        drawn_code, drawn_point = placed_drawing(np.asarray(drawing, dtype=np.float32), drawing_digest,
                                                 stored.model, proj, map_id)
        extra = {"your drawing": drawn_point}
    except (AecoreError, ValueError) as e:
        right.error(f"Your drawing could not be placed: {e}")



def honesty_panel() -> float:
    """Beside the map: its trustworthiness and 10-NN accuracy against the codes', a small PCA of the same
    codes beside a t-SNE or UMAP map, and what its distances mean; returns the seconds spent measuring."""
    measuring = time.perf_counter()
    rows = [(maps.METHOD_NAMES[method], maps.honesty(map_id, codes, proj.points, labels))]
    pca = None
    if method != "pca":
        pca, _ = maps.projection(model_key, codes, "pca", {}, seed, lambda fraction, message: None)  # 0.01 s
        rows.append(("PCA", maps.honesty(map_id_of("pca", {}), codes, pca.points, labels)))
    measured = time.perf_counter() - measuring
    first = rows[0][1]
    st.markdown("**How far to trust this map**")
    table = "| | trust | 10‑NN |\n|:--|--:|--:|\n" + "".join(
        f"| {row_name} | {h.trustworthiness:.2f} | {h.knn_map:.0%} |\n" for row_name, h in rows)
    st.markdown(table + f"| codes | 1.00 | {first.knn_codes:.0%} |",
                help=words.term("trustworthiness") + " " + words.term("10-NN accuracy") +
                (f" Trust measured on a sample of {first.trust_points:,} digits." if first.trust_points < n else ""))
    if pca is not None:
        st.echarts_chart(figures.small_map_chart(pca.points, labels, data.class_names,
                                                 title="PCA of the same codes", height=SMALL_MAP_HEIGHT),
                         height=SMALL_MAP_HEIGHT, key=f"emb-pca-beside-{map_id}")
    st.caption(map_caveat(method))
    for warning in settings_warnings(method, params, len(codes)):
        st.warning(warning)
    return measured


with right:  # the map first: its trust figures take 1.4-1.6 s for 5,000 codes (bench.interaction)
    name = maps.METHOD_NAMES[method]
    title = f"{name} of {n:,} test digits' {codes.shape[1]}-d codes"
    model_label = stored.meta.get("label", model_key)
    if kept.get(method, (None,))[0] != map_id:
        kept[method] = (map_id, map_chart(proj.points, labels, title, model_label, method, n, extra, idx))
    # The other kept maps fold to no height by CSS class, so none remounts or redraws (bench.interaction);
    # `flex: none`, as Streamlit's flex sizing won over a height.
    st.html("<style>" + "".join(f".st-key-emb-kept-{m} {{ {HIDDEN_MAP_STYLE} }}" for m in maps.METHOD_NAMES
                                if m != method) + "</style>")
    event = None
    for m in maps.METHOD_NAMES:
        with st.container(key=f"emb-kept-{m}"):
            if m in kept:
                kept_id, kept_chart = kept[m]
                alt = " · ".join(filter(None, (kept_chart["title"]["text"], kept_chart["title"]["subtext"])))
                shown = st.echarts_chart(kept_chart, height=MAP_HEIGHT, on_select="rerun", alt=alt,
                                         key=f"emb-map-{kept_id}")
                event = shown if m == method else event
with side:
    honesty_s = honesty_panel()
with right:
    st.caption(f"{'Fitted' if fitted else 'From the cache'} in {elapsed:.2f} s (trust and 10-NN {honesty_s:.2f} s). "
               "Pick the box or the lasso at the map's top right and drag around points to see those digits; "
               "double-click the map to clear.")

chosen = np.asarray(maps.selected_indices(event, kept[method][1]), dtype=int)
if len(chosen):
    sample = chosen[stratified_sample(labels[chosen], MAX_SHOWN, seed)]
    counts = np.bincount(labels[chosen], minlength=len(data.class_names))
    shown_counts = np.bincount(labels[sample], minlength=len(data.class_names))
    st.subheader(f"{len(chosen)} selected digits" +
                 (f": a sample of {len(sample)} in the same proportions" if len(sample) < len(chosen) else ""))
    st.caption(" · ".join(f"**{data.class_names[c]}**: {k} selected" +
                          (f", {shown_counts[c]} shown" if len(sample) < len(chosen) else "")
                          for c, k in enumerate(counts) if k) +
               (f". Each class is sampled at random (seed {seed}), in proportion to its share of the selection."
                if len(sample) < len(chosen) else ""))
    ncols = min(20, len(sample))
    st.image(figures.enlarge(figures.tile(data.x_test[idx[sample]] / 255.0, ncols=ncols), 2), width=ncols * 64)

if drawn_code is not None:
    st.subheader("Your drawing and its nearest training digits in code space")
    try:
        near, dist = maps.nearest_training(model_key, dataset_name, drawn_code[0], NEIGHBOURS)
    except AecoreError as e:
        st.error(str(e))
    else:
        cols = st.columns(NEIGHBOURS + 1)
        cols[0].image(figures.digit_image(drawing), caption="your drawing", width="stretch")
        for col, i, d in zip(cols[1:], near, dist):
            col.image(figures.digit_image(data.x_train[i] / 255.0),
                      caption=f"{data.class_names[data.y_train[i]]} · distance {d:.2f}", width="stretch")
else:
    st.caption("Draw a digit on the Draw page and it appears here as a star, with its nearest training digits.")
