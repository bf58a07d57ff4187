"""pydeck maps where density matters: exits over weeks (hexagons by hour of day) and device
states by dong on the live wall. They render without a network: no base map when offline or
when tiles come from ANBU_TILE_URL (pydeck's providers are online services), with the dong
boundaries drawn instead so the map keeps its bearings."""

from __future__ import annotations

import math
from datetime import timedelta

import pandas as pd
import pydeck as pdk
import streamlit as st

from dashboard.formatting import format_number
from dashboard.i18n import localized
from dashboard.mapping.dongs import SEVERITY, dong_features, dong_totals
from dashboard.mapping.suppression import SUPPRESS_BELOW
from dashboard.settings import LOCAL_TZ, get_settings
from dashboard.ui.components import table
from dashboard.ui.data import live_now, load
from dashboard.ui.i18n import current_lang, projector_on, t
from dashboard.ui.maps import BAEKSEOK_CENTER
from dashboard.ui.safe_text import html_escape
from dashboard.ui.theme import STATE_COLORS, chip
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


COUNCIL_MAP_HEIGHT = 460
COUNCIL_MAP_HEIGHT_PROJECTOR = 620


def fit_zoom(lats: list[float], lons: list[float], height_px: int, width_px: int = 1100) -> float:
    """The web-mercator zoom at which the span of ``lats`` × ``lons`` fills the map (a city of
    many districts, or two dongs), with a margin; at most 15. deck.gl's world is 512 px wide
    at zoom 0 (not 256 as for raster tiles)."""
    lon_span = max(max(lons) - min(lons), 1e-4)
    y = [math.log(math.tan(math.pi / 4 + math.radians(v) / 2)) for v in (min(lats), max(lats))]
    lat_span = max(y[1] - y[0], 1e-6)
    by_lon = math.log2(width_px * 360 / (512 * lon_span))
    by_lat = math.log2(height_px * 2 * math.pi / (512 * lat_span))
    return round(min(by_lon, by_lat, 15.0) - 0.25, 2)


def council_dong_deck(
    by_dong: pd.DataFrame, boundaries: dict | None, *, projector: bool, labels: bool = True
) -> pdk.Deck | None:
    """The council's city map: each dong in the colour of its worst device state with its
    device count written on it (``labels``); a dong with 1–4 devices reads "<5" in grey (and,
    when it is the only one hidden, the next smallest is hidden too, so the total cannot give
    it back). Counts are hidden over all of ``by_dong``; the dongs drawn are those with a
    polygon in ``boundaries``. Only dong polygons and aggregate counts reach the browser: no
    base map, no positions."""
    lang = current_lang()
    names = {str(r["region_code"]): _dong_label(r, lang) for r in by_dong.to_dict("records")}
    features = dong_features(
        by_dong,
        boundaries,
        STATE_COLORS,
        names=names,
        suppress_below=SUPPRESS_BELOW,
        complementary=True,
    )
    if not features:
        return None
    for f in features:
        p = f["properties"]
        p["state_text"] = t(f"state.{p['worst']}") if p["worst"] else t("council.hidden")
    texts = [
        {"position": f["properties"]["label"], "text": f["properties"]["devices_text"]}
        for f in features
    ]
    lats = [c[1] for f in features for c in _outer(f["geometry"])]
    lons = [c[0] for f in features for c in _outer(f["geometry"])]
    height = COUNCIL_MAP_HEIGHT_PROJECTOR if projector else COUNCIL_MAP_HEIGHT
    return pdk.Deck(
        layers=[
            pdk.Layer(
                "GeoJsonLayer",
                {"type": "FeatureCollection", "features": features},
                filled=True,
                stroked=True,
                get_fill_color="properties.color",
                get_line_color=[232, 238, 244, 220],
                line_width_min_pixels=3 if projector else 1.5,
                pickable=True,
            ),
            pdk.Layer(
                "TextLayer",
                texts if labels else [],
                get_position="position",
                get_text="text",
                # Counts only ("1,234", "<5"): ASCII, so the default glyph atlas suffices.
                get_size=24 if projector else 16,
                get_color=[255, 255, 255, 255],
                background=True,
                get_background_color=[14, 22, 33, 200],
                background_padding=[6, 3],
                font_weight=700,
            ),
        ],
        initial_view_state=pdk.ViewState(
            latitude=(min(lats) + max(lats)) / 2,
            longitude=(min(lons) + max(lons)) / 2,
            zoom=fit_zoom(lats, lons, height),
        ),
        map_provider=None,  # offline on purpose: a council room may have no network
        map_style=None,
        tooltip={"text": t("council.tooltip")},
    )


def council_legend(lang: str) -> str:
    """Swatches for the states and for a hidden count (our own text: no user input)."""
    hidden = html_escape(t("council.hidden"))
    grey = (
        '<span class="anbu-chip" style="background:transparent;border:1px dashed #9AA5B1">'
        f"{hidden}</span>"
    )
    return " ".join([*(chip(s, lang) for s in reversed(SEVERITY)), grey])


def _dong_label(row: dict, lang: str) -> str:
    """ "강남구 신사동": a dong's name is not unique in a city (two 신사동 in Seoul)."""
    dong = localized(row, "name", lang)
    district = localized(row, "district", lang) if isinstance(row.get("district_ko"), str) else ""
    return f"{district} {dong}".strip()


ALL_DISTRICTS = "all"
COUNCIL_DISTRICT_KEY = "council_district"
MAX_LABELS = 60  # more counts than this overlap into noise: colours and tooltips only


def council_dong_map(by_dong: pd.DataFrame) -> None:
    """The council map with its district choice, legend, caption and table (the briefing
    page). Small counts are hidden over all dongs before a district is picked, so every view
    hides the same dongs."""
    from dashboard.ui.wandering import dong_boundaries

    st.subheader(t("council.title"))
    if by_dong.empty:
        st.info(t("common.no_data"))
        return
    lang = current_lang()
    # Districts with the most devices first (the demo spans Seoul, Goyang and Daejeon: one
    # view of all of them makes every dong a speck).
    sizes = by_dong.groupby("district_code")["devices"].sum().sort_values(ascending=False)
    names = {
        r["district_code"]: localized(r, "district", lang)
        for r in by_dong.drop_duplicates("district_code").to_dict("records")
    }
    options = [*sizes.index, ALL_DISTRICTS]
    district = st.selectbox(
        t("council.district"),
        options,
        format_func=lambda c: t("council.all") if c == ALL_DISTRICTS else names.get(c, c),
        key=COUNCIL_DISTRICT_KEY,
    )
    shown = by_dong if district == ALL_DISTRICTS else by_dong[by_dong["district_code"] == district]
    codes = tuple(sorted({str(c) for c in shown["region_code"]}))
    projector = projector_on()
    deck = council_dong_deck(
        by_dong, dong_boundaries(codes), projector=projector, labels=len(codes) <= MAX_LABELS
    )
    if deck is None:
        st.info(t("wandering.no_boundaries"))
        return
    st.pydeck_chart(deck, height=COUNCIL_MAP_HEIGHT_PROJECTOR if projector else COUNCIL_MAP_HEIGHT)
    st.markdown(council_legend(lang), unsafe_allow_html=True)
    st.caption(t("council.caption", n=SUPPRESS_BELOW))
    with st.expander(t("council.table"), expanded=False):
        totals = dong_totals(by_dong, suppress_below=SUPPRESS_BELOW, complementary=True)
        totals = totals[totals["region_code"].isin(codes)]
        table(
            totals.assign(
                dong=[_dong_label(r, lang) for r in totals.to_dict("records")],
                state_text=[t(f"state.{w}") if w else t("council.hidden") for w in totals["worst"]],
            ),
            {
                "dong": "col.dong",
                "devices_text": "council.col_devices",
                "state_text": "council.col_worst",
            },
        )
