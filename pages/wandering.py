"""배회 지도: wandering detectors' last positions against safe zones in 백석1·2동."""

import pandas as pd
import streamlit as st
from streamlit_folium import st_folium

from dashboard.formatting import format_age, format_number, format_percent
from dashboard.i18n import localized
from dashboard.settings import get_settings
from dashboard.ui.auth import require_page
from dashboard.ui.components import page_header, table
from dashboard.ui.data import live_now, load
from dashboard.ui.i18n import current_lang, t
from dashboard.ui.maps import load_boundaries, wandering_map
from queries.wandering import positions

require_page("wandering")  # personal data: re-check the role, not just the menu
page_header("page.wandering", "wandering.caption")
lang = current_lang()
now = live_now()

df = load(positions, live=True)
offline_tiles = st.sidebar.toggle(
    t("wandering.offline_tiles"), key="wandering_offline", help=t("wandering.offline_help")
)

outside = df[df["outside"]]
c1, c2, c3, c4 = st.columns(4)
c1.metric(t("wandering.detectors"), format_number(len(df)))
c2.metric(t("wandering.outside"), format_number(len(outside)))
c3.metric(t("wandering.located"), format_number(int(df["last_lat"].notna().sum())))
low = int((df["battery_pct"] < 20).sum())
c4.metric(t("wandering.low_battery"), format_number(low))

if df.empty:
    st.info(t("common.no_data"))
    st.stop()

df = df.assign(
    age_text=[format_age(ts if pd.notna(ts) else None, now, lang) for ts in df["last_seen_at"]],
    distance_text=[f"{format_number(d)} m" if pd.notna(d) else "–" for d in df["distance_m"]],
    battery_text=[format_percent(b, 0) for b in df["battery_pct"]],
)
settings = get_settings()
boundaries = load_boundaries(settings.boundary_geojson, set(df["region_code"].astype(str)))
labels = {
    "outside": t("wandering.outside_zone"),
    "inside": t("wandering.inside_zone"),
    "battery": t("col.battery"),
    "last_seen": t("col.last_seen"),
}
fmap = wandering_map(df, labels, boundaries, tiles=None if offline_tiles else "OpenStreetMap")
st_folium(fmap, height=560, use_container_width=True, returned_objects=[], key="wandering_map")
if boundaries is None:
    st.caption(t("wandering.no_boundaries"))

st.subheader(t("wandering.outside_list"))
if outside.empty:
    st.success(t("wandering.all_inside"))
else:
    rows = df[df["outside"]].sort_values("distance_m", ascending=False)
    shown = pd.DataFrame(
        {
            "device": rows["device_uid"],
            "recipient": rows["recipient_masked"],
            "dong": [localized(r, "region", lang) for r in rows.to_dict("records")],
            "distance": rows["distance_text"],
            "zone": [f"{format_number(z)} m" for z in rows["safe_zone_m"]],
            "last_seen": rows["age_text"],
            "battery": rows["battery_text"],
        }
    )
    table(
        shown,
        {
            "device": "col.device",
            "recipient": "col.recipient",
            "dong": "col.dong",
            "distance": "col.distance",
            "zone": "col.safe_zone",
            "last_seen": "col.last_seen",
            "battery": "col.battery",
        },
    )
