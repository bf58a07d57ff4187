"""A daily reminder while someone is marked away: the plug rule holds no opinion about them until
the return date, so the person's operators are told once a day that the pause is still on.

One outbox row per person and Seoul day (idempotency key ``away:recipient{id}:{day}``, inserted
with ``ON CONFLICT DO NOTHING``), on the ``operators`` channel addressed to the district's
operators (``[recipients] operators`` in ``data/dispatch_routing.toml``). The payload carries
what other notifications carry (대상자번호, dong code, program-free): never the name or the
period's note. The first worker pass at or after ``REMIND_AT`` (Seoul) sends the day's reminders;
an audit row ``away_remind`` is the once-a-day guard (``dashboard.once_a_day``, as for the
routine learning).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time

from sqlalchemy import Connection, Engine, select
from sqlalchemy.orm import aliased

from dashboard.actions.routing import RoutingConfig, current_routing, recipient_address
from dashboard.audit import write_audit
from dashboard.auth.principal import system_principal
from dashboard.clock import require_aware
from dashboard.db.schema import AwayPeriod, CareRecipient, Region
from dashboard.notify.escalation import _insert_once
from dashboard.once_a_day import run_once_a_day
from dashboard.settings import LOCAL_TZ

AUDIT_ACTION = "away_remind"
CHANNEL = "operators"
REMIND_AT = time(9, 0)  # the day shift's start: a reminder at 00:01 would be read by nobody
LOCK_CLASS = 0x616E_6277  # "anbw": not the tick's, the purge's or the learning's key


def reminder_key(recipient_id: int, day: date) -> str:
    return f"away:recipient{recipient_id}:{day.isoformat()}"


@dataclass(frozen=True)
class Reminded:
    day: date
    people: int  # marked away today
    queued: int  # outbox rows written by this call (0 when another pass did it)

    def __str__(self) -> str:
        return f"away reminders for {self.day}: {self.people} people, {self.queued} queued"


def _away_today(conn: Connection, today: date) -> list:
    a, r = AwayPeriod.__table__, CareRecipient.__table__
    dong, district = aliased(Region), aliased(Region)
    rows = conn.execute(
        select(
            r.c.id,
            r.c.external_ref,
            dong.code.label("dong_code"),
            dong.name_ko.label("dong_name"),
            dong.level.label("dong_level"),
            district.code.label("district_code"),
            a.c.ends_on,
        )
        .join(r, r.c.id == a.c.recipient_id)
        .join(dong, dong.id == r.c.region_id)
        .outerjoin(district, district.id == dong.parent_id)
        .where(
            a.c.cancelled_at.is_(None),
            a.c.starts_on <= today,
            a.c.ends_on > today,
            r.c.ended_on.is_(None),
        )
        .order_by(r.c.id, a.c.ends_on.desc())
    ).all()
    latest: dict[int, object] = {}
    for row in rows:  # overlapping periods: the latest return date
        latest.setdefault(row.id, row)
    return list(latest.values())


def queue_away_reminders(
    conn: Connection, now: datetime, routing: RoutingConfig | None = None
) -> Reminded:
    """Queue today's reminder for every person marked away (idempotent per person and day)."""
    require_aware(now)
    routing = routing or current_routing()
    today = now.astimezone(LOCAL_TZ).date()
    people = _away_today(conn, today)
    queued = 0
    for p in people:
        dong = p.dong_name.split()[-1] if p.dong_name else ""
        district = p.district_code if p.dong_level == "dong" else p.dong_code
        ends = f"{p.ends_on.month}. {p.ends_on.day}."
        row = {
            "idempotency_key": reminder_key(p.id, today),
            "alert_id": None,
            "channel": CHANNEL,
            "recipient": recipient_address(
                routing,
                "operators",
                recipient_id=p.id,
                dong_code=p.dong_code if p.dong_level == "dong" else None,
                district_code=district,
            ),
            "payload": {
                "action": "away_reminder",
                "recipient_ref": p.external_ref,
                "dong_code": p.dong_code,
                "ends_on": p.ends_on.isoformat(),
                "day": today.isoformat(),
                "message": f"[안부] {dong} 대상자 {p.external_ref}: 외출·부재 등록 중 "
                f"({ends} 돌아옴). 그때까지 스마트 플러그 경보가 멈춥니다. "
                "일찍 돌아왔으면 등록을 취소해 주세요.",
            },
            "status": "pending",
            "attempts": 0,
            "next_attempt_at": now,
            "created_at": now,
        }
        queued += _insert_once(conn, row)
    return Reminded(today, len(people), queued)


def daily_away_reminders(engine: Engine, now: datetime) -> Reminded | None:
    """The worker hook: today's reminders once, at or after ``REMIND_AT``; None when skipped.
    Never raises (``dashboard.once_a_day``: the ``away_remind`` audit row is the guard)."""
    if now.astimezone(LOCAL_TZ).time() < REMIND_AT:
        return None

    def job(conn: Connection) -> Reminded:
        summary = queue_away_reminders(conn, now)
        write_audit(
            conn,
            at=now,
            actor=system_principal("notify").username,
            action=AUDIT_ACTION,
            entity_type="away_periods",
            entity_id=None,
            detail={"day": summary.day.isoformat(), "people": summary.people},
        )
        return summary

    return run_once_a_day(engine, now, AUDIT_ACTION, LOCK_CLASS, job)
