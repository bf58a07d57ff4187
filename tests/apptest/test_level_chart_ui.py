"""The level chart on a plug alert's detail (issue #9): a level alert shows the day's power
against the home's usual and night levels, in the page's language; a plug without stored
levels gets a caption and no chart.

Works on a private copy of the demo database: a demo routine alert is turned into a level alert
(the demo city's level test is off, so none is raised there), and one plug's levels removed.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import datetime, timedelta

import pytest
from sqlalchemy import Engine, select, update
from streamlit.testing.v1 import AppTest

from dashboard import clock
from dashboard.clock import as_utc
from dashboard.db.schema import Alert, DeviceDaily, DeviceState
from dashboard.detection.level_profile import READ_DAYS, level_profile
from dashboard.formatting import format_number
from dashboard.i18n import translate
from dashboard.settings import LOCAL_TZ
from dashboard.ui.level_chart import HEIGHT, HEIGHT_PROJECTOR, NIGHT
from dashboard.ui.routine_chart import WINDOW, day_label
from dashboard.ui.safe_text import md_escape
from queries.alerts import OPEN_STATUSES
from queries.levels import level_days
from tests.apptest.conftest import open_page, private_copy, without_live_loop


@pytest.fixture(scope="module")
def db(demo_db: Engine, tmp_path_factory) -> Iterator[Engine]:
    with (
        without_live_loop("tests/apptest/test_level_chart_ui.py"),
        private_copy(demo_db, tmp_path_factory.mktemp("level-chart-ui")) as engine,
    ):
        yield engine


def _routine_alerts(db: Engine) -> list[tuple[int, dict, int]]:
    with db.connect() as conn:
        rows = conn.execute(
            select(Alert.id, Alert.evidence, Alert.device_id)
            .where(Alert.rule == "plug_no_change", Alert.status.in_(OPEN_STATUSES))
            .order_by(Alert.id)
        ).all()
    out = []
    for row in rows:
        evidence = row.evidence if isinstance(row.evidence, dict) else json.loads(row.evidence)
        if evidence.get("basis") == "routine":
            out.append((row.id, evidence, row.device_id))
    assert len(out) >= 2, "the demo city needs two open routine plug alerts"
    return out


@pytest.fixture(scope="module")
def level_alert(db: Engine) -> tuple[int, int, datetime, datetime]:
    """The first routine alert made a level alert: since 10:00 on the plug's last day, to its
    last report."""
    alert_id, evidence, device_id = _routine_alerts(db)[0]
    with db.connect() as conn:
        seen = conn.scalar(
            select(DeviceState.last_seen_at).where(DeviceState.device_id == device_id)
        )
    until = as_utc(seen).astimezone(LOCAL_TZ)
    since = until.replace(hour=10, minute=0, second=0, microsecond=0)
    if since >= until:
        since -= timedelta(days=1)
    level = {
        **evidence,
        "basis": "level",
        "level_since": since.isoformat(),
        "level_until": until.isoformat(),
        "level_s": 31.5,
        "level_h": 24,
        "level_above_days": 18,
        "level_days": 20,
        "level_day_kind": "weekday",
    }
    with db.begin() as conn:
        conn.execute(update(Alert).where(Alert.id == alert_id).values(evidence=level))
    return alert_id, device_id, since, until


def _charts(at: AppTest) -> list[str]:
    return [
        json.dumps(json.loads(c.proto.spec), ensure_ascii=False) for c in at.get("vega_lite_chart")
    ]


@pytest.mark.parametrize(("lang", "projector"), [("ko", False), ("en", True)])
def test_a_level_alert_shows_the_level_chart(
    db: Engine, level_alert, lang: str, projector: bool
) -> None:
    alert_id, device_id, since, until = level_alert
    params = {"alert": str(alert_id)} | ({"lang": "en"} if lang == "en" else {})
    params |= {"projector": "1"} if projector else {}
    at = open_page("alerts", **params)
    [chart] = [c for c in _charts(at) if translate("level_chart.series_night", lang) in c]
    for key in ("series_now", "series_usual", "axis_power", "axis_time"):
        assert translate(f"level_chart.{key}", lang) in chart
    assert NIGHT in chart and WINDOW in chart  # the night line and the spell
    assert "symlog" in chart
    height = HEIGHT_PROJECTOR if projector else HEIGHT  # taller for the projector's big labels
    assert json.loads(chart)["height"] == height
    # The caption quotes the night level the chart draws: the profile of the stored levels.
    with db.connect() as conn:
        stored = level_days(conn, device_id, until.date())
    profile = level_profile(stored, since, until, LOCAL_TZ, "weekday")
    assert profile is not None and profile.night_w is not None and profile.reference_days > 0
    captions = "\n".join(c.value for c in at.caption)
    night = translate("level_chart.caption_night", lang, watts=format_number(profile.night_w))
    # Shown literally: markdown would strike through between "25~75 %" and "01:00~05:00".
    assert md_escape(night) in captions
    kind = translate("detection.explain.level_weekday", lang)
    assert f"{format_number(profile.reference_days)}" in captions and kind in captions
    today = clock.now().astimezone(LOCAL_TZ).date()
    days = " – ".join(day_label(d, today, lang) for d in profile.days)
    title = translate("level_chart.title", lang, days=days)
    assert f"**{title}**" in [m.value for m in at.markdown]


def test_a_plug_without_stored_levels_gets_a_caption_not_a_chart(db: Engine) -> None:
    alert_id, _evidence, device_id = _routine_alerts(db)[1]
    with db.begin() as conn:
        conn.execute(
            update(DeviceDaily).where(DeviceDaily.device_id == device_id).values(level_slots=None)
        )
    at = open_page("alerts", alert=str(alert_id))
    assert not [c for c in _charts(at) if translate("level_chart.series_night") in c]
    assert translate("level_chart.not_recorded", days=format_number(READ_DAYS)) in [
        c.value for c in at.caption
    ]
    # The routine strip is still there.
    assert [c for c in _charts(at) if translate("routine.cell.active") in c]


def test_a_closed_alert_draws_its_spell_to_its_closing_not_to_now(db: Engine) -> None:
    """A closed plug alert: the strip's spell and the level chart end when it closed (three
    days before the plug's last report here), so the chart shows the alert's day, not the
    plug's latest days with the spell running on."""
    routine = _routine_alerts(db)
    assert len(routine) >= 3, "the demo city needs three open routine plug alerts"
    alert_id, evidence, device_id = routine[2]
    with db.connect() as conn:
        seen = as_utc(
            conn.scalar(select(DeviceState.last_seen_at).where(DeviceState.device_id == device_id))
        )
    closed = seen - timedelta(days=3)  # the plug reported on after the alert closed
    since = datetime.fromisoformat(evidence["since"])
    if since >= closed:  # the spell must begin before the alert closed
        since = closed - timedelta(hours=20)
        evidence = {**evidence, "since": since.isoformat()}
    with db.begin() as conn:
        conn.execute(
            update(Alert)
            .where(Alert.id == alert_id)
            .values(status="closed", closed_at=closed, outcome="safe", evidence=evidence)
        )
    at = open_page("alerts", alert=str(alert_id), lang="en")
    today = clock.now().astimezone(LOCAL_TZ).date()
    last = closed.astimezone(LOCAL_TZ).date()
    titles = [m.value for m in at.markdown if m.value.startswith("**This home's power level")]
    assert titles and day_label(last, today, "en") in titles[0], titles
    assert day_label(seen.astimezone(LOCAL_TZ).date(), today, "en") not in titles[0]
    captions = "\n".join(c.value for c in at.caption)
    assert "the alert's closing" in captions
    assert "to now" not in captions and "last report" not in captions
