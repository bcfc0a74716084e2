"""Models: every model in the cache with its results; download one's weights, metadata, codes and
pictures, or delete it."""
from datetime import datetime

import streamlit as st

from aecore.errors import AecoreError
from app import dataset_choice, exports, figures, lecturer, resources, settings, words

st.title("Models")
notice = st.session_state.pop("mdl_notice", None)
if notice:
    st.success(notice)
metas = exports.stored_metas()
if not metas:
    st.info("The model cache is empty. Train a model on the Train page, or prepare the lecture set on Home.")
    st.stop()


def dataset_filter(names: list[str]) -> str:
    options = ["all", *names]
    settings.init_from_query("mdl_dataset", "show", "all", choices=options)
    if st.session_state.mdl_dataset not in options:  # its last model was deleted
        st.session_state.mdl_dataset = "all"
    shown = st.selectbox("Dataset", options, key="mdl_dataset", format_func=lambda n: "All datasets" if n == "all"
                         else dataset_choice.DATASET_LABELS.get(n, n))
    settings.set_query(show=shown)
    return shown


def model_row(meta: dict) -> dict:
    test = (meta.get("final") or {}).get("test") or {}
    parts = {k: v for k, v in test.items() if k != "loss"}  # one part is the loss itself: not repeated
    return {
        "model": meta.get("label", meta["key"]),
        "family": meta["spec"]["family"],
        "dataset": meta["dataset"]["name"],
        "epochs": len(meta.get("history", [])),
        "test loss": test.get("loss"),
        "loss parts": " · ".join(f"{k} {v:.2f}" for k, v in parts.items()) if len(parts) > 1 else "",
        "metrics": " · ".join(f"{k.replace('_', ' ')} {v:.3f}" for k, v in (meta.get("metrics") or {}).items()),
        "training s": meta.get("seconds"),
        "created": datetime.fromtimestamp(meta.get("created", 0)),
        "key": meta["key"],
    }


left, _ = st.columns([1, 3])
with left:
    shown_dataset = dataset_filter(sorted({m["dataset"]["name"] for m in metas}))
metas = [m for m in metas if shown_dataset in ("all", m["dataset"]["name"])]
rows = [model_row(m) for m in metas]
for column in ("loss parts", "metrics"):  # only some families have these: no empty columns
    if not any(row[column] for row in rows):
        for row in rows:
            del row[column]
st.dataframe(rows, hide_index=True, width="stretch", column_config={
    "model": st.column_config.TextColumn(width="medium"),
    "family": st.column_config.TextColumn(width="small"),
    "epochs": st.column_config.NumberColumn(width="small"),
    "metrics": st.column_config.TextColumn(width="medium"),
    "test loss": st.column_config.NumberColumn(format="%.2f"),
    "training s": st.column_config.NumberColumn(format="%.1f"),
    "created": st.column_config.DatetimeColumn(format="MMM D, HH:mm"),
})

# ---- one model ------------------------------------------------------------------------------------
keys = [m["key"] for m in metas]
labels = {m["key"]: m.get("label", m["key"]) for m in metas}
settings.init_from_query("mdl_pick", "model", keys[0], choices=keys)
if st.session_state.mdl_pick not in keys:  # deleted, or hidden by the dataset filter
    st.session_state.mdl_pick = keys[0]
pick_col, _ = st.columns([1, 2])
key = pick_col.selectbox("Model", keys, key="mdl_pick", format_func=lambda k: f"{labels[k]}  ·  {k[:6]}")
settings.set_query(model=key)
meta = next(m for m in metas if m["key"] == key)
label, dataset_name = labels[key], meta["dataset"]["name"]
stem = exports.download_stem(label, key)

st.subheader(label)
pictures, files = st.columns([3, 2], gap="large")
with files:
    st.markdown("**Downloads**")
    st.download_button("Weights (.safetensors)", lambda: exports.weights_bytes(key), f"{stem}.safetensors",
                       mime="application/octet-stream", on_click="ignore", icon=":material/download:",
                       key="mdl-dl-weights", width="stretch")
    st.download_button("Metadata (.json)", lambda: exports.meta_json(key), f"{stem}.json",
                       mime="application/json", on_click="ignore", icon=":material/download:",
                       key="mdl-dl-meta", width="stretch")
    st.download_button("Codes of the test digits (.csv)", lambda: exports.codes_csv(key, dataset_name),
                       f"{stem}-codes.csv", mime="text/csv", on_click="ignore", icon=":material/download:",
                       key="mdl-dl-codes", width="stretch")
    st.download_button("Reconstructions (.png)", lambda: exports.reconstruction_png(key, dataset_name),
                       f"{stem}-reconstructions.png", mime="image/png", on_click="ignore",
                       icon=":material/download:", key="mdl-dl-recon", width="stretch")
    try:
        filters = exports.filter_picture(key, 100)  # (picture, count) or None
    except AecoreError:  # damaged entry: said next to the pictures
        filters = None
    if filters is not None:
        st.download_button("First-layer filters (.png)", lambda: exports.filters_png(key), f"{stem}-filters.png",
                           mime="image/png", on_click="ignore", icon=":material/download:",
                           key="mdl-dl-filters", width="stretch")

    st.markdown("**Delete**")
    if not lecturer.may_manage():
        lecturer.locked_note("delete models")
    elif st.session_state.get("mdl_confirm") != key:
        if st.button("Delete this model…", icon=":material/delete:", key="mdl-delete"):
            st.session_state.mdl_confirm = key
            st.rerun()
    else:
        st.warning(f"Delete **{label}** from the cache? Pages that need it will offer to train it again.")
        yes, no = st.columns(2)
        if yes.button("Yes, delete", type="primary", key="mdl-delete-yes", width="stretch"):
            st.session_state.pop("mdl_confirm", None)
            try:
                exports.delete_model(key)
            except AecoreError as e:
                st.error(str(e))
            else:
                st.session_state.mdl_notice = f"Deleted {label}."
                st.rerun()
        if no.button("Cancel", key="mdl-delete-no", width="stretch"):
            st.session_state.pop("mdl_confirm", None)
            st.rerun()

with pictures:
    if resources.stored_model(key) is None:
        st.error("This model's files are damaged; it will be retrained when a page needs it.")
    else:
        try:
            st.image(figures.enlarge(exports.reconstruction_picture(key, dataset_name), 3), width="stretch",
                     caption="Test digits (top) and their reconstructions (bottom)")
        except AecoreError as e:
            st.error(str(e))
        if meta["spec"]["family"] == "stacked":
            st.caption(words.STACKED_RECONSTRUCTIONS)
        if filters is not None:
            st.image(figures.enlarge(filters[0], 2), width=480, caption=f"First {filters[1]} first-layer filters")
