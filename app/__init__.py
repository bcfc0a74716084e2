"""The Streamlit dashboard's shared UI helpers; `app/Home.py` is the entry script.

`state` holds the cached resources shared by every session (job registry, datasets, loaded models)
and the URL query-string helpers; `controls` draws widgets and returns the chosen values; `figures`
builds plotly figures and image tiles; `training` shows a job's live progress.
"""
