"""``wandering_map_s``: the 배회 지도 built and rendered server-side, as one refresh does it.

At the city's end: the snapshot of every detector (200 at demo and Seoul scale), the trail of
the person followed (the first one outside, else the first detector) over the last 3 hours,
downsampled, the nearest responders, then the folium map and the three layers rendered to the
strings streamlit-folium sends (the base map once, the layers every tick). Median of 5; also
the size of what a refresh sends (``wandering_map_kb``).
"""

from __future__ import annotations

import statistics
import time
from dataclasses import dataclass
from datetime import datetime, timedelta

import pandas as pd
from sqlalchemy import Engine

from dashboard.mapping.trail import downsample
from queries.responders import responders_near
from queries.trails import position_fixes
from queries.wandering import snapshot


@dataclass(frozen=True)
class MapFigures:
    seconds: float
    kilobytes: float
    detectors: int
    trail_points: int


def _texts(df: pd.DataFrame) -> pd.DataFrame:
    return df.assign(
        distance_text=df["distance_m"].round().astype(str),
        age_text="–",
        battery_text=df["battery_pct"].astype(str),
        outside_text="–",
    )


def render_once(engine: Engine, now: datetime) -> tuple[int, int, int]:
    """(bytes sent, detectors, trail points) of one refresh."""
    from streamlit_folium import _get_feature_group_string, _get_map_string

    from dashboard.ui import search_map
    from dashboard.ui.maps import base_map, positions_layer, responders_layer, trail_layer
    from dashboard.ui.wandering import map_labels

    with engine.connect() as conn:
        df = _texts(snapshot(conn, now))
        if df.empty:  # a city without detectors (the tiny bench city): the base map alone
            fmap = base_map(map_labels("ko", 30), None, None)
            return len(_get_map_string(fmap)), 0, 0
        outside = df[df["status"] == "outside"]
        person = (outside if len(outside) else df).iloc[0]
        fixes = downsample(
            position_fixes(conn, int(person["device_id"]), now - timedelta(hours=3), now)
        )
        near = responders_near(conn, float(person["last_lat"]), float(person["last_lon"]))
    labels = map_labels("ko", 30)
    near = near.assign(distance_text=[search_map.distance_text(d) for d in near["distance_m"]])
    fmap = base_map(labels, None, None)
    layers = [
        positions_layer(df, labels),
        trail_layer(fixes, lambda f: search_map.time_label(f, timedelta(hours=3))),
        responders_layer(near, labels, named=3),
    ]
    sent = len(_get_map_string(fmap)) + sum(
        len(_get_feature_group_string(layer, fmap)) for layer in layers
    )
    return sent, len(df), len(fixes)


def measure_wandering_map(engine: Engine, now: datetime, runs: int = 5) -> MapFigures:
    seconds, size, detectors, points = [], 0, 0, 0
    for _ in range(runs):
        started = time.perf_counter()
        size, detectors, points = render_once(engine, now)
        seconds.append(time.perf_counter() - started)
    return MapFigures(statistics.median(seconds), size / 1024, detectors, points)
