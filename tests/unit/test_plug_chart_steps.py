"""The alert detail's plug chart draws 위험 and 심각 where they come: on the ladder from the last
change, or on the steps after the spell's first alert when those come first."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pandas as pd

from dashboard.ui.alert_charts import plug_chart

SINCE = datetime(2024, 5, 1, 22, 0, tzinfo=UTC)


def _spec(evidence: dict) -> str:
    df = pd.DataFrame({"ts": [SINCE, SINCE + timedelta(hours=30)], "type": ["power"] * 2})
    df = df.assign(value=[40.0, 41.0])
    window = (SINCE - timedelta(hours=6), SINCE + timedelta(hours=60))
    return json.dumps(plug_chart(df, evidence, "ko", window).to_dict(), ensure_ascii=False)


def test_the_steps_after_the_first_alert_are_drawn_where_they_come_first():
    ladder = {"since": SINCE.isoformat(), "threshold_h": 24, "risk_at_h": 36, "severe_at_h": 48}
    plain = _spec(ladder)
    assert "기준 36시간" in plain and "기준 48시간" in plain and "첫 경보" not in plain
    # the routine raised 관심 6 h after the last sign of life: 관심 there, 위험 at 18 h, 심각 at
    # 30 h
    early = _spec(ladder | {"alerted_at": (SINCE + timedelta(hours=6)).isoformat()})
    assert '첫 경보"' in early and "첫 경보 + 12시간" in early and "첫 경보 + 24시간" in early
    assert "기준 24시간" not in early and "기준 36시간" not in early and "기준 48시간" not in early
    # an alert first raised late (the ladder came first): the ladder's lines stay
    late = _spec(ladder | {"alerted_at": (SINCE + timedelta(hours=30)).isoformat()})
    assert "기준 36시간" in late and "첫 경보" not in late


def test_the_steps_are_not_drawn_once_the_band_has_broken():
    # the power left its band since the first alert (rules.plug.line_held): the steps will not
    # come, so the chart draws the ladder's own times from the last change
    ladder = {"since": SINCE.isoformat(), "threshold_h": 24, "risk_at_h": 36, "severe_at_h": 48}
    alerted = ladder | {"alerted_at": (SINCE + timedelta(hours=6)).isoformat()}
    broken = _spec(alerted | {"steps_apply": False})
    assert "첫 경보" not in broken
    assert "기준 24시간" in broken and "기준 36시간" in broken and "기준 48시간" in broken
    assert broken == _spec(ladder)
    # while they apply, and for an alert written before the key existed: the steps
    assert _spec(alerted | {"steps_apply": True}) == _spec(alerted)
    assert "첫 경보 + 24시간" in _spec(alerted | {"steps_apply": True})
