"""The detection slide's gain over the fixed rule, on constructed alerts with known answers, on
SQLite and PostgreSQL: how many hours before the fixed rule each routine-opened plug alert
opened (median) and the share opened earlier; "측정 중" below the minimum; aggregates only."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from statistics import median

import pytest
from sqlalchemy import Engine, delete, insert, select

from dashboard.briefing.gain import MIN_GAIN_ALERTS, EarlyGain, early_gain
from dashboard.briefing.period import parse_period
from dashboard.briefing.slides import build_deck
from dashboard.catalog import load_catalog
from dashboard.db.schema import Alert, Program, Region
from dashboard.formatting import format_duration
from dashboard.i18n import translate
from dashboard.reference.load import load_reference
from dashboard.rules.model import iso
from queries import briefing as q

NOW = datetime(2026, 12, 2, 3, 0, tzinfo=UTC)
# Hours each routine alert opened before the fixed rule (quiet start + threshold) would have:
# 12 of them, with a 36 h threshold for two people.
LEADS_24 = [1.5, 2.0, 3.0, 4.5, 6.0, 7.0, 8.0, 9.5, 11.0, 12.0]
LEADS_36 = [20.0, 30.0]
LADDER_LAGS_MIN = [0, 1, 1, 2, 5, 0, 3, 1, 0, 2]  # the ladder opens at the first tick at or after
FALLBACK_LEAD = 5.0  # old evidence without `since`: the last activity counts


def _alert(n: int, opened: datetime, evidence: dict, rule: str = q.PLUG_RULE) -> dict:
    return {
        "dedup_key": f"k{n}",
        "kind": "person",
        "rule": rule,
        "stage": "attention",
        "status": "closed",
        "evidence": evidence,
        "opened_at": opened,
        "updated_at": opened,
        "closed_at": opened + timedelta(hours=1),
        "outcome": "safe",
    }


def _seed(engine: Engine) -> None:
    with engine.begin() as conn:
        load_catalog(conn)
        load_reference(conn)
        program = conn.execute(select(Program.id).order_by(Program.id)).scalars().first()
        dong = conn.execute(select(Region.id).where(Region.level == "dong")).scalars().first()
        rows: list[dict] = []
        opened = NOW - timedelta(days=5)
        for lag in LADDER_LAGS_MIN:
            since = opened - timedelta(hours=24, minutes=lag)
            ev = {"since": iso(since), "last_activity_at": iso(since), "threshold_h": 24.0}
            rows.append(_alert(len(rows), opened, ev | {"basis": "ladder"}))
            opened += timedelta(hours=2)
        for lead, threshold in [(x, 24.0) for x in LEADS_24] + [(x, 36.0) for x in LEADS_36]:
            since = opened - timedelta(hours=threshold - lead)
            # basis as the latest evaluation wrote it: the ladder caught up with some of them
            basis = "ladder" if lead < 3 else "routine"
            ev = {"since": iso(since), "last_activity_at": iso(since), "threshold_h": threshold}
            rows.append(_alert(len(rows), opened, ev | {"basis": basis}))
            opened += timedelta(hours=3)
        last = opened - timedelta(hours=24 - FALLBACK_LEAD)
        rows.append(_alert(len(rows), opened, {"last_activity_at": iso(last), "threshold_h": 24}))
        # Left out: evidence without times, a plug alert before the window, another rule.
        rows.append(_alert(len(rows), opened, {"basis": "ladder"}))
        early_old = NOW - timedelta(days=40)
        ev = {"since": iso(early_old - timedelta(hours=10)), "threshold_h": 24.0}
        rows.append(_alert(len(rows), early_old, ev))
        ev = {"since": iso(opened - timedelta(hours=2)), "threshold_h": 24.0}
        rows.append(_alert(len(rows), opened, ev, rule="call_no_activity"))
        for r in rows:
            r |= {"program_id": program, "region_id": dong}
        conn.execute(insert(Alert), rows)


@pytest.fixture
def alerts_db(db_engine: Engine) -> Engine:
    _seed(db_engine)
    return db_engine


def _gain(engine: Engine, minimum: int = MIN_GAIN_ALERTS) -> EarlyGain:
    period = parse_period("30d", NOW)
    with engine.connect() as conn:
        timing = q.plug_alert_timing(conn, period.start, period.end)
    # One row per alert and nothing that identifies it (aggregate use only).
    assert list(timing.columns) == ["opened_at", "fixed_at"]
    return early_gain(timing, minimum)


def test_gain_over_the_fixed_rule_has_the_known_answer(alerts_db) -> None:
    gain = _gain(alerts_db)
    leads = LEADS_24 + LEADS_36 + [FALLBACK_LEAD]
    judged = len(leads) + len(LADDER_LAGS_MIN)  # the alert without times is not judged
    assert (gain.alerts, gain.early) == (judged, len(leads))
    assert gain.share_early == pytest.approx(len(leads) / judged)
    assert gain.median_lead_h == pytest.approx(median(leads))  # 7.0 h
    assert gain.measured


def test_gain_is_measuring_below_the_minimum(alerts_db) -> None:
    # 13 opened earlier among 23: a minimum of 14 keeps the median back, 24 the share too.
    partial = _gain(alerts_db, minimum=14)
    assert partial.share_early is not None and partial.median_lead_h is None
    none = _gain(alerts_db, minimum=24)
    assert none.share_early is None and none.median_lead_h is None and not none.measured
    empty = early_gain(q.pd.DataFrame(columns=["opened_at", "fixed_at"]))
    assert (empty.alerts, empty.early, empty.share_early) == (0, 0, None)


def _detection(engine: Engine, lang: str):
    with engine.connect() as conn:
        deck = build_deck(conn, parse_period("30d", NOW), lang, NOW)
    return next(s for s in deck if s.key == "detection")


@pytest.mark.parametrize("lang", ["ko", "en"])
def test_detection_slide_shows_the_gain_from_live_data(alerts_db, lang) -> None:
    slide = _detection(alerts_db, lang)
    values = {f.label: f.value for f in slide.figures}
    leads = LEADS_24 + LEADS_36 + [FALLBACK_LEAD]
    share = f"{len(leads) / (len(leads) + len(LADDER_LAGS_MIN)) * 100:.1f}%"
    lead = format_duration(timedelta(hours=median(leads)), lang)
    assert values[translate("deck.detection.share", lang)] == share  # 56.5%
    assert values[translate("deck.detection.lead", lang)] == lead  # 7시간 0분 / 7 h 0 min
    assert share in slide.message and lead in slide.message
    # The slide says it uses live data only, and does not say "measuring". (The one
    # call_no_activity alert is a rule under 5: left out of the chart, with a note.)
    assert slide.bullets == (
        translate("deck.detection.method", lang),
        translate("deck.detection.rules_hidden", lang, n=2, k=5),
    )
    assert translate("deck.detection.measuring", lang) not in repr(slide)


@pytest.mark.parametrize("lang", ["ko", "en"])
def test_detection_slide_says_measuring_with_too_few_alerts(alerts_db, lang) -> None:
    _keep_plug_alerts(alerts_db, 6)  # six fixed-rule alerts: under the minimum
    slide = _detection(alerts_db, lang)
    measuring = translate("deck.detection.measuring", lang)
    values = {f.label: f.value for f in slide.figures}
    assert values[translate("deck.detection.share", lang)] == measuring
    assert values[translate("deck.detection.lead", lang)] == measuring
    too_few = translate("deck.detection.too_few", lang, alerts=6, early=0, min=MIN_GAIN_ALERTS)
    assert too_few in slide.bullets
    assert "%" not in slide.message  # no share claimed on six alerts


@pytest.mark.parametrize("lang", ["ko", "en"])
def test_detection_slide_says_when_the_routine_opened_none_earlier(alerts_db, lang) -> None:
    _keep_plug_alerts(alerts_db, len(LADDER_LAGS_MIN))  # ten alerts, all at the fixed rule's time
    slide = _detection(alerts_db, lang)
    values = {f.label: f.value for f in slide.figures}
    assert values[translate("deck.detection.share", lang)] == "0.0%"
    assert values[translate("deck.detection.lead", lang)] == translate(
        "deck.detection.measuring", lang
    )
    assert slide.message == translate("deck.detection.message_none", lang, alerts="10")


def _keep_plug_alerts(engine: Engine, n: int) -> None:
    """Delete every alert but the first ``n`` plug alerts (the fixed rule's, seeded first)."""
    with engine.begin() as conn:
        keep = select(Alert.id).where(Alert.rule == q.PLUG_RULE).order_by(Alert.id).limit(n)
        conn.execute(delete(Alert).where(Alert.id.not_in(keep)))


@pytest.mark.parametrize("personal", [None, 30, 50])
def test_the_fixed_rule_never_opens_before_the_moment_the_gain_counts_from(personal) -> None:
    """The gain's premise, on the rule itself: without a routine the plug rule opens nothing
    before its evidence's ``since`` + ``threshold_h`` and opens 관심 at that moment, so an
    alert opened earlier was opened by the routine."""
    from dashboard.rules.config import Thresholds
    from dashboard.rules.model import DeviceFacts
    from dashboard.rules.plug import plug_no_change

    quiet = NOW - timedelta(days=3)
    f = DeviceFacts(
        device_id=1,
        type_code="smart_plug",
        program_id=1,
        region_id=1,
        heartbeat_timeout_s=7200,
        recipient_id=1,
        installed_at=quiet - timedelta(days=365),
        last_seen_at=NOW,
        last_activity_at=quiet,
        no_change_hours=personal,
    )
    th = Thresholds()
    probe = plug_no_change(f, th, NOW).evidence
    fixed_at = datetime.fromisoformat(probe["since"]) + timedelta(hours=probe["threshold_h"])
    assert probe["threshold_h"] == (personal or th.plug_no_change.default_hours)
    assert plug_no_change(f, th, fixed_at - timedelta(seconds=1)).stage is None
    assert plug_no_change(f, th, fixed_at).stage == "attention"


def test_the_fixed_rule_counts_from_the_last_change_beyond_the_margins(db_engine) -> None:
    """A fridge cycled until 10 h before the routine's alert: the fixed rule could not have
    opened before that change + 24 h, so the lead is 14 h, not 4 h."""
    with db_engine.begin() as conn:
        load_catalog(conn)
        load_reference(conn)
        program = conn.execute(select(Program.id).order_by(Program.id)).scalars().first()
        dong = conn.execute(select(Region.id).where(Region.level == "dong")).scalars().first()
        opened = NOW - timedelta(days=1)
        ev = {
            "since": iso(opened - timedelta(hours=20)),
            "change_since": iso(opened - timedelta(hours=10)),
            "threshold_h": 24.0,
            "basis": "routine",
        }
        row = _alert(0, opened, ev) | {"program_id": program, "region_id": dong}
        conn.execute(insert(Alert), [row])
    period = parse_period("30d", NOW)
    with db_engine.connect() as conn:
        timing = q.plug_alert_timing(conn, period.start, period.end)
    lead = timing["fixed_at"].iloc[0] - timing["opened_at"].iloc[0]
    assert lead == timedelta(hours=14)
