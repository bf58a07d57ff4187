"""The wall screen's device counts (``device_counts``, kept by triggers) never drift from a
fresh GROUP BY, whatever changes devices: ingest, the rule tick, status changes through the
registry, devices moved, added or deleted, state rows written by hand; and the repair path."""

from __future__ import annotations

import random
from datetime import UTC, date, datetime, timedelta

import pandas as pd
from sqlalchemy import delete, func, insert, select, update

from dashboard.auth.principal import SessionUser
from dashboard.db.device_counts import drift, fold, fresh_counts, recount
from dashboard.db.schema import Alert, Device, DeviceCount, DeviceState, Program, Region
from dashboard.enrollment.devices import set_device_status
from dashboard.ingest import ingest_events
from dashboard.rules import run_silence_tick
from queries.live import LiveFilters, device_counts
from tests.ingest_support import VENDOR, seed_catalog

NOW = datetime(2026, 12, 2, 3, 0, tzinfo=UTC)
LEAD = SessionUser("lead-1", "lead-1", "lead")
STATUSES = ("active", "in_repair", "retired")


def _fresh_frame(conn) -> pd.DataFrame:
    """``queries.live.device_counts``'s columns computed from the devices themselves."""
    rows = conn.execute(fresh_counts()).all()
    df = pd.DataFrame(rows, columns=["program_id", "region_id", "state", "never", "devices"])
    df["never_seen"] = df["devices"].where(df.pop("never").astype(bool), 0)
    out = df.groupby(["program_id", "region_id", "state"], as_index=False).sum()
    return out.sort_values(["program_id", "region_id", "state"]).reset_index(drop=True)


def _kept_frame(conn, filters: LiveFilters | None = None) -> pd.DataFrame:
    df = device_counts(conn, filters or LiveFilters())[
        ["program_id", "region_id", "state", "devices", "never_seen"]
    ]
    return df.sort_values(["program_id", "region_id", "state"]).reset_index(drop=True)


def _agree(engine) -> None:
    with engine.connect() as conn:
        assert drift(conn) == {}
        kept, fresh = _kept_frame(conn), _fresh_frame(conn)
        pd.testing.assert_frame_equal(kept, fresh, check_dtype=False)


def _seed(engine) -> list[int]:
    with engine.begin() as conn:
        ids = seed_catalog(conn, extra_plugs=12)
        conn.execute(
            insert(Region),
            [{"id": 2, "code": "4128551000", "level": "dong", "name_ko": "동", "name_en": "Dong"}],
        )
        conn.execute(
            insert(Program),
            [
                {
                    "id": 2,
                    "code": "other_program",
                    "kind": "device",
                    "name_ko": "다른",
                    "name_en": "Other",
                    "region_id": 1,
                }
            ],
        )
    return sorted(ids.values())


def _uid(engine, device_id: int) -> str:
    with engine.connect() as conn:
        return conn.execute(select(Device.device_uid).where(Device.id == device_id)).scalar_one()


def test_counts_follow_a_random_mix_of_operations(db_engine):
    ids = _seed(db_engine)
    _agree(db_engine)
    rng = random.Random(13)
    now = NOW
    events = 0
    reported: set[int] = set()
    seeded = set(ids)
    for step in range(60):
        now += timedelta(minutes=rng.choice((1, 7, 90)))
        op = rng.choice(("ingest", "ingest", "tick", "status", "move", "state", "new", "drop"))
        device_id = rng.choice(ids)
        with db_engine.begin() as conn:
            if op == "ingest":  # a few readings, some devices for the first time
                batch = []
                for target in rng.sample(ids, 4):
                    events += 1
                    reported.add(target)
                    batch.append(
                        {
                            "event_id": f"e{events}",
                            "device_id": _uid(db_engine, target),
                            "ts": (now - timedelta(seconds=rng.randrange(600))).isoformat(),
                            "type": "power",
                            "watts": rng.choice((0.0, 12.0, 80.0)),
                            "battery_pct": rng.choice((5, 60)),
                        }
                    )
                ingest_events(conn, VENDOR, batch, now=now)
            elif op == "tick":  # opens device_silent tickets: devices go offline
                run_silence_tick(conn, now + timedelta(hours=rng.choice((0, 3, 30))))
            elif op == "status":
                current = conn.execute(
                    select(Device.status).where(Device.id == device_id)
                ).scalar_one()
                status = rng.choice([s for s in STATUSES if s != current])
                if status == "retired":  # the registry path: released from its person too
                    set_device_status(conn, LEAD, now, device_id, status)
                else:
                    conn.execute(update(Device).where(Device.id == device_id).values(status=status))
            elif op == "move":
                conn.execute(
                    update(Device)
                    .where(Device.id == device_id)
                    .values(program_id=rng.choice((1, 2)), region_id=rng.choice((1, 2)))
                )
            elif op == "state":  # by hand: a state, a state row removed, or seen cleared
                choice = rng.random()
                if choice < 0.4:
                    conn.execute(
                        update(DeviceState)
                        .where(DeviceState.device_id == device_id)
                        .values(state=rng.choice(("normal", "attention", "risk", "offline")))
                    )
                elif choice < 0.7:
                    conn.execute(delete(DeviceState).where(DeviceState.device_id == device_id))
                else:
                    conn.execute(
                        update(DeviceState)
                        .where(DeviceState.device_id == device_id)
                        .values(last_seen_at=None)
                    )
            elif op == "new":
                new_id = max(ids) + 1
                conn.execute(
                    insert(Device).values(
                        id=new_id,
                        device_uid=f"new-{new_id}",
                        type_code="smart_plug",
                        program_id=rng.choice((1, 2)),
                        vendor=VENDOR,
                        region_id=rng.choice((1, 2)),
                        installed_on=date(2026, 1, 1),
                        status=rng.choice(("active", "in_repair")),
                    )
                )
                ids.append(new_id)
            else:  # a device added by mistake, without history, deleted outright
                alerted = set(conn.execute(select(Alert.device_id)).scalars())
                bare = sorted(set(ids) - reported - alerted - seeded)
                if bare:
                    conn.execute(delete(DeviceState).where(DeviceState.device_id == bare[-1]))
                    conn.execute(delete(Device).where(Device.id == bare[-1]))
                    ids.remove(bare[-1])
        if step % 10 == 9:
            with db_engine.begin() as conn:
                fold(conn)
        _agree(db_engine)
    # The filters narrow the kept counts the way they narrow the devices.
    with db_engine.connect() as conn:
        only = _kept_frame(conn, LiveFilters(programs=("other_program",), states=("offline",)))
        fresh = _fresh_frame(conn)
        expected = fresh[(fresh.program_id == 2) & (fresh.state == "offline")]
        pd.testing.assert_frame_equal(only, expected.reset_index(drop=True), check_dtype=False)


def test_fold_keeps_one_row_per_group_and_recount_repairs_drift(db_engine):
    ids = _seed(db_engine)
    with db_engine.begin() as conn:
        for device_id in ids[:6]:
            conn.execute(update(Device).where(Device.id == device_id).values(status="in_repair"))
            conn.execute(update(Device).where(Device.id == device_id).values(status="active"))
        rows = conn.execute(select(func.count()).select_from(DeviceCount)).scalar()
        removed = fold(conn)
        groups = conn.execute(select(func.count()).select_from(DeviceCount)).scalar()
        assert removed == rows - groups and groups == len(drift_free_groups(conn))
    _agree(db_engine)
    with db_engine.begin() as conn:  # a drift made by hand: a count lost, a group invented
        conn.execute(
            insert(DeviceCount),
            [
                {
                    "program_id": 1,
                    "region_id": 1,
                    "state": "normal",
                    "never_seen": True,
                    "devices": -3,
                },
                {
                    "program_id": 9,
                    "region_id": 9,
                    "state": "risk",
                    "never_seen": False,
                    "devices": 2,
                },
            ],
        )
        assert len(drift(conn)) == 2
        result = recount(conn)
        assert result.differed == 2
    _agree(db_engine)
    with db_engine.begin() as conn:
        assert recount(conn).differed == 0


def drift_free_groups(conn) -> list:
    return conn.execute(fresh_counts()).all()


def test_the_daily_recount_repairs_once_a_day(db_engine):
    from dashboard.db.device_counts import daily_recount

    _seed(db_engine)
    with db_engine.begin() as conn:
        conn.execute(
            insert(DeviceCount),
            [{"program_id": 1, "region_id": 1, "state": "risk", "never_seen": False, "devices": 1}],
        )
    first = daily_recount(db_engine, NOW)
    assert first is not None and first.differed == 1
    _agree(db_engine)
    assert daily_recount(db_engine, NOW + timedelta(hours=2)) is None  # same Seoul day
    assert daily_recount(db_engine, NOW + timedelta(days=1)).differed == 0
