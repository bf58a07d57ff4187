"""The wandering map: hostile text is escaped, statuses are drawn and classified right, the view
fits everyone, and the base map stays identical between refreshes (no remount)."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime, timedelta

import folium
import pandas as pd
import pytest
from streamlit_folium import _get_feature_group_string, _get_map_string, generate_js_hash

from dashboard.ui.maps import (
    CALM_STATUSES,
    DRAW_ORDER,
    FILL_COLOR,
    LEGEND_ORDER,
    MARKER_STYLE,
    NO_ZONE_COLOR,
    base_map,
    calm_features,
    escape_text,
    load_boundaries,
    map_bounds,
    positions_layer,
)
from dashboard.ui.theme import STATE_COLORS
from queries.wandering import EDGE_SHARE, NO_POSITION_AFTER, STATUSES, classify, haversine_m

HOSTILE = "<img src=x onerror=alert(1)>${alert(2)}`x`"
NOW = datetime(2024, 11, 29, 3, 0, tzinfo=UTC)
HOME = (37.6450, 126.7880)


def wandering_map(
    df: pd.DataFrame, labels: dict[str, str], tiles: str | None = "OpenStreetMap"
) -> folium.Map:
    """The page's two parts on one standalone map, as st_folium puts them together."""
    fmap = base_map(labels, None, tiles)
    positions_layer(df, labels).add_to(fmap)
    return fmap


LABELS = {
    "inside": "안심 반경 안",
    "edge": "가장자리",
    "outside": "안심 반경 밖",
    "no_position": "위치 30분 이상 없음",
    "no_zone": "안전 구역 없음",
    "legend": "범례",
    "zone": "안심 반경",
    "distance": "집에서",
    "outside_for": "반경 밖",
    "last_seen": "마지막 수신",
    "battery": "배터리",
}


def _row(uid: str, status: str, lat: float, lon: float, name: str = "김*수", **kw) -> dict:
    return {
        "device_uid": uid,
        "recipient_masked": name,
        "status": status,
        "last_lat": lat,
        "last_lon": lon,
        "home_lat": HOME[0],
        "home_lon": HOME[1],
        "safe_zone_m": 300.0,
        "distance_text": "1,112 m",
        "age_text": "3분 전",
        "battery_text": "15%",
        "outside_text": "12분",
        **kw,
    }


def _frame(*rows: dict) -> pd.DataFrame:
    return pd.DataFrame(list(rows))


def _city() -> pd.DataFrame:
    """Three calm people near home, one near the edge, one silent, one far outside (north)."""
    return _frame(
        _row("W-1", "inside", HOME[0] + 0.0005, HOME[1]),
        _row("W-2", "inside", HOME[0] - 0.0008, HOME[1] + 0.0006),
        _row("W-3", "inside", HOME[0], HOME[1] - 0.0010),
        _row("W-4", "edge", HOME[0] + 0.0025, HOME[1]),
        _row("W-5", "no_position", HOME[0] - 0.0012, HOME[1], age_text="2시간 전"),
        _row("W-6", "outside", HOME[0] + 0.0300, HOME[1] + 0.0040, name="이*자"),
    )


# --- escaping ---------------------------------------------------------------------------------


def test_escape_text_neutralises_html_and_js_templates() -> None:
    out = escape_text(HOSTILE)
    for bad in ("<", ">", "$", "`"):
        assert bad not in out


@pytest.mark.parametrize("status", STATUSES)
def test_hostile_text_is_escaped_in_every_marker_kind(status: str) -> None:
    """Tooltips, always-on labels (outside, grey) and the legend all carry escaped text."""
    df = _frame(
        _row(
            HOSTILE,
            status,
            HOME[0] + 0.01,
            HOME[1],
            name=HOSTILE,
            age_text=HOSTILE,
            outside_text=HOSTILE,
            distance_text=HOSTILE,
        )
    )
    labels = {**LABELS, "legend": HOSTILE, status: HOSTILE}
    html = wandering_map(df, labels, tiles=None).get_root().render()
    assert "${alert(2)}" not in html
    assert "<img src=x" not in html
    assert "`x`" not in html
    assert "&lt;img src=x" in html  # it is shown, as text


def test_legend_cannot_close_the_script_tag() -> None:
    html = base_map({**LABELS, "legend": "</script><script>alert(1)//"}, tiles=None)
    rendered = html.get_root().render()
    assert "</script><script>alert(1)" not in rendered


# --- drawing ----------------------------------------------------------------------------------


def _circle_markers(layer: folium.FeatureGroup) -> list[folium.CircleMarker]:
    return [c for c in layer._children.values() if isinstance(c, folium.CircleMarker)]


def _calm(layer: folium.FeatureGroup) -> list[folium.GeoJson]:
    return [c for c in layer._children.values() if isinstance(c, folium.GeoJson)]


def _drawn(layer: folium.FeatureGroup) -> list[dict]:
    """Every detector's dot in drawing order (bottom first): the calm GeoJSON layer's points
    with the style its style function gives them, then the individual markers."""
    dots = [
        {"fillColor": c.style_function(f)["fillColor"], "radius": c.style_function(f)["radius"],
         "weight": c.style_function(f)["weight"]}
        for c in _calm(layer) for f in c.data["features"]
    ]  # fmt: skip
    return dots + [
        {k: m.options[k] for k in ("fillColor", "radius", "weight")} for m in _circle_markers(layer)
    ]


def test_markers_styled_by_status_outside_drawn_last() -> None:
    layer = positions_layer(_city(), LABELS)
    markers = _drawn(layer)
    assert len(markers) == 6
    fills = [m["fillColor"] for m in markers]
    # Drawn bottom to top: calm greens first, the red one on top of everything.
    assert fills[:3] == [STATE_COLORS["normal"]] * 3
    assert fills[-1] == STATE_COLORS["severe"]
    assert markers[-1]["radius"] == MARKER_STYLE["outside"]["radius"]
    assert markers[-1]["weight"] >= 3  # the thick ring
    radii = {m["fillColor"]: m["radius"] for m in markers}
    assert radii[STATE_COLORS["severe"]] > radii[STATE_COLORS["attention"]]
    assert radii[STATE_COLORS["attention"]] > radii[STATE_COLORS["normal"]]
    assert STATE_COLORS["offline"] in fills


def test_calm_detectors_are_one_geojson_layer_and_the_urgent_their_own_markers() -> None:
    """200 calm people cost one Leaflet layer, not 200; edge and outside keep a marker each
    with its tooltip."""
    rows = [_row(f"W-{i:03d}", "inside", HOME[0] + i * 1e-5, HOME[1]) for i in range(200)]
    rows += [_row("X-1", "outside", HOME[0] + 0.02, HOME[1]), _row("X-2", "edge", *HOME)]
    layer = positions_layer(_frame(*rows), LABELS)
    (calm,) = _calm(layer)
    assert len(calm.data["features"]) == 200
    assert {f["properties"]["status"] for f in calm.data["features"]} == {"inside"}
    assert len(_circle_markers(layer)) == 2
    html = wandering_map(_frame(*rows), LABELS, tiles=None).get_root().render()
    assert html.count("L.circleMarker(") == 2  # the two urgent
    assert html.count("new L.CircleMarker(latlng") == 1  # the GeoJSON's one point maker


def test_calm_tooltips_carry_the_escaped_text_as_the_markers_did() -> None:
    df = _frame(
        _row(HOSTILE, "inside", *HOME, name=HOSTILE, age_text=HOSTILE, battery_text=HOSTILE),
        _row("W-2", "no_position", *HOME, distance_text=HOSTILE),
    )
    labels = {**LABELS, "inside": HOSTILE, "no_position": HOSTILE, "battery": HOSTILE}
    features = calm_features(df, labels)["features"]
    assert [f["properties"]["status"] for f in features] == ["inside", "no_position"]
    for feature in features:
        tip = feature["properties"]["tip"]
        assert "&lt;img src=x" in tip and "<img" not in tip and "$" not in tip and "`" not in tip
        assert "<br>" in tip  # the tooltip's own markup stays
    html = wandering_map(df, labels, tiles=None).get_root().render()
    assert "<img src=x" not in html and "${alert(2)}" not in html and "`x`" not in html
    assert "switch(feature.id)" in html  # the style is keyed on the id, not on the text


def test_zone_outlines_only_for_outside_and_edge_and_never_filled() -> None:
    layer = positions_layer(_city(), LABELS)
    circles = [c for c in layer._children.values() if type(c) is folium.Circle]
    assert len(circles) == 2  # W-4 (edge) and W-6 (outside), not the 200-circle blob
    assert all(c.options.get("fill") is False for c in circles)
    assert {c.options["color"] for c in circles} == {
        STATE_COLORS["severe"],
        STATE_COLORS["attention"],
    }


def test_people_without_any_position_are_not_drawn() -> None:
    df = _frame(_row("W-1", "inside", HOME[0], HOME[1]), _row("W-9", "no_position", None, None))
    assert len(_drawn(positions_layer(df, LABELS))) == 1


def test_outside_person_is_in_the_fitted_bounds() -> None:
    df = _city()
    (south, west), (north, east) = map_bounds(df)
    far = df[df["status"] == "outside"].iloc[0]
    assert south <= far["last_lat"] <= north and west <= far["last_lon"] <= east
    assert south <= HOME[0] <= north  # and the home the red line starts from
    for row in df.to_dict("records"):  # and everyone else
        assert south <= row["last_lat"] <= north and west <= row["last_lon"] <= east


def test_fit_script_carries_bounds_and_outside_positions() -> None:
    """The refit runs in the browser; its data must be the bounds and the urgent points."""
    df = _city()
    html = wandering_map(df, LABELS, tiles=None).get_root().render()
    match = re.search(r"var all = L\.latLngBounds\((.*?)\);\s*var urgent = (.*?);", html)
    assert match, "no fit script"
    assert json.loads(match.group(1)) == map_bounds(df)
    far = df[df["status"] == "outside"].iloc[0]
    assert json.loads(match.group(2)) == [[far["last_lat"], far["last_lon"]]]


def test_no_positions_no_fit() -> None:
    df = _frame(_row("W-9", "no_position", None, None))
    assert map_bounds(df) is None
    assert "latLngBounds" not in wandering_map(df, LABELS, tiles=None).get_root().render()


def test_leaflet_served_locally() -> None:
    html = wandering_map(_city(), LABELS, tiles=None).get_root().render()
    assert "/app/static/leaflet/leaflet.js" in html  # no CDN needed
    assert "unpkg.com" not in html and "jsdelivr" not in html


# --- no remount -------------------------------------------------------------------------------


def _component_key(fmap: folium.Map, layer: folium.FeatureGroup) -> str:
    """What st_folium does: hash the base map's script, then turn the layer into a string."""
    key = generate_js_hash(_get_map_string(fmap), "wandering_map")
    _get_feature_group_string(layer, map=fmap)
    return key


def test_base_map_identical_between_refreshes() -> None:
    """Same component key with different positions: the browser swaps the layer, no remount."""
    moved = _city()
    moved.loc[moved["status"] == "outside", "last_lat"] += 0.005
    first = _component_key(base_map(LABELS, tiles=None), positions_layer(_city(), LABELS))
    second = _component_key(base_map(LABELS, tiles=None), positions_layer(moved, LABELS))
    assert first == second
    tiles = _component_key(base_map(LABELS), positions_layer(_city(), LABELS))
    assert tiles != first  # switching tiles is a new map, as it should be


# --- classification at the boundaries --------------------------------------------------------


@pytest.mark.parametrize(
    ("distance", "age", "expected"),
    [
        (0.0, timedelta(0), "inside"),
        (EDGE_SHARE * 500, timedelta(0), "inside"),  # exactly 80%: still calm
        (EDGE_SHARE * 500 + 0.5, timedelta(0), "edge"),
        (500.0, timedelta(0), "edge"),  # exactly on the radius: not outside (as the rule)
        (500.5, timedelta(0), "outside"),
        (100.0, NO_POSITION_AFTER, "inside"),  # exactly 30 min: not yet silent (as the rule)
        (100.0, NO_POSITION_AFTER + timedelta(seconds=1), "no_position"),
        (450.0, NO_POSITION_AFTER + timedelta(seconds=1), "no_position"),
        (900.0, timedelta(hours=5), "outside"),  # last seen outside: red, never grey
        (None, timedelta(0), "no_position"),  # never had a position
        (float("nan"), timedelta(0), "no_position"),
    ],
)
def test_classify_boundaries(distance: float | None, age: timedelta, expected: str) -> None:
    assert classify(distance, 500.0, NOW - age, NOW) == expected


def test_classify_without_position_time_is_no_position() -> None:
    assert classify(100.0, 500.0, None, NOW) == "no_position"


@pytest.mark.parametrize(
    ("distance", "age", "beyond"),
    [
        (None, timedelta(0), None),  # fresh fixes, but no home to measure from: was "no_position"
        (float("nan"), timedelta(minutes=1), None),
        (None, NO_POSITION_AFTER + timedelta(seconds=1), None),  # no zone and silent too
        (None, None, None),  # no zone and never a fix
        (float("nan"), timedelta(0), float("nan")),
    ],
)
def test_classify_without_a_zone_is_no_zone_whatever_the_position(
    distance: float | None, age: timedelta | None, beyond: float | None
) -> None:
    """No home and no polygon: the rules raise nothing for this person, so the map must say
    so instead of drawing the grey 'no position' dot (or nothing to act on at all)."""
    at = None if age is None else NOW - age
    got = classify(distance, 500.0, at, NOW, polygon_beyond_m=beyond, has_zone=False)
    assert got == "no_zone"


def test_classify_with_a_zone_whose_fixes_stopped_stays_no_position() -> None:
    stale = NOW - NO_POSITION_AFTER - timedelta(seconds=1)
    assert classify(100.0, 500.0, stale, NOW, has_zone=True) == "no_position"
    assert classify(100.0, 500.0, stale, NOW, polygon_beyond_m=-50.0) == "no_position"
    assert classify(100.0, 500.0, NOW, NOW, has_zone=True) == "inside"


def test_every_status_is_drawn_styled_and_in_the_legend() -> None:
    """A status added to the query but forgotten by the map would be a KeyError or a missing
    legend row on the wall screen."""
    assert set(DRAW_ORDER) == set(LEGEND_ORDER) == set(STATUSES)
    assert set(MARKER_STYLE) == set(FILL_COLOR) == set(STATUSES)
    assert set(CALM_STATUSES) <= set(STATUSES)
    others = {c for s, c in FILL_COLOR.items() if s != "no_zone"}
    assert NO_ZONE_COLOR not in others  # its own colour


def test_a_wearer_without_a_zone_is_drawn_in_its_own_colour_and_named_in_the_legend() -> None:
    df = _frame(
        _row("W-1", "inside", *HOME),
        _row("W-7", "no_zone", HOME[0] + 0.001, HOME[1], home_lat=None, home_lon=None,
             distance_text="–"),
        _row("W-8", "no_zone", None, None, home_lat=None, home_lon=None),  # never a fix
    )  # fmt: skip
    layer = positions_layer(df, LABELS)
    fills = [m["fillColor"] for m in _drawn(layer)]
    assert fills == [STATE_COLORS["normal"], NO_ZONE_COLOR]  # drawn above the calm, once
    (calm,) = _calm(layer)
    tip = calm.data["features"][-1]["properties"]["tip"]
    assert LABELS["no_zone"] in tip and "W-7" in tip
    # no zone outline or line home: there is nothing to draw one around
    assert not [c for c in layer._children.values() if type(c) in (folium.Circle, folium.Polygon)]
    html = wandering_map(df, LABELS, tiles=None).get_root().render()
    assert LABELS["no_zone"] in json.loads(re.search(r"innerHTML = (\".*?\");", html).group(1))


def test_haversine_one_thousandth_degree_of_latitude() -> None:
    assert haversine_m(37.0, 127.0, 37.001, 127.0) == pytest.approx(111.2, abs=0.2)


# --- boundaries -------------------------------------------------------------------------------


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
    fmap = base_map(LABELS, data, tiles=None)
    assert "4128555100" in fmap.get_root().render()


def test_the_zone_outlined_is_the_polygon_when_the_person_has_one() -> None:
    """The map drew the 300 m circle around someone judged by a polygon (and nothing at all for
    a polygon without a home on file)."""
    square = ((HOME[0] - 0.001, HOME[1] - 0.001), (HOME[0] - 0.001, HOME[1] + 0.001),
              (HOME[0] + 0.001, HOME[1] + 0.001), (HOME[0] + 0.001, HOME[1] - 0.001))  # fmt: skip
    df = _frame(
        _row("W-1", "outside", HOME[0] + 0.003, HOME[1], zone_polygon=square),
        _row(
            "W-2",
            "outside",
            HOME[0] - 0.003,
            HOME[1],
            zone_polygon=square,
            home_lat=None,
            home_lon=None,
        ),
        _row("W-3", "edge", HOME[0] + 0.0025, HOME[1], zone_polygon=None),
    )
    children = list(positions_layer(df, LABELS)._children.values())
    polygons = [c for c in children if isinstance(c, folium.Polygon)]
    circles = [c for c in children if type(c) is folium.Circle]
    lines = [c for c in children if type(c) is folium.PolyLine]
    assert len(polygons) == 2 and len(circles) == 1  # W-3 keeps its circle
    assert [tuple(p) for p in polygons[0].locations] == [tuple(p) for p in square]
    assert len(lines) == 1  # the line home only where there is a home
