"""The search layers (trail, responders) escape every text, draw direction and numbered time
labels, keep the page small for 200 detectors, and the pydeck helpers (exits by hour, dong
states with small counts hidden) behave; the wandering query keeps operators to their
districts."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta

import pandas as pd
import pytest

from dashboard.mapping.dongs import dong_features, worst_state
from dashboard.mapping.trail import Fix
from dashboard.ui.maps import base_map, positions_layer, responders_layer, trail_layer
from dashboard.ui.theme import STATE_COLORS
from tests.unit.test_ui_maps import HOME, HOSTILE, LABELS, _frame, _row

T0 = datetime(2024, 11, 28, 12, 0, tzinfo=UTC)
SEARCH_LABELS = {
    **LABELS,
    **{f"kind.{k}": k for k in ("police_box", "welfare_center", "dementia_partner", "bus_stop",
                                "other")},
    "approximate": "추정 위치",
    "trail": "이동 경로",
    "straight": "직선거리",
}  # fmt: skip


def _fixes(n: int) -> list[Fix]:
    return [Fix(T0 + timedelta(minutes=i), HOME[0] + i * 2e-4, HOME[1] + (i % 3) * 1e-4)
            for i in range(n)]  # fmt: skip


def _responders(name: str = "백석 지구대", **kw) -> pd.DataFrame:
    row = {"id": 1, "kind": "police_box", "name": name, "phone": "031-000-0000",
           "lat": HOME[0], "lon": HOME[1] + 0.002, "approximate": True,
           "distance_text": "170 m"} | kw  # fmt: skip
    return pd.DataFrame([row])


def _html(*layers) -> str:
    fmap = base_map(SEARCH_LABELS, None, None)
    for layer in layers:
        layer.add_to(fmap)
    return fmap.get_root().render()


def test_every_text_of_the_search_layers_is_escaped() -> None:
    html = _html(
        trail_layer(_fixes(8), lambda f: HOSTILE),
        responders_layer(_responders(HOSTILE, phone=HOSTILE, distance_text=HOSTILE),
                         {**SEARCH_LABELS, "kind.police_box": HOSTILE, "straight": HOSTILE},
                         named=1),
        responders_layer(_responders(HOSTILE, phone=HOSTILE), SEARCH_LABELS, named=0),
    )  # fmt: skip
    assert "${alert(2)}" not in html
    assert "<img src=x" not in html
    assert "`x`" not in html
    assert "&lt;img src=x" in html


def test_the_legend_explains_responders_and_trail_in_escaped_text() -> None:
    labels = {**SEARCH_LABELS, "trail": HOSTILE}
    html = base_map(labels, None, None).get_root().render()
    assert "<img src=x" not in html and "${alert(2)}" not in html
    assert "bus_stop" in html  # the responder kinds are listed


def test_trail_has_direction_and_numbered_time_labels() -> None:
    html = _html(trail_layer(_fixes(30), lambda f: f.ts.strftime("%H:%M")))
    assert html.count("anbu-arrow") >= 20  # arrows along the segments
    assert "1 · 12:00" in html and "6 · 12:29" in html  # oldest first, the newest numbered last
    assert "rotate(" in html
    assert trail_layer([], str)._children == {}


def test_approximate_responders_are_dashed_and_the_nearest_named() -> None:
    two = pd.concat([_responders(), _responders("안심약국", id=2, approximate=False,
                                                 kind="dementia_partner")])  # fmt: skip
    html = _html(responders_layer(two, SEARCH_LABELS, named=1))
    assert html.count("anbu-resp-icon approx") == 1
    assert "백석 지구대 · 170 m" in html  # the nearest: always-on name and distance


def test_two_hundred_detectors_and_a_trail_render_fast_and_small() -> None:
    rows = [_row(f"W-{i:03d}", "inside", HOME[0] + (i % 20) * 4e-4, HOME[1] + (i // 20) * 4e-4)
            for i in range(196)]  # fmt: skip
    rows += [_row(f"X-{i}", "outside", HOME[0] + 0.02, HOME[1] + i * 1e-3) for i in range(4)]
    started = time.process_time()  # CPU time: a loaded machine stretches wall time, not work
    html = _html(positions_layer(_frame(*rows), SEARCH_LABELS), trail_layer(_fixes(150), str),
                 responders_layer(_responders(), SEARCH_LABELS, named=3))  # fmt: skip
    elapsed = time.process_time() - started
    # A guard against a blow-up (the measured figure is bench's wandering_map_s): folium
    # compiles every rendered element's script, about 2 ms each on a shared core.
    assert elapsed < 2.0
    assert len(html.encode()) < 600_000


def test_dong_states_hide_small_counts_and_show_the_worst() -> None:
    assert worst_state({"normal": 9, "offline": 1}) == "offline"
    assert worst_state({"normal": 3, "severe": 1, "risk": 2}) == "severe"
    square = {"type": "Polygon", "coordinates": [[[0, 0], [1, 0], [1, 1], [0, 0]]]}
    bounds = {"type": "FeatureCollection", "features": [
        {"properties": {"adm_cd2": "A", "adm_nm": "가"}, "geometry": square},
        {"properties": {"adm_cd2": "B", "adm_nm": "나"}, "geometry": square},
        {"properties": {"adm_cd2": "C", "adm_nm": "다"}, "geometry": square},
    ]}  # fmt: skip
    by_dong = pd.DataFrame(
        [("A", "normal", 8), ("A", "severe", 1), ("B", "severe", 1), ("B", "normal", 2)],
        columns=["region_code", "state", "devices"],
    )
    open_ = dong_features(by_dong, bounds, STATE_COLORS, names={})
    hidden = dong_features(by_dong, bounds, STATE_COLORS, names={}, suppress_below=5)
    props = {f["properties"]["code"]: f["properties"] for f in open_}
    assert set(props) == {"A", "B"}  # C has no devices: not drawn
    assert props["A"]["worst"] == "severe" and props["A"]["devices"] == 9
    small = {f["properties"]["code"]: f["properties"] for f in hidden}
    assert small["B"]["devices"] is None and small["B"]["worst"] is None  # 3 devices: hidden
    assert small["A"]["devices"] == 9


def test_exits_are_filtered_by_local_hour_wrapping_midnight() -> None:
    pytest.importorskip("pydeck")
    from dashboard.ui.deck import exit_points

    # 14:00, 23:00 and 02:00 in Seoul (UTC+9).
    df = pd.DataFrame({
        "opened_at": pd.to_datetime(["2024-11-28T05:00Z", "2024-11-28T14:00Z",
                                     "2024-11-27T17:00Z"], utc=True),
        "lat": [37.64, 37.65, 37.66], "lon": [126.78, 126.79, 126.80],
    })  # fmt: skip
    assert exit_points(df, (22, 3))["hour"].tolist() == [23, 2]
    assert exit_points(df, (12, 15))["hour"].tolist() == [14]
    assert exit_points(df, (0, 23))["hour"].tolist() == [14, 23, 2]


@pytest.fixture
def demo_like(db_engine):
    from dashboard.db.schema import Program
    from tests.unit.test_actions_support import add_alert, seed

    seed(db_engine)
    with db_engine.begin() as conn:
        conn.execute(Program.__table__.update().where(Program.id == 1).values(
            code="goyang_wandering"))  # fmt: skip
        conn.execute(Program.__table__.update().where(Program.id == 2).values(code="other"))
    add_alert(db_engine, region_id=2, program_id=1)  # a detector in 일산동구
    add_alert(db_engine, region_id=4, program_id=1)  # a detector in 종로구
    return db_engine


def test_operators_see_only_their_districts_detectors(demo_like) -> None:
    from queries.wandering import snapshot

    now = T0
    with demo_like.connect() as conn:
        everyone = snapshot(conn, now)
        ilsan = snapshot(conn, now, areas=("4128500000",))
        nobody = snapshot(conn, now, areas=())
    assert len(everyone) == 2
    assert ilsan["region_code"].tolist() == ["4128552000"]
    assert nobody.empty
