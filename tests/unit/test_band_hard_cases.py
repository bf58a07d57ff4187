"""The band test on the cases a hostile review replayed: a Wi-Fi drop during a collapse and under
an open alert, a TV that switches itself off, a plug whose band breaks only at Wi-Fi drops, and
heartbeats that move the band's time (each failed before the fix it is named for)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from dashboard.db.schema import Alert
from dashboard.ingest import ingest_events
from dashboard.rules.engine import run_silence_tick
from tests.ingest_support import VENDOR, seed_catalog
from tests.unit.test_band import HISTORY, home_history, power_event
from tests.unit.test_detection import DAY0, TH, ingest_day, local


def heartbeat(ts: datetime, uid: str) -> dict:
    return {"event_id": uid, "device_id": "plug-1", "ts": ts.isoformat(), "type": "heartbeat"}


def _band_alert_after(engine, tail: list[dict]) -> tuple | None:
    """The collapse of test_band's whole path up to 09:00 on day 21 (38.5 h into a band whose
    threshold is 39 h), then ``tail``, each event ingested at its time with a tick after it."""
    with engine.begin() as conn:
        plug = seed_catalog(conn)["plug-1"]
    events = home_history(HISTORY + 2)
    for d in range(HISTORY):
        ingest_day(engine, events, DAY0 + timedelta(days=d))
    start = local(DAY0 + timedelta(days=HISTORY), 0)
    cut = local(DAY0 + timedelta(days=HISTORY + 1), 9, 0)
    collapse = [e for e in events if start <= datetime.fromisoformat(e["ts"]) <= cut]
    for e in collapse + tail:
        ts = datetime.fromisoformat(e["ts"]).astimezone(UTC)
        with engine.begin() as conn:
            ingest_events(conn, VENDOR, [e], now=ts)
            run_silence_tick(conn, ts, TH)
    with engine.connect() as conn:
        return conn.execute(
            select(Alert.stage, Alert.opened_at).where(
                Alert.device_id == plug, Alert.rule == "plug_no_change"
            )
        ).first()


@pytest.mark.parametrize("kind", ["power", "heartbeat"])
def test_a_heartbeat_moves_the_band_clock_and_the_prefilter_sees_the_record(db_engine, kind):
    """A plug that reports power only on a change, with a 10-minute heartbeat: after 09:00 the
    line stays at 120 W (no power event), only heartbeats come. The rule judges the band up to
    last_seen_at, which heartbeats move: 39 h at 09:30. With a power reading of the same 120 W
    at 09:30 the alert opens, and with heartbeats only as well: ingest reads the record of a
    plug with a band for its heartbeats too (before, the pre-filter dropped it and the alert
    waited for the tick's routine candidate, 90 min later)."""
    day = DAY0 + timedelta(days=HISTORY + 1)
    tail = []
    for k in range(1, 37):  # 09:10 .. 15:00
        ts = local(day, 9, 0) + timedelta(minutes=10 * k)
        if kind == "power" and k == 3:
            tail.append(power_event(ts, 120.0, f"p{k}"))
        else:
            tail.append(heartbeat(ts, f"hb{k}"))
    alert = _band_alert_after(db_engine, tail)
    # 09:30 local (00:30 UTC), when the band reaches 3 x 13 h; heartbeats only: 11:00 (the
    # tick's routine candidate at min_quiet_h = 2 h after the last change), not by the band
    assert alert is not None and alert.opened_at == datetime(2026, 10, 22, 0, 30, tzinfo=UTC), (
        kind,
        alert,
    )


# --- replay reproductions (the CLI's fast path; the exact path gives the same transitions) ---

T0 = datetime(2026, 9, 1)  # local (Asia/Seoul) times in the CSVs


def _home_w(slot: int, ts: datetime, collapse: datetime, tv_off: datetime | None) -> float:
    """test_band's home (kettle 07:30 and 18:00, record 13 h); after ``collapse`` a 30↔120 W
    cycle, +100 W of a TV left on until ``tv_off`` (its auto-off) when given."""
    if ts >= collapse:
        tv = 100.0 if tv_off is not None and ts < tv_off else 0.0
        return (120.0 if slot % 2 else 30.0) + tv
    if slot in (15, 36):
        return 2000.0
    if slot < 12:
        return 62.0 if slot % 2 else 60.0
    return 110.0 if slot % 2 else 40.0


def _replay(tmp_path, name: str, rows: list[tuple[datetime, float]]) -> list[tuple]:
    import json
    import os
    import subprocess
    import sys
    from pathlib import Path

    src = tmp_path / f"{name}.csv"
    src.write_text(
        "device_id,ts,watts\n" + "".join(f"{name},{ts.isoformat()},{w}\n" for ts, w in rows)
    )
    out = tmp_path / f"{name}.json"
    root = Path(__file__).resolve().parents[2]
    cmd = [sys.executable, "-m", "dashboard", "replay", "--type", "plug"]
    subprocess.run(
        [*cmd, "--input", str(src), "--json", str(out)],
        check=True,
        cwd=root,
        env=os.environ | {"PYTHONPATH": str(root)},
        capture_output=True,
    )
    return [
        (t["stage"], t["at"][:16])
        for t in json.loads(out.read_text())["transitions"]
        if t["rule"] == "plug_no_change"
    ]


def _home(days: int, gaps=(), tv_off: datetime | None = None) -> list[tuple[datetime, float]]:
    collapse = T0 + timedelta(days=30, hours=6)
    rows = []
    for d in range(days):
        for slot in range(48):
            ts = T0 + timedelta(days=d, minutes=30 * slot)
            if not any(a <= ts < b for a, b in gaps):
                rows.append((ts, _home_w(slot, ts, collapse, tv_off)))
    return rows


def test_a_wifi_drop_during_a_collapse_does_not_delay_the_band_alert_by_days(tmp_path):
    """Collapse 10-01 06:00 (band since 09-30 18:30, record 13 h): 관심 10-02 09:30 without a
    gap. A 2 h Wi-Fi drop at 10-02 00:00 (30 h in) is neither band time nor a break: 관심 2 h
    later at the next half-hourly reading, 위험 likewise. (Before: the drop broke the band and
    the learning took the collapse's own 31.5 h band as the record: 관심 only on 10-06.)"""
    gap = (T0 + timedelta(days=31), T0 + timedelta(days=31, hours=2))
    got = _replay(tmp_path, "gap", _home(36, gaps=[gap]))
    assert got == [("attention", "2026-10-02T12:00"), ("risk", "2026-10-04T03:00")], got


def test_a_wifi_drop_under_an_open_band_alert_does_not_freeze_its_escalation(tmp_path):
    """관심 10-02 09:30; a 2 h drop at 10-03 12:00: the alert is held and escalates 2.5 h later
    than without the drop (위험 10-04 00:30 → 03:00), 심각 after. (Before: the record learned the
    collapse's 67.5 h band, T = 202 h, and 위험 never came by 10-10.)"""
    gap = (T0 + timedelta(days=32, hours=12), T0 + timedelta(days=32, hours=14))
    got = _replay(tmp_path, "gap2", _home(40, gaps=[gap]))
    assert got == [
        ("attention", "2026-10-02T09:30"),
        ("risk", "2026-10-04T03:00"),
        ("severe", "2026-10-07T09:00"),
    ], got


def test_a_tv_switching_itself_off_does_not_close_the_band_alert_as_safe(tmp_path):
    """Collapse with the TV on (10-01 06:00); 관심 10-02 21:30; the TV's auto-off at 10-03
    00:00 (a drop of 100 W, nobody there) keeps the alert open (only a load added beyond the
    band closes it) and breaks the band; the collapse's own 41.5 h band, 3 × the home's 13 h,
    is left out of the record, so the new band escalates at 78 h. (Before: closed as a sign of
    life at the auto-off, reopened only on 10-08.)"""
    got = _replay(tmp_path, "tvoff", _home(38, tv_off=T0 + timedelta(days=32)))
    assert got == [("attention", "2026-10-02T21:30"), ("risk", "2026-10-06T06:00")], got


def test_a_plug_whose_band_breaks_only_at_wifi_drops_does_not_alert_a_living_person(tmp_path):
    """A TV plug (1 W standby, 85 W 09–12 and 19–23 daily: the person switches it every day),
    10-minute readings, a 2 h router outage 02:00–04:00 on its first 35 nights: the band (< 100
    W) never breaks: outages are not breaks, so there is no record and no alert. (Before: the
    outages broke it, the record (24 h) measured the Wi-Fi, and once they stopped a person
    switching the TV twice a day got 관심 at 72 h and 위험 at 144 h.)"""
    rows = []
    for d in range(45):
        for m in range(0, 1440, 10):
            ts = T0 + timedelta(days=d, minutes=m)
            h = ts.hour + ts.minute / 60
            if d < 35 and 2 <= h < 4:
                continue
            on = 9 <= h < 12 or 19 <= h < 23
            rows.append((ts, (85.0 if on else 1.0) + (m // 10) % 3 * 0.5))
    got = _replay(tmp_path, "tv", rows)
    assert got == [], got
