"""Placeholder: built by its issue."""

import streamlit as st

st.title("Coming soon")
