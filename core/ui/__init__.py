"""The only Streamlit-aware part of core: cached resources, widgets and figure builders."""
