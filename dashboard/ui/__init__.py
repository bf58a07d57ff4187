"""The only non-page code that imports streamlit: cached data, components, charts, maps, i18n."""
