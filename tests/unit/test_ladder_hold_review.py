"""Review of 6c4d6f9 (the ladder's hold): a home whose learned background hides the person.

A whole-home meter with a heater on a thermostat at night (150-1,500 W; off on mild nights)
and a person using 200-1,400 W by day: the background (floor ~150 W, ceiling ~1,500 W, night
step ~1,300 W) explains the day's changes, so signs of life are rare and the spell since the
last one runs for days. The person is out for 26 h on a mild day (the line flat at 150 W): the
ladder on the fixed rule's clock opens 관심 at 24 h. They come back and use 200-1,400 W every
half-hour; before the hold the alert closed at the first change (2 h after it opened); with the
hold it stays open until a rare sign of life (47 h to the end of the replay, 3 of 5 seeds over
9 days), and a real stop later in that spell finds it already open at 관심 (its first signal
36 h after the stop instead of 24 h).
"""

from __future__ import annotations

import random
from datetime import datetime, timedelta

import pytest

from dashboard.replay import read_recording, replay
from tests.replay_support import SEOUL, write_csv

T0 = datetime(2024, 1, 1, 0, 0, tzinfo=SEOUL)
OUT = (T0 + timedelta(days=25, hours=8), T0 + timedelta(days=26, hours=10))
pytestmark = pytest.mark.timeout(600)


def _rows(seed: int, days: int = 40) -> list[tuple]:
    rng = random.Random(seed)
    mild = {d: rng.random() < 0.5 for d in range(-1, days + 1)}
    rows = []
    for k in range(days * 48):
        ts = T0 + timedelta(minutes=30 * k)
        h = ts.hour + ts.minute / 60
        night_of = (ts - timedelta(hours=12)).date()
        if OUT[0] <= ts < OUT[1]:
            w = 150 + rng.gauss(0, 1.0)
        elif h >= 22 or h < 7:
            w = (
                150 + rng.gauss(0, 1.0)
                if mild[(night_of - T0.date()).days]
                else rng.uniform(150, 1500)
            )
        else:
            w = rng.uniform(200, 1400)
        rows.append(("heated-1", ts.isoformat(), round(w, 1)))
    return rows


@pytest.mark.parametrize("seed", [3, 5])
def test_a_ladder_alert_closes_when_the_person_is_back_and_the_line_moves(tmp_path, seed):
    path = write_csv(tmp_path / "heated.csv", ("device_id", "ts", "watts"), _rows(seed))
    result = replay(read_recording(path, "plug", SEOUL))
    spell = [t for t in result.transitions if t.rule == "plug_no_change" and t.at >= OUT[0]]
    assert spell and spell[0].stage == "attention", spell  # the ladder at 24 h
    closes = [t.at for t in spell if t.stage is None]
    # The person is back at OUT[1] and the line moves by hundreds of watts every half-hour.
    assert closes and closes[0] <= OUT[1] + timedelta(hours=12), [
        (t.at.isoformat(), t.stage) for t in spell
    ]
