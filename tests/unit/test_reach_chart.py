"""The reach chart (``ui.reach_chart``): a valid Vega-Lite spec in both languages, a row per
kind of day with 24 bars each, an hour without reach drawn grey to the horizon, and the
combined median as ``PlugReach.median_h`` counts it."""

from __future__ import annotations

from datetime import date

import altair as alt
import pytest

from dashboard.detection.reach import HORIZON_H, PlugReach
from dashboard.i18n import translate
from dashboard.ui.reach_chart import (
    NOT_WITHIN,
    WEEKDAY,
    WEEKEND,
    hours_text,
    median_h,
    reach_chart,
    reach_frame,
)

WEEKDAY_H = tuple([4.5, 6.0, None, 12.25] * 6)
WEEKEND_H = tuple([None] * 12 + [8.0] * 12)
REACH = PlugReach(date(2024, 11, 29), 28, True, WEEKDAY_H, WEEKEND_H)


@pytest.mark.parametrize("lang", ["ko", "en"])
def test_the_chart_is_valid_and_complete(lang: str) -> None:
    chart = reach_chart(REACH, lang, height=160)
    spec = chart.to_dict(validate=True)
    assert isinstance(chart, alt.FacetChart)
    assert spec["facet"]["row"]["field"] == "day"
    assert spec["spec"]["height"] == 160
    bars, *rules = spec["spec"]["layer"]
    assert [r["encoding"]["y"]["datum"] for r in rules] == [6.0, 12.0]  # the verdict's bounds
    assert bars["encoding"]["color"]["scale"]["range"] == [WEEKDAY, WEEKEND, NOT_WITHIN]
    assert bars["encoding"]["y"]["scale"]["domain"] == [0, HORIZON_H]
    weekday, weekend = (translate(f"reach.{k}", lang) for k in ("weekday", "weekend"))
    assert spec["facet"]["row"]["sort"] == [weekday, weekend]
    data = reach_frame(REACH, lang)
    assert len(data) == 48
    drawn = data[data["kind"] == "weekday"]
    assert list(drawn["hour"]) == list(range(24))
    assert [None if h != h else h for h in drawn["hours"]] == list(WEEKDAY_H)


def test_an_hour_without_reach_is_a_grey_bar_to_the_horizon() -> None:
    data = reach_frame(REACH, "ko")
    none = data[data["hours"].isna()]
    assert len(none) == 6 + 12
    assert set(none["shown"]) == {HORIZON_H}
    assert set(none["series"]) == {"72시간 안에 없음"}
    assert set(none["reach"]) == {"72시간 안에 없음"}
    assert set(data.loc[data["hours"].notna(), "series"]) == {"평일", "주말"}
    assert data.loc[3, "reach"] == "12시간 15분" and data.loc[3, "at"] == "03:00"
    assert hours_text(4.5, "en") == "4 h 30 min" and hours_text(None, "en") == "Not within 72 h"
    assert hours_text(9.0, "ko") == "9시간" and hours_text(6.17, "ko") == "6시간 10분"


def test_the_combined_median_counts_a_missing_hour_as_the_longest() -> None:
    assert median_h(WEEKDAY_H) == REACH.median_h == 6.0
    assert median_h(WEEKEND_H) == 8.0  # half the hours: the lower middle has a reach
    assert median_h(tuple([5.0] * 11 + [None] * 13)) is None
    for values in (WEEKDAY_H, WEEKEND_H, tuple([5.0] * 11 + [None] * 13)):
        assert median_h(values) == PlugReach(REACH.learned_on, 28, True, values, values).median_h
