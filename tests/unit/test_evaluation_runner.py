"""How the evaluation drives the replay: the rules file per method, week shifts, the input file."""

from __future__ import annotations

import csv
import shutil

import numpy as np

from dashboard.evaluation.datasets import Trace
from dashboard.evaluation.incidents import DAY, hour_of_day
from dashboard.evaluation.runner import (
    ANCHOR,
    WEEK,
    rules_file,
    split_jobs,
    week_shift,
    with_routine,
    write_csv,
)
from dashboard.rules import config

SHIPPED = config.DEFAULT_PATH.read_text(encoding="utf-8")


def test_routine_switch_in_a_rules_file():
    assert "[plug_routine]" in SHIPPED  # the shipped file has the section: switched in place
    off = with_routine(SHIPPED, enabled=False)
    assert off.count("[plug_routine]") == 1 and "\nenabled = false" in off
    assert off.replace("\nenabled = false", "\nenabled = true") == SHIPPED
    on = with_routine(off, enabled=True)
    assert on == SHIPPED
    bare = "[battery]\nlow_pct = 20\n"  # no section: appended
    assert with_routine(bare, enabled=False).endswith("[plug_routine]\nenabled = false\n")
    text = "[plug_routine]\nweights = [1, 2]\nenabled = true  # on\n\n[battery]\nlow_pct = 20\n"
    assert with_routine(text, enabled=False) == text.replace("enabled = true", "enabled = false")


def test_rules_file_moves_every_reader_of_the_thresholds(tmp_path):
    from dashboard.ingest.state import Margins

    path = tmp_path / "rules.toml"
    shutil.copy(config.DEFAULT_PATH, path)
    path.write_text(
        path.read_text(encoding="utf-8").replace("power_margin_w = 5.0", "power_margin_w = 7.5"),
        encoding="utf-8",
    )
    assert config.current_thresholds().plug_no_change.power_margin_w == 5.0
    with rules_file(path):
        assert config.current_thresholds().plug_no_change.power_margin_w == 7.5
        assert Margins.from_rules().power_w == 7.5
    assert config.current_thresholds().plug_no_change.power_margin_w == 5.0


def test_week_shift_keeps_weekday_and_hour():
    onsets = np.array([ANCHOR + 3 * DAY + 5 * 3600 + 123, ANCHOR - 400 * DAY + 17 * 3600])
    for onset in onsets.tolist():
        shift = week_shift(onset)
        assert shift % WEEK == 0 and abs(onset + shift - ANCHOR) <= WEEK // 2
        moved = np.array([onset + shift])
        assert hour_of_day(moved)[0] == hour_of_day(np.array([onset]))[0]


def test_input_file_and_jobs(tmp_path):
    ts = np.array([ANCHOR, ANCHOR + 3600], dtype=np.int64)
    a = Trace("x/a", "x", 3600, ts, np.array([1.25, 2.0]), np.array([3.0, 4.0]))
    b = Trace("x/b", "x", 3600, ts, np.array([5.0, 6.0]))
    path = tmp_path / "in.csv"
    assert write_csv(path, [("a", a, WEEK), ("b", b, 0)]) == 4
    rows = list(csv.reader(path.open()))
    assert rows[0] == ["device_id", "ts", "watts", "lux"]
    assert rows[1] == ["a", "2024-01-08T00:00:00", "1.2", "3.0"]  # Seoul wall clock, shifted
    assert rows[3] == ["b", "2024-01-01T00:00:00", "5.0", ""]
    jobs = split_jobs("fixed", "", [("a", a, 0), ("b", b, 0)], 2)
    assert [len(j.devices) for j in jobs] == [1, 1]
