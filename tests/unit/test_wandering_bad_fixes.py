"""Positions that locate nothing: a vendor's accuracy 9999 for "unknown", a receiver's (0, 0) or
(90, -180). Wandering detection must neither go silent (every fix skipped, no alert ever) nor
cry wolf (a person "5,821 km outside"): an implausible fix never places the person, and a
detector whose fixes are all unusable for ``wandering.bad_fix_min`` is a device fault."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest
from sqlalchemy import Engine, insert, select, update

from dashboard.db.schema import Alert, CareRecipient, DeviceType, Program, Vendor
from dashboard.enrollment import register_device
from dashboard.ingest.core import ingest_events
from dashboard.rules.config import Thresholds
from dashboard.rules.engine import run_silence_tick
from dashboard.rules.geofence import Zone
from dashboard.rules.model import DeviceFacts, Reading
from dashboard.rules.wandering import wander_bad_fix, wander_left_zone, wander_no_position
from tests.unit.test_actions_support import add_person, seed, who

TH = Thresholds()
NOON = datetime(2024, 12, 2, 3, 0, tzinfo=UTC)  # 12:00 in Seoul: not the night
M = timedelta(minutes=1)
S = timedelta(seconds=1)
HOME = (37.6486, 126.7868)  # 백석동
NOWHERE = [(0.0, 0.0), (90.0, -180.0)]


def north(m: float) -> tuple[float, float]:
    return HOME[0] + m / 111_195, HOME[1]


def fix(at: datetime, lat: float, lon: float, accuracy: float | None = 8.0) -> Reading:
    data = {"lat": lat, "lon": lon} | ({"accuracy_m": accuracy} if accuracy is not None else {})
    return Reading(at, "position", None, data)


def track(start: datetime, minutes: int, where: tuple[float, float], accuracy=8.0) -> list:
    """One fix a minute at ``where`` for ``minutes`` minutes from ``start``."""
    return [fix(start + i * M, *where, accuracy) for i in range(minutes)]


def wanderer(**kw) -> DeviceFacts:
    base = {
        "device_id": 7,
        "type_code": "wandering_detector",
        "program_id": 1,
        "region_id": 2,
        "heartbeat_timeout_s": 3600,
        "recipient_id": 11,
        "last_seen_at": NOON,
        "home_lat": HOME[0],
        "home_lon": HOME[1],
        "safe_zone_m": 500,
    }
    return DeviceFacts(**(base | kw))


# --- the pure rules -----------------------------------------------------------------------


def test_the_service_area_is_korea_or_for_a_replayed_foreign_home_its_surroundings():
    korea = Zone(HOME, 500)
    assert korea.plausible(35.1796, 129.0756)  # Busan: far, but a place
    assert not any(korea.plausible(*p) for p in NOWHERE)
    assert not korea.plausible(39.9042, 116.4074)  # Beijing is no Korean home's wander
    beijing = Zone((39.9042, 116.4074), 500)  # a GeoLife track replayed (docs/rules.md)
    assert beijing.plausible(39.98, 116.31)
    assert not any(beijing.plausible(*p) for p in NOWHERE)
    polygon = Zone(None, 500, ((37.64, 126.78), (37.66, 126.78), (37.66, 126.80)))
    assert not polygon.plausible(0.0, 0.0)


@pytest.mark.parametrize("where", NOWHERE)
def test_a_fix_outside_korea_never_places_the_person_far_away(where):
    """Before: two (0, 0) fixes confirmed each other as a jump and the person was 심각,
    thousands of km outside."""
    readings = track(NOON - 20 * M, 20, north(50)) + track(NOON, 10, where, accuracy=5)
    for at in (NOON + 30 * S, NOON + 5 * M, NOON + 10 * M):
        decision = wander_left_zone(wanderer(), TH, at, readings)
        assert decision is None or decision.stage is None
        if decision is not None:
            assert decision.evidence["distance_m"] < 100  # still home


def test_fixes_without_a_usable_one_for_30_minutes_are_a_device_fault_that_a_good_fix_clears():
    good = track(NOON - 10 * M, 10, north(50))
    bad = track(NOON, 31, north(50), accuracy=9999)  # a vendor's "unknown"
    f = wanderer()
    assert wander_bad_fix(f, TH, NOON + 29 * M, good + bad[:30]) is None  # 29 min: not yet
    decision = wander_bad_fix(f, TH, NOON + 30 * M, good + bad)
    assert (decision.rule, decision.stage, decision.kind) == (
        "wander_bad_fix", "attention", "device_fault")  # fmt: skip
    assert decision.evidence == {
        "bad_fix_kind": "inaccurate",
        "bad_fix_since": NOON.isoformat(),
        "bad_fix_min": 30,
        "max_accuracy_m": 150,
        "bad_accuracy_m": 9999,
    }
    back = good + bad + [fix(NOON + 31 * M, *north(50))]
    assert wander_bad_fix(f, TH, NOON + 31 * M, back).stage is None
    # without any usable fix loaded, the run counts from the oldest loaded one
    assert wander_bad_fix(f, TH, NOON + 30 * M, bad).stage == "attention"


def test_a_good_fix_now_and_then_keeps_the_detector_usable():
    readings = []
    for i in range(60):
        accuracy = 8.0 if i % 20 == 19 else 9999
        readings.append(fix(NOON + i * M, *north(50), accuracy))
    decision = wander_bad_fix(wanderer(), TH, NOON + 60 * M, readings)
    assert decision is None or decision.stage is None


@pytest.mark.parametrize("where", NOWHERE)
def test_implausible_fixes_for_30_minutes_are_a_device_fault(where):
    readings = track(NOON - 10 * M, 10, north(50)) + track(NOON, 31, where, accuracy=5)
    decision = wander_bad_fix(wanderer(), TH, NOON + 30 * M, readings)
    assert decision.stage == "attention"
    assert decision.evidence["bad_fix_kind"] == "implausible"


def test_outside_and_only_unusable_fixes_is_lost_after_30_minutes():
    """The episode's last fix stands: the minutes without a position count from it, and the
    left-zone alert keeps escalating with the time outside, as if the detector were silent.
    Before, once the good fixes left the loaded window, neither rule had an opinion."""
    last = NOON - 5 * M
    episode = {
        "outside_since": (NOON - 10 * M).isoformat(),
        "lat": north(900)[0],
        "lon": north(900)[1],
        "position_at": last.isoformat(),
        "accuracy_m": 8.0,
    }
    f = wanderer(wander_episode=episode, wander_since=NOON - 8 * M)
    bad = track(last + M, 60, north(900), accuracy=9999)  # only the unusable ones are loaded
    at = last + 30 * M
    assert wander_no_position(f, TH, at, bad[:30]).stage is None
    lost = wander_no_position(f, TH, at + S, bad[:31])
    assert lost.stage == "severe"
    assert lost.evidence["position_at"] == last.isoformat()
    assert lost.evidence["distance_m"] == pytest.approx(900, abs=2)
    later = wander_left_zone(f, TH, NOON + 40 * M, bad[:45])
    assert (later.stage, later.evidence["stage_reason"]) == ("severe", "long")


# --- through ingest and the tick, on SQLite and PostgreSQL ---------------------------------


@pytest.fixture
def db(db_engine: Engine) -> Engine:
    seed(db_engine)
    with db_engine.begin() as conn:
        conn.execute(
            insert(DeviceType),
            {"code": "wandering_detector", "name_ko": "배회", "name_en": "w",
             "heartbeat_timeout_s": 3600},
        )  # fmt: skip
        conn.execute(
            insert(Program),
            {"id": 4, "code": "goyang_wandering", "kind": "device", "name_ko": "배회",
             "name_en": "wandering", "region_id": 1},
        )  # fmt: skip
        conn.execute(
            insert(Vendor),
            {"code": "acme", "timezone": "Asia/Seoul", "created_at": NOON, "updated_at": NOON},
        )
        rid, _plug = add_person(conn, program_id=4)
        conn.execute(
            update(CareRecipient)
            .where(CareRecipient.id == rid)
            .values(pii_home_lat=HOME[0], pii_home_lon=HOME[1], safe_zone_m=500)
        )
        register_device(
            conn, who(), NOON - 60 * M, device_uid="walker-1", vendor="acme",
            type_code="wandering_detector", program_code="goyang_wandering",
            installed_on=date(2024, 12, 1), recipient_id=rid,
        )  # fmt: skip
    return db_engine


def send(db: Engine, at: datetime, where: tuple[float, float], accuracy: float = 8.0) -> None:
    event = {
        "event_id": f"p{at.timestamp():.0f}",
        "device_id": "walker-1",
        "type": "position",
        "ts": at.isoformat(),
        "lat": where[0],
        "lon": where[1],
        "accuracy_m": accuracy,
    }
    with db.begin() as conn:
        assert ingest_events(conn, "acme", [event], now=at).accepted == 1


def alerts(db: Engine) -> dict[str, tuple[str, str, str | None]]:
    with db.connect() as conn:
        rows = conn.execute(select(Alert).order_by(Alert.id)).all()
    return {a.rule: (a.stage, a.status, a.outcome) for a in rows}


def test_a_vendor_sending_accuracy_9999_gets_a_device_fault_that_closes_on_good_fixes(db):
    for i in range(10):
        send(db, NOON - (10 - i) * M, north(50))
    for i in range(30):
        send(db, NOON + i * M, north(50), accuracy=9999)
    assert alerts(db) == {}  # 29 minutes of unusable fixes: not yet
    send(db, NOON + 30 * M, north(50), accuracy=9999)
    assert alerts(db) == {"wander_bad_fix": ("attention", "open", None)}
    with db.connect() as conn:
        ticket = conn.execute(select(Alert)).one()
    assert (ticket.kind, ticket.recipient_id, ticket.evidence["bad_fix_kind"]) == (
        "device_fault", None, "inaccurate")  # fmt: skip
    assert ticket.evidence["bad_fix_since"] == NOON.isoformat()
    send(db, NOON + 31 * M, north(50), accuracy=9999)
    with db.connect() as conn:
        assert conn.execute(select(Alert.version)).scalar() == 1  # no write per bad fix
    send(db, NOON + 32 * M, north(50))  # good fixes return
    assert alerts(db) == {"wander_bad_fix": ("attention", "closed", "device_fault")}


@pytest.mark.parametrize("where", NOWHERE)
def test_positions_outside_korea_raise_no_person_alert_and_a_device_fault(db, where):
    for i in range(10):
        send(db, NOON - (10 - i) * M, north(50))
    for i in range(31):
        send(db, NOON + i * M, where, accuracy=5)
        with db.begin() as conn:
            run_silence_tick(conn, NOON + i * M + 30 * S)
    found = alerts(db)
    assert "wander_left_zone" not in found and "wander_no_position" not in found
    assert found["wander_bad_fix"] == ("attention", "open", None)


def test_outside_then_only_unusable_fixes_raises_the_lost_alert(db):
    for i in range(10):
        send(db, NOON - (10 - i) * M, north(50))
    for i in range(5):  # walking away (not stopped somewhere, where 90 min would apply)
        send(db, NOON + i * M, north(700 + 60 * i))
    with db.begin() as conn:
        run_silence_tick(conn, NOON + 5 * M)
    assert alerts(db)["wander_left_zone"][1] == "open"
    last = NOON + 4 * M
    for i in range(1, 32):
        send(db, last + i * M, north(1000), accuracy=9999)
        with db.begin() as conn:
            run_silence_tick(conn, last + i * M + 30 * S)
    found = alerts(db)
    assert found["wander_no_position"] == ("severe", "open", None)
    assert found["wander_left_zone"] == ("risk", "open", None)  # 15 min outside
    assert found["wander_bad_fix"] == ("attention", "open", None)


def test_stopped_outside_then_only_unusable_fixes_is_lost_after_90_minutes(db):
    """Stopped somewhere outside (indoors: a detector there often reports only coarse network
    positions), the lost alert waits 90 min; by then the good fixes are older than any look
    back, and the episode's last fix stands (before, nothing ever opened)."""
    for i in range(10):
        send(db, NOON - (10 - i) * M, north(50))
    for i in range(5):
        send(db, NOON + i * M, north(900))  # out, and staying there
    with db.begin() as conn:
        run_silence_tick(conn, NOON + 5 * M)
    last = NOON + 4 * M
    for i in range(1, 91):
        send(db, last + i * M, north(900), accuracy=2000)
    with db.begin() as conn:
        run_silence_tick(conn, last + 90 * M)
    assert "wander_no_position" not in alerts(db)  # not at 30 min: stopped, 90 min apply
    send(db, last + 91 * M, north(900), accuracy=2000)
    found = alerts(db)
    assert found["wander_no_position"] == ("severe", "open", None)
    assert found["wander_left_zone"] == ("severe", "open", None)  # 45 min outside
