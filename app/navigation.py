"""The dashboard's pages, listed once: the sidebar's navigation and the links between pages are
built from this list."""
from __future__ import annotations

import streamlit as st

# (script in pages/, title, icon, what a student does there)
PAGES = [
    ("home.py", "Home", ":material/home:", "What autoencoders are, and where to start"),
    ("lessons.py", "Lessons", ":material/school:", "Guided tours: predict, then see"),
    ("train.py", "Train", ":material/model_training:", "Train a model and watch its loss fall"),
    ("draw.py", "Draw & reconstruct", ":material/draw:", "Draw a digit and see each model rebuild it"),
    ("latent_grid.py", "Latent grid", ":material/grid_on:", "Walk a VAE's 2-D latent plane"),
    ("embeddings.py", "Embeddings", ":material/scatter_plot:", "Map the codes of test digits in 2-D"),
    ("filters.py", "Filters & codes", ":material/filter_vintage:", "See what the first layer looks for"),
    ("denoise.py", "Denoising", ":material/blur_on:", "Corrupt a digit; compare a plain and a denoising model"),
    ("stacked.py", "Stacked pretraining", ":material/stacks:", "Pretrain one layer at a time"),
    ("classics.py", "Classics", ":material/menu_book:", "The five classic sources, side by side with ours"),
    ("faceoff.py", "Face-off", ":material/leaderboard:", "Every family on the same digits, measured alike"),
    ("symbols.py", "Your symbols", ":material/star:", "Draw a new symbol: how unusual is it to a model?"),
    ("models.py", "Models", ":material/inventory_2:", "Download or delete trained models"),
]


def page(file: str) -> st.Page:
    """The page of the script `pages/<file>` (the same page each time it is asked for)."""
    title, icon = next((t, i) for f, t, i, _ in PAGES if f == file)
    return st.Page(f"../pages/{file}", title=title, icon=icon, default=file == "home.py",
                   url_path=None if file == "home.py" else file.removesuffix(".py"))


def all_pages() -> list[st.Page]:
    return [page(file) for file, *_ in PAGES]


def page_links(skip: str = "home.py", columns: int = 4) -> None:
    """A link to every page but `skip`, each above a line on what a student does there."""
    shown = [(file, what) for file, _, _, what in PAGES if file != skip]
    for first in range(0, len(shown), columns):  # one row of columns at a time: the rows line up
        for col, (file, what) in zip(st.columns(columns, gap="medium"), shown[first:first + columns]):
            with col:
                st.page_link(page(file))
                st.caption(what)
