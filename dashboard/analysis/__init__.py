"""Statistics for the analysis pages: plain functions of data frames, no Streamlit, no SQL."""
