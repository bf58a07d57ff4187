"""Naive baselines, measured in the same run beside each figure (``*_naive_*`` keys).

A figure alone swings ±50 % with the other work on a shared machine; the same work done the
obvious way, measured minutes apart in the same process, swings with it. Their ratio (the
``ratios`` section of the bench's JSON) is what says whether the product's way still pays.

Each baseline does the same job as the figure it stands beside, the straightforward way:

- ingest: one ORM object per event (``Session.add`` and ``flush``), after looking up its device
  and checking for a duplicate with one query each, one commit per request's batch, in-process
  (no HTTP). It stores the raw events only: no device state, rollups or rules, so it does less
  than the real path.
- rule tick: the rules for every active device (facts of all of them loaded and evaluated in a
  Python loop), instead of the candidates the tick's query selects.
- live page: every active device with its state, program and dong, and every open alert with
  its evidence, loaded into pandas and counted, sorted and cut there.
"""

from __future__ import annotations

import statistics
import time
from datetime import datetime

import pandas as pd
from sqlalchemy import Engine, and_, select
from sqlalchemy.orm import Session

from dashboard.db.engine import make_engine
from dashboard.db.schema import (
    Alert,
    CareRecipient,
    Device,
    DeviceEvent,
    DeviceState,
    Program,
    Region,
)
from dashboard.ingest.apikeys import vendor_for_key
from dashboard.ingest.events import ValidEvent, validate_event
from dashboard.ingest.payload import decode_batch
from dashboard.ingest.vendors import zone_for

NAIVE_INGEST_EVENTS = 3_000  # enough for a steady rate; the naive path is slow by design
TICK_SLICE = 20_000  # devices whose facts the naive tick holds at once


def naive_ingest(url: str, bodies: list[tuple[str, bytes]], now: datetime) -> tuple[float, int]:
    """(events/s, events stored) for one ORM insert per event over ``bodies``."""
    engine = make_engine(url)
    stored = 0
    try:
        with Session(engine) as session:
            started = time.perf_counter()
            for key, body in bodies:
                conn = session.connection()
                vendor = vendor_for_key(conn, key)
                zone = zone_for(conn, vendor)
                for index, raw in enumerate(decode_batch(body)):
                    event = validate_event(index, raw, zone)
                    if not isinstance(event, ValidEvent):
                        continue
                    device_id = session.scalar(
                        select(Device.id).where(
                            Device.device_uid == event.device_uid, Device.vendor == vendor
                        )
                    )
                    duplicate = session.scalar(
                        select(DeviceEvent.id).where(
                            DeviceEvent.vendor == vendor, DeviceEvent.event_uid == event.event_uid
                        )
                    )
                    if device_id is None or duplicate is not None:
                        continue
                    session.add(
                        DeviceEvent(
                            vendor=vendor,
                            event_uid=event.event_uid,
                            device_id=device_id,
                            ts=event.ts,
                            received_at=now,
                            type=event.type,
                            value=event.value,
                            data=event.data,
                        )
                    )
                    session.flush()
                    stored += 1
                session.commit()
            seconds = time.perf_counter() - started
    finally:
        engine.dispose()
    return (stored / seconds if seconds else 0.0), stored


def naive_tick(engine: Engine, now: datetime) -> float:
    """Seconds for the rules over every active device (no candidate query), rolled back."""
    from dashboard.rules.config import current_thresholds
    from dashboard.rules.engine import evaluate
    from dashboard.rules.facts import load_facts

    th = current_thresholds()
    d = Device.__table__
    with engine.connect() as conn:
        trans = conn.begin()
        try:
            started = time.perf_counter()
            ids = conn.execute(select(d.c.id).where(d.c.status == "active").order_by(d.c.id))
            ids = ids.scalars().all()
            # In slices of ids, so 250,000 devices' facts are never in memory at once.
            for start in range(0, len(ids), TICK_SLICE):
                part = ids[start : start + TICK_SLICE]
                where = and_(d.c.status == "active", d.c.id.between(part[0], part[-1]))
                evaluate(conn, load_facts(conn, where), th, now)
            return time.perf_counter() - started
        finally:
            trans.rollback()


def naive_live(engine: Engine, now: datetime, repeats: int = 3) -> float:
    """Median seconds of the live page's numbers computed in pandas from every row."""
    seconds = []
    with engine.connect() as conn:
        for _ in range(repeats):
            started = time.perf_counter()
            live_from_every_row(conn, now)
            seconds.append(time.perf_counter() - started)
        conn.rollback()
    return statistics.median(seconds)


def live_from_every_row(conn, now: datetime) -> dict[str, pd.DataFrame]:
    """What ``queries.live.live_snapshot`` shows, from every device and open alert row."""
    devices = pd.read_sql(
        select(
            Device.id,
            Device.device_uid,
            Device.type_code,
            Program.code.label("program_code"),
            Program.name_ko.label("program_ko"),
            Region.code.label("region_code"),
            Region.name_ko.label("region_ko"),
            DeviceState.state,
            DeviceState.last_seen_at,
            DeviceState.battery_pct,
            CareRecipient.pii_name,
        )
        .select_from(Device)
        .join(Program, Program.id == Device.program_id)
        .join(Region, Region.id == Device.region_id)
        .outerjoin(DeviceState, DeviceState.device_id == Device.id)
        .outerjoin(CareRecipient, CareRecipient.id == Device.recipient_id)
        .where(Device.status == "active"),
        conn,
    )
    devices["state"] = devices["state"].fillna("offline")
    devices["last_seen_at"] = pd.to_datetime(devices["last_seen_at"], utc=True, format="mixed")
    alerts = pd.read_sql(select(Alert).where(Alert.status != "closed"), conn)
    alerts["opened_at"] = pd.to_datetime(alerts["opened_at"], utc=True, format="mixed")
    return {
        "programs": devices.groupby(["program_code", "program_ko", "state"]).size().reset_index(),
        "dongs": devices.groupby(["region_code", "region_ko", "state"]).size().reset_index(),
        "stages": alerts.groupby("stage").size().reset_index(),
        "ticker": alerts.sort_values(["opened_at", "id"], ascending=False).head(12),
        "silent": devices.sort_values("last_seen_at", na_position="first").head(15),
        "newest": pd.DataFrame({"newest": [devices["last_seen_at"].max()]}),
    }
