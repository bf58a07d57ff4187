"""Map geometry without Streamlit or folium: trails, distances, boundary simplification."""
