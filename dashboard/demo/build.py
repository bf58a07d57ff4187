"""``build_demo``: the whole deterministic demo city in one transaction."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np
from sqlalchemy import Engine, func, insert, select

from dashboard import clock
from dashboard.catalog import load_catalog, program_ids, read_regions
from dashboard.db.schema import (
    Alert,
    AppMeta,
    AuditLog,
    CareRecipient,
    Complaint,
    ComplaintSite,
    Device,
    DeviceDaily,
    DeviceEvent,
    DeviceState,
    DeviceType,
    Dispatch,
    Enrolment,
    IncentiveLedger,
    ParticipationPeriod,
    ParticipationWeek,
    Region,
)
from dashboard.demo import (
    aicalls,
    budget,
    complaints,
    fixed,
    participation,
    phones,
    plugs,
    responders,
    robots,
    wandering,
)
from dashboard.demo.alerts import build_alerts
from dashboard.demo.clock import TimeGrid
from dashboard.demo.context import Ctx, Part, Place
from dashboard.demo.present import derive_present
from dashboard.demo.rates import data_delays
from dashboard.demo.writer import bulk_insert, columns_to_rows, next_id, sync_sequence, to_dates
from dashboard.rules import current_thresholds

SCALES = ("small", "seoul")
DAILY_DEFAULTS = {
    "events": 0,
    "active_hours": 0,
    "energy_wh": None,
    "calls": 0,
    "interactions": 0,
    "triggers": 0,
    "sessions": 0,
    "distance_m": None,
    "activity_slots": None,
    "night_low_w": None,
    "night_high_w": None,
    "night_step_w": None,
    "above_slots": None,
    "band_slots": None,
    "watts_sum": None,
    "watts_n": None,
    "level_slots": None,
    "light_min": None,
}
# Stored as floats; the other columns are whole numbers (NaN in either: NULL).
FLOAT_DAILY = frozenset({"energy_wh", "distance_m", "night_low_w", "night_high_w",
                         "night_step_w", "watts_sum"})  # fmt: skip


class DemoRefused(RuntimeError):
    """The database already holds care recipients or devices; the demo never mixes with them."""


@dataclass
class DemoSummary:
    scale: str
    seed: int
    end: datetime
    days: int
    seconds: float
    rows: dict[str, int] = field(default_factory=dict)


def build_demo(
    engine: Engine,
    *,
    scale: str = "small",
    seed: int = 20241129,
    days: int = 90,
    end: datetime | None = None,
    progress: Callable[[float, str], None] | None = None,
) -> DemoSummary:
    """Generate the demo city into an empty database (catalog rows may already exist)."""
    if scale not in SCALES:
        raise ValueError(f"scale must be one of {', '.join(SCALES)}")
    if end is not None:
        clock.require_aware(end, "end")
    started = time.perf_counter()
    end = (end or clock.now()).astimezone(UTC).replace(second=0, microsecond=0)
    grid = TimeGrid.make(end, days)
    report = progress or (lambda _f, _m: None)
    rows: dict[str, int] = {}
    with engine.begin() as conn:
        report(0.0, "catalog")
        load_catalog(conn)
        n_people = conn.execute(select(func.count()).select_from(CareRecipient)).scalar_one()
        n_devices = conn.execute(select(func.count()).select_from(Device)).scalar_one()
        if n_people or n_devices:
            raise DemoRefused(
                f"database already has {n_people} care recipients and {n_devices} devices; "
                "the demo city is only built into an empty database"
            )
        tables = (CareRecipient, Device, Alert, ComplaintSite, Enrolment)
        ctx = Ctx(
            rng=np.random.Generator(np.random.PCG64(seed)),
            grid=grid,
            scale=scale,
            places=_places(conn),
            children={},
            programs=program_ids(conn),
            next_ids={t.__tablename__: next_id(conn, t.__table__) for t in tables},
            th=current_thresholds(),
            timeouts=dict(
                conn.execute(select(DeviceType.code, DeviceType.heartbeat_timeout_s)).all()
            ),
        )
        for code in ctx.places:
            ctx.children.setdefault(code, [])
        for code, parent in conn.execute(_parent_query()).tuples():
            if parent:
                ctx.children.setdefault(parent, []).append(code)

        def sub(k: int) -> None:
            # Each generator draws from its own stream, so changing one leaves the others alone.
            ctx.rng = np.random.Generator(np.random.PCG64([seed, k]))

        parts: list[Part] = []
        sub(1)
        parts.append(plugs.generate(ctx, lambda f: report(0.05 + 0.4 * f, "smart plugs")))
        report(0.45, "call monitoring")
        sub(2)
        parts.append(phones.generate(ctx))
        report(0.5, "AI calls")
        sub(3)
        parts.append(aicalls.generate(ctx))
        sub(4)
        parts.append(robots.generate(ctx))
        sub(5)
        parts.append(wandering.generate(ctx))
        sub(6)
        sites = fixed.site_rows(ctx)
        parts.append(fixed.generate(ctx, sites))

        report(0.55, "writing people and devices")
        rows["care_recipients"] = bulk_insert(
            conn, CareRecipient.__table__, (r for p in parts for r in p.recipients)
        )
        rows["complaint_sites"] = bulk_insert(conn, ComplaintSite.__table__, sites)
        rows["devices"] = bulk_insert(conn, Device.__table__, (d for p in parts for d in p.devices))
        report(0.6, "writing daily rollups")
        rows["device_daily"] = 0
        for p in parts:
            for batch in p.daily:
                rows["device_daily"] += _write_daily(conn, grid, batch)
        report(0.75, "writing raw events")
        rows["device_events"] = 0
        # A stream of its own: the delays change no other generated row.
        delays = np.random.Generator(np.random.PCG64([seed, 11]))
        for p in parts:
            for batch in p.events:
                rows["device_events"] += _write_events(conn, batch, delays, grid.end)
        rows["device_state"] = bulk_insert(
            conn, DeviceState.__table__, (_state(grid, s) for p in parts for s in p.states)
        )

        report(0.85, "alert history")
        sub(7)
        out = build_alerts(ctx, [e for p in parts for e in p.episodes])
        rows["alerts"] = bulk_insert(conn, Alert.__table__, out["alerts"])
        rows["dispatches"] = bulk_insert(conn, Dispatch.__table__, out["dispatches"])
        rows["audit_log"] = bulk_insert(conn, AuditLog.__table__, out["audit_log"])
        sync_sequence(conn, Alert.__table__)  # the rules insert alerts without explicit ids

        # The present: open alerts and device_state.state from the real rules at ``end``.
        report(0.88, "open alerts (rules)")
        sub(10)
        rows |= derive_present(conn, ctx)

        report(0.9, "complaints and participation")
        sub(8)
        rows["complaints"] = bulk_insert(conn, Complaint.__table__, complaints.generate(ctx, sites))
        sub(9)
        part_rows = participation.generate(ctx)
        enrol = part_rows["enrolments"]
        ids = ctx.alloc("enrolments", len(enrol))
        for e, i in zip(enrol, ids.tolist(), strict=True):
            e["id"] = i
        rows["enrolments"] = bulk_insert(conn, Enrolment.__table__, enrol)
        rows["participation_weeks"] = bulk_insert(
            conn,
            ParticipationWeek.__table__,
            (
                {"enrolment_id": enrol[i]["id"], "week": w, "active_days": d}
                for i, w, d in part_rows["cohort_weeks"]
            ),
        )
        rows["participation_periods"] = bulk_insert(
            conn, ParticipationPeriod.__table__, part_rows["participation_periods"]
        )
        wrist = enrol[part_rows["wrist_from"][0] :]
        rows["incentive_ledger"] = bulk_insert(
            conn,
            IncentiveLedger.__table__,
            participation.ledger(ctx, wrist, ctx.programs["seoul_wrist_doctor"]),
        )

        rows |= responders.generate(conn, grid.end)
        rows |= budget.generate(conn, grid.end, seed)

        for t in tables:
            sync_sequence(conn, t.__table__)
        now = grid.end
        meta = {
            "demo_generated_at": clock.now().isoformat(timespec="seconds"),
            "demo_scale": scale,
            "demo_seed": str(seed),
            "demo_end": end.isoformat(),
            "demo_days": str(days),
        }
        # A previous demo's keys may remain after its data was wiped; replace them.
        conn.execute(AppMeta.__table__.delete().where(AppMeta.key.in_(list(meta))))
        conn.execute(
            insert(AppMeta), [{"key": k, "value": v, "updated_at": now} for k, v in meta.items()]
        )
    report(1.0, "done")
    return DemoSummary(
        scale=scale,
        seed=seed,
        end=end,
        days=days,
        seconds=round(time.perf_counter() - started, 2),
        rows=rows,
    )


def _parent_query():
    parent = Region.__table__.alias("parent")
    return select(Region.code, parent.c.code).outerjoin(parent, Region.parent_id == parent.c.id)


def _places(conn) -> dict[str, Place]:
    weights = {r.code: r.one_person_65plus for r in read_regions()}
    known = [w for w in weights.values() if w]
    fallback = float(np.median(known)) if known else 1.0
    out = {}
    names: dict[int, tuple[str, int | None]] = {}
    regions = conn.execute(
        select(Region.id, Region.code, Region.name_ko, Region.parent_id, Region.lat, Region.lon)
    ).all()
    for r in regions:
        names[r.id] = (r.name_ko, r.parent_id)
    for r in regions:
        path, pid = [r.name_ko], r.parent_id
        while pid is not None:
            nm, pid = names[pid]
            path.append(nm)
        out[r.code] = Place(
            id=r.id,
            code=r.code,
            name_ko=" ".join(reversed(path)),
            lat=r.lat or 0.0,
            lon=r.lon or 0.0,
            weight=float(weights.get(r.code) or fallback),
        )
    return out


def _write_daily(conn, grid: TimeGrid, batch: dict[str, np.ndarray]) -> int:
    cols: dict[str, Any] = {
        "device_id": batch["device_id"],
        "day": to_dates(grid.day0, batch["day"]),
    }
    n = len(batch["device_id"])
    for name, default in DAILY_DEFAULTS.items():
        if name in batch:
            arr = np.asarray(batch[name])
            if arr.dtype == object:  # bytes (level_slots, light_min) or None
                cols[name] = arr.tolist()
            elif name in FLOAT_DAILY:
                cols[name] = arr.astype(float)
            elif arr.dtype.kind == "f" and np.isnan(arr).any():
                cols[name] = [None if v != v else int(v) for v in arr.tolist()]
            else:
                cols[name] = arr.astype(np.int64)
        else:
            cols[name] = [default] * n
    return bulk_insert(conn, DeviceDaily.__table__, columns_to_rows(cols))


def _write_events(conn, batch: dict[str, Any], delays: np.random.Generator, end: datetime) -> int:
    ts = np.asarray(batch["ts"], dtype=np.int64)
    n = len(ts)
    if n == 0:
        return 0
    base = datetime(1970, 1, 1, tzinfo=UTC)
    at = [base + timedelta(seconds=s) for s in ts.tolist()]
    vendor = batch["vendor"]
    # Each vendor's own delay (dashboard.demo.rates.DELAY_PROFILES), capped at ``end``: the
    # history the rules judged at ``end`` already holds every generated reading.
    late = data_delays(delays, [vendor] * n if isinstance(vendor, str) else list(vendor))
    cap = [max(a, end) for a in at]
    recv = [min(a + timedelta(seconds=float(d)), c) for a, d, c in zip(at, late, cap, strict=True)]
    # Two events of a device in the same second (rare) still need distinct ids.
    uids, seen = [], {}
    for u in batch["uid"]:
        k = seen.get(u, 0)
        seen[u] = k + 1
        uids.append(u if k == 0 else f"{u}-{k + 1}")
    cols = {
        "vendor": [vendor] * n if isinstance(vendor, str) else vendor,
        "event_uid": uids,
        "device_id": np.asarray(batch["device_id"]).astype(int),
        "ts": at,
        "received_at": recv,
        "type": [str(t) for t in np.asarray(batch["type"]).tolist()],
        "value": np.asarray(batch["value"], dtype=float),
        "data": batch["data"],
    }
    return bulk_insert(conn, DeviceEvent.__table__, columns_to_rows(cols))


def _state(grid: TimeGrid, s: dict[str, Any]) -> dict[str, Any]:
    base = datetime(1970, 1, 1, tzinfo=UTC)
    row = {"last_lux_at": None} | dict(s)  # only plugs read light
    for k in ("state_since", "last_seen_at", "last_activity_at", "last_lux_at"):
        v = row.get(k)
        row[k] = None if v is None else base + timedelta(seconds=int(v))
    row["state_since"] = row["state_since"] or base + timedelta(seconds=grid.t0)
    row["updated_at"] = grid.end
    return row
