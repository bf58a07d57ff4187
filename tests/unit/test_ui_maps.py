"""The wandering map: hostile text is escaped, outside detectors are highlighted."""

from __future__ import annotations

import pandas as pd

from dashboard.ui.maps import escape_text, load_boundaries, wandering_map
from dashboard.ui.theme import STATE_COLORS

HOSTILE = "<img src=x onerror=alert(1)>${alert(2)}`x`"


def test_escape_text_neutralises_html_and_js_templates() -> None:
    out = escape_text(HOSTILE)
    for bad in ("<", ">", "$", "`"):
        assert bad not in out


def _frame(uid: str) -> pd.DataFrame:
    return pd.DataFrame(
        [
            {
                "device_uid": uid,
                "recipient_masked": "김*수",
                "last_lat": 37.65,
                "last_lon": 126.79,
                "home_lat": 37.64,
                "home_lon": 126.79,
                "safe_zone_m": 300.0,
                "outside": True,
                "distance_text": "1,112 m",
                "age_text": "3분 전",
                "battery_text": "15%",
            }
        ]
    )


def test_map_html_carries_no_raw_hostile_text() -> None:
    labels = {"outside": "밖", "inside": "안", "battery": "배터리", "last_seen": "마지막 수신"}
    html = wandering_map(_frame(HOSTILE), labels, tiles=None).get_root().render()
    assert "${alert(2)}" not in html
    assert "<img src=x" not in html
    assert STATE_COLORS["severe"] in html  # outside is drawn in the severe red
    assert "/app/static/leaflet/leaflet.js" in html  # no CDN needed


def test_boundaries_filtered_by_code(tmp_path) -> None:
    path = tmp_path / "b.geojson"
    path.write_text(
        '{"type":"FeatureCollection","features":['
        '{"type":"Feature","properties":{"adm_cd2":"4128555100","adm_nm":"백석1동"},'
        '"geometry":{"type":"Point","coordinates":[126.79,37.64]}},'
        '{"type":"Feature","properties":{"adm_cd2":"1111111111","adm_nm":"x"},'
        '"geometry":{"type":"Point","coordinates":[0,0]}}]}',
        encoding="utf-8",
    )
    data = load_boundaries(path, {"4128555100"})
    assert [f["properties"]["adm_nm"] for f in data["features"]] == ["백석1동"]
    assert load_boundaries(None, {"x"}) is None
    assert load_boundaries(path, {"nope"}) is None
