"""Small counts hidden for council views: the plain function at its edges, the per-dong
totals and map features built on it, and the council deck carrying nothing exact below 5."""

from __future__ import annotations

import json

import pandas as pd
import pytest

from dashboard.mapping.dongs import dong_features, dong_totals, label_point
from dashboard.mapping.suppression import SUPPRESS_BELOW, suppress_small_counts
from dashboard.ui.theme import STATE_COLORS


def _counts(*values) -> pd.DataFrame:
    return pd.DataFrame({"dong": [f"D{i}" for i in range(len(values))], "people": values})


def test_threshold_edges_four_hidden_five_shown_zero_shown() -> None:
    out = suppress_small_counts(_counts(4, 5, 0, 1, 1234), "people")
    assert out["suppressed"].tolist() == [True, False, False, True, False]
    assert out["people_text"].tolist() == ["<5", "5", "0", "<5", "1,234"]
    assert out["people"].isna().tolist() == [True, False, False, True, False]
    assert out["people"].dropna().tolist() == [5, 0, 1234]
    assert out["dong"].tolist() == ["D0", "D1", "D2", "D3", "D4"]  # other columns kept


def test_input_frame_is_not_changed_and_threshold_is_a_parameter() -> None:
    df = _counts(2, 9)
    out = suppress_small_counts(df, "people", threshold=10)
    assert df["people"].tolist() == [2, 9]
    assert out["people_text"].tolist() == ["<10", "<10"]
    assert suppress_small_counts(df, "people", threshold=1)["suppressed"].tolist() == [
        False,
        False,
    ]


def test_a_lone_hidden_count_takes_the_next_smallest_with_it() -> None:
    """Total 3 + 7 + 40 shown elsewhere: hiding only the 3 would give it back by subtraction."""
    out = suppress_small_counts(_counts(3, 7, 0, 40), "people", complementary=True)
    assert out["suppressed"].tolist() == [True, True, False, False]
    two = suppress_small_counts(_counts(3, 2, 7), "people", complementary=True)
    assert two["suppressed"].tolist() == [True, True, False]  # already two hidden: enough
    alone = suppress_small_counts(_counts(3, 0), "people", complementary=True)
    assert alone["suppressed"].tolist() == [True, False]  # zero stays zero


@pytest.mark.parametrize("bad", [-1, 2.5, None, float("nan")])
def test_a_value_that_is_not_a_count_is_named(bad) -> None:
    with pytest.raises(ValueError, match=r"people at row 1 "):
        suppress_small_counts(_counts(6, bad), "people")


def test_bad_threshold_and_missing_column_are_named() -> None:
    with pytest.raises(ValueError, match="threshold"):
        suppress_small_counts(_counts(6), "people", threshold=0)
    with pytest.raises(ValueError, match="'devices'"):
        suppress_small_counts(_counts(6), "devices")


def test_empty_frame_stays_empty() -> None:
    out = suppress_small_counts(_counts(), "people")
    assert out.empty and {"suppressed", "people_text"} <= set(out.columns)


SQUARE = {"type": "Polygon", "coordinates": [[[0, 0], [2, 0], [2, 2], [0, 2], [0, 0]]]}
BOUNDS = {
    "type": "FeatureCollection",
    "features": [{"properties": {"adm_cd2": c, "adm_nm": c}, "geometry": SQUARE} for c in "ABCD"],
}
BY_DONG = pd.DataFrame(
    [
        ("A", "normal", 4),  # 4 devices, one severe: hidden, grey
        ("A", "severe", 1),
        ("B", "normal", 3),  # 4 in all: hidden
        ("B", "risk", 1),
        ("C", "normal", 5),  # exactly 5: shown
        ("D", "normal", 40),
        ("D", "attention", 2),
    ],
    columns=["region_code", "state", "devices"],
)


def test_dong_totals_hide_below_five_with_their_worst_state() -> None:
    totals = dong_totals(BY_DONG, suppress_below=SUPPRESS_BELOW).set_index("region_code")
    assert totals.loc["A", "devices_text"] == "5" and totals.loc["A", "worst"] == "severe"
    assert totals.loc["B", "suppressed"] and totals.loc["B", "worst"] is None
    assert totals.loc["B", "devices_text"] == "<5" and pd.isna(totals.loc["B", "devices"])
    assert totals.loc["C", "devices_text"] == "5" and not totals.loc["C", "suppressed"]
    assert totals.loc["D", "worst"] == "attention" and totals.loc["D", "devices"] == 42
    plain = dong_totals(BY_DONG).set_index("region_code")
    assert plain.loc["B", "devices"] == 4 and plain.loc["B", "worst"] == "risk"


def test_dong_features_carry_no_exact_small_count_and_grey_for_hidden() -> None:
    features = dong_features(
        BY_DONG, BOUNDS, STATE_COLORS, names={}, suppress_below=5, complementary=True
    )
    props = {f["properties"]["code"]: f["properties"] for f in features}
    assert props["B"]["devices"] is None and props["B"]["color"][:3] == [128, 128, 128]
    # B is the only dong hidden at first: the next smallest (A or C, both 5) goes with it.
    hidden = sorted(c for c, p in props.items() if p["devices"] is None)
    assert len(hidden) == 2 and "B" in hidden and "D" not in hidden
    assert props["D"]["devices_text"] == "42"
    assert props["D"]["label"] == [1.0, 1.0]  # the square's centre
    blob = json.dumps([props[c] for c in hidden])
    assert '"devices": 4' not in blob and '"risk"' not in blob


def test_label_point_of_a_multipolygon_is_in_its_largest_part() -> None:
    multi = {
        "type": "MultiPolygon",
        "coordinates": [
            [[[10, 10], [10.1, 10], [10.1, 10.1], [10, 10]]],
            [[[0, 0], [4, 0], [4, 4], [0, 4], [0, 0]]],
        ],
    }
    assert label_point(multi) == [2.0, 2.0]
    flat = {"type": "Polygon", "coordinates": [[[1, 1], [1, 1], [1, 1], [1, 1]]]}
    assert label_point(flat) == [1.0, 1.0]


def test_council_deck_is_offline_and_sends_only_dong_aggregates() -> None:
    from dashboard.ui.deck import council_dong_deck

    by_dong = BY_DONG.assign(name_ko=BY_DONG["region_code"] + "동", name_en="x")
    deck = json.loads(council_dong_deck(by_dong, BOUNDS, projector=True).to_json())
    assert deck.get("mapProvider") in (None, "") and deck.get("mapStyle") in (None, "")
    geo, text = deck["layers"]
    assert geo["@@type"] == "GeoJsonLayer" and text["@@type"] == "TextLayer"
    shown = sorted(d["text"] for d in text["data"])
    assert shown == sorted(["<5", "<5", "5", "42"])
    hidden = [
        f["properties"] for f in geo["data"]["features"] if f["properties"]["devices"] is None
    ]
    assert {p["code"] for p in hidden} >= {"B"}
    assert all(p["worst"] is None and p["devices_text"] == "<5" for p in hidden)
    # Nothing but the dong polygons and their label points carry coordinates.
    assert all(f["geometry"] == SQUARE for f in geo["data"]["features"])
    assert {tuple(d["position"]) for d in text["data"]} == {(1.0, 1.0)}
    assert text["getSize"] == 24  # projector: larger, legible from the back of the room
