"""The event contract (pure validation) and the state merge, without a database."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from dashboard.ingest.events import Rejection, ValidEvent, validate_event
from dashboard.ingest.state import Margins, _State, merge_state

TS = "2024-12-01T09:00:00+09:00"
BASE = {"event_id": "e1", "device_id": "plug-1", "ts": TS}
MARGINS = Margins(power_w=10, lux=25, min_answered_s=1)


def ok(**fields) -> ValidEvent:
    checked = validate_event(0, BASE | fields)
    assert isinstance(checked, ValidEvent), checked
    return checked


def bad(raw) -> Rejection:
    checked = validate_event(3, raw)
    assert isinstance(checked, Rejection), checked
    assert checked.index == 3
    return checked


@pytest.mark.parametrize(
    ("fields", "value", "data"),
    [
        ({"type": "power", "watts": 42.5}, 42.5, None),
        ({"type": "lux", "lux": 310}, 310, None),
        ({"type": "heartbeat"}, None, None),
        ({"type": "heartbeat", "battery_pct": 80}, 80, None),
        ({"type": "call", "direction": "in", "duration_s": 65}, 65, {"direction": "in"}),
        (
            {"type": "ai_call_result", "outcome": "concern", "note": "무릎 통증"},
            None,
            {"outcome": "concern", "note": "무릎 통증"},
        ),
        ({"type": "sos"}, None, None),
        ({"type": "interaction", "kind": "medication_ack"}, None, {"kind": "medication_ack"}),
        (
            {"type": "position", "lat": 37.65, "lon": 126.78, "accuracy_m": 8, "battery_pct": 55},
            None,
            {"lat": 37.65, "lon": 126.78, "accuracy_m": 8, "battery_pct": 55},
        ),
        ({"type": "trigger"}, None, None),
        ({"type": "session", "duration_s": 600}, 600, None),
    ],
)
def test_every_type_has_a_valid_form(fields, value, data):
    event = ok(**fields)
    assert event.type == fields["type"]
    assert event.value == value
    assert event.data == data
    assert event.ts == datetime(2024, 12, 1, 0, 0, tzinfo=UTC)  # stored as UTC


@pytest.mark.parametrize(
    ("raw", "field", "words"),
    [
        (["not", "an", "object"], None, "JSON object"),
        ({"event_id": "e", "device_id": "d", "ts": TS}, "type", "required"),
        (BASE | {"type": "teleport"}, "type", "unknown event type 'teleport'"),
        (BASE | {"type": 7}, "type", "unknown event type 7"),
        (BASE | {"type": "power"}, "watts", "required"),
        (BASE | {"type": "power", "watts": -1}, "watts", "greater than or equal to 0"),
        (BASE | {"type": "power", "watts": True}, "watts", "not true/false"),
        (BASE | {"type": "power", "watts": float("nan")}, "watts", "finite"),
        (BASE | {"type": "power", "watts": "lots"}, "watts", "not a string"),
        (BASE | {"type": "power", "watts": "50"}, "watts", "must be a number, not a string"),
        (BASE | {"type": "power", "watts": 10**400}, "watts", "number out of range"),
        (BASE | {"type": "power", "watts": 10**5000}, "watts", "integer of about 5001 digits"),
        (BASE | {"type": "power", "watts": float("inf")}, "watts", "number out of range"),
        (BASE | {"type": "power", "watts": [[[[[[1]]]]]]}, "watts", "valid number"),
        (BASE | {"type": "sos", "ts": "0001-01-01T00:00:00+14:00"}, "ts", "out of range once"),
        (BASE | {"type": "sos", "ts": "9999-12-31T23:59:59-14:00"}, "ts", "out of range once"),
        (BASE | {"type": "sos", "device_id": "a\x00b"}, "device_id", "NUL character"),
        (BASE | {"type": "interaction", "kind": "\ud800"}, "kind", "unpaired surrogate"),
        (BASE | {"type": "power", "watts": 5, "lux": 3}, "lux", "not a field of 'power' events"),
        (BASE | {"type": "lux", "lux": -0.5}, "lux", "greater than or equal to 0"),
        (BASE | {"type": "heartbeat", "battery_pct": 101}, "battery_pct", "less than or equal"),
        (BASE | {"type": "call", "direction": "sideways", "duration_s": 1}, "direction", "'in'"),
        (BASE | {"type": "call", "direction": "in"}, "duration_s", "required"),
        (BASE | {"type": "ai_call_result", "outcome": "maybe"}, "outcome", "'answered'"),
        (
            BASE | {"type": "ai_call_result", "outcome": "answered", "note": "x" * 501},
            "note",
            "at most 500",
        ),
        (BASE | {"type": "position", "lat": 91, "lon": 0}, "lat", "less than or equal to 90"),
        (BASE | {"type": "position", "lat": 37, "lon": -181}, "lon", "greater than or equal"),
        (BASE | {"type": "session", "duration_s": -5}, "duration_s", "greater than or equal"),
        (BASE | {"type": "sos", "ts": "2024-12-01T09:00:00"}, "ts", "needs a time zone"),
        (BASE | {"type": "sos", "ts": "2024-12-01"}, "ts", "a date without a time of day"),
        (BASE | {"type": "sos", "ts": "yesterday"}, "ts", "not an ISO-8601 time"),
        (BASE | {"type": "sos", "ts": 1733011200}, "ts", "must be an ISO-8601 string"),
        (BASE | {"type": "sos", "event_id": ""}, "event_id", "at least 1 character"),
        (BASE | {"type": "sos", "event_id": "x" * 81}, "event_id", "at most 80"),
        (BASE | {"type": "sos", "device_id": None}, "device_id", "valid string"),
    ],
)
def test_rejections_name_the_field_and_the_problem(raw, field, words):
    rejection = bad(raw)
    assert rejection.field == field
    assert words in rejection.message
    assert rejection.reason == (f"{field}: {rejection.message}" if field else rejection.message)


def test_json_integers_are_numbers_and_stored_as_floats():
    assert ok(type="power", watts=50).value == 50.0
    assert isinstance(ok(type="power", watts=50).fields["watts"], float)


def test_a_key_that_cannot_be_encoded_is_named_safely():
    rejection = bad(BASE | {"type": "sos", "x\ud800": 1})
    assert rejection.field == "x\\ud800"  # escaped, so the reason can be sent as UTF-8 JSON
    rejection.reason.encode("utf-8")


def test_json_nested_far_deeper_than_the_parser_allows_is_one_rejection():
    deep: list = []
    for _ in range(100_000):
        deep = [deep]
    rejection = bad(BASE | {"type": "power", "watts": deep})
    assert rejection.field == "watts"
    assert len(rejection.reason) < 200


def test_an_unexpected_failure_is_that_event_s_rejection(monkeypatch):
    import dashboard.ingest.events as module

    def explode(*_args, **_kwargs):
        raise RuntimeError("boom")

    monkeypatch.setattr(module.PowerEvent, "model_validate", explode)
    rejection = bad(BASE | {"type": "power", "watts": 1})
    assert (rejection.field, rejection.message) == (
        None,
        "event could not be validated (RuntimeError)",
    )
    assert isinstance(validate_event(0, BASE | {"type": "sos"}), ValidEvent)


def test_number_fields_are_the_float_fields():
    from dashboard.ingest.events import NUMBER_FIELDS, number_from_text

    assert {
        "battery_pct",
        "watts",
        "lux",
        "duration_s",
        "lat",
        "lon",
        "accuracy_m",
    } == NUMBER_FIELDS
    assert (number_from_text("42.5"), number_from_text("lots")) == (42.5, "lots")


def test_several_problems_are_all_reported():
    rejection = bad({"type": "position", "lat": 100})
    assert rejection.reason.startswith("event_id: required")
    for part in ("device_id: required", "ts: required", "lat: Input should be less", "lon: "):
        assert part in rejection.reason


def test_z_suffix_and_offsets_are_the_same_instant():
    a = ok(type="sos", ts="2024-12-01T00:00:00Z")
    b = ok(type="sos", ts="2024-12-01T09:00:00+09:00")
    assert a.ts == b.ts


def ev(kind: str, minute: int, index: int = 0, **fields) -> ValidEvent:
    ts = datetime(2024, 12, 1, 0, 0, tzinfo=UTC) + timedelta(minutes=minute)
    return ValidEvent(index, f"e{minute}-{index}", "d", ts, kind, None, None, fields)


def at(minute: int) -> datetime:
    return datetime(2024, 12, 1, 0, 0, tzinfo=UTC) + timedelta(minutes=minute)


def test_power_change_beyond_the_margin_is_a_sign_of_life():
    state = merge_state(
        _State(),
        [ev("power", 0, watts=1.0), ev("power", 10, watts=9.0), ev("power", 20, watts=80.0)],
        MARGINS,
    )
    assert state.last_activity_at == at(20)  # 1 → 9 W is noise; 9 → 80 W is a TV switched on
    assert state.last_power_w == 80.0
    assert state.last_seen_at == at(20)


def test_a_fridge_cycle_is_a_change_beyond_the_margin_but_not_a_sign_of_life():
    """Two clocks: the routine's (departures from the background) and the fixed ladder's (any
    change beyond the margins), so the floor is exactly the fixed rule (docs/detection.md)."""
    from dashboard.detection.background import Background

    fridge = Background(low_w=40.0, high_w=130.0, step_w=90.0, nights=14)
    readings = [
        ev("power", 0, watts=45.0),
        ev("power", 10, watts=400.0),  # a TV switched on: both clocks
        ev("power", 20, watts=45.0),  # switched off: both clocks
        ev("power", 30, watts=125.0),  # the compressor starts: beyond 5 W, inside the background
        ev("power", 40, watts=127.0),  # noise: neither
    ]
    days: dict = {}
    state = merge_state(_State(), readings, MARGINS, fridge, days)
    assert state.last_activity_at == at(20)
    assert state.last_change_at == at(30)
    # device_daily: 09:10 and 09:20 Seoul are signs of life (slot 18); 09:30 a change (slot 19)
    (day,) = days.values()
    assert day.slots == 1 << 18 and day.changes == (1 << 18) | (1 << 19)
    plain = merge_state(_State(), readings, MARGINS)  # no background: the margin alone
    assert plain.last_activity_at == plain.last_change_at == at(30)
    later = merge_state(state, [ev("power", 25, watts=300.0)], MARGINS, fridge)
    assert later.last_change_at == at(30)  # a late reading never moves a clock back


def test_first_reading_is_not_a_change():
    state = merge_state(_State(), [ev("lux", 0, lux=300)], MARGINS)
    assert state.last_activity_at is None
    assert state.last_lux == 300


@pytest.mark.parametrize(
    ("kind", "fields", "alive"),
    [
        ("call", {"direction": "out", "duration_s": 0}, True),
        ("call", {"direction": "in", "duration_s": 0}, False),  # rang, nobody answered
        ("call", {"direction": "in", "duration_s": 30}, True),
        ("ai_call_result", {"outcome": "answered"}, True),
        ("ai_call_result", {"outcome": "concern"}, True),
        ("ai_call_result", {"outcome": "unanswered"}, False),
        ("heartbeat", {}, False),
        ("sos", {}, True),
        ("interaction", {}, True),
        ("session", {"duration_s": 60}, True),
    ],
)
def test_signs_of_life(kind, fields, alive):
    state = merge_state(_State(), [ev(kind, 5, **fields)], MARGINS)
    assert (state.last_activity_at == at(5)) is alive


def test_late_events_never_move_readings_backwards_but_count_as_activity():
    before = _State(last_seen_at=at(60), last_power_w=50.0, last_event_type="heartbeat")
    state = merge_state(
        before,
        [ev("power", 10, watts=0.0), ev("call", 30, direction="out", duration_s=40)],
        MARGINS,
    )
    assert state.last_seen_at == at(60)
    assert state.last_power_w == 50.0
    assert state.last_event_type == "heartbeat"
    assert state.last_activity_at == at(30)  # the late call still happened


def test_events_at_the_same_instant_all_apply():
    before = _State(last_seen_at=at(0), last_power_w=50.0)
    state = merge_state(before, [ev("lux", 0, lux=120.0)], MARGINS)
    assert state.last_lux == 120.0


def test_position_moves_beyond_noise_are_activity():
    state = merge_state(
        _State(),
        [
            ev("position", 0, lat=37.6500, lon=126.7800),
            ev("position", 1, lat=37.65001, lon=126.78001),  # ~1.4 m: GPS drift
            ev("position", 2, lat=37.6510, lon=126.7800),  # ~110 m: walking
        ],
        MARGINS,
    )
    assert state.last_activity_at == at(2)
    assert (state.last_lat, state.last_lon) == (37.6510, 126.7800)
