"""The wandering map's snapshot: position times from the event log, in a bounded number of
statements however many detectors there are (SQLite and PostgreSQL)."""

from __future__ import annotations

from contextlib import contextmanager
from datetime import UTC, date, datetime, timedelta

import pytest
from sqlalchemy import Engine, event, insert, select

from dashboard.catalog import load_catalog
from dashboard.db.schema import CareRecipient, Device, DeviceEvent, DeviceState, Program, Region
from queries.wandering import NO_POSITION_AFTER, WANDERING_PROGRAM, snapshot

NOW = datetime(2024, 12, 20, 3, 0, tzinfo=UTC)
HOME = (37.6450, 126.7880)
MIN = timedelta(minutes=1)


def _add_detectors(engine: Engine, n: int) -> dict[str, datetime | None]:
    """``n`` detectors whose latest event is a heartbeat (so the position time is in the event
    log), plus one whose latest event is the position and one that never sent a position.
    Returns the expected position time per device uid."""
    expected: dict[str, datetime | None] = {}
    with engine.begin() as conn:
        load_catalog(conn)
        program = conn.execute(select(Program.id).where(Program.code == WANDERING_PROGRAM))
        program_id = program.scalar_one()
        region_id = conn.execute(select(Region.id).where(Region.level == "dong")).scalars().first()
        events = []
        for i in range(n + 2):
            uid = f"W-{i}"
            recipient = conn.execute(
                insert(CareRecipient).values(
                    program_id=program_id,
                    region_id=region_id,
                    external_ref=f"R{i}",
                    birth_year=1940,
                    sex="F",
                    household="alone",
                    enrolled_on=date(2024, 7, 1),
                    safe_zone_m=300,
                    pii_name="김영수",
                    pii_home_lat=HOME[0],
                    pii_home_lon=HOME[1],
                )
            ).inserted_primary_key[0]
            device = conn.execute(
                insert(Device).values(
                    device_uid=uid,
                    type_code="wandering_detector",
                    program_id=program_id,
                    vendor="t",
                    recipient_id=recipient,
                    region_id=region_id,
                    installed_on=date(2024, 7, 1),
                    status="active",
                )
            ).inserted_primary_key[0]
            seen = NOW - (i % 7) * MIN
            kind = "position" if i == n else "heartbeat"
            fixes = [] if i == n + 1 else [seen - (10 + i % 5) * MIN, seen - 40 * MIN]
            expected[uid] = seen if kind == "position" else (fixes[0] if fixes else None)
            events += [
                {"vendor": "t", "event_uid": f"{uid}-{k}", "device_id": device, "ts": ts,
                 "received_at": ts, "type": "position", "data": {"lat": HOME[0], "lon": HOME[1]}}
                for k, ts in enumerate(fixes)
            ]  # fmt: skip
            events.append(
                {"vendor": "t", "event_uid": f"{uid}-hb", "device_id": device, "ts": seen,
                 "received_at": seen, "type": kind, "data": None}
            )  # fmt: skip
            conn.execute(
                insert(DeviceState).values(
                    device_id=device,
                    state="normal",
                    state_since=seen,
                    last_seen_at=seen,
                    updated_at=seen,
                    last_event_type=kind,
                    last_lat=HOME[0] if fixes or kind == "position" else None,
                    last_lon=HOME[1] if fixes or kind == "position" else None,
                )
            )
        conn.execute(insert(DeviceEvent), events)
    return expected


@contextmanager
def _counting(engine: Engine):
    statements: list[str] = []

    def count(conn, cursor, statement, *_):
        statements.append(statement)

    event.listen(engine, "before_cursor_execute", count)
    try:
        yield statements
    finally:
        event.remove(engine, "before_cursor_execute", count)


def test_position_times_come_from_the_latest_position_event(db_engine: Engine) -> None:
    expected = _add_detectors(db_engine, 3)
    with db_engine.connect() as conn:
        df = snapshot(conn, NOW).set_index("device_uid")
    got = {uid: (None if ts is None or ts != ts else ts.to_pydatetime()) for uid, ts in
           df["position_at"].items()}  # fmt: skip
    assert got == expected
    assert got["W-4"] is None and df.loc["W-4", "status"] == "no_position"
    assert got["W-3"] == NOW - 3 * MIN  # latest event was the position: last_seen_at


@pytest.mark.parametrize("detectors", [3, 30])
def test_snapshot_statements_do_not_grow_with_the_detectors(db_engine, detectors) -> None:
    _add_detectors(db_engine, detectors)
    with db_engine.connect() as conn, _counting(db_engine) as statements:
        df = snapshot(conn, NOW)
    assert len(df) == detectors + 2
    # positions, the position times of the heartbeat-last detectors; no one is outside here, so
    # no alert read. One statement per detector would make this grow with ``detectors``.
    assert len(statements) == 2, statements


def _square(half_m: float, centre: tuple[float, float] = HOME) -> list[list[float]]:
    """A square zone ``2 × half_m`` wide around ``centre``, as stored: ``[[lat, lon], …]``."""
    dlat = half_m / 111_195.0
    dlon = dlat / 0.7912  # cos(37.645°)
    lat, lon = centre
    return [[lat - dlat, lon - dlon], [lat - dlat, lon + dlon], [lat + dlat, lon + dlon],
            [lat + dlat, lon - dlon]]  # fmt: skip


def _wearer(engine: Engine, uid: str, *, east_m: float, polygon, home: bool = True, at=None) -> int:
    """One detector whose last position (a minute ago) is ``east_m`` metres east of HOME, or
    ``at`` (lat, lon); returns its id."""
    seen = NOW - MIN
    with engine.begin() as conn:
        program_id = conn.execute(
            select(Program.id).where(Program.code == WANDERING_PROGRAM)
        ).scalar_one()
        region_id = conn.execute(select(Region.id).where(Region.level == "dong")).scalars().first()
        recipient = conn.execute(
            insert(CareRecipient).values(
                program_id=program_id, region_id=region_id, external_ref=uid, birth_year=1940,
                sex="F", household="alone", enrolled_on=date(2024, 7, 1), safe_zone_m=500,
                pii_name="김영수", pii_home_lat=HOME[0] if home else None,
                pii_home_lon=HOME[1] if home else None, pii_zone_polygon=polygon,
            )
        ).inserted_primary_key[0]  # fmt: skip
        device = conn.execute(
            insert(Device).values(
                device_uid=uid, type_code="wandering_detector", program_id=program_id,
                vendor="t", recipient_id=recipient, region_id=region_id,
                installed_on=date(2024, 7, 1), status="active",
            )
        ).inserted_primary_key[0]  # fmt: skip
        conn.execute(
            insert(DeviceState).values(
                device_id=device, state="normal", state_since=seen, last_seen_at=seen,
                updated_at=seen, last_event_type="position",
                last_lat=at[0] if at else HOME[0],
                last_lon=at[1] if at else HOME[1] + east_m / 111_195.0 / 0.7912,
            )
        )  # fmt: skip
    return device


def test_a_polygon_zone_decides_on_the_map_as_it_does_for_the_rules(db_engine: Engine) -> None:
    """The map judged everyone by the 500 m circle: someone past their 150 m polygon showed as
    a calm green dot while their left-the-zone alert was open, and someone well inside a 1 km
    polygon as outside; a polygon without a home on file read as 'no position'."""
    from dashboard.rules.geofence import Zone

    with db_engine.begin() as conn:
        load_catalog(conn)
    _wearer(db_engine, "P-out", east_m=300, polygon=_square(150))  # in the circle, past it
    _wearer(db_engine, "P-in", east_m=700, polygon=_square(1000))  # past the circle, in it
    _wearer(db_engine, "P-edge", east_m=100, polygon=_square(150))  # 50 m from its edge
    _wearer(db_engine, "P-nohome", east_m=300, polygon=_square(150), home=False)
    _wearer(db_engine, "C-out", east_m=700, polygon=None)  # the circle, as before
    with db_engine.connect() as conn:
        df = snapshot(conn, NOW).set_index("device_uid")
    assert df["status"].to_dict() == {
        "P-out": "outside",
        "P-in": "inside",
        "P-edge": "edge",
        "P-nohome": "outside",
        "C-out": "outside",
    }
    assert df["outside"].to_dict() == {
        "P-out": True, "P-in": False, "P-edge": False, "P-nohome": True, "C-out": True,
    }  # fmt: skip
    # The rules' own zone says the same of each position.
    for uid in ("P-out", "P-in", "P-nohome"):
        row = df.loc[uid]
        home = HOME if uid != "P-nohome" else None
        zone = Zone(home, 500.0, tuple(tuple(c) for c in row["zone_polygon"]))
        assert (zone.beyond_m(row["last_lat"], row["last_lon"]) > 0) == row["outside"]


@pytest.mark.parametrize("fix", [(0.0, 0.0), (51.5, -0.12), (126.79, 37.64)])
def test_a_fix_outside_korea_is_no_position_not_someone_far_outside(db_engine, fix) -> None:
    """A receiver without a fix reports (0, 0): the map drew a red 'outside' 13,000 km away
    and zoomed out to the globe, and the search tab's trail ended there with no responder
    near (the rules drop such a fix as a jump). Swapped coordinates too."""
    from queries.trails import position_fixes

    with db_engine.begin() as conn:
        load_catalog(conn)
    device = _wearer(db_engine, "Z-1", east_m=0, polygon=None, at=fix)
    with db_engine.begin() as conn:
        conn.execute(
            insert(DeviceEvent),
            [{"vendor": "t", "event_uid": f"z-{i}", "device_id": device, "ts": NOW - (3 - i) * MIN,
              "received_at": NOW, "type": "position", "data": {"lat": lat, "lon": lon}}
             for i, (lat, lon) in enumerate([HOME, (HOME[0] + 0.001, HOME[1]), fix])],
        )  # fmt: skip
    with db_engine.connect() as conn:
        row = snapshot(conn, NOW).set_index("device_uid").loc["Z-1"]
        fixes = position_fixes(conn, device, NOW - 10 * MIN, NOW)
    assert (row["status"], bool(row["outside"])) == ("no_position", False)
    assert row["last_lat"] != row["last_lat"]  # NaN: nothing drawn at the bogus point
    assert [(f.lat, f.lon) for f in fixes] == [HOME, (HOME[0] + 0.001, HOME[1])]


def test_a_wearer_without_any_zone_is_no_zone_not_no_position(db_engine: Engine) -> None:
    """No home and no polygon: the geofence rules hold no opinion (Zone.usable is false), so the
    person is unwatched. The map showed them as 위치 끊김 while their fixes kept arriving."""
    from dashboard.rules.config import current_thresholds
    from dashboard.rules.model import DeviceFacts, Reading
    from dashboard.rules.wandering import wander_left_zone

    with db_engine.begin() as conn:
        load_catalog(conn)
    _wearer(db_engine, "N-fresh", east_m=100, polygon=None, home=False)
    _wearer(db_engine, "H-fresh", east_m=100, polygon=None)  # the same, with a home
    with db_engine.connect() as conn:
        now = snapshot(conn, NOW).set_index("device_uid")
        later = snapshot(conn, NOW + 2 * NO_POSITION_AFTER).set_index("device_uid")
    assert now["status"].to_dict() == {"N-fresh": "no_zone", "H-fresh": "inside"}
    assert now["has_zone"].to_dict() == {"N-fresh": False, "H-fresh": True}
    assert now.loc["N-fresh", "external_ref"] == "N-fresh"  # the person panel's link
    assert not now.loc["N-fresh", "stale"] and not bool(now.loc["N-fresh", "outside"])
    # Fixes stopped: with a zone that is 위치 끊김; without one the missing zone still wins
    # (the rules stay silent either way) and ``stale`` says the rest.
    assert later["status"].to_dict() == {"N-fresh": "no_zone", "H-fresh": "no_position"}
    assert later["stale"].all()
    # Why it matters: without a zone even a walk 5 km away raises nothing.
    facts = DeviceFacts(1, "wandering_detector", 1, 1, 600)
    far = [
        Reading(NOW - k * MIN, "position", None, {"lat": HOME[0] + 0.05, "lon": HOME[1]})
        for k in range(10, 0, -1)
    ]
    assert wander_left_zone(facts, current_thresholds(), NOW, far) is None
