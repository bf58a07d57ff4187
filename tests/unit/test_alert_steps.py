"""An open plug alert moves up on the ladder's steps from its first stage while no sign of life
comes: 위험 12 h and 심각 24 h after it (``rules.plug.steps_stage``).

Before, an alert the routine or the level test raised early stayed at 관심 for days in a home
whose fridge or standby noise restarted the fixed rule's clock (on the tune part, 95 of 143
alerted stops were more than 24 h from their first alert to 심각, or never reached it in 96 h).
"""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta
from itertools import pairwise

import pytest

from dashboard.evaluation.runner import with_routine
from dashboard.replay import read_recording, replay
from dashboard.rules.config import Thresholds
from dashboard.rules.lifecycle import merged_evidence
from dashboard.rules.model import iso
from dashboard.rules.plug import alert_steps, plug_no_change, steps_stage
from tests.replay_support import SEOUL, write_csv
from tests.unit.test_detection import TODAY, local, plug_facts

T0 = datetime(2024, 3, 1, 0, 0, tzinfo=SEOUL)
TICK = timedelta(minutes=10)
LADDER = (24.0, 36.0, 48.0)
pytestmark = pytest.mark.timeout(600)


def _rows(
    lived_days: int, quiet_days: int, seed: int = 3, share: float = 1.0, noise_w: float = 1.5
) -> list[tuple]:
    """Half-hourly whole-home readings: a TV and lights 07:00-22:00 over a 40 W standby on
    ``share`` of the first ``lived_days`` (the others out all day), then the standby alone with
    ``noise_w`` of noise (a stop, or nobody there)."""
    rng = random.Random(seed)
    home = [rng.random() < share for _ in range(lived_days)]
    rows = []
    for k in range((lived_days + quiet_days) * 48):
        ts = T0 + timedelta(minutes=30 * k)
        lived = k < lived_days * 48 and home[k // 48] and 14 <= ts.hour * 2 + ts.minute // 30 < 44
        watts = 40 + (rng.choice([0, 80, 150, 220]) if lived else 0) + rng.gauss(0, noise_w)
        rows.append(("steps-1", ts.isoformat(), round(max(watts, 0), 1)))
    return rows


def _stages(tmp_path, rows) -> list:
    path = write_csv(tmp_path / "steps.csv", ("device_id", "ts", "watts"), rows)
    result = replay(read_recording(path, "plug", SEOUL))
    return [t for t in result.transitions if t.rule == "plug_no_change"]


@pytest.mark.parametrize(
    ("seed", "share", "noise_w", "by_steps"),
    [
        (3, 1.0, 1.5, False),  # a usable routine: it raises 관심 and escalates by itself
        # home on 3 days in 10: no usable routine; the ladder on the fixed rule's clock opens
        # 관심, its clock restarts at the noise, the alert is held and moves up on the steps
        (3, 0.3, 2.0, True),
        (5, 0.3, 2.0, True),
    ],
)
def test_an_alert_reaches_severe_a_day_after_its_first_stage(
    tmp_path, seed, share, noise_w, by_steps
):
    spell = _stages(tmp_path, _rows(28, 5, seed, share, noise_w))
    shown = [(t.at.isoformat(), t.stage, t.explanation) for t in spell]
    # the spell's alert: the last one opened
    opened = [b for a, b in pairwise([None, *spell]) if b.stage and (a is None or not a.stage)]
    first = opened[-1]
    assert first.stage == "attention" and first.at >= T0 + timedelta(days=26), shown
    after = spell[spell.index(first) :]
    at = {t.stage: t for t in reversed(after) if t.stage is not None}
    assert at["risk"].at <= first.at + timedelta(hours=12) + TICK, shown
    assert at["severe"].at <= first.at + timedelta(hours=24) + TICK, shown
    assert after[-1].stage == "severe", shown  # open to the end: nobody came
    assert ("First alerted at" in at["risk"].explanation) is by_steps, shown


@pytest.mark.parametrize(
    ("lived_days", "seed", "share", "quiet_from"),
    [
        # the routine's 심각, learned anew at midnight with the collapse's day in its window
        (28, 5, 0.5, 28),
        # a young plug's 심각 (the ladder on the sign-of-life spell) when it comes of age
        (0, 5, 1.0, 6),
    ],
)
def test_no_alert_closes_without_a_sign_of_life(tmp_path, lived_days, seed, share, quiet_from):
    spell = _stages(tmp_path, _rows(lived_days, 20, seed, share))
    near = T0 + timedelta(days=quiet_from - 2)
    shown = [(t.at.isoformat(), t.stage, t.explanation) for t in spell if t.at >= near]
    severe = next(i for i, (_at, stage, _e) in enumerate(shown) if stage == "severe")
    # 심각 before 20 days without a sign of life, and open at the end: nothing closed it
    assert datetime.fromisoformat(shown[severe][0]) < T0 + timedelta(days=quiet_from + 3), shown
    assert all(stage is not None for _at, stage, _e in shown[severe:]), shown


def test_without_the_routine_the_fixed_rule_is_unchanged(tmp_path, monkeypatch):
    """``plug_routine.enabled = false`` gives back the fixed ladder exactly: no steps."""
    import dashboard.rules.config as config

    text = config.DEFAULT_PATH.read_text(encoding="utf-8")
    fixed = tmp_path / "rules.toml"
    fixed.write_text(with_routine(text, enabled=False), encoding="utf-8")
    assert fixed.read_text(encoding="utf-8") != text
    monkeypatch.setattr(config, "DEFAULT_PATH", fixed)
    stop = T0 + timedelta(days=28)
    rows = [r if datetime.fromisoformat(r[1]) < stop else (*r[:2], 40.0) for r in _rows(28, 4)]
    changes = [datetime.fromisoformat(b[1]) for a, b in pairwise(rows) if abs(b[2] - a[2]) > 5]
    last_change = max(changes)
    spell = _stages(tmp_path, rows)
    first = {t.stage: t.at for t in reversed(spell) if t.stage is not None and t.at >= stop}
    for stage, hours in zip(("attention", "risk", "severe"), LADDER, strict=True):
        late = first[stage] - last_change - timedelta(hours=hours)
        assert timedelta(0) <= late <= TICK, (stage, first, last_change)
    assert not any("First alerted" in (t.explanation or "") for t in spell)


def _facts(
    now: datetime,
    since: datetime,
    alert: tuple[str | None, datetime | None] | None,
    band_since: datetime | None = None,
):
    """A plug quiet since ``since`` and flat at 40 W, reporting, with no routine."""
    return plug_facts(
        since,
        last_seen_at=now - timedelta(minutes=5),
        last_change_at=since,
        last_power_w=40.0,
        band_since=band_since or since,
        plug_alert=alert,
    )


def test_the_steps_count_from_the_spells_first_alert_and_a_sign_of_life_restarts_them():
    th = Thresholds()
    now = local(TODAY, 12, 0).astimezone(UTC)
    since = now - timedelta(hours=25)  # the ladder's 관심 (no routine: young facts)
    first = now - timedelta(hours=13)
    same = plug_no_change(_facts(now, since, (iso(since), first)), th, now)
    assert same.stage == "risk" and same.evidence["basis"] == "steps"
    assert same.evidence["alerted_at"] == iso(first)
    assert "First alerted at" in same.evidence["explanation"]
    # The open alert is about an earlier spell (a sign of life since): its steps start anew.
    other = plug_no_change(_facts(now, since, (iso(since - timedelta(hours=30)), first)), th, now)
    assert other.stage == "attention" and other.evidence["alerted_at"] == iso(now)
    assert plug_no_change(_facts(now, since, None), th, now).stage == "attention"
    # The line left its band since the first alert (a person back in a home whose background
    # hides their use): no steps, the alert keeps its stage
    moved = plug_no_change(_facts(now, since, (iso(since), first), band_since=first), th, now)
    assert moved.stage == "risk"  # band_since == first: still within since then
    late = first + timedelta(minutes=30)
    moved = plug_no_change(_facts(now, since, (iso(since), first), band_since=late), th, now)
    assert moved.stage == "attention" and moved.evidence["alerted_at"] == iso(first)
    # An alert written before alerted_at existed: its steps count from now
    legacy = plug_no_change(_facts(now, since, (iso(since), None)), th, now)
    assert legacy.stage == "attention" and legacy.evidence["alerted_at"] == iso(now)


def test_the_steps_and_the_stored_first_alert():
    at = datetime(2024, 5, 3, 0, 0, tzinfo=SEOUL)
    hours = [steps_stage(at, at + timedelta(hours=h), LADDER) for h in (0, 11.9, 12, 23.9, 24)]
    assert hours == ["attention", "attention", "risk", "risk", "severe"]
    evidence = {"alerted_at": iso(at), "threshold_h": 30, "risk_at_h": 42, "severe_at_h": 54}
    assert alert_steps(evidence, at + timedelta(hours=12)) == "risk"
    assert alert_steps({"threshold_h": 30}, at) is None
    # kept through later decisions on the same spell, replaced with a new spell
    stored = {"since": "s1", "alerted_at": iso(at)}
    later = iso(at + timedelta(hours=5))
    assert merged_evidence(stored, {"since": "s1", "alerted_at": later})["alerted_at"] == iso(at)
    assert merged_evidence(stored, {"since": "s2", "alerted_at": later})["alerted_at"] == later


def test_the_evidence_says_whether_the_steps_apply():
    """``steps_apply``: the power stayed in its band since the spell's first alert (the chart
    draws the steps' times only then, ``ui.alert_charts.plug_chart``)."""
    th = Thresholds()
    now = local(TODAY, 12, 0).astimezone(UTC)
    since, first = now - timedelta(hours=25), now - timedelta(hours=13)
    alert = (iso(since), first)
    for band_since, applies in (
        (since, True),
        (first, True),
        (first + timedelta(minutes=30), False),
    ):
        decision = plug_no_change(_facts(now, since, alert, band_since=band_since), th, now)
        assert decision.evidence["alerted_at"] == iso(first)
        assert decision.evidence["steps_apply"] is applies, band_since
    # no steps (the fixed rule alone): None, as alerted_at
    fixed = th.model_copy(
        update={"plug_routine": th.plug_routine.model_copy(update={"enabled": False})}
    )
    alone = plug_no_change(_facts(now, since, alert), fixed, now)
    assert alone.stage == "attention"
    assert alone.evidence["alerted_at"] is None and alone.evidence["steps_apply"] is None
