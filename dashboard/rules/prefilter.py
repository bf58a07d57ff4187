"""Which devices of an ingested batch can possibly change an alert: a cheap, safe superset.

Ingestion hands :func:`dashboard.rules.on_events` one :class:`Touched` per device with new
events: the device's type, the event types of the batch and the ``device_state`` the batch left
behind (merged in memory by ingestion, the values it just wrote). Most batches are plug readings
of devices that are fine; evaluating each of them loads facts and runs every rule only to
conclude "nothing to do". :func:`needs_rules` keeps a device when any rule could open, escalate,
update or close an alert for it, and leaves out only devices where every rule provably says
"nothing":

- it has a non-closed alert (activity may clear it, a reading may update its evidence), or it
  is a plug whose person's ``plug_no_change`` alert another of their plugs opened;
- the batch holds an SOS or an AI/automatic call result (the event rules);
- it is a care robot (SOS history) or a wandering detector with a position (the zone rules);
- its battery is under ``battery.low_pct``;
- it is silent past its type's timeout (a batch of late events only), or its last sign of life
  is older than the smallest threshold of its type's quiet rule (plug ladder, call days, robot
  interaction) — the same conditions as the silence tick's candidates (``engine._condition``);
- it is a plug above its background's ceiling for ``on_min_h`` (the left-on test), or whose
  band has held for the band test's threshold by its record (``band_h``, which ingestion reads
  with the background): the band test judges the band up to the last report, so only a
  report can move it, and the tick need not look for it.

Without an open alert, a rule's "cleared" decision changes nothing, so only firing matters, and
each rule fires only under one of the conditions above. ``tests/unit/test_rules_prefilter.py``
checks the superset against evaluating every device.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import Connection, select, union

from dashboard.db.inlist import bound_values, in_bound
from dashboard.db.prebuilt import prebuilt
from dashboard.db.schema import Alert, Device, DeviceType
from dashboard.detection.stillness import still_threshold_h
from dashboard.rules.calls import first_call_signal_h
from dashboard.rules.config import PlugRoutine, Thresholds
from dashboard.rules.plug import plug_ladder

# Event types that feed the event rules (robot_sos, call ladder, AI-call rules) whatever the state.
TRIGGER_EVENTS = frozenset({"sos", "ai_call_result"})
# Types always evaluated when they report: few devices, rules that read more than the state.
ALWAYS_TYPES = frozenset({"care_robot"})


@dataclass(frozen=True, slots=True)
class Touched:
    """What one ingested batch did to a device, as the rules' pre-filter needs it.

    The state fields are ``device_state`` after the batch (the merge ingestion wrote).
    """

    type_code: str
    event_types: frozenset[str]
    last_seen_at: datetime | None
    last_activity_at: datetime | None
    battery_pct: float | None
    last_lat: float | None
    # a plug's first reading above its background's ceiling (the left-on test's run)
    above_since: datetime | None = None
    # a plug's current band's start as its time counts (band.band_start) and its band record
    band_since: datetime | None = None
    band_h: float | None = None


def open_alert_devices(conn: Connection, ids: list[int]) -> set[int]:
    """Devices among ``ids`` with a non-closed alert, or plugs whose person has an open
    ``plug_no_change`` alert that another of their plugs opened (a sign of life on any plug
    closes it: ``rules.household``); one statement on indexed columns."""
    a, d = Alert.__table__, Device.__table__
    if not ids:
        return set()
    query = prebuilt(  # built once: every ingest batch runs it
        conn,
        "prefilter.open_alerts",
        lambda c: union(
            select(a.c.device_id).where(in_bound(c, a.c.device_id, "ids"), a.c.status != "closed"),
            select(d.c.id)
            .join(a, a.c.recipient_id == d.c.recipient_id)
            .where(
                in_bound(c, d.c.id, "ids"),
                d.c.type_code == "smart_plug",
                a.c.rule == "plug_no_change",
                a.c.status != "closed",
            ),
        ),
    )
    return set(conn.execute(query, {"ids": bound_values(conn, a.c.device_id, ids)}).scalars())


def silence_timeouts(conn: Connection, th: Thresholds) -> dict[str, int]:
    """Type code → seconds without data before ``device_silent`` (rules.toml overrides)."""
    query = prebuilt(
        conn,
        "prefilter.timeouts",
        lambda _: select(DeviceType.code, DeviceType.heartbeat_timeout_s),
    )
    timeouts = dict(conn.execute(query).all())
    return timeouts | th.device_silent.timeout_s


def quiet_hours(th: Thresholds) -> dict[str, float]:
    """Type code → the smallest hours without a sign of life at which its quiet rule can fire."""
    return {
        "smart_plug": plug_ladder(th.plug_no_change.min_hours, th)[0],
        "phone_line": first_call_signal_h(th),
        "care_robot": th.robot.no_interaction_h,
    }


def band_threshold(band_h: float, cfg: PlugRoutine) -> timedelta:
    """The band test's first stage for a plug with this record (``plug.band_threshold``)."""
    return timedelta(hours=float(still_threshold_h(band_h, cfg.band_factor, cfg.band_min_h)))


def needs_rules(
    t: Touched,
    th: Thresholds,
    now: datetime,
    timeouts: Mapping[str, int],
    quiet: Mapping[str, float],
) -> bool:
    """True unless every rule provably leaves a device without open alerts untouched."""
    if t.event_types & TRIGGER_EVENTS or t.type_code in ALWAYS_TYPES:
        return True
    if t.type_code == "wandering_detector" and t.last_lat is not None:
        return True
    if t.battery_pct is not None and t.battery_pct < th.battery.low_pct:
        return True
    timeout = timeouts.get(t.type_code)
    if t.last_seen_at is None or timeout is None:
        return True  # unknown: let the rules judge
    if t.last_seen_at < now - timedelta(seconds=timeout):
        return True
    cfg = th.plug_routine
    if (
        t.above_since is not None
        and cfg.enabled
        and cfg.on_enabled
        and t.above_since <= now - timedelta(hours=cfg.on_min_h)
    ):
        return True  # the left-on test may fire whatever the last sign of life
    if (
        t.band_since is not None
        and t.band_h is not None
        and cfg.enabled
        and cfg.band_enabled
        and t.band_since <= now - band_threshold(t.band_h, cfg)
    ):
        return True  # so may the band test (after a staff close: later, never earlier)
    hours = quiet.get(t.type_code)
    if hours is None:
        return False  # no quiet rule for the type
    return t.last_activity_at is None or t.last_activity_at <= now - timedelta(hours=hours)


def select_devices(
    conn: Connection, touched: Mapping[int, Touched], th: Thresholds, now: datetime
) -> list[int]:
    """The devices of a batch the rules must evaluate (sorted); see the module docstring."""
    ids = sorted(touched)
    if not ids:
        return []
    keep = open_alert_devices(conn, ids)
    timeouts = silence_timeouts(conn, th)
    quiet = quiet_hours(th)
    keep.update(
        i for i in ids if i not in keep and needs_rules(touched[i], th, now, timeouts, quiet)
    )
    return sorted(keep)
