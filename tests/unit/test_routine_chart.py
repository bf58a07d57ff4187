"""The routine strip's chart: a valid Vega-Lite spec in both languages, 28 rows × 48 columns,
today's label, and the quiet spell cut into one segment per day it crosses."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pandas as pd
import pytest

from dashboard.ui.routine_chart import cells, day_label, routine_strip_chart, window_segments

LAST = date(2024, 11, 29)  # a Friday
DAYS = pd.DataFrame(
    {
        "day": [LAST - timedelta(days=i) for i in range(28)],
        "bits": [0b11 << 16] * 27 + [0],
        "reported": [True] * 27 + [False],
    }
)


@pytest.mark.parametrize("lang", ["ko", "en"])
def test_the_chart_is_valid_and_complete(lang: str) -> None:
    since = datetime(2024, 11, 28, 6, 21, tzinfo=UTC)  # 15:21 Seoul the day before
    spec = routine_strip_chart(DAYS, LAST, lang, since, since + timedelta(hours=20)).to_dict()
    assert len(spec["layer"]) == 3  # cells, today's outline, the quiet spell
    assert spec["height"] == 17 * 28
    data = cells(DAYS, LAST, lang)
    assert len(data) == 28 * 48 and data["slot"].max() == 47
    states = data.groupby("state").size().to_dict()
    active = {"ko": "활동", "en": "Activity"}[lang]
    assert states[active] == 27 * 2  # 08:00–09:00 on each reported day
    assert day_label(LAST, LAST, lang) == {"ko": "오늘 11. 29. (금)", "en": "today Fri 11-29"}[lang]
    assert day_label(LAST, LAST + timedelta(days=3), lang).startswith(("11.", "Fri"))


def test_the_quiet_spell_is_cut_per_day() -> None:
    since = datetime(2024, 11, 28, 6, 21, tzinfo=UTC)  # 11-28 15:21 Seoul
    until = datetime(2024, 11, 29, 2, 21, tzinfo=UTC)  # 11-29 11:21 Seoul
    seg = window_segments(since, until, list(DAYS["day"]), LAST, "en")
    assert list(seg["day"]) == ["today Fri 11-29", "Thu 11-28"]
    assert seg["x"].round(2).tolist() == [0.0, 30.7]
    assert seg["x2"].round(2).tolist() == [22.7, 48.0]
