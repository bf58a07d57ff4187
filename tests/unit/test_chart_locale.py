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


def test_every_complaint_line_can_be_told_apart() -> None:
    """The demo's five detector sites and three comparison sites with the total: nine series
    on seven colours made 중산동 the total's blue and 풍산역 마두역's purple. Each series has
    its own colour and dash (comparison sites dashed), the total's blue is its own, and the
    legend shows a whole site name."""
    monitored = ["백석역 1번 출구 주변", "마두역 4번 출구 상가 이면도로", "정발산역 2번 출구 주변",
                 "풍산역 광장 주변", "백석동 업무지구 보행로"]  # fmt: skip
    comparison = ["식사동 상가 거리", "중산동 근린공원 입구", "장항동 카페거리"]
    rows = [
        {"month": date(2024, 1, 1), "series": s, "complaints": 1, "is_total": False,
         "comparison": s in comparison}
        for s in monitored + comparison
    ] + [{"month": date(2024, 1, 1), "series": "합계", "complaints": 8, "is_total": True,
          "comparison": False}]  # fmt: skip
    spec = charts.monthly_lines(pd.DataFrame(rows), "ko", []).to_dict()
    lines = spec["layer"][0]
    scale = lines["encoding"]["color"]["scale"]
    domain, colours = scale["domain"], scale["range"]
    assert len(colours) == len(domain) == 9  # no colour reused by Vega's cycling
    dashed = {s: s in comparison for s in domain}
    assert len({(c, dashed[s]) for s, c in zip(domain, colours, strict=True)}) == 9
    assert colours.count(colours[domain.index("합계")]) == 1
    assert lines["encoding"]["color"]["legend"]["labelLimit"] >= 260
    assert "strokeDash" in lines["encoding"]
