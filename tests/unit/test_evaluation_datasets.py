"""Loaders of the real electricity traces, on small hand-written slices in each file format."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime
from pathlib import Path

import numpy as np
import pytest

from dashboard.evaluation.datasets import (
    DEFAULT_ROOT,
    DatasetError,
    Trace,
    demo_traces,
    hourly_means,
    load_hue,
    load_london,
    load_london_file,
    load_opsd,
    load_real,
    load_uci,
    split_at_gaps,
    wall_to_seoul,
)


def seoul(text: str) -> int:
    return int(wall_to_seoul([datetime.fromisoformat(text)])[0])


def write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


def test_london_padded_kwh_become_watts_on_london_wall_clock(tmp_path):
    f = write(
        tmp_path / "MAC000009.csv",
        "LCLid,tstp,energy(kWh/hh)\n"
        "MAC000009,2013-06-01 00:00:00, 0.219 \n"
        "MAC000009,2013-06-01 00:30:00, Null \n"
        "MAC000009,2013-06-01 01:00:00, 0.1 \n"
        "MAC000009,2013-06-01 01:00:00, 0.1 \n",  # a repeated row
    )
    t = load_london(f)
    assert t.home == "london/MAC000009" and t.step_s == 1800
    # GMT 00:00 in June is 01:00 on a London wall clock (BST), replayed as 01:00 in Seoul.
    assert t.ts.tolist() == [seoul("2013-06-01T01:00"), seoul("2013-06-01T02:00")]
    assert t.watts.tolist() == pytest.approx([438.0, 200.0])
    assert t.dropped == 2


def test_a_london_block_file_is_one_trace_per_household_in_either_layout(tmp_path):
    """The published block files hold about fifty homes each; the original full file has a
    tariff column. Each household is its own trace, never one trace of them all."""
    block = write(
        tmp_path / "block_0.csv",
        "LCLid,tstp,energy(kWh/hh)\n"
        "MAC000009,2013-06-01 00:00:00.0000000, 0.219 \n"
        "MAC000010,2013-06-01 00:00:00.0000000, 0.5 \n"
        "MAC000009,2013-06-01 00:30:00.0000000, Null \n"
        "MAC000010,2013-06-01 00:30:00.0000000, 0.25 \n",
    )
    full = write(
        tmp_path / "CC_LCL-FullData.csv",
        "LCLid,stdorToU,DateTime,KWH/hh (per half hour) \n"
        "MAC000010,Std,2013-06-01 00:00:00.0000000, 0.5 \n"
        "MAC000009,ToU,2013-06-01 00:00:00.0000000, 0.219 \n"
        "MAC000010,Std,2013-06-01 00:30:00.0000000, 0.25 \n",
    )
    for f in (block, full):
        nine, ten = load_london_file(f)
        assert (nine.home, ten.home) == ("london/MAC000009", "london/MAC000010")
        assert nine.watts.tolist() == pytest.approx([438.0])
        assert ten.watts.tolist() == pytest.approx([1000.0, 500.0])
        assert ten.ts.tolist() == [seoul("2013-06-01T01:00"), seoul("2013-06-01T01:30")]
    assert load_london_file(block)[0].dropped == 1
    with pytest.raises(DatasetError, match="holds 2 households"):
        load_london(block)
    folder = tmp_path / "london_2013_halfhourly"
    folder.mkdir()
    block.rename(folder / block.name)
    homes = [t.home for t in load_real(tmp_path)[0]]
    assert homes == ["london/MAC000009", "london/MAC000010"]


def test_hue_hours_and_the_repeated_autumn_hour(tmp_path):
    f = write(
        tmp_path / "hue.csv",
        "date,hour,energy_kWh\r\n11/3/2013,0,0.5\r\n11/3/2013,1,1.2\r\n11/3/2013,1,0.9\r\n"
        "11/3/2013,2,x\r\n11/3/2013,3,0.25\r\n",
    )
    t = load_hue(f)
    assert t.step_s == 3600
    assert t.ts.tolist() == [seoul(f"2013-11-03T0{h}:00") for h in (0, 1, 3)]
    assert t.watts.tolist() == pytest.approx([500.0, 1200.0, 250.0])  # first of the repeat kept
    assert t.dropped == 2


def test_opsd_cumulative_meter_is_differenced_and_resets_dropped(tmp_path):
    header = "utc_timestamp,cet_cest_timestamp,DE_X_pv,DE_X_grid_import,interpolated_values\n"
    rows = [
        ("2016-01-01T00:00:00Z", "2016-01-01T01:00:00+0100", "10.000", ""),
        ("2016-01-01T01:00:00Z", "2016-01-01T02:00:00+0100", "10.300", ""),
        ("2016-01-01T02:00:00Z", "2016-01-01T03:00:00+0100", "10.800", "DE_X_grid_import"),
        ("2016-01-01T03:00:00Z", "2016-01-01T04:00:00+0100", "", ""),
        ("2016-01-01T04:00:00Z", "2016-01-01T05:00:00+0100", "11.000", ""),
        ("2016-01-01T05:00:00Z", "2016-01-01T06:00:00+0100", "2.000", ""),  # meter reset
        ("2016-01-01T06:00:00Z", "2016-01-01T07:00:00+0100", "2.100", ""),
    ]
    body = "".join(f"{u},{c},,{v},{flag}\n" for u, c, v, flag in rows)
    f = write(tmp_path / "opsd_household_DE_X_60min.csv", header + body)
    t = load_opsd(f)
    assert t.home == "opsd/DE_X"
    # 01→02: 300 W, 02→03: 500 W (interpolated end kept), 03 missing, 05→06 reset, 06→07: 100 W
    assert t.ts.tolist() == [
        seoul("2016-01-01T01:00"),
        seoul("2016-01-01T02:00"),
        seoul("2016-01-01T06:00"),
    ]
    assert t.watts.tolist() == pytest.approx([300.0, 500.0, 100.0])
    strict = load_opsd(f, keep_interpolated=False)
    assert strict.watts.tolist() == pytest.approx([300.0, 100.0])


def test_uci_minutes_averaged_and_sparse_intervals_dropped(tmp_path):
    lines = ["Date;Time;Global_active_power;Global_reactive_power"]
    lines += [f"16/12/2006;17:{m:02d}:00;{1 + m % 2:.3f};0.1" for m in range(10)]
    lines += ["16/12/2006;17:10:00;?;?", "16/12/2006;17:11:00;3.000;0.1"]
    t = load_uci(write(tmp_path / "uci.txt", "\n".join(lines) + "\n"), step_s=600)
    assert t.ts.tolist() == [seoul("2006-12-16T17:00")]
    assert t.watts.tolist() == pytest.approx([1500.0])
    assert t.dropped == 2  # the '?' minute and the lone minute of an interval


def test_wrong_columns_and_missing_files_are_named(tmp_path):
    with pytest.raises(DatasetError, match="expected columns LCLid"):
        load_london(write(tmp_path / "x.csv", "a,b,c\n1,2,3\n"))
    with pytest.raises(DatasetError, match="no such file"):
        load_hue(tmp_path / "nothing.csv")
    traces, notes = load_real(tmp_path)
    assert traces == [] and len(notes) >= 3


def test_split_at_gaps_names_the_pieces(tmp_path):
    t = load_hue(
        write(
            tmp_path / "h.csv",
            "date,hour,energy_kWh\n1/1/2013,0,1\n1/1/2013,1,1\n1/2/2013,5,1\n1/2/2013,6,1\n",
        )
    )
    pieces = split_at_gaps(t, max_gap_s=12 * 3600)
    assert [p.home for p in pieces] == ["hue/residential_1", "hue/residential_1#2"]
    assert [len(p.ts) for p in pieces] == [2, 2]


def test_hourly_means_are_whole_clock_hours_of_a_half_hourly_meter():
    """The tune part's half-hourly London meters as an hourly meter would read them: the mean
    of each whole hour, stamped at its start; an hour missing a reading is left out."""
    from dashboard.evaluation import commands

    t0 = seoul("2013-01-01T00:00:00")
    ts = np.array([t0, t0 + 1800, t0 + 3600, t0 + 7200, t0 + 9000], dtype=np.int64)
    half = Trace("london/MAC000002", "london", 1800, ts, np.array([100.0, 300.0, 50.0, 10.0, 30.0]))
    hourly = hourly_means(half)
    assert hourly.home == "london/MAC000002@1h" and hourly.step_s == 3600
    assert hourly.ts.tolist() == [t0, t0 + 7200]  # 01:00 has one of its two readings
    assert hourly.watts.tolist() == [200.0, 20.0]
    assert commands.part_of(hourly) == "tune"
    assert commands.part_of(replace(hourly, home="london/MAC000004@1h")) == "report"


def test_demo_households_come_from_the_demo_generator():
    a = demo_traces(2, 30, seed=5)
    b = demo_traces(2, 30, seed=5)
    assert [len(t.ts) for t in a] == [30 * 24, 30 * 24]
    assert np.array_equal(a[1].watts, b[1].watts) and a[0].lux is not None
    assert np.all(np.diff(a[0].ts) == 3600)
    # A TV plug: standby most hours, a TV's draw some hours.
    assert np.percentile(a[0].watts, 50) < 3 < 50 < a[0].watts.max()


def test_demo_households_know_their_unattended_light_and_keep_it_when_cut():
    t = demo_traces(1, 30, seed=5)[0]
    assert t.unattended_lux is not None and len(t.unattended_lux) == len(t.ts)
    h = ((t.ts + 9 * 3600) % 86400) // 3600
    dark = (h < 6) | (h >= 20)
    assert np.all(t.unattended_lux[dark] == pytest.approx(1.5))  # no lamp, no TV glow
    assert np.all(t.unattended_lux <= t.lux + 6)  # the room with its person, noise aside
    assert t.unattended_lux[h == 13].min() > 10  # daylight at noon
    w = t.window(int(t.ts[24]), int(t.ts[48]))
    assert np.array_equal(w.unattended_lux, t.unattended_lux[24:48])
    gappy = replace(t, ts=np.where(np.arange(len(t.ts)) < 100, t.ts, t.ts + 86400))
    pieces = split_at_gaps(gappy)
    assert [len(p.unattended_lux) for p in pieces] == [100, len(t.ts) - 100]
    assert np.array_equal(pieces[1].unattended_lux, t.unattended_lux[100:])
    with pytest.raises(ValueError, match="different lengths"):
        replace(t, unattended_lux=t.unattended_lux[:-1])


@pytest.mark.skipif(not DEFAULT_ROOT.is_dir(), reason="../shared/realdata not present")
def test_the_real_files_load_whole():
    traces, notes = load_real()
    assert notes == []
    by = {t.home: t for t in traces}
    london = by["london/MAC000002"]
    assert london.watts[0] == pytest.approx(438.0)  # 0.219 kWh in the first half hour
    assert london.days == pytest.approx(365, abs=0.1)
    assert by["hue/residential_1"].days > 1200
    assert len(split_at_gaps(by["opsd/DE_KN_residential4"], min_days=34)) == 3
