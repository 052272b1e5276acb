"""Dashboard (placeholder until the reports issue lands)."""

import streamlit as st

from console.context import actor

st.title("Dollr Ops Console")
st.write(f"Welcome, {actor().email}.")
