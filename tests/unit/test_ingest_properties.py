"""Property-based tests (hypothesis): whatever JSON a vendor sends, validation answers with an
accepted event or a per-event rejection, and the envelope with a batch or a PayloadError —
never an exception that would fail the batch (HTTP 500) or jam the MQTT bridge."""

from __future__ import annotations

import json
import math
from datetime import UTC

from hypothesis import example, given, settings
from hypothesis import strategies as st

from dashboard.ingest.events import ALL_FIELDS, MODELS, Rejection, ValidEvent, validate_event
from dashboard.ingest.payload import PayloadError, decode_batch

# Few examples and no example database: this runs in every test run and must stay fast.
FAST = settings(max_examples=150, deadline=None, database=None)

TS = "2024-12-01T09:00:00+09:00"
# One valid event of every type; the properties then spoil one field at a time.
VALID = {
    "power": {"watts": 40},
    "lux": {"lux": 300.5},
    "heartbeat": {"battery_pct": 80},
    "call": {"direction": "in", "duration_s": 0},
    "ai_call_result": {"outcome": "answered", "note": "네"},
    "sos": {},
    "interaction": {"kind": "talk"},
    "position": {"lat": 37.6, "lon": 126.8, "accuracy_m": 5},
    "trigger": {},
    "session": {"duration_s": 600},
}
assert set(VALID) == set(MODELS)

texts = st.text(st.characters(exclude_categories=()), max_size=12)  # surrogates and NUL too
awkward = st.sampled_from(
    [
        "0001-01-01T00:00:00+14:00",
        "9999-12-31T23:59:59-14:00",
        "2024-12-01T09:00:00",
        "50",
        "",
        10**400,
        -(10**4000),  # (repr fails past 4,300 digits, and hypothesis reprs its strategies)
        2**63,
        math.inf,
        -math.inf,
        math.nan,
        True,
        1e308,
        -0.0,
    ]
)
scalars = st.none() | st.booleans() | st.integers() | st.floats() | texts | awkward
json_values = st.recursive(
    scalars,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(texts, inner, max_size=4),
    max_leaves=25,
)
values = awkward | scalars | json_values  # the awkward values drawn often, not by luck
field_names = (
    st.sampled_from(["ts", "watts", "event_id", "device_id", "type"])
    | st.sampled_from(ALL_FIELDS)
    | texts
)


def _check(index: int, raw) -> ValidEvent | Rejection:
    checked = validate_event(index, raw)
    assert isinstance(checked, ValidEvent | Rejection)
    assert checked.index == index
    if isinstance(checked, Rejection):
        checked.reason.encode("utf-8")  # the reason is sent as JSON and stored: must encode
        assert checked.reason
    else:
        assert checked.ts.tzinfo is UTC
        assert checked.value is None or math.isfinite(checked.value)
        for value in checked.fields.values():
            assert not isinstance(value, str) or "\x00" not in value
            if isinstance(value, float):
                assert math.isfinite(value)
    return checked


@FAST
@given(kind=st.sampled_from(sorted(VALID)), field=field_names, value=values)
@example(kind="sos", field="ts", value="0001-01-01T00:00:00+14:00")
@example(kind="sos", field="ts", value="9999-12-31T23:59:59-14:00")
@example(kind="power", field="watts", value=10**400)
def test_any_json_value_in_any_field_is_accepted_or_rejected(kind, field, value):
    raw = {"event_id": "e1", "device_id": "plug-1", "ts": TS, "type": kind} | VALID[kind]
    assert isinstance(_check(0, raw), ValidEvent)  # the starting point is valid
    _check(7, raw | {field: value})


@FAST
@given(raw=values)
def test_any_json_as_an_event_is_accepted_or_rejected(raw):
    _check(3, raw)


@FAST
@given(payload=json_values)
def test_any_json_body_is_a_batch_or_a_payload_error(payload):
    for body in (json.dumps(payload), json.dumps({"events": payload})):
        try:
            events = decode_batch(body.encode("utf-8", "surrogatepass"))
        except PayloadError as exc:
            str(exc).encode("utf-8")
        else:
            for index, raw in enumerate(events):
                _check(index, raw)


def _valid(kind: str, n: int, ts: str = TS) -> dict:
    return {"event_id": f"e{n}", "device_id": "plug-1", "ts": ts, "type": kind} | VALID[kind]


@FAST
@given(
    kinds=st.lists(st.sampled_from(sorted(VALID)), min_size=1, max_size=8),
    spoil=st.none() | st.tuples(st.integers(0, 7), field_names, values),
    naive=st.lists(st.booleans(), min_size=8, max_size=8),
)
@example(kinds=["sos", "power"], spoil=None, naive=[False, True] + [False] * 6)
@example(kinds=["power"], spoil=(0, "watts", "50"), naive=[False] * 8)
def test_batch_validation_gives_exactly_the_per_event_results(kinds, spoil, naive):
    """The batch fast path (one pydantic call per list) answers as validate_event does for
    each event: the same values, flags, rejections and reasons, with and without a zone."""
    from zoneinfo import ZoneInfo

    from dashboard.ingest.events import validate_events

    raws = [
        _valid(kind, i, "2024-12-01T09:00:00" if naive[i] else TS) for i, kind in enumerate(kinds)
    ]
    if spoil is not None and spoil[0] < len(raws):
        raws[spoil[0]] = raws[spoil[0]] | {spoil[1]: spoil[2]}
    for zone in (None, ZoneInfo("Asia/Seoul")):
        expected = [validate_event(i, raw, zone) for i, raw in enumerate(raws)]
        assert validate_events(raws, zone) == expected
