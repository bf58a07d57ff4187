"""Alembic migrations build exactly the schema of the models, on both backends."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import inspect, text
from sqlalchemy.exc import IntegrityError

from dashboard.clock import as_utc
from dashboard.db import migrate
from dashboard.db.engine import make_engine
from dashboard.db.schema import include_object_for, metadata

HEAD = "0023_different_people"  # the newest migration: a new one updates this name


@pytest.fixture
def empty_engine(db_url):
    engine = make_engine(db_url)
    yield engine
    engine.dispose()


def test_upgrade_from_empty_matches_models(empty_engine):
    migrate.upgrade(empty_engine)
    assert migrate.current_revision(empty_engine) == migrate.head_revision()
    assert not migrate.needs_upgrade(empty_engine)
    with empty_engine.connect() as conn:
        opts = {"compare_type": True, "include_object": include_object_for(conn.dialect.name)}
        ctx = MigrationContext.configure(conn, opts=opts)
        diff = compare_metadata(ctx, metadata)
    assert diff == [], f"models and migrations disagree: {diff}"


def test_upgrade_twice_is_harmless(empty_engine):
    migrate.upgrade(empty_engine)
    migrate.upgrade(empty_engine)
    assert migrate.current_revision(empty_engine) == migrate.head_revision()


def test_refuses_a_foreign_database(empty_engine):
    with empty_engine.begin() as conn:
        conn.execute(text("CREATE TABLE customers (id INTEGER PRIMARY KEY, name TEXT)"))
        conn.execute(text("INSERT INTO customers VALUES (1, 'kept')"))
    with pytest.raises(migrate.UnknownDatabaseError, match="customers"):
        migrate.upgrade(empty_engine)
    with empty_engine.connect() as conn:
        assert conn.execute(text("SELECT name FROM customers")).scalar() == "kept"


CATALOG_AT_0002 = (
    "INSERT INTO regions (id, code, level, name_ko, name_en)"
    " VALUES (1, '4128500000', 'district', 'r', 'r')",
    "INSERT INTO programs (id, code, kind, name_ko, name_en, region_id)"
    " VALUES (1, 'p', 'device', 'p', 'p', 1)",
    "INSERT INTO device_types (code, name_ko, name_en, heartbeat_timeout_s)"
    " VALUES ('smart_plug', 'p', 'p', 7200)",
)
DEVICE_AT_0002 = (
    "INSERT INTO devices (id, device_uid, type_code, program_id, vendor, region_id, installed_on,"
    " status) VALUES (:id, :uid, 'smart_plug', 1, 'v', 1, :day, 'active')"
)
STATE_AT_0002 = (
    "INSERT INTO device_state (device_id, state, state_since, updated_at)"
    " VALUES (:id, 'normal', :t, :t)"
)
EVENT_AT_0002 = (
    "INSERT INTO device_events (vendor, event_uid, device_id, ts, received_at, type)"
    " VALUES ('v', :uid, 1, :ts, :ts, 'heartbeat')"
)


def test_0003_gives_reporting_devices_their_first_event_time(empty_engine):
    """A device that reported before the upgrade starts its clocks from its oldest event."""
    migrate.upgrade(empty_engine, "0002_dead_letters")
    first, installed = datetime(2024, 3, 1, 9, 0, tzinfo=UTC), date(2024, 1, 1)
    with empty_engine.begin() as conn:
        for statement in CATALOG_AT_0002:
            conn.execute(text(statement))
        for did in (1, 2):
            conn.execute(text(DEVICE_AT_0002), {"id": did, "uid": f"d{did}", "day": installed})
            conn.execute(text(STATE_AT_0002), {"id": did, "t": first})
        for n, later in enumerate((timedelta(hours=5), timedelta(0), timedelta(days=1))):
            conn.execute(text(EVENT_AT_0002), {"uid": f"e{n}", "ts": first + later})
    migrate.upgrade(empty_engine)
    with empty_engine.connect() as conn:
        rows = conn.execute(
            text("SELECT device_id, first_seen_at, first_received_at FROM device_state")
        ).all()
        assert conn.execute(text("SELECT count(*) FROM vendors")).scalar() == 0
    found = sorted((r[0], r[1] and as_utc(r[1]), r[2] and as_utc(r[2])) for r in rows)
    assert found == [
        (1, first, first),
        (2, None, None),  # never reported: counts from registration or installation
    ]


def test_0004_keeps_devices_and_their_references_and_allows_in_repair(empty_engine):
    """The devices table is rebuilt on SQLite (its CHECK changes): rows, their state and events
    survive, and a downgrade turns in_repair back into retired."""
    migrate.upgrade(empty_engine, "0002_dead_letters")
    first = datetime(2024, 3, 1, 9, 0, tzinfo=UTC)
    with empty_engine.begin() as conn:
        for statement in CATALOG_AT_0002:
            conn.execute(text(statement))
        for did in (1, 2):
            conn.execute(
                text(DEVICE_AT_0002), {"id": did, "uid": f"d{did}", "day": date(2024, 1, 1)}
            )
            conn.execute(text(STATE_AT_0002), {"id": did, "t": first})
        conn.execute(text(EVENT_AT_0002), {"uid": "e0", "ts": first})
    migrate.upgrade(empty_engine)  # through 0003 (with its UPDATE) and 0004 in one run
    with empty_engine.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO care_recipients (id, program_id, region_id, external_ref,"
                " birth_year, sex, household, enrolled_on, pii_name, end_reason)"
                " VALUES (1, 1, 1, 'R1', 1940, 'F', 'alone', :day, 'n', 'moved')"
            ),
            {"day": date(2024, 1, 1)},
        )
        conn.execute(text("UPDATE devices SET recipient_id = 1 WHERE id = 1"))
        conn.execute(text("UPDATE devices SET status = 'in_repair' WHERE id = 2"))
        rows = conn.execute(text("SELECT id, status, replaced_by_id FROM devices ORDER BY id"))
        assert [tuple(r) for r in rows] == [(1, "active", None), (2, "in_repair", None)]
        assert conn.execute(text("SELECT count(*) FROM device_events")).scalar() == 1
        assert conn.execute(text("SELECT count(*) FROM device_state")).scalar() == 2
        with pytest.raises(Exception, match=r"(?i)check"), conn.begin_nested():
            conn.execute(text("UPDATE devices SET status = 'broken' WHERE id = 1"))

    migrate.downgrade(empty_engine, "0003_vendors")
    with empty_engine.connect() as conn:
        rows = conn.execute(text("SELECT id, status, recipient_id FROM devices ORDER BY id"))
        assert [tuple(r) for r in rows] == [(1, "active", 1), (2, "retired", None)]
        assert conn.execute(text("SELECT count(*) FROM care_recipients")).scalar() == 1
        assert conn.execute(text("SELECT count(*) FROM device_state")).scalar() == 2


def test_0005_adds_the_geofence_columns_and_downgrades_keeping_people(empty_engine):
    """Nullable columns: people keep their circle; a downgrade (a rebuild on SQLite, with the
    devices and alerts pointing at the table) drops them and keeps every row."""
    migrate.upgrade(empty_engine)
    with empty_engine.begin() as conn:
        for statement in CATALOG_AT_0002:
            conn.execute(text(statement))
        conn.execute(
            text(
                "INSERT INTO care_recipients (id, program_id, region_id, external_ref,"
                " birth_year, sex, household, enrolled_on, pii_name, safe_zone_m,"
                " quiet_start_min, quiet_end_min, pii_zone_polygon)"
                " VALUES (1, 1, 1, 'R1', 1940, 'F', 'alone', :day, 'n', 300, 1320, 360, :poly)"
            ),
            {"day": date(2024, 1, 1), "poly": "[[37.6, 126.7], [37.61, 126.7], [37.61, 126.71]]"},
        )
        conn.execute(text(DEVICE_AT_0002), {"id": 1, "uid": "d1", "day": date(2024, 1, 1)})
        conn.execute(text("UPDATE devices SET recipient_id = 1 WHERE id = 1"))

    migrate.downgrade(empty_engine, "0004_enrollment")
    with empty_engine.connect() as conn:
        row = conn.execute(text("SELECT safe_zone_m FROM care_recipients")).one()
        assert tuple(row) == (300,)
        assert conn.execute(text("SELECT recipient_id FROM devices")).scalar() == 1
    migrate.upgrade(empty_engine)
    with empty_engine.connect() as conn:
        row = conn.execute(text("SELECT quiet_start_min, pii_zone_polygon FROM care_recipients"))
        assert tuple(row.one()) == (None, None)


def test_0008_keeps_per_person_points_and_downgrades_without_imports(empty_engine):
    """The budget tables come and go; the per-person ledger survives a downgrade (imported
    statements, which the older schema cannot tell apart, go with their columns)."""

    migrate.upgrade(empty_engine, "0007_responders")
    with empty_engine.begin() as conn:
        for statement in CATALOG_AT_0002:
            conn.execute(text(statement))
        conn.execute(
            text(
                "INSERT INTO programs (id, code, kind, name_ko, name_en, region_id)"
                " VALUES (2, 'w', 'participation', 'w', 'w', 1)"
            )
        )
        conn.execute(
            text(
                "INSERT INTO incentive_ledger (program_id, occurred_on, kind, reason, points)"
                " VALUES (2, :day, 'earn', 'steps_goal', 4000)"
            ),
            {"day": date(2022, 1, 31)},
        )
    migrate.upgrade(empty_engine)
    with empty_engine.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO data_imports (id, kind, filename, sha256, size_bytes, rows, unit,"
                " imported_at, imported_by) VALUES (1, 'incentive_ledger', 'f.csv', 'x', 1, 1,"
                " '포인트', :at, 'lead')"
            ),
            {"at": datetime(2024, 1, 1, tzinfo=UTC).replace(tzinfo=None)},
        )
        insert = (
            "INSERT INTO incentive_ledger (program_id, region_id, import_id, occurred_on, kind,"
            " reason, points) VALUES (2, 1, 1, :day, 'earn', 'monthly_statement', 100)"
        )
        conn.execute(text(insert), {"day": date(2023, 1, 31)})
    with pytest.raises(IntegrityError), empty_engine.begin() as conn:  # one per district-month
        conn.execute(text(insert), {"day": date(2023, 1, 31)})
    migrate.downgrade(empty_engine, "0007_responders")
    with empty_engine.connect() as conn:
        rows = conn.execute(text("SELECT reason, points FROM incentive_ledger")).all()
    assert [(r, int(p)) for r, p in rows] == [("steps_goal", 4000)]
    migrate.upgrade(empty_engine)
    assert migrate.current_revision(empty_engine) == migrate.head_revision()


def test_0010_rebuilds_data_imports_while_imported_rows_point_at_it(empty_engine):
    """SQLite rebuilds data_imports for its new CHECK; a city with imported statements (rows
    pointing at it) upgrades and downgrades without losing them (once failed: FOREIGN KEY
    constraint failed on DROP TABLE data_imports)."""

    migrate.upgrade(empty_engine, "0009_complaint_import")
    with empty_engine.begin() as conn:
        for statement in CATALOG_AT_0002:
            conn.execute(text(statement))
        conn.execute(
            text(
                "INSERT INTO programs (id, code, kind, name_ko, name_en, region_id)"
                " VALUES (2, 'w', 'participation', 'w', 'w', 1)"
            )
        )
        conn.execute(
            text(
                "INSERT INTO data_imports (id, kind, filename, sha256, size_bytes, rows, unit,"
                " imported_at, imported_by) VALUES (1, 'incentive_ledger', 'f.csv', 'x', 1, 1,"
                " '포인트', :at, 'lead')"
            ),
            {"at": datetime(2024, 1, 1, tzinfo=UTC).replace(tzinfo=None)},
        )
        conn.execute(
            text(
                "INSERT INTO incentive_ledger (program_id, region_id, import_id, occurred_on,"
                " kind, reason, points) VALUES (2, 1, 1, :day, 'earn', 'monthly_statement', 100)"
            ),
            {"day": date(2023, 1, 31)},
        )
    migrate.upgrade(empty_engine)
    assert migrate.current_revision(empty_engine) == migrate.head_revision()
    with empty_engine.begin() as conn:
        assert conn.execute(text("SELECT import_id FROM incentive_ledger")).scalar() == 1
        conn.execute(
            text(
                "INSERT INTO data_imports (id, kind, filename, sha256, size_bytes, rows, unit,"
                " imported_at, imported_by) VALUES (2, 'participation', 'p.csv', 'y', 1, 1,"
                " '명', :at, 'lead')"
            ),
            {"at": datetime(2024, 2, 1, tzinfo=UTC).replace(tzinfo=None)},
        )
    migrate.downgrade(empty_engine, "0009_complaint_import")
    with empty_engine.connect() as conn:
        kinds = conn.execute(text("SELECT kind FROM data_imports ORDER BY id")).scalars().all()
        assert kinds == ["incentive_ledger"]
        assert conn.execute(text("SELECT import_id FROM incentive_ledger")).scalar() == 1


def _all_events(conn) -> list[tuple]:
    rows = conn.execute(
        text(
            "SELECT id, vendor, event_uid, device_id, ts, received_at, type, value, data"
            " FROM device_events ORDER BY id"
        )
    ).all()
    return [(*r[:4], as_utc(r[4]), as_utc(r[5]), *r[6:8], _json(r[8])) for r in rows]


def _json(value):
    import json

    return json.loads(value) if isinstance(value, str) else value


def _relkind(conn) -> str | None:
    if conn.dialect.name != "postgresql":
        return None
    return conn.execute(
        text("SELECT relkind FROM pg_class WHERE oid = to_regclass('device_events')")
    ).scalar()


def test_0011_partitions_a_populated_event_table_and_downgrades(empty_engine):
    """PostgreSQL: every event of a populated table (four months of history, one from a clock
    far ahead) lands in a month or day partition or the default one, ids go on from the same
    sequence, and the downgrade gives the plain table back with every row. SQLite: unchanged."""

    from dashboard.db import partitions
    from dashboard.db.schema import DeviceEvent

    migrate.upgrade(empty_engine, "0009_complaint_import")
    now = datetime.now(UTC).replace(microsecond=0)
    rows = [
        {
            "vendor": "v",
            "event_uid": f"e{i}",
            "device_id": 1 + i % 2,
            "ts": now - timedelta(hours=7 * i),  # back to ~117 days ago
            "received_at": now,
            "type": "power" if i % 3 else "call",
            "value": float(i),
            "data": {"direction": "out"} if i % 3 == 0 else None,
        }
        for i in range(400)
    ]
    rows.append(rows[1] | {"event_uid": "ahead", "ts": now + timedelta(days=400)})
    with empty_engine.begin() as conn:
        for statement in CATALOG_AT_0002:
            conn.execute(text(statement))
        for did in (1, 2):
            conn.execute(
                text(DEVICE_AT_0002), {"id": did, "uid": f"d{did}", "day": date(2024, 1, 1)}
            )
        conn.execute(DeviceEvent.__table__.insert(), rows)
        before = _all_events(conn)
    assert len(before) == 401

    migrate.upgrade(empty_engine)
    with empty_engine.connect() as conn:
        assert _all_events(conn) == before
        pg = conn.dialect.name == "postgresql"
        assert _relkind(conn) == ("p" if pg else None)
        if pg:
            layout = partitions.list_partitions(conn)
            months = [p for p in layout if p.upper and p.upper - p.lower > timedelta(days=1)]
            days = [p for p in layout if p.upper and p.upper - p.lower == timedelta(days=1)]
            assert 4 <= len(months) <= 5 and len(days) == 8 and layout[-1].is_default
            default = conn.execute(text("SELECT event_uid FROM device_events_default")).all()
            assert default == [("ahead",)]
    with empty_engine.begin() as conn:  # ingest goes on: new ids after the old ones
        conn.execute(DeviceEvent.__table__.insert(), [rows[0] | {"event_uid": "new"}])
        new_id = conn.execute(text("SELECT id FROM device_events WHERE event_uid = 'new'"))
        assert new_id.scalar() > max(r[0] for r in before)
    with pytest.raises(IntegrityError), empty_engine.begin() as conn:
        conn.execute(DeviceEvent.__table__.insert(), [rows[5]])  # the idempotency key holds
    with empty_engine.connect() as conn:
        after = _all_events(conn)

    migrate.downgrade(empty_engine, "0009_complaint_import")
    with empty_engine.connect() as conn:
        assert _all_events(conn) == after
        assert _relkind(conn) == ("r" if pg else None)
    with pytest.raises(IntegrityError), empty_engine.begin() as conn:
        conn.execute(DeviceEvent.__table__.insert(), [rows[5] | {"ts": now}])  # (vendor, id)
    migrate.upgrade(empty_engine)
    with empty_engine.connect() as conn:
        assert _all_events(conn) == after
        assert migrate.current_revision(empty_engine) == migrate.head_revision()


def _columns(conn, table: str) -> set[str]:
    from sqlalchemy import inspect

    return {c["name"] for c in inspect(conn).get_columns(table)}


def test_0014_adds_the_slow_risk_columns_and_downgrades_keeping_rows(empty_engine):
    """Nullable columns on a populated database: older days and people read as unknown / not
    flagged; a downgrade (a rebuild on SQLite, with devices and alerts pointing at the people)
    drops them and keeps every row."""
    migrate.upgrade(empty_engine)
    day = date(2024, 1, 1)
    with empty_engine.begin() as conn:
        for statement in CATALOG_AT_0002:
            conn.execute(text(statement))
        conn.execute(
            text(
                "INSERT INTO care_recipients (id, program_id, region_id, external_ref,"
                " birth_year, sex, household, enrolled_on, pii_name, slow_risk_since,"
                " slow_risk_detail) VALUES (1, 1, 1, 'R1', 1940, 'F', 'alone', :day, 'n', :day,"
                " :detail)"
            ),
            {"day": day, "detail": '{"above_ratio": 0.4}'},
        )
        conn.execute(text(DEVICE_AT_0002), {"id": 1, "uid": "d1", "day": day})
        conn.execute(text("UPDATE devices SET recipient_id = 1 WHERE id = 1"))
        for k in range(3):
            conn.execute(
                text(
                    "INSERT INTO device_daily (device_id, day, events, active_hours, calls,"
                    " interactions, triggers, sessions, activity_slots, above_slots, watts_sum,"
                    " watts_n) VALUES (1, :day, 5, 0, 0, 0, 0, 0, 7, 3, 500.0, 5)"
                ),
                {"day": day + timedelta(days=k)},
            )
    migrate.downgrade(empty_engine, "0014_decline-1")
    with empty_engine.connect() as conn:
        assert not {"above_slots", "watts_sum", "watts_n"} & _columns(conn, "device_daily")
        assert not {"slow_risk_since", "slow_risk_detail"} & _columns(conn, "care_recipients")
        assert conn.execute(
            text("SELECT count(*), sum(activity_slots) FROM device_daily")
        ).one() == (
            3,
            21,
        )
        assert conn.execute(text("SELECT external_ref FROM care_recipients")).scalar() == "R1"
        assert conn.execute(text("SELECT recipient_id FROM devices")).scalar() == 1
    migrate.upgrade(empty_engine)
    with empty_engine.connect() as conn:
        row = conn.execute(text("SELECT above_slots, watts_sum, watts_n FROM device_daily"))
        assert set(row.all()) == {(None, None, None)}
        row = conn.execute(text("SELECT slow_risk_since, slow_risk_detail FROM care_recipients"))
        assert tuple(row.one()) == (None, None)


def _triggers(conn) -> set[str]:
    if conn.dialect.name == "postgresql":
        query = "SELECT tgname FROM pg_trigger WHERE tgrelid = to_regclass('devices')"
        query += " OR tgrelid = to_regclass('device_state')"
        names = conn.execute(text(query)).scalars()
    else:
        names = conn.execute(
            text("SELECT name FROM sqlite_master WHERE type = 'trigger'")
        ).scalars()
    return {n for n in names if n.startswith("device_counts_")}


def test_0013_counts_a_populated_city_and_downgrades(empty_engine):
    """The due-time column and the device counts come and go on a populated database: the
    counts start equal to a GROUP BY, the triggers keep them so, and the downgrade leaves the
    devices and their state as they were."""

    from dashboard.db.device_counts import drift

    migrate.upgrade(empty_engine, "0012_routine_due")
    t = datetime(2026, 12, 1, tzinfo=UTC)
    with empty_engine.begin() as conn:
        for statement in CATALOG_AT_0002:
            conn.execute(text(statement))
        for did in range(1, 8):
            conn.execute(
                text(DEVICE_AT_0002), {"id": did, "uid": f"d{did}", "day": date(2024, 1, 1)}
            )
        conn.execute(text("UPDATE devices SET status = 'retired' WHERE id = 7"))
        for did in (1, 2, 3, 7):
            conn.execute(text(STATE_AT_0002), {"id": did, "t": t})
        conn.execute(
            text("UPDATE device_state SET last_seen_at = :t WHERE device_id < 3"), {"t": t}
        )
        conn.execute(text("UPDATE device_state SET state = 'risk' WHERE device_id = 2"))
        states = conn.execute(text("SELECT device_id, state FROM device_state ORDER BY 1")).all()

    migrate.upgrade(empty_engine)
    with empty_engine.begin() as conn:
        assert drift(conn) == {}
        rows = conn.execute(
            text("SELECT state, never_seen, devices FROM device_counts ORDER BY 1, 2")
        ).all()
        assert [(s, bool(n), c) for s, n, c in rows] == [
            ("normal", False, 1),  # 1: reported
            ("normal", True, 1),  # 3: a state row, never reported
            ("offline", True, 3),  # 4–6: no state row (7 is retired)
            ("risk", False, 1),
        ]
        unscheduled = "SELECT count(*) FROM device_state WHERE rules_due_at IS NULL"
        assert conn.execute(text(unscheduled)).scalar() == 4  # every device due at once
        assert len(_triggers(conn)) == 6
        conn.execute(text("UPDATE devices SET status = 'in_repair' WHERE id = 1"))
        conn.execute(text("UPDATE device_state SET state = 'offline' WHERE device_id = 3"))
        assert drift(conn) == {}

    migrate.downgrade(empty_engine, "0012_routine_due")
    with empty_engine.connect() as conn:
        assert _triggers(conn) == set()
        tables = conn.dialect.get_table_names(conn)
        assert "device_counts" not in tables
        columns = {c["name"] for c in conn.dialect.get_columns(conn, "device_state")}
        assert "rules_due_at" not in columns
        after = conn.execute(text("SELECT device_id, state FROM device_state ORDER BY 1")).all()
        assert after == [(1, "normal"), (2, "risk"), (3, "offline"), (7, "normal")]
        assert [r[0] for r in after] == [r[0] for r in states]
        conn.execute(text("UPDATE devices SET status = 'active' WHERE id = 1"))  # no trigger
        conn.commit()
    migrate.upgrade(empty_engine)
    with empty_engine.connect() as conn:
        assert drift(conn) == {}
        assert migrate.current_revision(empty_engine) == migrate.head_revision()


def test_0015_starts_the_change_clock_at_the_last_sign_of_life_and_downgrades(empty_engine):
    """A populated device_state gets last_change_at = last_activity_at (the ladder then starts
    no later than before); a downgrade drops the column, keeps the rows and the device-count
    triggers still count."""
    migrate.upgrade(empty_engine)
    day = date(2024, 1, 1)
    seen = "2024-01-02 03:04:05.000000"
    with empty_engine.begin() as conn:
        for statement in CATALOG_AT_0002:
            conn.execute(text(statement))
        for device_id in (1, 2):
            conn.execute(
                text(DEVICE_AT_0002), {"id": device_id, "uid": f"d{device_id}", "day": day}
            )
            conn.execute(
                text(
                    "INSERT INTO device_state (device_id, state, state_since, last_seen_at,"
                    " last_activity_at, updated_at) VALUES (:id, 'normal', :at, :at, :act, :at)"
                ),
                {"id": device_id, "at": seen, "act": seen if device_id == 1 else None},
            )
    migrate.downgrade(empty_engine, "0015_change_clock-1")
    with empty_engine.connect() as conn:
        assert "last_change_at" not in _columns(conn, "device_state")
        assert conn.execute(text("SELECT count(*) FROM device_state")).scalar() == 2
    migrate.upgrade(empty_engine)
    with empty_engine.begin() as conn:
        rows = conn.execute(
            text(
                "SELECT device_id, last_change_at IS NOT NULL, last_change_at = last_activity_at"
                " FROM device_state ORDER BY device_id"
            )
        ).all()
        assert [tuple(r) for r in rows] == [(1, True, True), (2, False, None)]
        before = conn.execute(text("SELECT count(*) FROM device_counts")).scalar()
        conn.execute(text("UPDATE device_state SET state = 'attention' WHERE device_id = 1"))
        # the triggers survived the downgrade's rebuild: a state change writes two deltas
        assert conn.execute(text("SELECT count(*) FROM device_counts")).scalar() == before + 2


def _plug_day_and_routine(conn, daily: tuple[str, bytes], routine: tuple[str, bytes]) -> None:
    """Plug 1 with one stored day (3 events) and a learned routine (20 reference days), each
    with a value in the binary column a migration adds."""
    day, at = date(2024, 1, 1), "2024-01-02 03:04:05.000000"
    for statement in CATALOG_AT_0002:
        conn.execute(text(statement))
    conn.execute(text(DEVICE_AT_0002), {"id": 1, "uid": "d1", "day": day})
    conn.execute(
        text(
            "INSERT INTO device_daily (device_id, day, events, active_hours, calls,"
            f" interactions, triggers, sessions, {daily[0]})"
            " VALUES (1, :day, 3, 0, 0, 0, 0, 0, :value)"
        ),
        {"day": day, "value": daily[1]},
    )
    conn.execute(
        text(
            "INSERT INTO device_routines (device_id, learned_on, reference_days, model,"
            f" {routine[0]}, updated_at) VALUES (1, :day, 20, '{{}}', :value, :at)"
        ),
        {"day": day, "value": routine[1], "at": at},
    )


def test_0016_adds_the_level_columns_and_downgrades_keeping_rows(empty_engine):
    """On a populated database the stored days and routines read as without levels (NULL);
    a downgrade drops both columns and keeps the rows; upgrading again works."""
    migrate.upgrade(empty_engine)
    with empty_engine.begin() as conn:
        _plug_day_and_routine(
            conn, ("level_slots", bytes(range(96))), ("level_model", b"\x01" * 10)
        )
    migrate.downgrade(empty_engine, "0016_plug_levels-1")
    with empty_engine.connect() as conn:
        assert "level_slots" not in _columns(conn, "device_daily")
        assert "level_model" not in _columns(conn, "device_routines")
        assert conn.execute(text("SELECT events FROM device_daily")).scalar() == 3
        assert conn.execute(text("SELECT reference_days FROM device_routines")).scalar() == 20
    migrate.upgrade(empty_engine)
    with empty_engine.connect() as conn:
        row = conn.execute(text("SELECT events, level_slots FROM device_daily")).one()
        assert tuple(row) == (3, None)
        assert conn.execute(text("SELECT level_model FROM device_routines")).scalar() is None
        assert migrate.current_revision(empty_engine) == migrate.head_revision()


def test_0017_adds_the_light_columns_and_downgrades_keeping_rows(empty_engine):
    """On a populated database stored days, routines and states read as without light (NULL);
    a downgrade drops the three columns and keeps the rows and the device-count triggers;
    upgrading again works."""
    migrate.upgrade(empty_engine)
    at = "2024-01-02 03:04:05.000000"
    with empty_engine.begin() as conn:
        light = ("light_min", bytes(range(24))), ("light_course", b"\x02" * 24)
        _plug_day_and_routine(conn, *light)
        conn.execute(text(STATE_AT_0002), {"id": 1, "t": at})
        conn.execute(text("UPDATE device_state SET last_lux_at = :at"), {"at": at})
    migrate.downgrade(empty_engine, "0017_light_course-1")
    with empty_engine.connect() as conn:
        assert "light_min" not in _columns(conn, "device_daily")
        assert "light_course" not in _columns(conn, "device_routines")
        assert "last_lux_at" not in _columns(conn, "device_state")
        assert conn.execute(text("SELECT events FROM device_daily")).scalar() == 3
        assert conn.execute(text("SELECT reference_days FROM device_routines")).scalar() == 20
        assert conn.execute(text("SELECT count(*) FROM device_state")).scalar() == 1
    migrate.upgrade(empty_engine)
    with empty_engine.begin() as conn:
        assert conn.execute(text("SELECT light_min FROM device_daily")).scalar() is None
        assert conn.execute(text("SELECT light_course FROM device_routines")).scalar() is None
        assert conn.execute(text("SELECT last_lux_at FROM device_state")).scalar() is None
        before = conn.execute(text("SELECT count(*) FROM device_counts")).scalar()
        conn.execute(text("UPDATE device_state SET state = 'attention' WHERE device_id = 1"))
        # the triggers survived the downgrade's rebuild: a state change writes two deltas
        assert conn.execute(text("SELECT count(*) FROM device_counts")).scalar() == before + 2
    assert migrate.current_revision(empty_engine) == migrate.head_revision()


def test_0018_adds_the_still_record_and_downgrades_keeping_rows(empty_engine):
    """A routine stored before has no still record (NULL: the test waits for the next learning);
    a downgrade drops the column and keeps the routine; upgrading again works."""
    migrate.upgrade(empty_engine)
    with empty_engine.begin() as conn:
        _plug_day_and_routine(conn, ("light_min", None), ("light_course", None))
        conn.execute(text("UPDATE device_routines SET still_h = 1.5"))
    migrate.downgrade(empty_engine, "0018_still_record-1")
    with empty_engine.connect() as conn:
        assert "still_h" not in _columns(conn, "device_routines")
        assert conn.execute(text("SELECT reference_days FROM device_routines")).scalar() == 20
    migrate.upgrade(empty_engine)
    with empty_engine.connect() as conn:
        assert conn.execute(text("SELECT still_h FROM device_routines")).scalar() is None
    assert migrate.current_revision(empty_engine) == migrate.head_revision()


def test_0019_adds_the_left_on_run_and_record_and_downgrades_keeping_rows(empty_engine):
    """A state and a routine stored before have no run and no record (NULL: the test waits for
    the next reading above the ceiling and the next learning); a downgrade drops both columns
    and keeps the rows (and device_state's triggers); upgrading again works."""
    migrate.upgrade(empty_engine)
    with empty_engine.begin() as conn:
        _plug_day_and_routine(conn, ("light_min", None), ("light_course", None))
        conn.execute(text("UPDATE device_routines SET on_h = 6.5"))
        conn.execute(text(STATE_AT_0002), {"id": 1, "t": "2024-01-02 03:04:05.000000"})
        conn.execute(text("UPDATE device_state SET above_since = state_since"))
    migrate.downgrade(empty_engine, "0019_left_on-1")
    with empty_engine.connect() as conn:
        assert "on_h" not in _columns(conn, "device_routines")
        assert "above_since" not in _columns(conn, "device_state")
        assert conn.execute(text("SELECT reference_days FROM device_routines")).scalar() == 20
        assert conn.execute(text("SELECT count(*) FROM device_state")).scalar() == 1
    migrate.upgrade(empty_engine)
    with empty_engine.connect() as conn:
        assert conn.execute(text("SELECT on_h FROM device_routines")).scalar() is None
        assert conn.execute(text("SELECT count(*) FROM device_state")).scalar() == 1
        assert conn.execute(text("SELECT above_since FROM device_state")).scalar() is None
    assert migrate.current_revision(empty_engine) == migrate.head_revision() == HEAD


def test_0020_adds_the_band_and_its_record_and_downgrades_keeping_rows(empty_engine):
    """A state, a day and a routine stored before have no band, no breaks and no record (NULL:
    the band starts with the next reading, the record with the next learning); a downgrade
    drops the five columns and keeps the rows (and device_state's triggers)."""
    migrate.upgrade(empty_engine)
    with empty_engine.begin() as conn:
        _plug_day_and_routine(conn, ("light_min", None), ("light_course", None))
        conn.execute(text("UPDATE device_routines SET band_h = 7.5"))
        conn.execute(text("UPDATE device_daily SET band_slots = 5"))
        conn.execute(text(STATE_AT_0002), {"id": 1, "t": "2024-01-02 03:04:05.000000"})
        conn.execute(
            text(
                "UPDATE device_state SET band_since = state_since, band_low_w = 1, band_high_w = 2"
            )
        )
    migrate.downgrade(empty_engine, "0020_band-1")
    with empty_engine.connect() as conn:
        assert "band_h" not in _columns(conn, "device_routines")
        assert "band_slots" not in _columns(conn, "device_daily")
        assert not {"band_since", "band_low_w", "band_high_w"} & _columns(conn, "device_state")
        assert conn.execute(text("SELECT reference_days FROM device_routines")).scalar() == 20
        assert conn.execute(text("SELECT count(*) FROM device_daily")).scalar() == 1
        assert conn.execute(text("SELECT count(*) FROM device_state")).scalar() == 1
    migrate.upgrade(empty_engine)
    with empty_engine.connect() as conn:
        assert conn.execute(text("SELECT band_h FROM device_routines")).scalar() is None
        assert conn.execute(text("SELECT band_slots FROM device_daily")).scalar() is None
        assert conn.execute(text("SELECT band_since FROM device_state")).scalar() is None
    assert migrate.current_revision(empty_engine) == migrate.head_revision() == HEAD


def test_0021_adds_the_level_report_bound_and_downgrades_keeping_rows(empty_engine):
    """A routine stored before has no bound (NULL: any report may raise the level test until
    the tick scores the plug again); a downgrade drops the column and keeps the rows."""
    migrate.upgrade(empty_engine)
    with empty_engine.begin() as conn:
        _plug_day_and_routine(conn, ("light_min", None), ("light_course", None))
        conn.execute(text("UPDATE device_routines SET level_due_at = '2024-01-02 03:30:00'"))
    migrate.downgrade(empty_engine, "0021_level_due-1")
    with empty_engine.connect() as conn:
        assert "level_due_at" not in _columns(conn, "device_routines")
        assert conn.execute(text("SELECT reference_days FROM device_routines")).scalar() == 20
    migrate.upgrade(empty_engine)
    with empty_engine.connect() as conn:
        assert conn.execute(text("SELECT level_due_at FROM device_routines")).scalar() is None
    assert migrate.current_revision(empty_engine) == migrate.head_revision() == HEAD


def test_0022_adds_the_stored_reaches_and_downgrades_keeping_rows(empty_engine):
    """The stored reaches start empty (the worker's refresh fills them); a downgrade drops the
    table and keeps the routines."""
    migrate.upgrade(empty_engine)
    with empty_engine.begin() as conn:
        _plug_day_and_routine(conn, ("light_min", None), ("light_course", None))
        assert conn.execute(text("SELECT count(*) FROM plug_reaches")).scalar() == 0
        conn.execute(
            text(
                "INSERT INTO plug_reaches (device_id, learned_on, verdict, median_h, worst_h,"
                " computed_at) SELECT device_id, learned_on, 'fair', 9.5, 14.0,"
                " '2024-01-02 03:30:00' FROM device_routines"
            )
        )
    migrate.downgrade(empty_engine, "0022_plug_reaches-1")
    with empty_engine.connect() as conn:
        assert not inspect(conn).has_table("plug_reaches")
        assert conn.execute(text("SELECT reference_days FROM device_routines")).scalar() == 20
    migrate.upgrade(empty_engine)
    with empty_engine.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM plug_reaches")).scalar() == 0
    assert migrate.current_revision(empty_engine) == migrate.head_revision() == HEAD


def test_0023_adds_the_different_people_pairs_and_downgrades_keeping_people(empty_engine):
    """The pairs a lead marked as different people start empty; a pair is stored once, lower id
    first, and only for people who exist; a downgrade drops the table and keeps the people."""
    migrate.upgrade(empty_engine)
    insert = (
        "INSERT INTO different_people (first_id, second_id, marked_at, marked_by)"
        " VALUES (:a, :b, '2024-01-02 03:30:00', 'lead')"
    )
    with empty_engine.begin() as conn:
        for statement in CATALOG_AT_0002:
            conn.execute(text(statement))
        for rid in (1, 2):
            conn.execute(
                text(
                    "INSERT INTO care_recipients (id, program_id, region_id, external_ref,"
                    " birth_year, sex, household, enrolled_on, pii_name)"
                    " VALUES (:id, 1, 1, :ref, 1940, 'F', 'alone', :day, 'n')"
                ),
                {"id": rid, "ref": f"R{rid}", "day": date(2024, 1, 1)},
            )
        assert conn.execute(text("SELECT count(*) FROM different_people")).scalar() == 0
        conn.execute(text(insert), {"a": 1, "b": 2})
    for pair in ((1, 2), (2, 1), (1, 1)):  # once; lower id first; never a person with themselves
        with pytest.raises(IntegrityError), empty_engine.begin() as conn:
            conn.execute(text(insert), {"a": pair[0], "b": pair[1]})
    with pytest.raises(IntegrityError), empty_engine.begin() as conn:  # nobody 99
        conn.execute(text(insert), {"a": 1, "b": 99})
    migrate.downgrade(empty_engine, "0023_different_people-1")
    with empty_engine.connect() as conn:
        assert not inspect(conn).has_table("different_people")
        assert conn.execute(text("SELECT count(*) FROM care_recipients")).scalar() == 2
    migrate.upgrade(empty_engine)
    with empty_engine.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM different_people")).scalar() == 0
    assert migrate.current_revision(empty_engine) == migrate.head_revision() == HEAD
