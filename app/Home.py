"""Latent Lab's entry script: `streamlit run app/Home.py`.

Builds the navigation over the page scripts in `pages/` and draws the widgets every page shares
(the dataset picker in the sidebar). Each page reads like a script of its screen; the work lives in
`aecore` and the helpers in `app/`.
"""
import streamlit as st

# the installed package (pyproject.toml): Streamlit puts only app/ on the path
from app import dataset_choice, navigation, page_visits, warmup


def main() -> None:
    st.set_page_config(page_title="Latent Lab", page_icon=":material/blur_on:", layout="wide")
    page = st.navigation(navigation.all_pages())
    # Digit pictures keep square, sharp pixels; progress bars do not ease, which costs a watching browser CPU
    # that training needs (bench.dashboard_overhead).
    st.html("<style>[data-testid='stImage'] img { image-rendering: pixelated; }"
            "[data-testid='stProgress'] * { transition: none !important; }</style>")
    with st.sidebar:
        dataset_choice.dataset_controls()
    page_visits.record_page(page.url_path)
    warmup.start_map_worker()  # its imports take seconds: let them run on another core while pages render
    try:
        page.run()
    finally:  # after the page, so that the first page a server shows does not share the GIL with it
        warmup.start_background_warmup()


main()
