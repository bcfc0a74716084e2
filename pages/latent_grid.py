"""Placeholder, being written."""
import streamlit as st

st.title("latent_grid")
st.info("This page is being built.")
