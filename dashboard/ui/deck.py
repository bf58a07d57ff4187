"""pydeck maps where density matters: exits over weeks (hexagons by hour of day) and device
states by dong on the live wall. They render without a network: no base map when offline or
when tiles come from ANBU_TILE_URL (pydeck's providers are online services), with the dong
boundaries drawn instead so the map keeps its bearings."""

from __future__ import annotations

from datetime import timedelta

import pandas as pd
import pydeck as pdk
import streamlit as st

from dashboard.formatting import format_number
from dashboard.i18n import localized
from dashboard.mapping.dongs import dong_features
from dashboard.settings import LOCAL_TZ, get_settings
from dashboard.ui.data import live_now, load
from dashboard.ui.i18n import current_lang, projector_on, t
from dashboard.ui.maps import BAEKSEOK_CENTER
from dashboard.ui.theme import STATE_COLORS
from queries.wandering import exits

EXIT_WEEKS = (4, 8, 12, 26)
HEX_RADIUS_M = 120
BOUNDARY_LINE = [156, 138, 222, 160]


def map_provider(offline: bool) -> str | None:
    """pydeck's base map: none offline or with the city's own tile server."""
    return None if offline or get_settings().tiles else "carto"


def _boundary_layer(boundaries: dict | None) -> list[pdk.Layer]:
    if not boundaries:
        return []
    return [
        pdk.Layer(
            "GeoJsonLayer",
            boundaries,
            stroked=True,
            filled=False,
            get_line_color=BOUNDARY_LINE,
            line_width_min_pixels=1,
        )
    ]


def exit_points(df: pd.DataFrame, hours: tuple[int, int]) -> pd.DataFrame:
    """Exits whose local opening hour lies in [start, end] (a range over midnight wraps)."""
    if df.empty:
        return df.assign(hour=pd.Series(dtype=int))
    hour = df["opened_at"].dt.tz_convert(LOCAL_TZ).dt.hour
    start, end = hours
    keep = (hour >= start) & (hour <= end) if start <= end else (hour >= start) | (hour <= end)
    return df.assign(hour=hour)[keep].reset_index(drop=True)


def exits_deck(points: pd.DataFrame, boundaries: dict | None, offline: bool) -> pdk.Deck:
    layers = [
        *_boundary_layer(boundaries),
        pdk.Layer(
            "HexagonLayer",
            points[["lon", "lat"]],
            get_position=["lon", "lat"],
            radius=HEX_RADIUS_M,
            extruded=True,
            elevation_scale=8,
            coverage=0.9,
            pickable=True,
        ),
    ]
    return pdk.Deck(
        layers=layers,
        initial_view_state=pdk.ViewState(
            latitude=BAEKSEOK_CENTER[0], longitude=BAEKSEOK_CENTER[1], zoom=13.5, pitch=40
        ),
        map_provider=map_provider(offline),
        map_style="dark" if not offline else None,
        tooltip={"text": t("exits.tooltip")},
    )


def exits_review(areas: tuple[str, ...] | None, *, offline: bool) -> None:
    """Where and at what hour people left their zone over the last weeks."""
    from dashboard.ui.wandering import boundaries

    with st.expander(t("exits.title"), expanded=False):
        left, right = st.columns([1, 2])
        weeks = left.selectbox(
            t("exits.weeks"),
            EXIT_WEEKS,
            index=1,
            format_func=lambda w: t("exits.weeks_option", w=w),
            key="exits_weeks",
        )
        hours = right.slider(t("exits.hours"), 0, 23, (0, 23), key="exits_hours")
        now = live_now()
        df = load(exits, now - timedelta(weeks=int(weeks)), now, areas)
        points = exit_points(df, hours)
        st.caption(t("exits.caption", n=format_number(len(points)), total=format_number(len(df))))
        if points.empty:
            st.info(t("exits.empty"))
            return
        st.pydeck_chart(exits_deck(points, boundaries(), offline), height=420)


def dong_state_deck(
    by_dong: pd.DataFrame,
    boundaries: dict | None,
    *,
    offline: bool,
    suppress_below: int | None = None,
) -> pdk.Deck | None:
    """Dongs coloured by their worst device state, raised by device count."""
    lang = current_lang()
    names = {str(r["region_code"]): localized(r, "name", lang) for r in by_dong.to_dict("records")}
    features = dong_features(
        by_dong, boundaries, STATE_COLORS, names=names, suppress_below=suppress_below
    )
    if not features:
        return None
    for f in features:
        p = f["properties"]
        p["state_text"] = t(f"state.{p['worst']}") if p["worst"] else t("livemap.hidden")
        p["devices_text"] = format_number(p["devices"]) if p["devices"] is not None else "–"
        p["height"] = p["devices"] or 0
    lats = [c[1] for f in features for c in _outer(f["geometry"])]
    lons = [c[0] for f in features for c in _outer(f["geometry"])]
    layer = pdk.Layer(
        "GeoJsonLayer",
        {"type": "FeatureCollection", "features": features},
        filled=True,
        stroked=True,
        extruded=False,
        get_fill_color="properties.color",
        get_line_color=[20, 30, 40, 200],
        line_width_min_pixels=1 if not projector_on() else 2,
        pickable=True,
    )
    return pdk.Deck(
        layers=[layer],
        initial_view_state=pdk.ViewState(
            latitude=(min(lats) + max(lats)) / 2,
            longitude=(min(lons) + max(lons)) / 2,
            zoom=10.2,
        ),
        map_provider=map_provider(offline),
        map_style="dark" if not offline else None,
        tooltip={"text": t("livemap.tooltip")},
    )


def _outer(geometry: dict) -> list[list[float]]:
    if geometry["type"] == "Polygon":
        return geometry["coordinates"][0]
    return [c for poly in geometry["coordinates"] for c in poly[0]]
