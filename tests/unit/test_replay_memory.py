"""A replay holds every reading of its input: kept small, and still what the product is sent.

The readings are held in columns (``replay.readings``), not as the vendor event dict and the
validated event each (≈ 1.3 KB a reading with the copy moved to the home's clock; a year of
8-second readings would not fit). The dict ingest is sent and the event the mirrors merge are
rebuilt from them: they must be exactly what the reader built and the validator returned
(docs/replay.md).
"""

from __future__ import annotations

import gc
import tracemalloc
from dataclasses import replace
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from dashboard.replay import inputs, read_recording
from dashboard.replay.relocate import relocated
from tests.replay_support import write_csv

PARIS = ZoneInfo("Europe/Paris")
LONDON = ZoneInfo("Europe/London")
SEOUL = ZoneInfo("Asia/Seoul")
# Bytes per reading held, as tracemalloc counts them on 20,000 plug rows (2026-12-07): ≈ 80
# read, ≈ 105 with the copy on the home's clock, ≈ 145 at the peak of moving it; ≈ 810,
# ≈ 1,290 and more when a reading kept its event dict and validated event, ≈ 320 and ≈ 490
# as a tuple each. The bounds leave room for another Python or NumPy.
READ_MAX_B = 200
RELOCATED_MAX_B = 300
PEAK_MAX_B = 400


def _checked(monkeypatch) -> list[tuple[dict, object]]:
    """Every (dict, validator result) the reader makes, in order."""
    seen: list[tuple[dict, object]] = []
    validate = inputs.validate_event

    def spy(index, raw, zone=None):
        checked = validate(index, raw, zone)
        seen.append((dict(raw), checked))
        return checked

    monkeypatch.setattr(inputs, "validate_event", spy)
    return seen


def _kept(recording, seen) -> None:
    """Each reading rebuilds the dict the reader validated (keys in order, values and their
    types) and the event the validator returned for it."""
    by_id = {raw["event_id"]: (raw, checked) for raw, checked in seen}
    assert recording.readings
    for reading in recording.readings:
        assert not any(isinstance(value, dict) for value in reading)  # no dict kept
        raw, checked = by_id[reading.event_uid]
        if reading.ts != checked.ts:  # a repeated hour's second occurrence, read as such
            raw = raw | {"ts": reading.ts.isoformat()}
            checked = replace(checked, ts=reading.ts)
        rebuilt = reading.raw
        assert list(rebuilt.items()) == list(raw.items())
        assert [type(v) for v in rebuilt.values()] == [type(v) for v in raw.values()]
        assert reading.event == checked


def test_a_plug_reading_rebuilds_the_event_ingest_is_sent(tmp_path, monkeypatch):
    seen = _checked(monkeypatch)
    rows = [
        ("a", "2024-03-01T09:00", "120.5", "30"),
        ("a", "2024-03-01 09:10:00.250", "", "45"),  # light only
        ("b", "2024-03-01T00:20:00Z", "7", ""),  # power only, with an offset
        ("a", "2024-03-01T09:30:00+09:00", "NaN", "null"),  # no reading: skipped
        ("b", "2024-03-01T09:05", "0", "0"),  # out of order
    ]
    src = write_csv(tmp_path / "p.csv", ("device_id", "ts", "watts", "lux"), rows)
    recording = read_recording(src, "plug", SEOUL)
    assert [(r.device_uid, r.type) for r in recording.readings] == [
        ("a", "power"),
        ("a", "lux"),
        ("b", "power"),
        ("b", "lux"),
        ("a", "lux"),
        ("b", "power"),
    ]
    _kept(recording, seen)
    # every reading of a device shares one device id string
    assert len({id(r.device_uid) for r in recording.readings}) == 2


def test_a_position_rebuilds_with_and_without_its_accuracy(tmp_path, monkeypatch):
    seen = _checked(monkeypatch)
    rows = [
        ("w", "2024-05-10T13:00:00+09:00", "37.65", "126.77", "12"),
        ("w", "2024-05-10T13:05:00+09:00", "37.66", "126.78", ""),
    ]
    src = write_csv(tmp_path / "w.csv", ("device_id", "ts", "lat", "lon", "accuracy_m"), rows)
    homes = write_csv(
        tmp_path / "h.csv", ("device_id", "lat", "lon", "radius_m"), [("w", 37.65, 126.77, 300)]
    )
    _kept(read_recording(src, "wandering", SEOUL, homes), seen)


def test_a_repeated_hour_and_a_moved_reading_are_sent_with_their_offset(tmp_path, monkeypatch):
    """The autumn hour's second occurrence (read in file order) is sent with its offset, as
    every reading moved to the home's clock is; the validated time is the one replayed."""
    seen = _checked(monkeypatch)
    rows = [("p", f"2024-10-27T0{h}:{m:02d}:00", 50.0 + m) for h in (0, 1) for m in (0, 30)]
    rows += [("p", "2024-10-27T01:00:00", 1.0), ("p", "2024-10-27T02:00:00", 2.0)]
    src = write_csv(tmp_path / "l.csv", ("device_id", "ts", "watts"), rows)
    recording = read_recording(src, "plug", LONDON)
    _kept(recording, seen)
    second = [r for r in recording.readings if r.ts.astimezone(LONDON).fold]
    assert len(second) == 1 and second[0].raw["ts"] == second[0].ts.isoformat()
    assert second[0].event.naive_ts  # as the reader left it (the file wrote no offset)
    local = relocated(recording, LONDON)
    assert len(local.readings) == len(recording.readings) - 1  # the second occurrence dropped
    for moved in local.readings:
        assert moved.raw["ts"] == moved.ts.isoformat() and not moved.event.naive_ts
        original = next(r for r in recording.readings if r.index == moved.index)
        assert moved.raw | {"ts": None} == original.raw | {"ts": None}


def _year_rows(n: int) -> list[tuple[str, str, float]]:
    start = datetime(2024, 1, 1)
    return [
        ("home", (start + timedelta(minutes=k)).strftime("%Y-%m-%dT%H:%M:%S"), float(k % 977))
        for k in range(n)
    ]


def test_memory_per_reading_held_stays_small(tmp_path):
    """Bytes per reading of a 20,000-row file of 1-minute readings, read
    (``read_recording``) and then moved to the home's clock (``relocated``), both kept as a
    replay keeps them."""
    n = 20_000
    src = write_csv(tmp_path / "year.csv", ("device_id", "ts", "watts"), _year_rows(n))
    gc.collect()
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        recording = read_recording(src, "plug", PARIS)
        gc.collect()
        read = tracemalloc.get_traced_memory()[0] - before
        local = relocated(recording, PARIS)
        gc.collect()
        both, peak = (m - before for m in tracemalloc.get_traced_memory())
    finally:
        tracemalloc.stop()
    assert len(recording.readings) == len(local.readings) == n
    assert read / n < READ_MAX_B, f"{read / n:.0f} B per reading read"
    assert both / n < RELOCATED_MAX_B, f"{both / n:.0f} B per reading with the moved copy"
    assert peak / n < PEAK_MAX_B, f"{peak / n:.0f} B per reading at the peak"


def test_the_columns_hand_out_the_readings_in_time_then_file_order(tmp_path):
    rows = [("a", "2024-03-01T09:10", 5.0), ("b", "2024-03-01T09:00", 6.0)]
    rows += [("a", "2024-03-01T09:00", 7.0), ("b", "2024-03-01T09:10", 8.0)]
    src = write_csv(tmp_path / "p.csv", ("device_id", "ts", "watts"), rows)
    readings = read_recording(src, "plug", SEOUL).readings
    every = [readings[i] for i in range(len(readings))]
    assert [(r.device_uid, r.numbers) for r in every] == [
        ("b", 6.0),
        ("a", 7.0),
        ("a", 5.0),
        ("b", 8.0),
    ]
    assert list(readings) == every == readings[:] and readings[-1] == every[-1]
    assert readings[1:3] == every[1:3]
    assert [readings.times[i] for i in range(len(readings))] == [r.ts for r in every]
    assert readings.times[-1] == every[-1].ts
