"""A home in another zone is replayed on its own clock (``dashboard.replay.relocate``)."""

from __future__ import annotations

import json
import random
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from dashboard.cli import main
from dashboard.replay.relocate import from_local_clock, on_local_clock
from tests.replay_support import write_csv

LONDON = ZoneInfo("Europe/London")


def test_a_wall_clock_moves_to_seoul_and_back():
    summer = datetime(2024, 6, 10, 7, 30, tzinfo=LONDON)  # BST, UTC+1
    moved = on_local_clock(summer, LONDON)
    assert moved == datetime(2024, 6, 9, 22, 30, tzinfo=UTC)  # 07:30 in Seoul
    assert from_local_clock(moved, LONDON) == summer
    winter = datetime(2024, 1, 10, 7, 30, tzinfo=LONDON)
    assert from_local_clock(on_local_clock(winter, LONDON), LONDON) == winter
    # The autumn hour that repeats: both occurrences on the same Seoul time, stamped back at
    # the first; the spring hour that does not exist is never a reading's.
    first = datetime(2024, 10, 27, 0, 30, tzinfo=UTC)  # 01:30 BST
    second = first + timedelta(hours=1)  # 01:30 GMT
    assert on_local_clock(first, LONDON) == on_local_clock(second, LONDON)
    assert from_local_clock(on_local_clock(second, LONDON), LONDON) == first
    # A Seoul time in London's spring gap (01:40 on 31 March) is stamped when the gap ends
    skipped = datetime(2024, 3, 31, 1, 40, tzinfo=ZoneInfo("Asia/Seoul"))
    assert from_local_clock(skipped, LONDON) == datetime(2024, 3, 31, 1, 0, tzinfo=UTC)


def test_across_both_clock_changes_transitions_stay_in_order(tmp_path):
    """Readings stamped in UTC across London's spring gap and its repeated autumn hour: the
    second occurrence's readings are dropped (not interleaved with the first), and every
    transition is stamped no earlier than the one before it (a review found a close before its
    open, and a wanderer "back inside" while 900 m out)."""
    for day in (datetime(2024, 3, 29, 0, 0, tzinfo=UTC), datetime(2024, 10, 25, 0, 0, tzinfo=UTC)):
        rows, ts = [], day
        while ts < day + timedelta(days=4):
            quiet = day + timedelta(days=1, hours=1) <= ts < day + timedelta(days=3)
            watts = 40.0 if quiet else (300.0 if ts.minute else 40.0)
            rows.append(("p", ts.isoformat().replace("+00:00", "Z"), watts))
            ts += timedelta(minutes=30)
        src = write_csv(tmp_path / "dst.csv", ("device_id", "ts", "watts"), rows)
        out = _replay(tmp_path, src, "Europe/London")
        moments = [datetime.fromisoformat(r["at"]) for r in out]
        assert out and moments == sorted(moments)
        assert out[0]["stage"] is not None  # an alert opens before anything closes


def _home_rows(days: int, stop_at: datetime) -> list[tuple[str, str, float]]:
    """A person up 07:00-23:00 every day (the power moves each half-hour), the night a 40 W
    load with small noise, then nothing but that load from ``stop_at``: naive wall-clock."""
    rng = random.Random(3)
    rows, ts, high = [], stop_at - timedelta(days=days), False
    while ts < stop_at + timedelta(hours=30):
        awake = 7 <= ts.hour < 23 and ts < stop_at
        high = not high if awake else False
        watts = (300.0 + rng.uniform(0, 200)) if high else 40.0 + rng.uniform(-1, 1)
        rows.append(("home", ts.strftime("%Y-%m-%dT%H:%M:%S"), round(watts, 1)))
        ts += timedelta(minutes=30)
    return rows


def _replay(tmp_path, src, tz) -> list[dict]:
    out = tmp_path / f"{tz.replace('/', '_')}.json"
    argv = ["replay", "--type", "plug", "--input", str(src), "--tz", tz, "--json", str(out)]
    assert main(argv) == 0
    return json.loads(out.read_text())["transitions"]


def test_a_home_abroad_is_judged_on_its_own_clock(tmp_path):
    """The same naive wall-clock file replayed in London and in Seoul: the same alerts, at the
    same wall-clock times, with the same sentences. On Seoul's clock a London home's "night"
    (01:00-05:00 Seoul) would be its 17:00-21:00, its busiest hours."""
    stop = datetime(2024, 6, 20, 9, 0)  # June: no clock change in the file
    src = write_csv(tmp_path / "home.csv", ("device_id", "ts", "watts"), _home_rows(21, stop))
    london, seoul = _replay(tmp_path, src, "Europe/London"), _replay(tmp_path, src, "Asia/Seoul")
    assert london and [r["at"][:19] for r in london] == [r["at"][:19] for r in seoul]
    assert all(r["at"].endswith("+01:00") for r in london)
    for key in ("rule", "stage", "explanation"):
        assert [r[key] for r in london] == [r[key] for r in seoul]
    # The stop is alerted by the home's routine, well before the fixed ladder's 24 h
    first = datetime.fromisoformat(london[0]["at"]).replace(tzinfo=None)
    assert london[0]["stage"] == "attention" and first - stop < timedelta(hours=12)
