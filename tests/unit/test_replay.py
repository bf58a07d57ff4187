"""``replay``: the output contract, the simulated clock, the plug ladder and a wandering walk."""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from dashboard.cli import main
from dashboard.ops.retention import MIN_RETENTION_DAYS
from dashboard.replay import read_recording, replay
from dashboard.replay.output import KEYS
from dashboard.rules.config import current_thresholds
from dashboard.rules.geofence_eval import (
    DEFAULT_DATA,
    Score,
    load_tracks,
    replay_run,
    run_rules,
    score,
)
from tests.replay_support import HOME, SEOUL, plug_rows, walk_rows, write_csv

T0 = datetime(2024, 3, 1, 0, 0, tzinfo=SEOUL)


def _plug_file(tmp_path, rows, name="plug.csv"):
    return write_csv(tmp_path / name, ("device_id", "ts", "watts"), rows)


def _at(record) -> datetime:
    return datetime.fromisoformat(record["at"])


def test_a_flat_line_raises_the_ladder_and_activity_closes_it_in_the_output_format(tmp_path):
    # Changing readings until 03-02 12:00, flat until 03-05 00:00 (60 h), then a change.
    quiet_from = T0 + timedelta(hours=36)
    rows = plug_rows("home-1", T0, quiet_from + timedelta(minutes=1), T0 + timedelta(days=5))
    rows.append(("home-1", (T0 + timedelta(days=4, minutes=5)).isoformat(), 500.0))
    rows.sort(key=lambda r: r[1])
    src, out = _plug_file(tmp_path, rows), tmp_path / "out.json"

    assert main(["replay", "--type", "plug", "--input", str(src), "--json", str(out)]) == 0

    doc = json.loads(out.read_text(encoding="utf-8"))
    assert list(doc) == ["transitions"]
    records = doc["transitions"]
    assert all(list(r) == list(KEYS) for r in records)
    assert [(r["rule"], r["kind"], r["stage"]) for r in records] == [
        ("plug_no_change", "person", "attention"),
        ("plug_no_change", "person", "risk"),
        ("plug_no_change", "person", "severe"),
        ("plug_no_change", "person", None),
    ]
    assert {r["device_id"] for r in records} == {"home-1"}
    # The last change was the reading at quiet_from (12:00, on the tick grid): the ladder fires
    # at exactly 24 / 36 / 48 h, and the change at 03-05 00:05 closes it on arrival.
    assert [_at(r) for r in records] == [
        quiet_from + timedelta(hours=24),
        quiet_from + timedelta(hours=36),
        quiet_from + timedelta(hours=48),
        T0 + timedelta(days=4, minutes=5),
    ]
    assert all(r["at"].endswith("+09:00") for r in records)
    assert records[0]["explanation"].startswith(
        "No change in power or light since 2024-03-02 12:00 (24 h)"
    )
    assert records[-1]["explanation"] == (
        "Power or light changed again at 2024-03-05 00:05 (a sign of life)."
    )


def test_a_stage_is_reached_at_the_next_tick_or_reading_whichever_comes_first(tmp_path):
    # Readings every 25 min from 00:07 (none exactly 24 h after another); the last change is
    # the reading at 03-02 10:17. 24 h after it, the 10-minute worker ticks at 10:20, before
    # the next reading (10:27); with 30-minute ticks (10:30) that reading's own ingest comes
    # first and its rules open the alert on arrival.
    start = T0 + timedelta(minutes=7)
    step = timedelta(minutes=25)
    last_change = start + 82 * step
    rows = plug_rows(
        "p", start, last_change + timedelta(minutes=1), start + timedelta(days=4), step
    )
    src = _plug_file(tmp_path, rows)
    for tick_min, first_alert in ((10, "2024-03-03T10:20"), (30, "2024-03-03T10:27")):
        result = replay(read_recording(src, "plug", SEOUL), tick_min=tick_min)
        stages = [(t.stage, f"{t.at.astimezone(SEOUL):%Y-%m-%dT%H:%M}") for t in result.transitions]
        assert stages[0] == ("attention", first_alert), tick_min
        assert [s for s, _ in stages] == ["attention", "risk", "severe"]


def test_naive_timestamps_are_read_in_tz_and_the_output_is_in_tz(tmp_path):
    berlin = ZoneInfo("Europe/Berlin")
    start = datetime(2024, 3, 1, 8, 0, tzinfo=berlin)
    rows = plug_rows("h", start, start + timedelta(hours=6), start + timedelta(days=3))
    aware = _plug_file(tmp_path, rows, "aware.csv")
    naive = _plug_file(
        tmp_path, [(d, ts[:19], w) for d, ts, w in rows], "naive.csv"
    )  # "2024-03-01T08:00:00", no offset
    outs = {}
    for name, src, tz in (("aware", aware, "Asia/Seoul"), ("naive", naive, "Europe/Berlin")):
        out = tmp_path / f"{name}.json"
        argv = ["replay", "--type", "plug", "--input", str(src), "--tz", tz]
        assert main([*argv, "--json", str(out)]) == 0
        outs[name] = json.loads(out.read_text())["transitions"]
    assert [r["stage"] for r in outs["naive"]] == ["attention", "risk", "severe"]
    # The same instants, written in each run's --tz.
    assert [_at(r) for r in outs["naive"]] == [_at(r) for r in outs["aware"]]
    assert outs["naive"][0]["at"] == "2024-03-02T13:30:00+01:00"  # last change 13:30
    assert outs["aware"][0]["at"] == "2024-03-02T21:30:00+09:00"
    # Read as Seoul time instead, the same naive file is 8 hours earlier.
    seoul = replay(read_recording(naive, "plug", SEOUL))
    assert seoul.transitions[0].at == _at(outs["naive"][0]) - timedelta(hours=8)


def test_a_reporting_gap_is_a_device_fault_that_closes_when_readings_resume(tmp_path):
    gap = (T0 + timedelta(hours=10), T0 + timedelta(hours=13, minutes=30))
    rows = plug_rows("p", T0, T0 + timedelta(days=2), T0 + timedelta(hours=20), gaps=[gap])
    result = replay(read_recording(_plug_file(tmp_path, rows), "plug", SEOUL))
    assert [(t.rule, t.kind, t.stage, t.at) for t in result.transitions] == [
        # Last reading 09:30; the plug timeout is 2 h: the tick after 11:30 opens the fault.
        ("device_silent", "device_fault", "attention", T0 + timedelta(hours=11, minutes=40)),
        ("device_silent", "device_fault", None, gap[1]),
    ]
    assert result.transitions[0].explanation == (
        "Nothing received from the device since 2024-03-01 09:30 (2.17 h; the timeout is 2 h)."
    )


def test_a_walk_that_leaves_the_zone_and_returns(tmp_path):
    # One fix a minute (accuracy 10 m) from 13:00: 50 m from home; out to 850 m (13:30-13:49)
    # and on to 2,050 m (13:50-14:09, walking: not "stopped"); no fix for 45 min; back to 50 m
    # (14:55-15:24); 40 m to 16:04.
    start = datetime(2024, 5, 10, 13, 0, tzinfo=SEOUL)
    legs = [
        (30, 50, 50),
        (20, 50, 850),
        (20, 850, 2050),
        (45, -1, -1),
        (30, 2050, 50),
        (30, 40, 40),
    ]
    src = write_csv(
        tmp_path / "walk.csv",
        ("device_id", "ts", "lat", "lon", "accuracy_m"),
        walk_rows("walker-7", start, legs),
    )
    homes = write_csv(
        tmp_path / "homes.csv", ("device_id", "lat", "lon", "radius_m"), [("walker-7", *HOME, 300)]
    )
    out = tmp_path / "out.json"
    argv = ["replay", "--type", "wandering", "--input", str(src), "--homes", str(homes)]
    assert main([*argv, "--json", str(out)]) == 0
    records = json.loads(out.read_text())["transitions"]
    # The geofence (docs/rules.md): the 13:36 fix (302 m) is past the edge by less than its
    # accuracy, so the crossing is the 13:37 fix (345 m, past it by more than the 25 m
    # margin); the exit is confirmed 1.5 min later, at the next fix (13:39), alerted on
    # arrival, not at the next tick: 관심. 위험 15 min after the crossing (13:52, before 1 km);
    # 심각 45 min after it (14:22) falls in the gap: the 14:30 tick. The last fix (14:09) was
    # walking, so lost after 30 min: the 14:40 tick opens wander_no_position; the fix at 14:55
    # closes it. Inside by the margin at 15:21 (257 m): back to 관심 (returning, one alert
    # follows its stage down); confirmed 5 min later at the 15:26 fix: closed.
    assert [(r["rule"], r["stage"], _at(r).strftime("%H:%M")) for r in records] == [
        ("wander_left_zone", "attention", "13:39"),
        ("wander_left_zone", "risk", "13:52"),
        ("wander_left_zone", "severe", "14:30"),
        ("wander_no_position", "severe", "14:40"),
        ("wander_no_position", None, "14:55"),
        ("wander_left_zone", "attention", "15:21"),
        ("wander_left_zone", None, "15:26"),
    ]
    said = [r["explanation"] for r in records]
    assert said[0] == (
        "Outside the 300 m safe zone since 2024-05-10 13:37 (2 min): the position at "
        "2024-05-10 13:39 is 428 m from home."
    )
    assert said[1].endswith("is 975 m from home; risk (위험) by time outside.")
    assert said[2].startswith("Outside the 300 m safe zone since 2024-05-10 13:37 (53 min)")
    assert said[2].endswith(
        "at 2024-05-10 14:09 is 2048 m from home; severe (심각) by time outside."
    )
    assert said[3] == (
        "Outside the safe zone (2048 m from home at 2024-05-10 14:09) and no position for 31 min."
    )
    assert said[5] == (
        "Coming back: the position at 2024-05-10 15:21 is 257 m from home, inside the 300 m safe"
        " zone since 2024-05-10 15:21, after leaving it at 2024-05-10 13:37 (not yet confirmed)."
    )
    assert said[6] == "Back inside the 300 m safe zone (40 m from home)."


def test_a_stop_outside_waits_longer_before_lost_and_night_is_severe_at_once(tmp_path):
    # 23:00 Seoul (the night): out to 600 m and standing there for 20 min, then no fix for
    # 60 min (under the 90 min a stop allows: someone indoors, where GPS rarely fixes), past
    # midnight (the daily jobs run); one fix there again (00:40) ends the recording.
    start = datetime(2024, 5, 10, 23, 0, tzinfo=SEOUL)
    legs = [(10, 50, 50), (10, 50, 600), (20, 600, 600), (60, -1, -1), (1, 600, 600)]
    src = write_csv(
        tmp_path / "walk.csv",
        ("device_id", "ts", "lat", "lon", "accuracy_m"),
        walk_rows("night-1", start, legs),
    )
    homes = write_csv(
        tmp_path / "homes.csv", ("device_id", "lat", "lon", "radius_m"), [("night-1", *HOME, 300)]
    )
    result = replay(read_recording(src, "wandering", SEOUL, homes), tick_min=5)
    got = [(t.rule, t.stage, f"{t.at.astimezone(SEOUL):%H:%M}") for t in result.transitions]
    # Crossing at 23:15 (the first fix past 300 m by more than its accuracy: 355 m), confirmed
    # at the 23:17 fix; the night makes it 심각 at once. 60 min without a fix after stopping:
    # no lost-position alert (that needs 90), and the detector's 1 h timeout is not passed.
    assert got == [("wander_left_zone", "severe", "23:17")]
    assert result.transitions[0].explanation.endswith(
        "severe (심각) by the night or the person's quiet hours."
    )


def test_a_day_without_readings_is_a_device_fault_not_a_person_alert(tmp_path):
    """Issue #9: a dead device is a device fault, not a person alert. A recording with a 30 h
    hole (a router down) between busy days: the plug's silence ticket opens after its 2 h
    timeout, 위험 a day later, and closes at the first reading back; no plug alert, although
    the hole is longer than the ladder's 24 h (before 2026-12-06 it opened 관심 at 24 h)."""
    gap = (T0 + timedelta(days=1, hours=6), T0 + timedelta(days=2, hours=12))
    end = T0 + timedelta(days=4)
    rows = plug_rows("home-1", T0, end, end, gaps=[gap])
    result = replay(read_recording(_plug_file(tmp_path, rows), "plug", SEOUL))
    local = [(t.rule, t.stage, f"{t.at.astimezone(SEOUL):%d %H:%M}") for t in result.transitions]
    assert local == [
        ("device_silent", "attention", "02 07:40"),  # last reading 05:30, timeout 2 h
        ("device_silent", "risk", "03 07:30"),  # 24 h more
        ("device_silent", None, "03 12:00"),  # the first reading back
    ]


def test_several_devices_are_several_people_on_one_clock(tmp_path):
    # a: changes until 02:00, readings until day 2 06:00; b: from 05:00 (installed then), busy
    # until day 3. The clock runs to the file's last reading, so after a's readings end a is
    # silent (a device fault) and the plug alert it opened on watched quiet keeps its clock
    # (a silence alone would open none: rules.plug.watched_until); b raises nothing, not even a
    # fault for the hours before its first reading.
    a = plug_rows("a", T0, T0 + timedelta(hours=2), T0 + timedelta(days=1, hours=6))
    b = plug_rows("b", T0 + timedelta(hours=5), T0 + timedelta(days=3), T0 + timedelta(days=3))
    src = _plug_file(tmp_path, sorted(a + b, key=lambda r: r[1]))
    result = replay(read_recording(src, "plug", SEOUL))
    assert result.devices == 2
    local = [
        (t.device_id, t.rule, t.stage, f"{t.at.astimezone(SEOUL):%d %H:%M}")
        for t in result.transitions
    ]
    assert local == [
        ("a", "plug_no_change", "attention", "02 01:30"),  # last change 01:30
        ("a", "device_silent", "attention", "02 08:10"),  # last reading 06:00, timeout 2 h
        ("a", "plug_no_change", "risk", "02 13:30"),
        ("a", "plug_no_change", "severe", "03 01:30"),
        ("a", "device_silent", "risk", "03 08:00"),  # 24 h more
    ]


def test_the_daily_jobs_run_at_each_seoul_midnight(tmp_path, monkeypatch):
    from dashboard.replay import session

    calls: list[datetime] = []
    real = session.daily_rules_jobs

    def recording_daily_rules_jobs(engine, now):
        calls.append(now)
        real(engine, now)

    monkeypatch.setattr(session, "daily_rules_jobs", recording_daily_rules_jobs)
    rows = plug_rows(
        "p", T0 + timedelta(hours=15), T0 + timedelta(days=9), T0 + timedelta(days=3, hours=2)
    )
    for exact in (False, True):
        calls.clear()
        replay(read_recording(_plug_file(tmp_path, rows), "plug", SEOUL), tick_min=60, exact=exact)
        assert [c.astimezone(SEOUL) for c in calls] == [
            T0 + timedelta(days=d) for d in (1, 2, 3)
        ], exact


def test_the_workers_upkeep_changes_no_alert_so_replay_skips_it(tmp_path, monkeypatch):
    """Replay runs only ``daily_rules_jobs``; with the worker's whole ``daily_jobs`` (partitions,
    purge, recount, retention past a short retention, checkpoints) every transition is the
    same, over 40 days of history (a routine learned, old events expired) and a stop after it."""
    from dashboard.replay import session
    from dashboard.rules import worker

    rows = plug_rows("p", T0, T0 + timedelta(days=40, hours=11), T0 + timedelta(days=43))
    src = _plug_file(tmp_path, rows)

    def run() -> list[tuple]:
        result = replay(read_recording(src, "plug", SEOUL), tick_min=30)
        return [(t.rule, t.kind, t.stage, t.at, t.explanation) for t in result.transitions]

    rules_only = run()
    upkeep: list[int] = []  # events each midnight's retention deleted
    real_retention = worker.daily_retention

    def counted_retention(engine, now):
        # The shortest retention, passed as the argument: ``get_settings`` is cached per
        # process, so an environment variable set here is not read once another test has
        # asked for the settings (the test then expired nothing and proved nothing).
        report = real_retention(engine, now, MIN_RETENTION_DAYS)
        upkeep.append(report.events)
        return report

    monkeypatch.setattr(worker, "daily_retention", counted_retention)
    monkeypatch.setattr(session, "daily_rules_jobs", worker.daily_jobs)
    assert run() == rules_only and any(t[2] is not None for t in rules_only)
    assert len(upkeep) >= 40 and sum(upkeep) > 0  # it ran every midnight and expired events


@pytest.mark.parametrize("tick", ["7", "0", "-10", "2000"])
def test_a_tick_must_divide_a_day(tmp_path, capsys, tick):
    src = _plug_file(tmp_path, plug_rows("p", T0, T0, T0 + timedelta(hours=3)))
    out = tmp_path / "out.json"
    argv = ["replay", "--type", "plug", "--input", str(src), "--tick-min", tick]
    assert main([*argv, "--json", str(out)]) == 2
    assert "--tick-min must be a number of minutes that divides a day" in capsys.readouterr().err
    assert not out.exists()


def test_the_fast_path_skips_the_database_between_transitions(tmp_path):
    rows = plug_rows("p", T0, T0 + timedelta(days=1), T0 + timedelta(days=4))
    result = replay(read_recording(_plug_file(tmp_path, rows), "plug", SEOUL))
    assert result.moments > 500
    assert result.counts.ticks <= 4  # one per transition at most, not one per 10 minutes
    assert result.counts.batches <= 4 + 4  # the first reading, daily flushes, transitions
    assert result.counts.events == len(rows)  # yet every reading was stored, through ingest


def test_the_fast_path_judges_unchanged_facts_again_only_at_their_due_time(tmp_path, monkeypatch):
    # Flat for three days: an open ladder alert, a reading every 30 minutes, a tick every 10.
    # The two ticks between readings hold the same facts: judged only when a threshold falls
    # there (rules.due), as the tick itself skips a device; the transitions are the exact ones
    # (test_replay_equivalence).
    from dashboard.replay import fast

    judged = []
    evaluate = fast.evaluate_device
    monkeypatch.setattr(
        fast, "evaluate_device", lambda *a, **k: judged.append(a[2]) or evaluate(*a, **k)
    )
    rows = plug_rows("p", T0, T0 + timedelta(hours=2), T0 + timedelta(days=3))
    result = replay(read_recording(_plug_file(tmp_path, rows), "plug", SEOUL))
    stages = [t.stage for t in result.transitions if t.rule == "plug_no_change"]
    assert stages == ["attention", "risk", "severe"]
    readings = {datetime.fromisoformat(r[1]) for r in rows}
    between = [t for t in judged if t not in readings]
    assert len(judged) > 80  # every reading while the alert is open (from 24 h to 72 h)
    assert len(between) <= 10, between  # not the 188 ticks between them: the stages' times


def test_explanations_quote_a_rules_own_sentence_and_fall_back_to_the_evidence():
    from dashboard.replay.explain import explain

    own = {"explanation": "No activity since 07:10; on 27 of the last 28 days the TV was on."}
    assert explain("routine_quiet", "risk", own | {"score": 0.99}, SEOUL) == own["explanation"]
    closed = {"explanation": "old", "cleared_by": {"explanation": "Activity again at 09:02."}}
    assert explain("routine_quiet", None, closed, SEOUL) == "Activity again at 09:02."
    # A rule replay knows nothing about: its evidence, generically.
    assert explain("new_rule", "severe", {"score": 0.9, "nested": {}}, SEOUL) == (
        "new_rule severe (심각): score 0.9."
    )
    assert explain("new_rule", None, {"cleared_by": {}}, SEOUL) == "new_rule cleared."
    # A known rule whose evidence lacks a field it needs is described generically, not dropped.
    assert explain("plug_no_change", "attention", {"since": None}, SEOUL).startswith(
        "plug_no_change attention (관심)"
    )


def test_a_plug_alert_closed_without_a_sign_of_life_does_not_claim_one():
    """A plug alert whose stage fell on the spell it was raised on (the fixed rule's clock
    restarted, the net or a young plug's ladder stopped judging, the nightly learning judged the
    spell anew) closes without a sign of life: its sentence must not say there was one (a
    whole-home meter's net alert closed so). The clearing evidence is what the lifecycle keeps
    (``cleared_by``: no volatile field such as ``change_since``); a replay of a London year
    printed the generic list of fields when the sentence needed ``change_since``."""
    from dashboard.replay.explain import explain
    from dashboard.rules.lifecycle import _material

    since, change = "2024-03-01T08:00:00+09:00", "2024-03-20T23:40:00+09:00"
    decided = {"since": since, "last_activity_at": since, "change_since": change, "level_s": 3}
    cleared = _material(decided)
    fell = explain("plug_no_change", None, {"since": since, "cleared_by": cleared}, SEOUL)
    assert fell == "No stage any more, without a sign of life since 2024-03-01 08:00."
    later = "2024-03-21T07:10:00+09:00"
    life = cleared | {"since": later, "last_activity_at": later}
    assert explain("plug_no_change", None, {"since": since, "cleared_by": life}, SEOUL) == (
        "Power or light changed again at 2024-03-21 07:10 (a sign of life)."
    )


def test_the_exact_flag_writes_the_same_file(tmp_path, capsys):
    gap = (T0 + timedelta(hours=5), T0 + timedelta(hours=8))
    src = _plug_file(tmp_path, plug_rows("p", T0, T0, T0 + timedelta(hours=12), gaps=[gap]))
    files = []
    for flag in ([], ["--exact"]):
        out = tmp_path / f"out{len(files)}.json"
        argv = ["replay", "--type", "plug", "--input", str(src), "--tick-min", "30", *flag]
        assert main([*argv, "--json", str(out)]) == 0
        files.append(out.read_text())
    assert files[0] == files[1] and '"device_silent"' in files[0]
    printed = capsys.readouterr().out
    assert "(fast path:" in printed and "(exact path:" in printed


# Recorded GPS tracks (GeoLife, Beijing) with exits at 300 m that replay in seconds.
GPS_SAMPLE = ("000/20081024020959", "000/20081026134407", "demo/1", "001/20081028233053")


@pytest.mark.skipif(
    not (DEFAULT_DATA / "geolife").is_dir(), reason=f"recorded GPS tracks absent: {DEFAULT_DATA}"
)
def test_recorded_tracks_through_replay_score_as_the_geofence_script(tmp_path):
    """Issue 10's measurement through the product (docs/rules.md): the same exits alerted in
    time, the same alerts, none unmatched, one per episode, the same lost-position alerts; the
    moments differ only in when the rules run (each fix and minute tick vs 10-s batches)."""
    th = current_thresholds()
    tracks = [t for t in load_tracks() if t.name in GPS_SAMPLE]
    assert len(tracks) == len(GPS_SAMPLE)
    script, through = Score(), Score()
    for track in tracks:
        run, replayed = run_rules(track, 300, th), replay_run(track, 300, tmp_path)
        score(track, run, 300, script)
        score(track, replayed, 300, through)
        a, b = run.opens("wander_left_zone"), replayed.opens("wander_left_zone")
        assert len(a) == len(b), track.name
        assert all(abs((x - y).total_seconds()) <= 60 for x, y in zip(a, b, strict=True))
    same = ("genuine_exits", "alerted_within_target", "left_zone_alerts")
    same += ("not_matching_a_genuine_exit", "most_alerts_in_one_episode", "no_position_alerts")
    figures = script.as_dict(), through.as_dict()
    assert {k: figures[1][k] for k in same} == {k: figures[0][k] for k in same}
    assert figures[1]["genuine_exits"] >= 3  # the sample has exits to see
    assert figures[1]["alerted_within_target"] == figures[1]["genuine_exits"]


def test_the_shortcut_sends_to_the_database_what_the_lifecycle_would_change():
    from dashboard.replay.fast import would_change
    from dashboard.rules.model import Decision

    left = {"outside_since": "2024-05-10T04:37:00+00:00"}
    episode = dict(left)
    # A wandering episode follows its stage down (returning): a transition.
    assert would_change(
        [Decision("wander_left_zone", "attention", left)], {"wander_left_zone": "risk"}, episode
    )
    # The ladder never moves down while open: a lower decision changes nothing.
    assert not would_change([Decision("plug_no_change", "attention")], {"plug_no_change": "risk"})
    assert would_change([Decision("plug_no_change", "severe")], {"plug_no_change": "risk"})
    # The same stage and the same episode: an evidence refresh only.
    assert not would_change(
        [Decision("wander_left_zone", "risk", left)], {"wander_left_zone": "risk"}, episode
    )
    # ... unless the episode the geofence reads back would be rewritten.
    moved = {"outside_since": "2024-05-10T05:00:00+00:00"}
    assert would_change(
        [Decision("wander_left_zone", "risk", moved)], {"wander_left_zone": "risk"}, episode
    )
    # Opening, closing; a sticky rule never closes by itself; a cleared rule with no alert.
    assert would_change([Decision("wander_no_position", "severe")], {})
    assert would_change(
        [Decision("wander_left_zone", None, {})], {"wander_left_zone": "attention"}, episode
    )
    assert not would_change([Decision("robot_sos", None)], {"robot_sos": "severe"})
    assert not would_change([Decision("wander_no_fix", None)], {})
