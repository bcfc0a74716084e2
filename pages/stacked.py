"""Placeholder, being written."""
import streamlit as st

st.title("stacked")
st.info("This page is being built.")
