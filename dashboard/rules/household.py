"""A person with several smart plugs: one person, one quiet spell, one alert.

A ``plug_no_change`` alert is the person's (keyed by the person, ``model.dedup_key``), and a
sign of life on any of their plugs is theirs. So every evaluation judges all of a person's
active plugs together (:func:`sibling_plugs`), each from the person's latest sign of life on
any of them (:func:`with_person_activity`, read by ``rules.plug.person_activity``) with its own
background, routine and tests; and the person's alert gets one decision per evaluation
(:func:`one_per_person`): the gravest stage any plug finds. Before, each plug judged its own
spell and wrote the shared alert in turn: a TV plug left unused raised 심각 while the person
used the kettle on their other plug every three hours, and the alert's spell changed with each
writer, so the ladder's steps never applied (docs/detection.md, "A person with several plugs").
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import date, datetime
from typing import Any

from sqlalchemy import Connection, func, select

from dashboard.clock import as_utc
from dashboard.db.inlist import bound_values, in_bound
from dashboard.db.prebuilt import prebuilt
from dashboard.db.schema import Device, DeviceAssignment, DeviceRoutine
from dashboard.detection.records import parse_routine
from dashboard.rules.config import Thresholds
from dashboard.rules.model import STAGE_RANK, Decision, DeviceFacts
from dashboard.settings import LOCAL_TZ

PLUG = "smart_plug"
RULE = "plug_no_change"
CHUNK = 5_000  # people per IN list
# The plug whose tests an alert's evidence records (its line, its band): the lifecycle's holds
# judge a decision against that evidence, so only that plug's "cleared" may be weighed there.
JUDGE_KEY = "plug_device_id"

Keyed = tuple[str, DeviceFacts, Decision]


def sibling_plugs(conn: Connection, facts: Sequence[DeviceFacts]) -> list[int]:
    """The active smart plugs of the people of ``facts``' plugs that are not among ``facts``
    (loaded through ``facts.fact_query``, which leaves out ended enrollments)."""
    people = sorted({f.recipient_id for f in facts if f.type_code == PLUG and f.recipient_id})
    if not people:
        return []
    d = Device.__table__
    query = prebuilt(  # built once: every evaluation with a plug runs it
        conn,
        "household.sibling_plugs",
        lambda c: select(d.c.id).where(
            in_bound(c, d.c.recipient_id, "ids"), d.c.type_code == PLUG, d.c.status == "active"
        ),
    )
    known = {f.device_id for f in facts}
    found: set[int] = set()
    for start in range(0, len(people), CHUNK):
        part = people[start : start + CHUNK]
        ids = conn.execute(query, {"ids": bound_values(conn, d.c.recipient_id, part)}).scalars()
        found.update(ids)
    return sorted(found - known)


@dataclass(frozen=True)
class Lender:
    """A plug whose signs of life may stand for its person's on their other plugs, and which
    (:func:`lenders`): one judged against its learned background (from ``since``, a Seoul
    day), with its light's ``course`` learned if it reads light, given since it came to this
    person (``assigned_at``, None where not recorded)."""

    recipient_id: int
    since: date
    course: bool
    assigned_at: datetime | None

    def lends(self, sign: datetime, reads_lux: bool) -> bool:
        """Whether the sign of life ``sign`` (of a plug reading light or not) is lent."""
        if sign.astimezone(LOCAL_TZ).date() < self.since:
            return False  # judged by the margins alone then
        if reads_lux and not self.course:
            return False  # its light changes are not judged against daylight yet
        return self.assigned_at is None or sign >= self.assigned_at  # else someone else's


def lenders(conn: Connection, facts: Sequence[DeviceFacts], th: Thresholds) -> dict[int, Lender]:
    """Device id → :class:`Lender`, for the plugs among ``facts`` whose signs of life may stand
    for their person's on their other plugs: only plugs whose signs of life are judged against
    a learned background (a new plug's every fridge cycle, sunrise and dusk is "a sign of life"
    until its third night, its light's until its course is learned: lent, they restarted the
    other plug's spell every hour and a collapse was never raised) and given since the plug
    came to this person (a plug moved from someone else brings their last sign of life), in a
    district whose routine tests are on. Only plugs of people with several plugs among
    ``facts`` are looked up (two indexed reads; nothing for anyone else). Kept for the
    lifecycle's check for a sign of life committed during a tick (``lifecycle._moved_on``)."""
    count: dict[int, int] = defaultdict(int)
    for f in facts:
        if f.type_code == PLUG and f.recipient_id:
            count[f.recipient_id] += 1
    shared = [
        f
        for f in facts
        if f.type_code == PLUG
        and f.recipient_id is not None
        and count.get(f.recipient_id, 0) > 1
        and th.for_region(f.region_code).plug_routine.enabled
    ]
    if not shared:
        return {}
    ids = [f.device_id for f in shared]
    judged = _judged_since(conn, ids)
    assigned = _assigned_at(conn, ids)
    out: dict[int, Lender] = {}
    for f in shared:
        since, course = judged.get(f.device_id, (None, False))
        if since is not None and f.recipient_id is not None:
            out[f.device_id] = Lender(f.recipient_id, since, course, assigned.get(f.device_id))
    return out


def lendable_signs(
    facts: Sequence[DeviceFacts], lending: Mapping[int, Lender]
) -> dict[int, datetime]:
    """Device id → its last sign of life, where that may stand for its person's on their other
    plugs (``lending``: :func:`lenders`)."""
    out: dict[int, datetime] = {}
    for f in facts:
        lender = lending.get(f.device_id)
        sign = f.last_activity_at
        if lender is not None and sign is not None and lender.lends(sign, f.last_lux is not None):
            out[f.device_id] = sign
    return out


def _judged_since(conn: Connection, ids: Sequence[int]) -> dict[int, tuple[date | None, bool]]:
    """Plug id → (the day from which ingest judged it against its background, whether its
    light has a learned course)."""
    rt = DeviceRoutine.__table__
    query = prebuilt(
        conn,
        "household.judged",
        lambda c: select(rt.c.device_id, rt.c.model, rt.c.light_course).where(
            in_bound(c, rt.c.device_id, "ids"), rt.c.background_high_w.is_not(None)
        ),
    )
    out: dict[int, tuple[date | None, bool]] = {}
    for start in range(0, len(ids), CHUNK):
        params = {"ids": bound_values(conn, rt.c.device_id, ids[start : start + CHUNK])}
        for device_id, model, course in conn.execute(query, params):
            out[device_id] = (parse_routine(model).background_since, course is not None)
    return out


def _assigned_at(conn: Connection, ids: Sequence[int]) -> dict[int, datetime]:
    """Plug id → when its current assignment began (recorded since assignments were)."""
    da = DeviceAssignment.__table__
    query = prebuilt(
        conn,
        "household.assigned",
        lambda c: (
            select(da.c.device_id, func.max(da.c.assigned_at))
            .where(in_bound(c, da.c.device_id, "ids"), da.c.released_at.is_(None))
            .group_by(da.c.device_id)
        ),
    )
    out: dict[int, datetime] = {}
    for start in range(0, len(ids), CHUNK):
        params = {"ids": bound_values(conn, da.c.device_id, ids[start : start + CHUNK])}
        for device_id, at in conn.execute(query, params):
            if at is not None:
                out[device_id] = as_utc(at)
    return out


def with_person_activity(
    facts: Sequence[DeviceFacts], lent: Mapping[int, datetime]
) -> list[DeviceFacts]:
    """``facts`` with each plug's ``person_active_at``: the latest sign of life another of its
    person's plugs among ``facts`` may lend (``lent``: :func:`lendable_signs`)."""
    signs: dict[int, list[tuple[datetime, int]]] = defaultdict(list)
    for f in facts:
        if f.device_id in lent and f.recipient_id:
            signs[f.recipient_id].append((lent[f.device_id], f.device_id))
    out = []
    for f in facts:
        others = [at for at, device in signs.get(f.recipient_id or 0, ()) if device != f.device_id]
        if f.type_code == PLUG and others:
            f = replace(f, person_active_at=max(others))
        out.append(f)
    return out


def shared_keys(keyed: Sequence[Keyed]) -> list[str]:
    """The person alerts of ``plug_no_change`` that several plugs decided in this batch."""
    count: dict[str, int] = defaultdict(int)
    for key, f, d in keyed:
        if d.rule == RULE and f.recipient_id is not None:
            count[key] += 1
    return sorted(key for key, n in count.items() if n > 1)


def one_per_person(keyed: Sequence[Keyed], current: Mapping[str, Any]) -> list[Keyed]:
    """One ``plug_no_change`` decision per person whose several plugs decided (the others
    left out): the gravest stage any plug finds, by preference the decision of the plug whose
    evidence the open alert holds (:data:`JUDGE_KEY`, else the plug that opened it), else the
    lowest device id's; when every plug finds nothing, that plug's "cleared" (its holds judge
    the evidence it wrote: a sign of life on any plug moved every plug's spell, so it closes).
    ``current``: the open alerts by dedup key (rows with ``evidence`` and ``device_id``)."""
    shared = set(shared_keys(keyed))
    if not shared:
        return list(keyed)
    groups: dict[str, list[Keyed]] = defaultdict(list)
    out: list[Keyed] = []
    for item in keyed:
        if item[0] in shared and item[2].rule == RULE:
            groups[item[0]].append(item)
        else:
            out.append(item)
    for key, items in groups.items():
        row = current.get(key)
        judge = None
        if row is not None:
            judge = (row.evidence or {}).get(JUDGE_KEY) or row.device_id
        items.sort(key=lambda item: (item[1].device_id != judge, item[1].device_id))
        worst = max(STAGE_RANK.get(d.stage or "", 0) for _k, _f, d in items)
        chosen = next(item for item in items if STAGE_RANK.get(item[2].stage or "", 0) == worst)
        if row is not None and not worst and chosen[1].device_id != judge:
            # The plug that wrote the alert's evidence left service: another plug's "cleared"
            # would be judged against its line. Only a sign of life (a later spell) closes it.
            stored = (row.evidence or {}).get("since")
            if not later(chosen[2].evidence.get("since"), stored):
                continue
        out.append(chosen)
    return out


def later(since: str | None, than: str | None) -> bool:
    """Whether the spell start ``since`` (ISO) is later than ``than``: a sign of life since."""
    if since is None or than is None:
        return False
    return datetime.fromisoformat(since) > datetime.fromisoformat(than)
