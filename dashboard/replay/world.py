"""The throw-away database a replay runs in: built as ``init`` builds one, plus its people.

An embedded SQLite file in a temporary directory, migrated and loaded with the catalog and the
published figures by ``bootstrap.ensure_database`` with demo mode off (no demo city, no demo
accounts). Each input device becomes one person's device, installed on the day of its first
reading and registered at that reading, in the program the real devices of its type belong to;
a wanderer's person has the input's home and safe-zone radius. Naive timestamps are read in
the replay vendor's declared zone (``--tz``), by the real ingest.
"""

from __future__ import annotations

import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from sqlalchemy import Connection, Engine, event, insert, select

from dashboard.db.schema import CareRecipient, Device, Program, Vendor
from dashboard.replay.inputs import Recording
from dashboard.settings import LOCAL_TZ

VENDOR = "replay"
# The program and device type each kind of input is replayed as.
PROGRAM = {"plug": "seoul_smart_plug", "wandering": "goyang_wandering"}
DEVICE_TYPE = {"plug": "smart_plug", "wandering": "wandering_detector"}


@dataclass(frozen=True)
class World:
    engine: Engine
    device_ids: dict[str, int]  # input device id → devices.id
    uids: dict[int, str]  # devices.id → input device id


@contextmanager
def throwaway_world(recording: Recording, timezone: str) -> Iterator[World]:
    """A fresh database holding the recording's people and devices; deleted on exit."""
    from dashboard.bootstrap import ensure_database
    from dashboard.db.engine import make_engine
    from dashboard.settings import Settings

    with tempfile.TemporaryDirectory(prefix="anbu-replay-") as tmp:
        url = f"sqlite:///{Path(tmp) / 'replay.sqlite3'}"
        engine = make_engine(url)
        event.listen(engine, "connect", _throwaway_pragmas)
        try:
            ensure_database(engine, Settings(database_url=url, demo=False))
            with engine.begin() as conn:
                ids = register(conn, recording, timezone)
            yield World(engine, ids, {v: k for k, v in ids.items()})
        finally:
            engine.dispose()


def _throwaway_pragmas(dbapi_connection, _record) -> None:
    # Nothing here outlives the process: no fsync at all (runs after make_engine's settings).
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA synchronous=OFF")
    cursor.close()


def register(conn: Connection, recording: Recording, timezone: str) -> dict[str, int]:
    """The replay vendor, and one person with one device per input device; uid → device id."""
    now = recording.start
    conn.execute(
        insert(Vendor).values(
            code=VENDOR, name="replay", timezone=timezone, created_at=now, updated_at=now
        )
    )
    kind = recording.kind
    program_id, region_id = conn.execute(
        select(Program.id, Program.region_id).where(Program.code == PROGRAM[kind])
    ).one()
    ids: dict[str, int] = {}
    for number, (uid, first) in enumerate(recording.first_seen.items(), start=1):
        home = recording.homes.get(uid)
        person = conn.execute(
            insert(CareRecipient)
            .values(
                program_id=program_id,
                region_id=region_id,
                external_ref=f"replay-{number}",
                birth_year=1945,
                sex="F",
                household="alone",
                enrolled_on=_local_day(first),
                pii_name=f"replay {number}",
                pii_home_lat=home.lat if home else None,
                pii_home_lon=home.lon if home else None,
                safe_zone_m=home.radius_m if home else None,
            )
            .returning(CareRecipient.id)
        ).scalar_one()
        ids[uid] = conn.execute(
            insert(Device)
            .values(
                device_uid=uid,
                type_code=DEVICE_TYPE[kind],
                program_id=program_id,
                vendor=VENDOR,
                recipient_id=person,
                region_id=region_id,
                installed_on=_local_day(first),
                registered_at=first,
                status="active",
            )
            .returning(Device.id)
        ).scalar_one()
    return ids


def _local_day(ts: datetime):
    return ts.astimezone(LOCAL_TZ).date()
