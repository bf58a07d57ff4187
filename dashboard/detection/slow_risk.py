"""The daily slow-risk job: set or clear each person's slow-risk flag from their plugs' weeks.

Run with the routine learning (``detection.learning.daily_learn``, once a Seoul day). For every
active plug of a person still enrolled, yesterday (the last whole day) is judged by
``detection.decline.score_decline`` from ``device_daily``, leaving out the days the person was
marked away (``away_periods``). A person is flagged while any of their plugs is;
``care_recipients.slow_risk_since`` holds the day it was set and ``slow_risk_detail`` the
figures that set it. Setting and clearing each write an audit row (``slow_risk_set`` /
``slow_risk_clear``) in the same transaction. The flag is for case workers: it opens no alert
and sends nothing.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from sqlalchemy import Connection, bindparam, select, update

from dashboard.audit import write_audit
from dashboard.auth.principal import system_principal
from dashboard.db.inlist import bound_values, in_bound
from dashboard.db.prebuilt import prebuilt
from dashboard.db.schema import CareRecipient, Device, DeviceDaily
from dashboard.detection.decline import (
    HISTORY_DAYS,
    DayFigures,
    DayRatio,
    DeclineScore,
    score_decline,
)
from dashboard.detection.records import away_days
from dashboard.settings import LOCAL_TZ

SET_ACTION = "slow_risk_set"
CLEAR_ACTION = "slow_risk_clear"
CHUNK = 5_000


@dataclass(frozen=True)
class SlowRiskSummary:
    judged_on: date
    plugs: int  # plugs judged
    with_opinion: int  # of which with enough data and activity for a judgement
    flagged: int  # people flagged after the run
    set: int
    cleared: int


def _plugs(conn: Connection) -> dict[int, tuple[int, str]]:
    """Active plugs of people still enrolled: device id → (person id, device uid)."""
    d, r = Device.__table__, CareRecipient.__table__
    query = prebuilt(  # built once: the worker's daily pass (and a replay's every day) runs it
        conn,
        "slow_risk.plugs",
        lambda _: (
            select(d.c.id, d.c.recipient_id, d.c.device_uid)
            .join(r, r.c.id == d.c.recipient_id)
            .where(d.c.type_code == "smart_plug", d.c.status == "active", r.c.ended_on.is_(None))
            .order_by(d.c.id)
        ),
    )
    return {row.id: (row.recipient_id, row.device_uid) for row in conn.execute(query)}


def _scores(
    conn: Connection, plugs: dict[int, tuple[int, str]], judged: date
) -> dict[int, DeclineScore]:
    daily = DeviceDaily.__table__
    first = judged - timedelta(days=HISTORY_DAYS - 1)
    away = away_days(conn, first, judged)
    ids = sorted(plugs)
    out = {}
    query = prebuilt(
        conn,
        "slow_risk.days",
        lambda c: select(
            daily.c.device_id, daily.c.day, daily.c.above_slots, daily.c.watts_sum, daily.c.watts_n
        ).where(
            in_bound(c, daily.c.device_id, "ids"),
            daily.c.day >= bindparam("first", type_=daily.c.day.type),
            daily.c.day <= bindparam("judged", type_=daily.c.day.type),
            daily.c.above_slots.is_not(None),
            daily.c.watts_n > 0,
        ),
    )
    for start in range(0, len(ids), CHUNK):
        part = ids[start : start + CHUNK]
        days: dict[int, dict[date, DayFigures]] = defaultdict(dict)
        ids_bound = bound_values(conn, daily.c.device_id, part)
        params = {"ids": ids_bound, "first": first, "judged": judged}
        for device_id, day, above, watts_sum, watts_n in conn.execute(query, params).all():
            if day not in away.get(plugs[device_id][0], ()):
                days[device_id][day] = DayFigures(int(above).bit_count(), watts_sum / watts_n)
        for device_id in part:
            out[device_id] = score_decline(days.get(device_id, {}), judged)
    return out


def _detail(score: DeclineScore, device_uid: str) -> dict:
    r = score.latest
    assert r is not None  # a flagged score has a latest ratio
    return {
        "device_uid": device_uid,
        "judged_on": score.day.isoformat(),
        "above_ratio": round(r.above_ratio, 3),
        "watts_ratio": round(r.watts_ratio, 3),
        "recent_above": round(r.recent_above, 2),
        "baseline_above": round(r.baseline_above, 2),
        "recent_w": round(r.recent_w, 1),
        "baseline_w": round(r.baseline_w, 1),
    }


def update_slow_risk(conn: Connection, now: datetime) -> SlowRiskSummary:
    """Judge yesterday (Seoul) for every active plug; set and clear flags, each audited."""
    today = now.astimezone(LOCAL_TZ).date()
    judged = today - timedelta(days=1)
    plugs = _plugs(conn)
    scores = _scores(conn, plugs, judged)
    flagged: dict[int, dict] = {}
    for device_id, score in scores.items():
        person, uid = plugs[device_id]
        if not score.flagged:
            continue
        detail = _detail(score, uid)
        # Several flagged plugs: the one that fell furthest speaks for the person.
        if person not in flagged or detail["above_ratio"] < flagged[person]["above_ratio"]:
            flagged[person] = detail
    r = CareRecipient.__table__
    flagged_now = prebuilt(
        conn,
        "slow_risk.flagged",
        lambda _: select(r.c.id, r.c.slow_risk_since).where(r.c.slow_risk_since.is_not(None)),
    )
    current = {row.id: row.slow_risk_since for row in conn.execute(flagged_now)}
    actor = system_principal("detection").username
    # what a cleared person's plugs say now: the one that fell furthest, if any has an opinion
    latest: dict[int, DayRatio] = {}
    for device_id, score in scores.items():
        person, now_ratio = plugs[device_id][0], score.latest
        if now_ratio is not None and (
            person not in latest or now_ratio.above_ratio < latest[person].above_ratio
        ):
            latest[person] = now_ratio
    n_set = n_cleared = 0
    for person, detail in sorted(flagged.items()):
        if person in current:
            continue
        conn.execute(
            update(r).where(r.c.id == person).values(slow_risk_since=today, slow_risk_detail=detail)
        )
        write_audit(
            conn,
            at=now,
            actor=actor,
            action=SET_ACTION,
            entity_type="care_recipient",
            entity_id=person,
            detail=detail,
        )
        n_set += 1
    for person, since in sorted(current.items()):
        if person in flagged:
            continue
        conn.execute(
            update(r).where(r.c.id == person).values(slow_risk_since=None, slow_risk_detail=None)
        )
        ratio = latest.get(person)
        write_audit(
            conn,
            at=now,
            actor=actor,
            action=CLEAR_ACTION,
            entity_type="care_recipient",
            entity_id=person,
            detail={
                "since": since.isoformat(),
                "judged_on": judged.isoformat(),
                # None: no judgement (no active plug, too little data, a quiet baseline)
                "above_ratio": None if ratio is None else round(ratio.above_ratio, 3),
                "watts_ratio": None if ratio is None else round(ratio.watts_ratio, 3),
            },
        )
        n_cleared += 1
    return SlowRiskSummary(
        judged_on=judged,
        plugs=len(scores),
        with_opinion=sum(1 for s in scores.values() if s.latest is not None),
        flagged=len(flagged),
        set=n_set,
        cleared=n_cleared,
    )
