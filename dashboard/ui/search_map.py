"""The search tools shared by the 배회 지도 and a wandering alert: a person's trail (downsampled)
and the nearest responders, drawn on a folium map and listed with straight-line distances."""

from __future__ import annotations

from datetime import datetime, timedelta

import pandas as pd

from dashboard.formatting import format_number
from dashboard.i18n import translate
from dashboard.mapping.trail import Fix, downsample
from dashboard.settings import LOCAL_TZ
from dashboard.ui.data import load
from queries.responders import SEARCH_RADIUS_M, responders_near
from queries.trails import position_fixes

TRAIL_HOURS = (1, 3, 6, 12, 24)
DEFAULT_TRAIL_HOURS = 3
NEAREST = 5
SEARCH_KM = SEARCH_RADIUS_M / 1000
RESPONDER_KINDS = ("police_box", "welfare_center", "dementia_partner", "bus_stop", "other")


def trail_fixes(device_id: int, since: datetime, until: datetime) -> tuple[list[Fix], int]:
    """(downsampled fixes, how many were read) for one detector."""
    raw = load(position_fixes, int(device_id), since, until, live=True)
    return downsample(raw), len(raw)


def time_label(fix: Fix, span: timedelta) -> str:
    """HH:MM local; with the day when the trail spans more than 12 hours."""
    local = fix.ts.astimezone(LOCAL_TZ)
    return local.strftime("%m-%d %H:%M") if span > timedelta(hours=12) else local.strftime("%H:%M")


def nearest(lat: float, lon: float) -> pd.DataFrame:
    """The nearest responders with a distance text, nearest first."""
    df = load(responders_near, float(lat), float(lon), limit=NEAREST, live=True)
    return df.assign(distance_text=[distance_text(d) for d in df["distance_m"]])


def distance_text(metres: float) -> str:
    if metres >= 1000:
        return f"{format_number(metres / 1000, 1)} km"
    return f"{format_number(round(metres / 10) * 10)} m"


def map_labels(lang: str) -> dict[str, str]:
    """Labels the trail and responder layers use (merged into the wandering map's labels)."""
    tr = lambda key, **kw: translate(key, lang, **kw)  # noqa: E731
    out = {f"kind.{k}": tr(f"kind.{k}") for k in RESPONDER_KINDS}
    out |= {
        "approximate": tr("responders.approximate"),
        "trail": tr("trail.legend"),
        "straight": tr("responders.straight"),
    }
    return out


def responder_rows(df: pd.DataFrame, lang: str) -> pd.DataFrame:
    """Display columns for the nearest-responders table."""
    return df.assign(
        kind_text=[translate(f"kind.{k}", lang) for k in df["kind"]],
        position_text=[
            translate("responders.approximate" if a else "responders.exact", lang)
            for a in df["approximate"]
        ],
        phone_text=df["phone"].fillna("–"),
    )
