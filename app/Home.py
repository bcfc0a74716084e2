"""Latent Lab's entry script: `streamlit run app/Home.py`.

Builds the navigation over the page scripts in `pages/` and draws the widgets every page shares
(the dataset picker in the sidebar). Each page reads like a script of its screen; the work lives in
`aecore` and the helpers in `app/`.
"""
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:  # `streamlit run app/Home.py` puts only app/ on the path
    sys.path.insert(0, str(ROOT))

import streamlit as st  # noqa: E402

from app import projector, state  # noqa: E402

PAGES = [
    ("home.py", "Home", ":material/home:"),
    ("train.py", "Train", ":material/model_training:"),
    ("draw.py", "Draw & reconstruct", ":material/draw:"),
    ("latent_grid.py", "Latent grid", ":material/grid_on:"),
    ("embeddings.py", "Embeddings", ":material/scatter_plot:"),
    ("filters.py", "Filters & codes", ":material/filter_vintage:"),
    ("stacked.py", "Stacked pretraining", ":material/stacks:"),
    ("models.py", "Models", ":material/inventory_2:"),
]


def main() -> None:
    st.set_page_config(page_title="Latent Lab", page_icon=":material/blur_on:", layout="wide")
    pages = [st.Page(f"../pages/{file}", title=title, icon=icon, default=file == "home.py",
                     url_path=None if file == "home.py" else file.removesuffix(".py"))
             for file, title, icon in PAGES]
    state.keep_settings()  # before any widget is drawn: setting a drawn widget's value is an error
    page = st.navigation(pages)
    # Digit pictures are a few dozen pixels scaled up in the browser: keep their pixels square and sharp.
    # A progress bar eases to each new value, repainting for a while after each of a job's updates: on
    # a machine that also trains, a watching browser took CPU from the run for it (bench.dashboard_overhead).
    st.html("<style>[data-testid='stImage'] img { image-rendering: pixelated; }"
            "[data-testid='stProgress'] * { transition: none !important; }</style>")
    with st.sidebar:
        state.dataset_controls()
        projector.projector_controls()
    st.html(projector.page_style())
    state.record_page(page.url_path)
    state.start_map_worker()  # its imports take seconds: let them run on another core while pages render
    try:
        page.run()
    finally:  # after the page, so that the first page a server shows does not share the GIL with it
        state.start_background_warmup()


main()
