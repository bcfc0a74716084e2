"""Latent Lab's entry script: `streamlit run app/Home.py`.

Builds the navigation over the page scripts in `pages/` and draws the widgets every page shares
(the dataset picker in the sidebar). Each page reads like a script of its screen; the work lives in
`aecore` and the helpers in `app/`.
"""
import streamlit as st

from app import projector, state  # the installed package (pyproject.toml): Streamlit puts only app/ on the path

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
    # Digit pictures keep square, sharp pixels; progress bars do not ease, which costs a watching browser CPU
    # that training needs (bench.dashboard_overhead).
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
