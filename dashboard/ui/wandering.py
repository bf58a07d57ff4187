"""The wandering wall-screen panel: its data function (tested directly) and its rendering."""

from __future__ import annotations

from datetime import datetime, timedelta
from urllib.parse import quote

import pandas as pd
import streamlit as st
from streamlit_folium import st_folium

from dashboard.formatting import (
    format_age,
    format_datetime,
    format_duration,
    format_number,
    format_percent,
)
from dashboard.i18n import localized, translate
from dashboard.rules.config import current_thresholds
from dashboard.settings import get_settings
from dashboard.ui import search_map
from dashboard.ui.auth import check_session
from dashboard.ui.components import table
from dashboard.ui.data import live_now, load
from dashboard.ui.i18n import current_lang, t
from dashboard.ui.maps import (
    base_map,
    load_boundaries,
    positions_layer,
    responders_layer,
    trail_layer,
)
from dashboard.ui.safe_text import md_escape
from queries.wandering import region_codes, snapshot

REFRESH_S = 30
LOW_BATTERY_PCT = 20
MAP_HEIGHT = 640
BOUNDARY_TTL_S = 3600


def no_position_after() -> timedelta:
    """The rules' threshold, so a grey dot and a 위치 끊김 alert mean the same thing."""
    return timedelta(minutes=current_thresholds().wandering.no_position_min)


def fetch_wandering(now: datetime, areas: tuple[str, ...] | None = None) -> pd.DataFrame:
    """What the fragment shows on each tick (cached briefly and shared between screens):
    only the detectors in ``areas`` (an operator's districts; None = all)."""
    return load(snapshot, now, no_position_after(), areas=areas, live=True)


@st.cache_data(ttl=BOUNDARY_TTL_S, max_entries=8, show_spinner=False)
def _boundaries(path: str | None, codes: tuple[str, ...]) -> dict | None:
    return load_boundaries(None if path is None else path, set(codes))


def dong_boundaries(codes: tuple[str, ...]) -> dict | None:
    """Polygons of the dongs ``codes`` from the configured (or shipped) boundary file."""
    path = get_settings().resolved_boundary_geojson
    return _boundaries(str(path), codes) if path.is_file() else None


def boundaries() -> dict | None:
    """Dong polygons for the program's dongs (read once an hour, not on every refresh)."""
    path = get_settings().resolved_boundary_geojson
    if not path.is_file():
        return None
    return _boundaries(str(path), tuple(load(region_codes)))


def map_labels(lang: str, minutes: int) -> dict[str, str]:
    tr = lambda key, **kw: translate(key, lang, **kw)  # noqa: E731
    return {
        "inside": tr("wandering.status_inside"),
        "edge": tr("wandering.status_edge"),
        "outside": tr("wandering.status_outside"),
        "no_position": tr("wandering.status_no_position", m=minutes),
        "no_zone": tr("wandering.status_no_zone"),
        "legend": tr("wandering.legend"),
        "zone": tr("wandering.legend_zone"),
        "distance": tr("wandering.distance"),
        "outside_for": tr("wandering.outside_for"),
        "last_seen": tr("col.last_seen"),
        "battery": tr("col.battery"),
    } | search_map.map_labels(lang)


def with_texts(df: pd.DataFrame, now: datetime, lang: str) -> pd.DataFrame:
    """Display strings for tooltips and tables (formatting stays out of the map module)."""
    return df.assign(
        age_text=[format_age(ts if pd.notna(ts) else None, now, lang) for ts in df["last_seen_at"]],
        distance_text=[f"{format_number(d)} m" if pd.notna(d) else "–" for d in df["distance_m"]],
        battery_text=[format_percent(b, 0) for b in df["battery_pct"]],
        outside_text=[
            format_duration(now - ts.to_pydatetime(), lang) if pd.notna(ts) else "–"
            for ts in df["outside_since"]
        ],
        dong=[localized(r, "region", lang) for r in df.to_dict("records")],
    )


def outside_rows(df: pd.DataFrame) -> pd.DataFrame:
    """People outside their zone, longest outside first; unknown start (no alert yet) last,
    then the farthest first."""
    rows = df[df["status"] == "outside"]
    return rows.sort_values(
        ["outside_since", "distance_m"], ascending=[True, False], na_position="last"
    )


PERSON_KEY = "wandering_person"
HOURS_KEY = "wandering_trail_hours"


def _person_options(df: pd.DataFrame) -> dict[int, str]:
    """Detectors to follow, people outside their zone first: device_id → masked name · uid."""
    order = {"outside": 0, "edge": 1, "no_position": 2, "no_zone": 3, "inside": 4}
    ranked = df.assign(_r=df["status"].map(order)).sort_values(["_r", "recipient_masked"])
    return {
        int(r["device_id"]): f"{r['recipient_masked']} · {r['device_uid']}"
        for r in ranked.to_dict("records")
    }


def _trail_controls(df: pd.DataFrame) -> tuple[dict | None, int]:
    """The person whose trail and nearest responders to show (default: the first outside)."""
    options = _person_options(df)
    if st.session_state.get(PERSON_KEY) not in options:
        outside = df[df["status"] == "outside"]
        st.session_state[PERSON_KEY] = (
            int(outside["device_id"].iloc[0]) if len(outside) else next(iter(options))
        )
    left, right = st.columns([3, 1])
    chosen = left.selectbox(
        t("trail.person"), list(options), format_func=options.get, key=PERSON_KEY
    )
    hours = right.selectbox(
        t("trail.hours"),
        search_map.TRAIL_HOURS,
        index=search_map.TRAIL_HOURS.index(search_map.DEFAULT_TRAIL_HOURS),
        format_func=lambda h: t("trail.hours_option", h=h),
        key=HOURS_KEY,
    )
    row = df[df["device_id"] == chosen]
    return (row.iloc[0].to_dict() if len(row) else None), int(hours)


def render_panel(
    df: pd.DataFrame,
    now: datetime,
    tiles: str | None,
    attribution: str | None = None,
) -> None:
    lang = current_lang()
    minutes = int(no_position_after().total_seconds() // 60)
    counts = df["status"].value_counts()
    cols = st.columns(6)
    cols[0].metric(t("wandering.detectors"), format_number(len(df)))
    cols[1].metric(t("wandering.outside"), format_number(int(counts.get("outside", 0))))
    cols[2].metric(t("wandering.edge"), format_number(int(counts.get("edge", 0))))
    cols[3].metric(
        t("wandering.no_position", m=minutes), format_number(int(counts.get("no_position", 0)))
    )
    cols[4].metric(t("wandering.no_zone"), format_number(int(counts.get("no_zone", 0))))
    low = int((df["battery_pct"] < LOW_BATTERY_PCT).sum())
    cols[5].metric(t("wandering.low_battery"), format_number(low))
    st.caption(t("wandering.refreshed", s=REFRESH_S, at=format_datetime(now, lang)))
    if df.empty:
        st.info(t("common.no_data"))
        return

    shown = with_texts(df, now, lang)
    labels = map_labels(lang, minutes)
    dongs = boundaries()
    left, right = st.columns([3, 2], gap="medium")
    with left:
        person, hours = _trail_controls(shown)
        layers = [positions_layer(shown, labels)]
        near = pd.DataFrame()
        if person is not None:
            span = timedelta(hours=hours)
            fixes, read = search_map.trail_fixes(int(person["device_id"]), now - span, now)
            layers.append(trail_layer(fixes, lambda f: search_map.time_label(f, span)))
            if pd.notna(person.get("last_lat")) and pd.notna(person.get("last_lon")):
                near = search_map.nearest(float(person["last_lat"]), float(person["last_lon"]))
                layers.append(responders_layer(near, labels, named=3))
            caption = (
                t("trail.caption", who=md_escape(person["recipient_masked"]), h=hours, n=read,
                  k=len(fixes))
                if fixes
                else t("trail.empty", h=hours)
            )  # fmt: skip
            st.caption(caption)
        # A fresh base map every tick: st_folium adds the layers to the map it is given, and an
        # identical base keeps the same component key, so the browser swaps only the layers.
        st_folium(
            base_map(labels, dongs, tiles, attribution),
            feature_group_to_add=layers,
            returned_objects=[],
            height=MAP_HEIGHT,
            use_container_width=True,
            key="wandering_map",
        )
        if dongs is None:
            st.caption(t("wandering.no_boundaries"))
        if person is not None:
            render_nearest(near, lang)
    with right:
        st.subheader(t("wandering.outside_list"))
        away = outside_rows(shown)
        if away.empty:
            st.success(t("wandering.all_inside"))
        else:
            table(
                away.assign(zone=[f"{format_number(z)} m" for z in away["safe_zone_m"]]),
                {
                    "recipient_masked": "col.recipient",
                    "outside_text": "wandering.col_outside_for",
                    "distance_text": "col.distance",
                    "zone": "col.safe_zone",
                    "age_text": "col.last_seen",
                    "dong": "col.dong",
                    "battery_text": "col.battery",
                    "device_uid": "col.device",
                },
            )
        st.subheader(t("wandering.no_position_list", m=minutes))
        silent = shown[(shown["status"] == "no_position")].sort_values(
            "last_seen_at", na_position="first"
        )
        if silent.empty:
            st.success(t("wandering.all_located"))
        else:
            table(
                silent,
                {
                    "recipient_masked": "col.recipient",
                    "age_text": "col.last_seen",
                    "dong": "col.dong",
                    "battery_text": "col.battery",
                    "device_uid": "col.device",
                },
                height=min(400, 38 + 35 * len(silent)),
            )
        render_no_zone(shown, lang)


NO_ZONE_SHOWN = 30  # more is a roster import without homes: the count above says how many


def no_zone_lines(df: pd.DataFrame, lang: str) -> list[str]:
    """One markdown line per wearer without a safe zone, silent longest first: a link to the
    person panel (where the home position and the zone are set), masked name, dong, last seen,
    device. Everything shown is escaped; the reference goes into the URL percent-encoded."""
    rows = df[df["status"] == "no_zone"].sort_values("last_seen_at", na_position="first")
    suffix = "&lang=en" if lang == "en" else ""
    lines = []
    for row in rows.head(NO_ZONE_SHOWN).to_dict("records"):
        ref = row.get("external_ref")
        who = (
            f"[{md_escape(ref)}](people?person={quote(str(ref), safe='')}{suffix})"
            if isinstance(ref, str) and ref
            else "–"
        )
        # "마지막 수신 3분 전", but a detector never heard from is just "수신 기록 없음".
        seen = row["age_text"]
        if pd.notna(row["last_seen_at"]):
            seen = f"{t('col.last_seen')} {seen}"
        lines.append(
            f"- {who} · {md_escape(row['recipient_masked'])} · {md_escape(row['dong'])} · "
            f"{md_escape(seen)} · {md_escape(row['device_uid'])}"
        )
    return lines


def render_no_zone(shown: pd.DataFrame, lang: str) -> None:
    """Wearers the rules cannot watch (no home, no polygon), with the way to fix each."""
    count = int((shown["status"] == "no_zone").sum())
    if not count:
        return  # the usual case: no heading for an empty list on the wall screen
    st.subheader(t("wandering.no_zone_list"))
    st.warning(t("wandering.no_zone_help"), icon=":material/fence:")
    st.markdown("\n".join(no_zone_lines(shown, lang)))
    if count > NO_ZONE_SHOWN:
        st.caption(t("wandering.no_zone_more", n=format_number(count - NO_ZONE_SHOWN)))


def render_nearest(near: pd.DataFrame, lang: str) -> None:
    """The nearest responders to the person's last position, nearest first."""
    st.subheader(t("responders.title"))
    if near.empty:
        st.caption(t("responders.none", km=format_number(search_map.SEARCH_KM)))
        return
    st.caption(t("responders.caption"))
    table(
        search_map.responder_rows(near, lang),
        {
            "name": "responders.col_name",
            "kind_text": "responders.col_kind",
            "distance_text": "responders.col_distance",
            "phone_text": "responders.col_phone",
            "position_text": "responders.col_position",
        },
    )


@st.fragment(run_every=REFRESH_S)
def wandering_panel(
    tiles: str | None, attribution: str | None = None, areas: tuple[str, ...] | None = None
) -> None:
    check_session()  # timer reruns skip the login gate: end an idle session here
    # Loaded inside the fragment so each tick reads fresh positions.
    now = live_now()
    render_panel(fetch_wandering(now, areas), now, tiles, attribution)
