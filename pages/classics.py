"""Classics: the five write-ups Latent Lab grew from, one card each, with each recipe in a sentence,
the source's published numbers beside ours on the data in use, one click to train it, and links to
the pages where its figures live."""
import streamlit as st

from aecore.recipes import RECIPES, comparison, is_recipe_model
from app import controls, dataset_choice, exports, figures, navigation, resources, training

# Where each source's figures are drawn in the lab.
FIGURE_PAGES = {"000": ["filters.py", "draw.py"], "001": ["latent_grid.py", "embeddings.py"],
                "002": ["draw.py", "train.py"], "003": ["embeddings.py", "draw.py"], "004": ["stacked.py"]}


def ours_picture(r, meta: dict, dataset_name: str) -> tuple[object, str] | None:
    """(our picture of what the source drew, its caption) for a trained model of recipe `r`, or None
    where the source published numbers only."""
    key = meta["key"]
    if r.family == "dae":
        found = exports.filter_picture(key, 100)
        return None if found is None else (found[0], "Ours: the first 100 filters, the tutorial's figure.")
    if r.family in ("vae", "conv_vae"):
        grid = exports.quantile_grid_picture(key, 15)
        return None if grid is None else (grid, "Ours: decodes of a 15×15 grid at normal quantiles, the "
                                                "Keras example's figure.")
    if r.family == "ae":
        return (exports.reconstruction_picture(key, dataset_name, per_class=1),
                "Ours: one test digit per class (top) and its reconstruction (bottom).")
    return None


dataset_name = dataset_choice.current_dataset()
data = resources.dataset(dataset_name)
n_train = len(data.x_train)

st.title("Classics")
st.markdown("#### The five classic write-ups, trained the way their sources trained them.")
st.caption(f"Ours are measured on {data.description}. On fewer digits than the source, a recipe keeps the "
           "source's number of optimisation steps (more epochs), up to a cap that keeps it within minutes.")

trained = controls.trained_models(dataset_name)  # metas, for the models of each recipe on any budget
by_source: dict[str, list] = {}
for r in RECIPES.values():
    by_source.setdefault(r.source.seed, []).append(r)

for seed, recipes in by_source.items():
    source = recipes[0].source
    with st.container(border=True):
        st.subheader(source.title)
        st.caption(source.citation)
        for r in recipes:
            spec, budget = r.spec(dataset_name, n_train=n_train)
            key, stored, job = resources.find_model(spec)
            mine = [m for m in trained if is_recipe_model(r, m["spec"])]
            meta = stored.meta if stored is not None else max(
                mine, key=lambda m: m["spec"]["train"]["epochs"], default=None)
            st.markdown(f"**{r.name}** — {r.summary}")
            if r.note:
                st.caption(r.note)
            rows = comparison(r, meta)
            picture = ours_picture(r, meta, dataset_name) if meta is not None else None
            table_col, picture_col = st.columns([3, 2]) if picture is not None else (st.container(), None)
            if rows:
                table_col.table({"": [w for w, _, _ in rows], "source": [s for _, s, _ in rows],
                                 "ours": [o for _, _, o in rows]})
            if picture is not None and picture_col is not None:
                picture_col.image(figures.enlarge(picture[0], 2), caption=picture[1], width="stretch")
            budget_text = budget.describe() if budget is not None else f"{spec.train.epochs} epochs"
            if meta is not None:
                epochs = meta["spec"]["train"]["epochs"]
                st.caption(f"Ours: {meta.get('label', spec.label())}, {epochs} epoch{'' if epochs == 1 else 's'}, "
                           f"trained in {meta.get('seconds', 0):.0f} s.")
            if stored is None and job is not None and not job.done:
                training.job_progress(job, curves=False, key=f"cls-{r.name}")
            elif stored is None and st.button(f"Train {r.name} ({budget_text})", key=f"cls-train-{r.name}"):
                if training.submit(spec) is not None:
                    st.rerun()
        links = st.columns(len(FIGURE_PAGES[seed]))
        for col, file in zip(links, FIGURE_PAGES[seed]):
            col.page_link(navigation.page(file))
