"""Latent Lab's entry script: `python -m streamlit run app/Home.py`, from the repository's folder.

`python -m` puts that folder on the import path, where the pages find the dashboard's helpers (the
`app` package, not installed: a top-level `app` would clash with other projects'). `streamlit run`
imports this file and finds `app`, a Streamlit `App` that serves this same file as its script behind
one middleware (nested URLs redirect to their page, see `app.routing`); run as the script, it builds
the navigation over the page scripts in `pages/` and draws the widgets every page shares (the dataset
picker and the lecturer's unlock field in the sidebar). Each page reads like a script of its screen;
the work lives in `aecore` and the helpers in `app/`.
"""
from importlib.util import find_spec
from pathlib import Path

import streamlit as st

_helpers = find_spec("app")
if _helpers is None or Path(_helpers.origin or "").parent != Path(__file__).parent:  # the `streamlit` command
    raise SystemExit("Start Latent Lab from its repository's folder with: python -m streamlit run app/Home.py")


def main() -> None:
    st.set_page_config(page_title="Latent Lab", page_icon=":material/blur_on:", layout="wide")
    page = st.navigation(navigation.all_pages(), expanded=True)  # every page in the sidebar, no "View more"
    # Sharp square pixels; progress bars without easing, which costs CPU training needs (bench.dashboard_overhead).
    st.html("<style>[data-testid='stImage'] img { image-rendering: pixelated; }"
            "[data-testid='stProgress'] * { transition: none !important; }</style>")
    with st.sidebar:
        dataset_choice.dataset_controls()
        lecturer.lecturer_controls()
        projector.projector_controls()
    st.html(projector.page_style())
    page_visits.record_page(page.url_path)
    warmup.start_map_worker()  # its imports take seconds: let them run on another core while pages render
    try:
        page.run()
    finally:  # after the page, so that the first page a server shows does not share the GIL with it
        warmup.start_background_warmup()


if __name__ == "__main__":  # Streamlit runs the script as __main__
    from app import dataset_choice, lecturer, navigation, page_visits, projector, warmup

    main()
else:  # imported by `streamlit run` (or uvicorn) for the server
    from starlette.middleware import Middleware

    from app.routing import NestedPathRedirect

    app = st.App(__file__, middleware=[Middleware(NestedPathRedirect)])
