"""Pure wellbeing rules with time travel: each rule just below, at and above its thresholds."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from dashboard.rules.aicall import ai_call_concern, ai_call_unanswered
from dashboard.rules.calls import call_auto_unanswered, call_no_activity
from dashboard.rules.config import (
    RulesConfigError,
    Thresholds,
    load_thresholds,
    parse_thresholds,
)
from dashboard.rules.device import device_silent, low_battery
from dashboard.rules.evaluate import evaluate_device
from dashboard.rules.geo import haversine_m
from dashboard.rules.model import DeviceFacts, Reading, dedup_key
from dashboard.rules.plug import plug_ladder, plug_no_change
from dashboard.rules.robot import robot_no_interaction, robot_sos
from dashboard.rules.wandering import wander_left_zone, wander_no_position

T0 = datetime(2024, 12, 1, 0, 0, tzinfo=UTC)
TH = Thresholds()
H = timedelta(hours=1)
M = timedelta(minutes=1)
S = timedelta(seconds=1)


def facts(type_code: str, **kw) -> DeviceFacts:
    base = {
        "device_id": 7,
        "type_code": type_code,
        "program_id": 1,
        "region_id": 2,
        "heartbeat_timeout_s": 7200,
        "recipient_id": 11,
        "installed_at": T0 - timedelta(days=365),
        "last_seen_at": T0,
        "last_activity_at": T0,
    }
    return DeviceFacts(**(base | kw))


def result(ts: datetime, outcome: str, note: str | None = None) -> Reading:
    return Reading(ts, "ai_call_result", None, {"outcome": outcome, "note": note})


# --- configuration -----------------------------------------------------------------------------


def test_shipped_rules_toml_holds_the_issue_defaults():
    th = load_thresholds()
    assert th == Thresholds()
    assert plug_ladder(None, th) == (24, 36, 48)
    assert th.device_silent.timeout_s["smart_plug"] == 7200
    assert th.call_no_activity.days == 3
    assert (th.call_auto_unanswered.attempts, th.call_auto_unanswered.min_gap_h) == (2, 1)
    assert th.ai_call.unanswered_in_a_row == 3
    assert th.robot.no_interaction_h == 48
    assert th.wandering.no_position_min == 30
    assert th.battery.low_pct == 20


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("[plug_no_change]\nrisk_after_attention_h = -1", "plug_no_change.risk_after_attention_h"),
        ("[plug_no_change]\nmin_houres = 24", "plug_no_change.min_houres: unknown setting"),
        ("[battery]\nlow_pct = 30\nclear_pct = 25", "clear_pct must not be smaller than low_pct"),
        ("[ai_call]\nconcern_stage = 'panic'", "ai_call.concern_stage"),
        ("[robot\nx=1", "not valid TOML"),
        (
            "[plug_no_change]\nrisk_after_attention_h = 30\nsevere_after_attention_h = 20",
            "severe_after_attention_h must be greater",
        ),
    ],
)
def test_bad_thresholds_are_rejected_with_the_setting_named(text, message):
    with pytest.raises(RulesConfigError, match=r"rules\.toml") as err:
        parse_thresholds(text)
    assert message in str(err.value)


def test_missing_file_is_a_clear_error(tmp_path):
    with pytest.raises(RulesConfigError, match="cannot read rule thresholds"):
        load_thresholds(tmp_path / "nope.toml")


# --- smart plug ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("quiet", "stage"),
    [
        (24 * H - S, None),
        (24 * H, "attention"),
        (36 * H - S, "attention"),
        (36 * H, "risk"),
        (48 * H - S, "risk"),
        (48 * H, "severe"),
        (200 * H, "severe"),
    ],
)
def test_plug_ladder_24_36_48(quiet, stage):
    # a plug still reporting its flat line (a silent one is a device fault: test_alert_lifecycle)
    flat = facts("smart_plug", last_power_w=0.4, last_lux=3.0, last_seen_at=T0 + quiet)
    d = plug_no_change(flat, TH, T0 + quiet)
    assert d.rule == "plug_no_change"
    assert d.stage == stage
    assert d.evidence["last_activity_at"] == T0.isoformat()
    assert d.evidence["threshold_h"] == 24
    assert d.evidence["power_w"] == 0.4


@pytest.mark.parametrize(
    ("personal", "quiet_h", "stage"),
    [
        (30, 29.9, None),
        (30, 30, "attention"),
        (30, 41.9, "attention"),
        (30, 42, "risk"),
        (30, 54, "severe"),
        (50, 49, None),
        (50, 74, "severe"),
        (12, 24, "attention"),  # clamped up to min_hours: a typo cannot make it noisier
        (12, 23, None),
        (90, 50, "attention"),  # clamped down to max_hours: never later than 50 h
    ],
)
def test_personal_threshold_shifts_the_ladder(personal, quiet_h, stage):
    now = T0 + timedelta(hours=quiet_h)
    f = facts("smart_plug", no_change_hours=personal, last_seen_at=now)
    assert plug_no_change(f, TH, now).stage == stage


def test_plug_activity_clears_and_operator_close_restarts_the_clock():
    f = facts("smart_plug", last_activity_at=T0 + 30 * H)
    assert plug_no_change(f, TH, T0 + 31 * H).stage is None
    checked = facts(
        "smart_plug", human_closed_at={"plug_no_change": T0 + 30 * H}, last_seen_at=T0 + 54 * H
    )
    assert plug_no_change(checked, TH, T0 + 53 * H).stage is None
    assert plug_no_change(checked, TH, T0 + 54 * H).stage == "attention"


def test_plug_that_never_changed_counts_from_installation():
    f = facts("smart_plug", last_activity_at=None, installed_at=T0, last_seen_at=T0 + 24 * H)
    assert plug_no_change(f, TH, T0 + 24 * H).stage == "attention"


# --- device faults ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("silent", "stage"),
    [(2 * H, None), (2 * H + S, "attention"), (26 * H - S, "attention"), (26 * H, "risk")],
)
def test_plug_silent_two_hours_is_a_fault(silent, stage):
    d = device_silent(facts("smart_plug", heartbeat_timeout_s=999_999), TH, T0 + silent)
    assert d.kind == "device_fault"
    assert d.stage == stage
    assert d.evidence["timeout_s"] == 7200  # rules.toml overrides the type's default for plugs


def test_other_types_use_their_heartbeat_timeout():
    f = facts("wandering_detector", heartbeat_timeout_s=3600)
    assert device_silent(f, TH, T0 + 3600 * S).stage is None
    assert device_silent(f, TH, T0 + 3601 * S).stage == "attention"
    never = facts("care_robot", last_seen_at=None, installed_at=T0)
    assert device_silent(never, TH, T0 + 3 * H).evidence["cause"] == "never_reported"


@pytest.mark.parametrize(
    ("pct", "stage"), [(19.9, "attention"), (20, "keep"), (24.9, "keep"), (25, None), (None, "-")]
)
def test_low_battery_with_hysteresis(pct, stage):
    d = low_battery(facts("wandering_detector", battery_pct=pct), TH, T0)
    if stage == "keep" or stage == "-":
        assert d is None
    else:
        assert d.kind == "device_fault"
        assert d.stage == stage


# --- call history -------------------------------------------------------------------------------


def test_three_quiet_days_queue_one_automatic_call():
    f = facts("phone_line", heartbeat_timeout_s=93600)
    assert call_no_activity(f, TH, T0 + 72 * H - S).stage is None
    d = call_no_activity(f, TH, T0 + 72 * H)
    assert d.stage == "attention"
    assert d.evidence["last_call_at"] == T0.isoformat()
    assert [o["key"] for o in d.outbox] == ["auto_call:1"]
    assert d.outbox[0]["channel"] == "auto_call"
    assert d.outbox[0]["due"] == T0 + 72 * H


def test_second_automatic_call_waits_an_hour_after_the_first_unanswered():
    f = facts("phone_line")
    first = T0 + 72 * H + 2 * M
    d = call_no_activity(f, TH, first + 5 * M, [result(first, "unanswered")])
    assert [o["key"] for o in d.outbox] == ["auto_call:2"]
    assert d.outbox[0]["due"] == first + H


@pytest.mark.parametrize(("gap", "stage"), [(59 * M, "not yet"), (H, "risk"), (3 * H, "risk")])
def test_two_unanswered_auto_calls_an_hour_apart_alert_the_dong_center(gap, stage):
    f = facts("phone_line", dong_name="오정동")
    a = T0 + 72 * H
    readings = [result(a, "unanswered"), result(a + gap, "unanswered")]
    d = call_auto_unanswered(f, TH, a + gap + M, readings)
    if stage == "not yet":
        assert d is None
        return
    assert d.stage == "risk"
    assert d.evidence["dong_center"] == "오정동 행정복지센터"
    assert d.evidence["unanswered_at"] == [a.isoformat(), (a + gap).isoformat()]
    assert d.outbox[0]["channel"] == "dong_center"
    # the ladder is exhausted: no third automatic call is queued
    assert call_no_activity(f, TH, a + gap + M, readings).outbox == ()


def test_one_unanswered_auto_call_is_not_enough_and_a_call_clears_the_ladder():
    f = facts("phone_line")
    a = T0 + 72 * H
    assert call_auto_unanswered(f, TH, a + 2 * H, [result(a, "unanswered")]) is None
    back = replace(f, last_activity_at=a + 3 * H)  # the person called someone
    readings = [result(a, "unanswered"), result(a + 2 * H, "unanswered")]
    assert call_auto_unanswered(back, TH, a + 4 * H, readings).stage is None
    assert call_no_activity(back, TH, a + 4 * H, readings).stage is None


# --- AI check-in calls --------------------------------------------------------------------------


def week(n: int) -> datetime:
    return T0 + timedelta(days=7 * n)


def test_ai_call_three_unanswered_in_a_row_then_four():
    f = facts("ai_call_line")
    two = [
        result(week(0), "answered"),
        result(week(1), "unanswered"),
        result(week(2), "unanswered"),
    ]
    assert ai_call_unanswered(f, TH, week(2), two) is None
    three = [*two, result(week(3), "unanswered")]
    d = ai_call_unanswered(f, TH, week(3), three)
    assert d.stage == "attention"
    assert d.evidence["unanswered_in_a_row"] == 3
    four = [*three, result(week(4), "unanswered")]
    assert ai_call_unanswered(f, TH, week(4), four).stage == "risk"


def test_ai_call_run_interrupted_by_an_answer_does_not_alert_and_clears():
    f = facts("ai_call_line")
    mixed = [
        result(week(1), "unanswered"),
        result(week(2), "unanswered"),
        result(week(3), "answered"),
        result(week(4), "unanswered"),
    ]
    assert ai_call_unanswered(f, TH, week(4), mixed) is None
    answered = [*mixed[:2], result(week(3), "concern")]
    assert ai_call_unanswered(f, TH, week(3), answered).stage is None


def test_ai_call_concern_alerts_once_per_concern():
    f = facts("ai_call_line")
    readings = [result(week(1), "concern", "어지럼증 호소")]
    d = ai_call_concern(f, TH, week(1) + H, readings)
    assert d.stage == "attention"
    assert d.evidence == {"result_at": week(1).isoformat(), "note": "어지럼증 호소"}
    seen = replace(f, last_evidence={"ai_call_concern": d.evidence})
    assert ai_call_concern(seen, TH, week(1) + 2 * H, readings) is None
    later = [*readings, result(week(2), "concern", "식사 못함")]
    assert ai_call_concern(seen, TH, week(2), later).evidence["note"] == "식사 못함"
    assert ai_call_concern(f, TH, week(3), readings) is None  # too old when it arrives


# --- care robot ---------------------------------------------------------------------------------


def test_robot_sos_is_severe_at_once_with_119_linkage():
    f = facts("care_robot")
    d = robot_sos(f, TH, T0 + S, [Reading(T0, "sos")])
    assert (d.stage, d.kind) == ("severe", "person")
    assert d.evidence == {"sos_at": T0.isoformat(), "sos_count": 1, "linkage": "119"}
    handled = replace(f, last_evidence={"robot_sos": d.evidence})
    assert robot_sos(handled, TH, T0 + M, [Reading(T0, "sos")]) is None
    assert robot_sos(handled, TH, T0 + M, [Reading(T0 + 30 * S, "sos")]).stage == "severe"
    assert robot_sos(f, TH, T0 + 25 * H, [Reading(T0, "sos")]) is None


@pytest.mark.parametrize(("quiet", "stage"), [(48 * H - S, None), (48 * H, "attention")])
def test_robot_no_interaction_48h(quiet, stage):
    assert robot_no_interaction(facts("care_robot"), TH, T0 + quiet).stage == stage


# --- wandering ----------------------------------------------------------------------------------

HOME = (37.6486, 126.7868)  # 백석동


def at_distance(m: float) -> tuple[float, float]:
    return HOME[0] + m / 111_195, HOME[1]


def fixes(distance_m: float, start: datetime, minutes: float, every_s: int = 30) -> list:
    """Position readings at ``distance_m`` north of home, every ``every_s`` for ``minutes``."""
    lat, lon = at_distance(distance_m)
    n = int(minutes * 60 // every_s) + 1
    return [
        Reading(start + i * every_s * S, "position", None, {"lat": lat, "lon": lon})
        for i in range(n)
    ]


def wanderer(**kw) -> DeviceFacts:
    return facts(
        "wandering_detector",
        **({"home_lat": HOME[0], "home_lon": HOME[1], "safe_zone_m": 500} | kw),
    )


def test_haversine_is_right_at_city_scale():
    # Seoul City Hall → Gangnam station ≈ 8.8 km
    assert haversine_m(37.5663, 126.9779, 37.4979, 127.0276) == pytest.approx(8_800, rel=0.02)
    assert haversine_m(*HOME, *at_distance(500)) == pytest.approx(500, abs=1)


NOON = datetime(2024, 12, 1, 3, 0, tzinfo=UTC)  # 12:00 in Seoul: not the night


@pytest.mark.parametrize(
    ("distance", "minutes", "stage"),
    [(490, 10, None), (560, 1, None), (560, 1.5, "attention"), (3_600, 0, "severe")],
)
def test_left_zone_needs_time_or_distance_outside(distance, minutes, stage):
    readings = fixes(100, NOON - 20 * M, 9.5) + fixes(distance, NOON, minutes)
    now = NOON + minutes * M + (20 * S if minutes == 0 else 0 * S)
    d = wander_left_zone(wanderer(), TH, now, readings)
    assert d.stage == stage
    assert d.evidence["safe_zone_m"] == 500
    assert d.evidence["distance_m"] == pytest.approx(distance, abs=2)


def test_default_zone_when_the_person_has_none():
    readings = fixes(600, NOON, 2)
    f = wanderer(safe_zone_m=None)
    assert wander_left_zone(f, TH, NOON + 2 * M, readings).stage == "attention"
    inside = fixes(450, NOON, 2)
    assert wander_left_zone(f, TH, NOON + 2 * M, inside).stage is None


@pytest.mark.parametrize(
    ("distance", "since", "stage"),
    [(800, 30 * M, None), (800, 30 * M + S, "severe"), (300, 5 * H, None)],
)
def test_no_position_for_30_minutes_while_outside(distance, since, stage):
    # Walking away (not stopped), then nothing; the episode is open.
    walk = [
        Reading(
            T0 - (10 - i) * M,
            "position",
            None,
            dict(zip(("lat", "lon"), at_distance(m), strict=True)),
        )
        for i, m in enumerate(range(distance - 500, distance + 1, 50))
    ]
    f = wanderer(wander_episode={"outside_since": (T0 - 10 * M).isoformat()}, wander_since=T0)
    assert wander_no_position(f, TH, walk[-1].ts + since, walk).stage == stage


# --- the dispatcher and dedup keys --------------------------------------------------------------


def test_evaluate_device_runs_the_rules_of_the_type_only():
    f = facts("smart_plug", battery_pct=None, last_seen_at=T0 + 23 * H)  # then silent
    rules = {d.rule: d.stage for d in evaluate_device(f, TH, T0 + 25 * H + S)}
    assert rules == {"plug_no_change": "attention", "device_silent": "attention"}
    with pytest.raises(ValueError, match="timezone-aware"):
        evaluate_device(f, TH, datetime(2024, 12, 1))


def test_dedup_keys_match_the_demo_city():
    assert dedup_key("plug_no_change", 11, 7) == "plug_no_change:11"
    assert dedup_key("device_silent", 11, 7) == "device_silent:d7"
    assert dedup_key("robot_sos", None, 7) == "robot_sos:d7"
