"""Folium maps. Text placed in popups and tooltips is escaped: folium injects it as HTML and
evaluates ``${…}`` as a JavaScript template, so ``$`` and backticks are neutralised too."""

from __future__ import annotations

import html
import json
from pathlib import Path

import folium
import pandas as pd

from dashboard.ui.theme import STATE_COLORS

BAEKSEOK_CENTER = (37.6435, 126.7870)
# Leaflet from our own static folder, not a CDN: control networks often have no internet.
LEAFLET_JS = [("leaflet", "/app/static/leaflet/leaflet.js")]
LEAFLET_CSS = [("leaflet_css", "/app/static/leaflet/leaflet.css")]
OUTSIDE_COLOR = STATE_COLORS["severe"]
INSIDE_COLOR = STATE_COLORS["normal"]
ZONE_COLOR = "#5AA9E6"
DARK_MAP_CSS = (
    "<style>.leaflet-container{background:#1b2633}"
    ".leaflet-tile-pane{filter:invert(1) hue-rotate(180deg) brightness(.85) contrast(.9)}</style>"
)


def escape_text(value: object) -> str:
    """Safe for folium popups and tooltips (HTML and JS template injection)."""
    return html.escape(str(value), quote=True).replace("$", "&#36;").replace("`", "&#96;")


def load_boundaries(path: Path | None, codes: set[str]) -> dict | None:
    """Dong polygons from a GeoJSON (properties adm_cd2), kept to ``codes`` (regions.code)."""
    if path is None:
        return None
    with Path(path).open(encoding="utf-8") as fh:
        data = json.load(fh)
    features = [
        f
        for f in data.get("features", [])
        if str(f.get("properties", {}).get("adm_cd2", "")) in codes
    ]
    return {"type": "FeatureCollection", "features": features} if features else None


def wandering_map(
    df: pd.DataFrame,
    labels: dict[str, str],
    boundaries: dict | None = None,
    tiles: str | None = "OpenStreetMap",
) -> folium.Map:
    """Detectors' last positions (red when outside the safe zone) over safe-zone circles.

    ``labels`` carries translated strings: tooltip, outside, inside, battery, last_seen keys.
    ``tiles=None`` draws no base map so the page renders without a network.
    """
    located = df.dropna(subset=["last_lat", "last_lon"])
    center = (
        (located["last_lat"].mean(), located["last_lon"].mean())
        if len(located)
        else BAEKSEOK_CENTER
    )
    fmap = folium.Map(
        location=center, zoom_start=15, tiles=tiles, control_scale=True, prefer_canvas=True
    )
    fmap.default_js = LEAFLET_JS
    fmap.default_css = LEAFLET_CSS
    # Dark wall screen: darken the light OSM tiles and the empty background instead of
    # depending on a dark tile provider that needs an API key.
    fmap.get_root().header.add_child(folium.Element(DARK_MAP_CSS))
    if boundaries:
        folium.GeoJson(
            boundaries,
            name="dong",
            style_function=lambda _f: {"color": "#9C8ADE", "weight": 2, "fillOpacity": 0.04},
            tooltip=folium.GeoJsonTooltip(fields=["adm_nm"], labels=False),
        ).add_to(fmap)
    for row in df.dropna(subset=["home_lat", "home_lon"]).to_dict("records"):
        folium.Circle(
            location=(row["home_lat"], row["home_lon"]),
            radius=float(row["safe_zone_m"]),
            color=OUTSIDE_COLOR if row["outside"] else ZONE_COLOR,
            weight=1,
            fill=True,
            fill_opacity=0.05,
            opacity=0.5,
        ).add_to(fmap)
    for row in located.sort_values("outside").to_dict("records"):
        where = labels["outside"] if row["outside"] else labels["inside"]
        text = (
            f"{escape_text(row['device_uid'])} · {escape_text(row['recipient_masked'])}"
            f"<br>{escape_text(where)} · {escape_text(row['distance_text'])}"
            f"<br>{escape_text(labels['last_seen'])}: {escape_text(row['age_text'])}"
            f"<br>{escape_text(labels['battery'])}: {escape_text(row['battery_text'])}"
        )
        folium.CircleMarker(
            location=(row["last_lat"], row["last_lon"]),
            radius=9 if row["outside"] else 6,
            color="#FFFFFF" if row["outside"] else INSIDE_COLOR,
            weight=2 if row["outside"] else 1,
            fill=True,
            fill_color=OUTSIDE_COLOR if row["outside"] else INSIDE_COLOR,
            fill_opacity=0.95 if row["outside"] else 0.7,
            tooltip=folium.Tooltip(text),
        ).add_to(fmap)
    if len(located):
        fmap.fit_bounds(
            [
                [located["last_lat"].min(), located["last_lon"].min()],
                [located["last_lat"].max(), located["last_lon"].max()],
            ]
        )
    return fmap
