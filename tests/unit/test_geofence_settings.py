"""A wanderer's geofence settings on SQLite and PostgreSQL: validation, audit, roles, and the
rules reading them back."""

from __future__ import annotations

import json

import pytest
from sqlalchemy import Engine, insert, select, update

from dashboard.auth.permissions import NotPermitted
from dashboard.db.schema import AuditLog, CareRecipient, Device, DeviceType
from dashboard.enrollment import EnrollmentError
from dashboard.enrollment.geofence import (
    check_polygon,
    parse_clock,
    parse_polygon,
    polygon_from_drawing,
    set_geofence,
)
from dashboard.enrollment.privacy import CLEARED
from dashboard.rules.facts import load_facts_by_id
from queries.geofence import geofence_settings
from tests.unit.test_actions_support import T0, add_person, seed, who

LEAD, ADMIN = who("lead1", "lead"), who("admin1", "admin")
HOME = (37.6486, 126.7868)
# A square of about 400 m around the home, as lat/lon lines and as GeoJSON ([lon, lat]).
SQUARE = [(37.6468, 126.7845), (37.6504, 126.7845), (37.6504, 126.7891), (37.6468, 126.7891)]
LINES = "\n".join(f"{lat}, {lon}" for lat, lon in SQUARE)
GEOJSON = json.dumps(
    {
        "type": "Feature",
        "geometry": {
            "type": "Polygon",
            "coordinates": [[[lon, lat] for lat, lon in [*SQUARE, SQUARE[0]]]],
        },
    }
)


@pytest.fixture
def db(db_engine: Engine) -> Engine:
    seed(db_engine)
    with db_engine.begin() as conn:
        conn.execute(
            insert(DeviceType),
            {"code": "wandering_detector", "name_ko": "배회감지기", "name_en": "Wandering detector",
             "heartbeat_timeout_s": 3600},
        )  # fmt: skip
    return db_engine


def wanderer(db: Engine) -> tuple[int, int]:
    with db.begin() as conn:
        rid, did = add_person(conn)
        conn.execute(
            update(CareRecipient)
            .where(CareRecipient.id == rid)
            .values(pii_home_lat=HOME[0], pii_home_lon=HOME[1])
        )
        conn.execute(update(Device).where(Device.id == did).values(type_code="wandering_detector"))
    return rid, did


def audits(db: Engine) -> list:
    with db.connect() as conn:
        return conn.execute(
            select(AuditLog).where(AuditLog.action == "person_geofence").order_by(AuditLog.id)
        ).all()


def test_parse_polygon_reads_lines_and_geojson_alike():
    assert parse_polygon(LINES) == [list(p) for p in SQUARE]
    assert parse_polygon(GEOJSON)[:4] == [list(p) for p in SQUARE]
    assert parse_polygon("  ") is None
    for text, where in (
        ("37.6, 126.7\n37.6 126.8 1", "line 2"),
        ("37.6, abc", "line 1"),
        ('{"type": "Point", "coordinates": [126.7, 37.6]}', "Polygon"),
        ("{not json", "not valid JSON"),
        ('{"type": "Polygon", "coordinates": [[[126.7, 37.6]], [[1, 2]]]}', "holes"),
    ):
        with pytest.raises(EnrollmentError, match=where):
            parse_polygon(text)


def test_a_drawing_from_the_map_becomes_the_corners_the_form_and_rules_use():
    """streamlit-folium's last_active_drawing: a Feature, [lon, lat], the ring closed."""
    drawn = json.loads(GEOJSON) | {"properties": {}}
    corners = polygon_from_drawing(drawn)
    assert corners == [list(p) for p in SQUARE]  # lat, lon order; the closing corner dropped
    assert check_polygon(corners, HOME) == corners  # and the domain's checks take it as is
    assert polygon_from_drawing(None) is None and polygon_from_drawing({}) is None


@pytest.mark.parametrize(
    ("drawing", "message"),
    [
        ({"type": "Feature", "geometry": {"type": "LineString", "coordinates": [[1, 2]]}},
         "must be a Polygon"),
        ({"type": "Feature", "geometry": {"type": "Polygon", "coordinates": []}},
         "no coordinates"),
        ({"type": "Feature", "geometry": {"type": "Polygon",
                                          "coordinates": [[[126.7, "37.6"]]]}}, "position 1"),
        ("a string", "not a GeoJSON object"),
    ],
)  # fmt: skip
def test_a_drawing_that_is_not_one_polygon_is_refused_naming_why(drawing, message):
    with pytest.raises(EnrollmentError, match=message):
        polygon_from_drawing(drawing)


def test_a_drawn_bow_tie_or_a_zone_away_from_home_fails_the_same_checks_as_a_paste():
    a, b, c, d = SQUARE
    bow_tie = {"type": "Feature", "geometry": {"type": "Polygon", "coordinates": [
        [[lon, lat] for lat, lon in (a, c, b, d, a)]]}}  # fmt: skip
    with pytest.raises(EnrollmentError, match="cross"):
        check_polygon(polygon_from_drawing(bow_tie), HOME)
    with pytest.raises(EnrollmentError, match="home is outside"):
        check_polygon(polygon_from_drawing(json.loads(GEOJSON)), (HOME[0] + 0.05, HOME[1]))


def test_parse_clock():
    assert (parse_clock("q", "22:30"), parse_clock("q", "6:05"), parse_clock("q", "")) == (
        1350,
        365,
        None,
    )
    for bad in ("24:00", "7pm", "12:60", 1440):
        with pytest.raises(EnrollmentError, match="q"):
            parse_clock("q", bad)


def test_settings_are_stored_audited_without_coordinates_and_reach_the_rules(db):
    rid, did = wanderer(db)
    with db.begin() as conn:
        written = set_geofence(
            conn,
            LEAD,
            T0,
            rid,
            safe_zone_m=400,
            polygon=parse_polygon(GEOJSON),
            quiet_hours=("21:30", "06:00"),
        )
    assert written["pii_zone_polygon"] == [list(p) for p in SQUARE]  # closing corner dropped
    with db.connect() as conn:
        settings = geofence_settings(conn, rid)
        (facts,) = load_facts_by_id(conn, [did])
    assert settings["wears_detector"] and settings["safe_zone_m"] == 400
    assert (facts.quiet_start_min, facts.quiet_end_min) == (21 * 60 + 30, 6 * 60)
    assert facts.zone_polygon == tuple(SQUARE) and facts.safe_zone_m == 400
    [entry] = audits(db)
    assert entry.actor == "lead1" and entry.entity_id == str(rid)
    assert entry.detail == {
        "fields": ["pii_zone_polygon", "quiet_end_min", "quiet_start_min", "safe_zone_m"],
        "safe_zone_m": 400,
        "polygon_corners": 4,
    }
    assert "37.64" not in json.dumps(entry.detail)
    # Clearing goes back to the circle and the program's night.
    with db.begin() as conn:
        set_geofence(conn, ADMIN, T0, rid, polygon=None, quiet_hours=("", ""))
    with db.connect() as conn:
        (facts,) = load_facts_by_id(conn, [did])
    assert (facts.zone_polygon, facts.quiet_start_min, facts.quiet_end_min) == (None, None, None)
    assert audits(db)[-1].detail["polygon_corners"] == 0
    assert "pii_zone_polygon" in CLEARED  # the privacy purge clears it with the home


@pytest.mark.parametrize(
    ("kwargs", "field", "message"),
    [
        ({"safe_zone_m": 20}, "safe_zone_m", "between 50 and 5000"),
        ({"polygon": SQUARE[:2]}, "polygon", "needs 3–200 corners"),
        ({"polygon": [(lon, lat) for lat, lon in SQUARE]}, "polygon", "outside Korea"),
        (
            {"polygon": [SQUARE[0], SQUARE[2], SQUARE[1], SQUARE[3]]},
            "polygon",
            "cross each other",
        ),
        (
            {"polygon": [(37.70, 126.80), (37.71, 126.80), (37.71, 126.81), (37.70, 126.81)]},
            "polygon",
            "home is outside",
        ),
        (
            {"polygon": [(37.6486, 126.7868), (37.6487, 126.7868), (37.6487, 126.7869)]},
            "polygon",
            "area",
        ),
        ({"quiet_hours": ("22:00", "")}, "quiet_hours", "both"),
        ({"quiet_hours": ("22:00", "22:00")}, "quiet_hours", "differ"),
        ({"quiet_hours": ("25:00", "06:00")}, "quiet_start", "22:00"),
        ({}, "settings", "nothing to change"),
    ],
)
def test_bad_settings_name_the_field_and_write_nothing(db, kwargs, field, message):
    rid, _ = wanderer(db)
    with pytest.raises(EnrollmentError, match=message) as err, db.begin() as conn:
        set_geofence(conn, LEAD, T0, rid, **kwargs)
    assert err.value.field == field
    assert audits(db) == []
    with db.connect() as conn:
        settings = geofence_settings(conn, rid)
    assert settings["pii_zone_polygon"] is None and settings["quiet_start_min"] is None


@pytest.mark.parametrize(
    "principal", [who("op1", "operator", ("4128500000",)), who("c", "council")]
)
def test_operators_and_council_may_not_change_a_geofence(db, principal):
    rid, _ = wanderer(db)
    with pytest.raises(NotPermitted), db.begin() as conn:
        set_geofence(conn, principal, T0, rid, safe_zone_m=300)
    assert audits(db) == []


def test_an_ended_enrollment_is_history(db):
    rid, _ = wanderer(db)
    with db.begin() as conn:
        conn.execute(
            update(CareRecipient).where(CareRecipient.id == rid).values(ended_on=T0.date())
        )
    with pytest.raises(EnrollmentError, match="ended"), db.begin() as conn:
        set_geofence(conn, LEAD, T0, rid, safe_zone_m=300)
