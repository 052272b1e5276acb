"""Streamlit-side helpers shared by the console's pages: the only UI code outside `pages/`."""
