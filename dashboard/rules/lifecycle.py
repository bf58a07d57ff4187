"""Alert lifecycle on the database: open, update, escalate and close with dedup, and audit.

One non-closed alert per dedup key is enforced by the partial unique index; concurrent openers
(several workers, or a worker and ingestion) meet it through ``ON CONFLICT DO NOTHING`` and the
loser updates the winner's alert instead. Updates carry the alert's ``version`` so a change that
raced with an operator's action is skipped and re-judged on the next tick, never lost.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, select, text, update

from dashboard.audit import audit_row
from dashboard.clock import as_utc
from dashboard.db.inlist import bound_values, in_bound, in_values
from dashboard.db.prebuilt import prebuilt
from dashboard.db.schema import Alert, AuditLog, DeviceState, NotificationOutbox
from dashboard.detection.explain import explain_plug
from dashboard.rules.household import Keyed, Lender, later, one_per_person, shared_keys
from dashboard.rules.model import (
    FOLLOWING_RULES,
    STAGE_RANK,
    STICKY_RULES,
    Decision,
    DeviceFacts,
    dedup_key,
    iso,
    worse,
)
from dashboard.rules.plug import alert_steps, line_held

ACTOR = "system"
# Evidence that only measures how long a condition has lasted: a change in these alone is not
# worth a write (and a version bump that would trip an operator's concurrent action) every tick.
VOLATILE_EVIDENCE = frozenset(
    {
        "no_change_hours",
        # the ladder's clock moves with every fridge cycle during a routine alert
        "change_since",
        "change_hours",
        "quiet_h",
        "silent_h",
        "minutes_without_position",
        "gap_h",
        # the routine score grows with the quiet spell; its sentence names the current time
        "scored_at",
        "explanation",
        "routine_share",
        "routine_active_days",
        "routine_days",
        "routine_expected_slots",
        "minutes_outside",
        # the level test's evidence grows with each half-hour; its sentence names the last one
        "level_s",
        "level_until",
        "level_above_days",
        "level_days",
        # the stillness test's run grows with each report; its record moves with the learning
        "still_run_h",
        "still_longest_h",
        "still_at_h",
        "still_window_days",
        # the left-on test's run grows with each report; its record moves with the learning
        "on_run_h",
        "on_longest_h",
        "on_at_h",
        "on_window_days",
        "on_top_w",
        # the band test's time grows with each report, its band with each reading; a band
        # breaks at every kettle during an alert of another test (the hold compares the band
        # an alert was last written with)
        "band_since",
        "band_w",
        "band_run_h",
        "band_longest_h",
        "band_at_h",
        "band_window_days",
        "band_low_w",
        "band_high_w",
        "band_gap_h",
        "band_left_out_h",
        # the ladder's hold line moves with each report; the alert keeps the one it was last
        # written with (raised or escalated)
        "ladder_w",
        "ladder_band_w",
        # the person's last sign of life on another plug moves with each of theirs (the holds
        # read the decision's own; rules.household)
        "other_plug_at",
        # the first alert of the spell: a plug that cannot see the open alert (a person's
        # second plug) decides "now"; the stored one is kept while the spell goes on
        "alerted_at",
        # (``steps_apply``, whether the steps apply, is not volatile: it flips once a spell, when
        # the band breaks, and the chart must stop promising the steps' times then)
        # the readings of the moment: a plug reporting every 10 minutes (or a battery draining
        # by a percent) must not bump an open alert's version under an operator's hand
        "power_w",
        "lux",
        "last_seen_at",
        "reported_at",
        "battery_pct",
        # a blind wandering detector's run: its start slides with the fixes loaded, and each
        # bad fix has its own accuracy; the ticket keeps what it was opened with
        "bad_fix_since",
        "bad_accuracy_m",
    }
)
# Evidence that holds only while it is true (returning towards home): dropped from the alert
# when a decision no longer carries it, instead of lingering from the merge.
VANISHING_EVIDENCE = frozenset({"returning_since"})
CLEAR_OUTCOME = {"person": "safe", "device_fault": "device_fault"}


@dataclass
class Changes:
    opened: int = 0
    escalated: int = 0
    deescalated: int = 0
    updated: int = 0
    closed: int = 0
    outbox: int = 0
    devices: set[int] = field(default_factory=set)  # devices whose alerts changed
    # devices whose decision was not applied (they moved on, or an operator's write raced):
    # the next tick must judge them again
    retry: set[int] = field(default_factory=set)


def _material(evidence: dict[str, Any] | None) -> dict[str, Any]:
    return {k: v for k, v in (evidence or {}).items() if k not in VOLATILE_EVIDENCE}


def dialect_insert(conn: Connection, table):
    """``INSERT`` with ``ON CONFLICT`` support on SQLite and PostgreSQL."""
    if conn.dialect.name == "postgresql":
        from sqlalchemy.dialects.postgresql import insert
    else:
        from sqlalchemy.dialects.sqlite import insert
    return insert(table)


def _open_alerts(
    conn: Connection, *, device_ids: Sequence[int] = (), keys: Sequence[str] = ()
) -> dict[str, Any]:
    """Non-closed alerts of these devices or with these dedup keys, by dedup key."""
    a = Alert.__table__
    out: dict[str, Any] = {}
    cols = (a.c.id, a.c.dedup_key, a.c.device_id, a.c.stage, a.c.status, a.c.evidence, a.c.version)
    for column, values in ((a.c.device_id, device_ids), (a.c.dedup_key, keys)):
        values = sorted(set(values))
        if not values:
            continue
        query = prebuilt(  # built once per column: every evaluation with decisions runs it
            conn,
            f"lifecycle.open_alerts.{column.name}",
            lambda c, column=column: select(*cols).where(
                in_bound(c, column, "values"), a.c.status != "closed"
            ),
        )
        for start in range(0, len(values), 5_000):
            part = values[start : start + 5_000]
            rows = conn.execute(query, {"values": bound_values(conn, column, part)})
            out.update({row.dedup_key: row for row in rows})
    return out


def apply_decisions(
    conn: Connection,
    items: Sequence[tuple[DeviceFacts, Decision]],
    now: datetime,
    lending: Mapping[int, Lender] | None = None,
) -> Changes:
    """Turn rule decisions into alert rows; returns what changed. ``lending``: the plugs of
    ``items``' people whose signs of life are lent to their other plugs (``household.lenders``),
    whose signs of life committed meanwhile make a person's plug decision stale."""
    changes = Changes()
    keyed = [(dedup_key(d.rule, f.recipient_id, f.device_id), f, d) for f, d in items]
    # A person with several plugs: their one alert, whichever plug opened it, gets one decision.
    current = _open_alerts(
        conn, device_ids=[f.device_id for f, _ in items], keys=shared_keys(keyed)
    )
    keyed = one_per_person(keyed, current)
    # A cleared condition without an open alert needs nothing: most devices, most of the time.
    keyed = [(k, f, d) for k, f, d in keyed if d.stage is not None or k in current]
    to_open = [(k, f, d) for k, f, d in keyed if d.stage is not None and k not in current]
    stale = _moved_on(conn, to_open, lending or {})
    if stale:
        # The device reported after its facts were read (an ingest transaction committed
        # during this tick), or another plug of its person gave a sign of life it lends: the
        # decision may be about a condition that event already ended, and ingest may just have
        # closed that very alert. Opening it would reopen a closed alert and notify for
        # nothing; the next tick judges the device on the new facts.
        to_open = [(k, f, d) for k, f, d in to_open if (k, f.device_id) not in stale]
        changes.retry |= {device_id for _k, device_id in stale}
        keyed = [(k, f, d) for k, f, d in keyed if k in current or (k, f.device_id) not in stale]
    audit: list[dict[str, Any]] = []
    opened_ids = _open(conn, to_open, now, changes, audit)
    if len(opened_ids) < len(to_open):
        # The key is already open: another process won the race, or the person's alert is
        # held by another of their devices. Update that alert instead.
        lost = [k for k, _, _ in to_open if k not in opened_ids]
        current |= _open_alerts(conn, keys=lost)
    ids = dict(opened_ids)
    for key, f, d in keyed:
        if key in opened_ids:
            continue
        row = current.get(key)
        if row is None:
            continue
        ids[key] = row.id
        if d.stage is not None:
            _repeat(conn, row, f, d, now, changes, audit)
        elif d.rule in STICKY_RULES:
            continue
        elif _level_held(row, d, f.band_since):
            _step_held(conn, row, f, d, now, changes, audit)
        else:
            _clear(conn, row, f, d, now, changes, audit)
    outbox = [
        _outbox_row(ids[key], f, d, item, now)
        for key, f, d in keyed
        if d.stage is not None and key in ids
        for item in d.outbox
    ]
    if outbox:
        changes.outbox += _enqueue(conn, outbox)
    if audit:
        conn.execute(AuditLog.__table__.insert(), audit)
    return changes


def _level_held(row, d: Decision, band_since: datetime | None = None) -> bool:
    """An open plug alert raised by the level test stays open while the quiet spell it was
    raised on goes on (``since`` unchanged: no sign of life since): only a sign of life or a
    person closes it. The level test's ``S`` falls at night, when the night level is what this
    home normally shows, and it is gone when the test stops scoring the plug (switched off for
    the plug's district, the person moved, a model learned anew starting at 0): none of that
    says the person is well. Closing on it made a level alert close as ``safe`` every night of
    a collapse or an absence and open again the next day (2026-12-04: 5–12 alerts in each
    multi-day standby absence on the demo homes, docs/detection.md); the routine's stage never
    falls within a spell, and now the level test's does not either. The same holds for the
    stillness test (``detection.stillness``): a fridge cycle ends the still run, not the
    person's spell; and for the ladder on the fixed rule's clock (``held_by`` = ``ladder``,
    where the rule gives its line), which starts over at any change beyond the margins (a
    standby's noise, a fridge cycle: a vacant home's plug closed and reopened its alert 126
    times in a replayed year), as long as the power stays within ``ladder_band_w`` of its
    level when the alert was last written (``ladder_w``); and for the routine and the net, whose
    stage falls when the nightly learning judges the spell anew, as long as the power stays in
    its band since the spell's first alert (``rules.plug.line_held``). Held whatever the current
    basis once a holding test raised or escalated the alert (``held_by``)."""
    opened, ev = row.evidence or {}, d.evidence
    held = _holding(opened) if d.rule == PLUG_RULE else None
    if held is None:
        return False
    if held == "on":
        # The left-on test's run is not a quiet spell (each flicker counts as a sign of life):
        # held while the same run goes on, or while the power stays above the standby the alert
        # was raised against. The nightly learning can raise the ceiling under a load left on
        # for days (the run then ends in ingest) and the Wi-Fi can drop (a new run): neither
        # says the person is well. The power coming down does.
        run = ev.get("on_since")
        if later(ev.get("other_plug_at"), opened.get("on_since")):
            return False  # the person seen on another plug of theirs since the run began
        if run is not None and run == opened.get("on_since"):
            return True
        top, power = opened.get("on_top_w"), ev.get("power_w")
        return top is not None and power is not None and power > top
    if held == "band":
        # The band's time is not a quiet spell (a fridge cycle inside it may count as a sign of
        # life): held while the same band goes on (an outage does not end it), or while the
        # power has not risen beyond the band the alert last saw (a TV's auto-off drops the
        # power and breaks the band: that says nothing of the person). Only a load added
        # beyond it (a kettle, the lights, a cooker) does.
        band = ev.get("band_since")
        if later(ev.get("other_plug_at"), opened.get("band_since")):
            return False  # the person seen on another plug of theirs since the band began
        if band is not None and band == opened.get("band_since"):
            return True
        low, power, width = opened.get("band_low_w"), ev.get("power_w"), opened.get("band_w")
        if None in (low, power, width):
            return False
        return power <= low + width
    if held == "ladder":
        # Held on the line it was raised on: a vacant home's noise stays within the band; the
        # person back in a home whose background hides their use (a heater's range at night)
        # moves it by hundreds of watts without a sign of life.
        line, band, power = opened.get("ladder_w"), opened.get("ladder_band_w"), ev.get("power_w")
        if None not in (line, band, power) and abs(power - line) > band:
            return False
    if held in ("routine", "net", "steps") and not _band_held(opened, band_since):
        # Held while the power stays in its band since the spell's first alert (a fridge's
        # swing fits): a home whose background hides the person (a routine usable some weeks,
        # not others) kept a routine 심각 open 72 days on the spell alone (a review's replay).
        return False
    # Only a later spell is a sign of life: one that starts earlier (a decision judged without
    # the staff close the alert was written after, a person's plug that left service) is not.
    since, stored = ev.get("since"), opened.get("since")
    return since is not None and stored is not None and not later(since, stored)


# Every basis of the plug rule holds its alert (the routine's stage falls when the nightly
# learning adds the collapse's own day to the window, the net's when the routine stops being
# usable); the ladder's only with its line (``ladder_band_w``).
HOLDING_BASES = ("level", "still", "on", "band", "routine", "net", "steps")
PLUG_RULE = "plug_no_change"
# The evidence a run's hold judges by, kept once the test stops judging (merged_evidence).
HOLD_LINES = {
    "on": ("on_since", "on_top_w"),
    "band": ("band_since", "band_low_w", "band_high_w", "band_w"),
    "ladder": ("ladder_w", "ladder_band_w"),
}


def _holding(evidence: dict) -> str | None:
    """The test that raised or escalated a plug alert and holds it open until a sign of life
    (``held_by``, kept once set: the basis itself moves to the ladder when the ladder reaches
    the same stage, and the ladder's clock restarts at every fridge cycle)."""
    basis = evidence.get("basis")
    if basis == "ladder" and evidence.get("ladder_band_w") is not None:
        return evidence.get("held_by") or "ladder"  # the ladder, held on its line
    return evidence.get("held_by") or (basis if basis in HOLDING_BASES else None)


def _moved_on(
    conn: Connection, to_open: Sequence[Keyed], lending: Mapping[int, Lender]
) -> set[tuple[str, int]]:
    """The (dedup key, device id) of ``to_open`` whose device's committed ``last_seen_at`` is
    newer than in its facts, or, for a person's plug rule, where another plug of the person
    committed a sign of life it lends (``lending``, ``household.Lender``) later than the
    person's latest sign of life the facts hold: the decision's spell has ended.

    In the transaction that stored an event (ingest) the facts are read after the event, so
    nothing has moved on. A tick sees here what ingest committed since it read its facts: on
    PostgreSQL (read committed) and on SQLite (the driver begins the transaction at the first
    write, so the tick's reads see every commit before it). One read by primary key of the
    devices and their people's lending plugs, whatever the batch.
    """
    if not to_open:
        return set()
    people: dict[int, list[int]] = defaultdict(list)
    for device_id, lender in lending.items():
        people[lender.recipient_id].append(device_id)
    seen = {f.device_id: f.last_seen_at for _k, f, _d in to_open}
    others = {
        (k, f.device_id): [i for i in people.get(f.recipient_id or 0, ()) if i != f.device_id]
        for k, f, d in to_open
        if d.rule == PLUG_RULE and f.recipient_id is not None
    }
    st = DeviceState.__table__
    ids = sorted(set(seen).union(*others.values()))
    rows = conn.execute(
        select(st.c.device_id, st.c.last_seen_at, st.c.last_activity_at, st.c.last_lux).where(
            in_values(conn, st.c.device_id, ids)
        )
    )
    moved: set[int] = set()
    signs: dict[int, datetime] = {}
    for device_id, last_seen, sign, lux in rows:
        known = seen.get(device_id, last_seen)  # another plug of a person's: its sign alone
        if last_seen is not None and (known is None or as_utc(last_seen) > as_utc(known)):
            moved.add(device_id)
        lender = lending.get(device_id)
        if sign is not None and lender is not None and lender.lends(as_utc(sign), lux is not None):
            signs[device_id] = as_utc(sign)
    stale = {(k, f.device_id) for k, f, _d in to_open if f.device_id in moved}
    for k, f, _d in to_open:
        # the person's latest sign of life as the decision saw it (none: any sign is later)
        read = [as_utc(at) for at in (f.last_activity_at, f.person_active_at) if at is not None]
        lent = [signs[i] for i in others.get((k, f.device_id), ()) if i in signs]
        if lent and (not read or max(lent) > max(read)):
            stale.add((k, f.device_id))
    return stale


def _open(conn, to_open, now, changes: Changes, audit: list) -> dict[str, int]:
    if not to_open:
        return {}
    rows = [
        {
            "dedup_key": key,
            "kind": d.kind,
            "rule": d.rule,
            "stage": d.stage,
            "status": "open",
            "program_id": f.program_id,
            "region_id": f.region_id,
            "recipient_id": f.recipient_id if d.kind == "person" else None,
            "device_id": f.device_id,
            # as a later decision will merge it (the hold it is opened with: no write for it)
            "evidence": merged_evidence({}, d.evidence, d.rule),
            "opened_at": now,
            "updated_at": now,
            "version": 1,
        }
        for key, f, d in to_open
    ]
    a = Alert.__table__
    # The predicate must be literal SQL: PostgreSQL infers the partial unique index from it, and
    # a bound parameter fails once psycopg switches to a prepared (generic) plan.
    stmt = dialect_insert(conn, a).on_conflict_do_nothing(
        index_elements=["dedup_key"], index_where=text("status <> 'closed'")
    )
    opened: dict[str, int] = {}
    by_key = {row["dedup_key"]: row for row in rows}
    # One multi-row INSERT … RETURNING (SQLAlchemy's insertmanyvalues on both drivers); a key
    # another process opened meanwhile returns nothing and is updated by the caller instead.
    for new_id, key in conn.execute(stmt.returning(a.c.id, a.c.dedup_key), rows):
        row = by_key[key]
        opened[key] = new_id
        changes.opened += 1
        changes.devices.add(row["device_id"])
        audit.append(_audit(now, "alert_open", new_id, row["rule"], {"stage": row["stage"]}))
    return opened


def _repeat(conn, row, f: DeviceFacts, d: Decision, now, changes: Changes, audit: list) -> None:
    # Escalate only upward while open, except rules that follow their stage both ways.
    stage = d.stage if d.rule in FOLLOWING_RULES else worse(row.stage, d.stage)
    evidence = merged_evidence(row.evidence or {}, d.evidence, d.rule)
    if d.rule == PLUG_RULE and "alerted_at" in evidence:
        # judged against the first alert the alert keeps (merged_evidence keeps the stored one
        # over a decision's "now"); None without one, as the rule writes it
        held = _band_held(evidence, f.band_since)
        evidence["steps_apply"] = held if evidence["alerted_at"] else None
    moved = STAGE_RANK[stage] - STAGE_RANK[row.stage]
    if not moved and _material(evidence) == _material(row.evidence):
        return
    if not _write(conn, row, {"stage": stage, "evidence": evidence, "updated_at": now}):
        changes.retry.add(f.device_id)
        return
    changes.devices.add(f.device_id)
    if moved:
        changes.escalated += moved > 0
        changes.deescalated += moved < 0
        action = "alert_escalate" if moved > 0 else "alert_deescalate"
        audit.append(_audit(now, action, row.id, d.rule, {"from": row.stage, "stage": stage}))
    else:
        changes.updated += 1


def merged_evidence(stored: dict, decided: dict, rule: str = PLUG_RULE) -> dict:
    """An open alert's evidence after a new decision: the decision's keys over the stored
    ones, facts of the moment gone with it, and the test that holds it open kept."""
    evidence = stored | decided
    evidence.pop("condition_cleared_at", None)
    held = (_holding(stored) or _holding(decided)) if rule == PLUG_RULE else None
    if held is not None:  # kept through later decisions on another basis (_level_held)
        evidence["held_by"] = held
    # the run and the line the hold judges by, once the test stops judging
    for key in HOLD_LINES.get(held or "", ()):
        if evidence.get(key) is None and stored.get(key) is not None:
            evidence[key] = stored[key]
    # the spell's first alert, while the spell goes on (rules.plug.steps_stage)
    if stored.get("alerted_at") and stored.get("since") == decided.get("since"):
        evidence["alerted_at"] = stored["alerted_at"]
    for key in VANISHING_EVIDENCE:  # a fact of the moment: gone from the decision, gone here
        if key not in decided:
            evidence.pop(key, None)
    return evidence


def _band_held(evidence: dict, band_since: datetime | None) -> bool:
    """Whether the power has stayed in its band since the first alert the evidence records
    (``rules.plug.line_held``); False before a quiet test raised it (no ``alerted_at``)."""
    at = evidence.get("alerted_at")
    return bool(at) and line_held(band_since, datetime.fromisoformat(at))


def _step_held(conn, row, f: DeviceFacts, d: Decision, now, changes: Changes, audit: list) -> None:
    """A held plug alert moves up on the ladder's steps from its first stage while its quiet
    spell goes on (``rules.plug.steps_stage``) and the power has stayed within the band
    (``plug_routine.band_w``, ``detection.band``) since that stage: the test that raised it no
    longer gives a stage (the ladder's clock restarted at a standby's noise, the level test's
    evidence falls at night, the routine was learned anew), but nothing showed the person is
    well. A line that left the band (the person back in a home whose background hides their
    use: a review's replay, docs/detection.md) keeps the alert held at its stage, not raised,
    with ``steps_apply`` = False (written once); so does a run's hold without a quiet spell
    (left on, band: ``since`` moved on)."""
    stored = row.evidence or {}
    if stored.get("since") is None or later(d.evidence.get("since"), stored["since"]):
        return
    if d.evidence.get("since") != stored["since"]:  # judged on an earlier start: not news
        d = Decision(d.rule, d.stage, d.evidence | {"since": stored["since"]}, d.outbox)
    if not _band_held(stored, f.band_since):
        if stored.get("alerted_at") and stored.get("steps_apply") is not False:
            # the band broke: the chart stops drawing the steps' times (one write a spell)
            flip = Decision(d.rule, row.stage, {"steps_apply": False})
            _repeat(conn, row, f, flip, now, changes, audit)
        return
    stage = alert_steps(stored, now)
    if stage is None or STAGE_RANK[stage] <= STAGE_RANK[row.stage]:
        return
    evidence = merged_evidence(stored, d.evidence, d.rule)
    evidence |= {"basis": "steps", "scored_at": iso(now)}
    evidence["explanation"] = explain_plug(evidence, "en")
    _repeat(conn, row, f, Decision(d.rule, stage, evidence), now, changes, audit)


def _clear(conn, row, f: DeviceFacts, d: Decision, now, changes: Changes, audit: list) -> None:
    evidence = (row.evidence or {}) | {"condition_cleared_at": iso(now)}
    if row.status == "dispatched":
        # Someone is on the way: the visit decides the outcome, not a reading. Note it once.
        noted = "condition_cleared_at" in (row.evidence or {})
        if not noted and not _write(conn, row, {"evidence": evidence, "updated_at": now}):
            changes.retry.add(f.device_id)
        return
    outcome = CLEAR_OUTCOME[d.kind]
    values = {
        "status": "closed",
        "evidence": evidence | {"cleared_by": _material(d.evidence)},
        "updated_at": now,
        "closed_at": now,
        "closed_by": ACTOR,
        "outcome": outcome,
        "note": "condition cleared (자동 해제)",
    }
    if not _write(conn, row, values):
        changes.retry.add(f.device_id)
        return
    changes.closed += 1
    changes.devices.add(f.device_id)
    detail = {"stage": row.stage, "outcome": outcome}
    audit.append(_audit(now, "alert_close", row.id, d.rule, detail))


def _write(conn, row, values: dict[str, Any]) -> bool:
    a = Alert.__table__
    result = conn.execute(
        update(a)
        .where(a.c.id == row.id, a.c.version == row.version, a.c.status != "closed")
        .values(**values, version=row.version + 1)
    )
    return result.rowcount == 1


def _enqueue(conn: Connection, rows: list[dict[str, Any]]) -> int:
    """Insert outbox rows whose idempotency key is new; returns how many were added."""
    o = NotificationOutbox.__table__
    keys = [r["idempotency_key"] for r in rows]
    known = set(
        conn.execute(select(o.c.idempotency_key).where(o.c.idempotency_key.in_(keys))).scalars()
    )
    new = [r for r in rows if r["idempotency_key"] not in known]
    if not new:
        return 0
    stmt = dialect_insert(conn, o).on_conflict_do_nothing(index_elements=["idempotency_key"])
    return len(conn.execute(stmt.returning(o.c.id), new).all())


def _outbox_row(alert_id: int, f: DeviceFacts, d: Decision, item: dict, now) -> dict:
    return {
        "idempotency_key": f"{item['key']}:alert{alert_id}",
        "alert_id": alert_id,
        "channel": item["channel"],
        "recipient": item.get("recipient") or f"device:{f.device_id}",
        "payload": {"rule": d.rule, "alert_id": alert_id, **item["payload"]},
        "status": "pending",
        "attempts": 0,
        "next_attempt_at": item["due"],
        "created_at": now,
    }


def _audit(now: datetime, action: str, alert_id: int, rule: str, detail: dict) -> dict:
    return audit_row(
        at=now,
        actor=ACTOR,
        action=action,
        entity_type="alert",
        entity_id=alert_id,
        detail={"rule": rule, **detail},
    )
