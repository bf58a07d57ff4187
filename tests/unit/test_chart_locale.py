"""Korean time axes: every chart shown through charts.render gets the session's date locale."""

from __future__ import annotations

from datetime import date

import altair as alt
import pandas as pd
import pytest

from dashboard.ui import charts


def _days() -> pd.DataFrame:
    return pd.DataFrame(
        {"day": [date(2024, 11, 28), date(2024, 11, 29)] * 2, "stage": ["risk", "severe"] * 2}
    ).assign(alerts=[1, 2, 3, 4])


def test_korean_locale_names_and_formats() -> None:
    config = charts.localize(charts.stacked_stage_days(_days(), "ko"), "ko").to_dict()["config"]
    time = config["locale"]["time"]
    assert time["months"][10] == "11월" and time["shortDays"][5] == "금"
    assert config["axisTemporal"]["format"]["date"] == "%-m. %-d."  # 11. 29.
    assert config["axisTemporal"]["format"]["month"] == "%-m월"


def test_english_locale_and_no_korean_formats() -> None:
    config = charts.localize(charts.stacked_stage_days(_days(), "en"), "en").to_dict()["config"]
    assert config["locale"]["time"]["shortMonths"][10] == "Nov"
    assert "axisTemporal" not in config


@pytest.mark.parametrize("lang", ["ko", "en"])
def test_layered_charts_keep_locale_under_projector_config(lang: str) -> None:
    """localize comes first: altair's configure() would otherwise wipe the projector sizes."""
    layered = charts.monthly_lines(
        pd.DataFrame(
            {
                "month": [date(2024, 10, 1), date(2024, 11, 1)],
                "series": ["A", "A"],
                "complaints": [1, 2],
                "is_total": [False, False],
            }
        ),
        lang,
        [],
    )
    chart = charts.localize(layered, lang).configure_axis(labelFontSize=17)
    config = chart.to_dict()["config"]
    assert config["axis"]["labelFontSize"] == 17
    assert "locale" in config
    assert isinstance(chart, alt.LayerChart)
