"""A home left vacant: its plug's person alert opens once and stays open until a sign of life.

A standby's noise (1.5 W sd) crosses the fixed rule's 5 W margin about once a day, and the
ladder on the fixed rule's clock started over each time: its alert closed as safe and opened
again a day later, 126 times in a replayed year of a vacant home (the issue's vacant home: 61).
No such crossing is a sign of life (the learned background explains it), so the alert is held.
"""

from __future__ import annotations

import random
from datetime import datetime, timedelta

import pytest

from dashboard.replay import read_recording, replay
from tests.replay_support import SEOUL, write_csv

T0 = datetime(2024, 3, 1, 0, 0, tzinfo=SEOUL)
pytestmark = pytest.mark.timeout(600)


def _rows(lived_days: int, vacant_days: int, seed: int = 3) -> list[tuple]:
    """Half-hourly whole-home readings: a TV and lights 07:00-22:00 over a 40 W standby for
    ``lived_days``, then the standby alone with 1.5 W of noise."""
    rng = random.Random(seed)
    rows = []
    for k in range((lived_days + vacant_days) * 48):
        ts = T0 + timedelta(minutes=30 * k)
        lived = k < lived_days * 48 and 14 <= ts.hour * 2 + ts.minute // 30 < 44
        watts = 40 + (rng.choice([0, 80, 150, 220]) if lived else 0) + rng.gauss(0, 1.5)
        rows.append(("vacant-1", ts.isoformat(), round(max(watts, 0), 1)))
    return rows


@pytest.mark.parametrize("lived_days", [0, 28])
def test_a_vacant_homes_alert_opens_once_and_is_held(tmp_path, lived_days):
    """Vacant from the plug's first day (no routine is ever learned: the ladder alone judges
    it once the plug is no longer young), or after four weeks lived in."""
    rows = _rows(lived_days, 45)
    path = write_csv(tmp_path / "vacant.csv", ("device_id", "ts", "watts"), rows)
    result = replay(read_recording(path, "plug", SEOUL))
    spell = [t for t in result.transitions if t.rule == "plug_no_change"]
    # a young plug (its first 14 days) learns its background: its noise is a sign of life
    departed = T0 + timedelta(days=max(lived_days, 15))
    opened, open_now = [], False
    for t in spell:
        if t.stage is not None and not open_now and t.at >= departed:
            opened.append(t)
        open_now = t.stage is not None
    # one alert for the vacancy (opened before the plug came of age or after the departure)
    assert len(opened) <= 1 if not lived_days else len(opened) == 1, [
        (t.at.isoformat(), t.stage) for t in spell if t.at >= departed
    ]
    if lived_days:
        assert opened[0].at <= departed + timedelta(hours=24)  # the ladder at the latest
    assert spell[-1].stage == "severe"  # still open at the end: nobody came back
