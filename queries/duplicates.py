"""Reads for the duplicate check (``dashboard.registry.duplicates``): the enrolled people it
compares, the pairs a lead marked as different people, and one person's suspects.

The identities carry personal data (normalised names, phones, addresses, homes) for the
comparison on the server; what leaves for a page (:func:`suspects_of`, :func:`suspected_list`)
is the other person's 대상자번호, dong, program, open alerts and the names of the keys that
matched, never a value. Only active enrollments take part: an ended one is history (a returning
person is enrolled under a new 대상자번호 on purpose, docs/roster.md) and a pseudonymised one
has no personal data left.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Collection, Iterable
from dataclasses import dataclass
from datetime import datetime

import pandas as pd
from sqlalchemy import Connection, case, false, func, or_, select

from dashboard.db.schema import Alert, CareRecipient, DifferentPeople, Program, Region
from dashboard.registry.duplicates import (
    Identity,
    Suspected,
    city_prefix,
    identity,
    name_key,
    pair,
    suspected_pairs,
)
from queries.alerts import OPEN_STATUSES, STAGE_RANK, area_condition
from queries.common import where_all
from queries.roster import in_areas


@dataclass(frozen=True)
class Enrolled:
    """A stored person as the check sees them; ``identity.who`` is the id."""

    id: int
    external_ref: str
    region_code: str
    identity: Identity


def _active():
    c = CareRecipient
    return (c.ended_on.is_(None), c.pseudonymized_at.is_(None))


def enrolled(
    conn: Connection,
    *,
    cities: Iterable[str] | None = None,
    birth_years: Iterable[int] | None = None,
    areas: Iterable[str] | None = None,
    groups: Collection[tuple[str, str, int]] | None = None,
) -> list[Enrolled]:
    """Active people in ``cities`` (``city_prefix`` values; None: every city) born in
    ``birth_years`` (None: any year), within ``areas`` (None: all). One query.

    Only people who can be suspected come back: those whose (city, name, birth year) is in
    ``groups``, or, without ``groups``, shared by two or more of the people read. The cheap
    keys decide first, so the phones and addresses of everyone else are never normalised."""
    c = CareRecipient
    stmt = (
        select(
            c.id,
            c.external_ref,
            Region.code,
            c.pii_name,
            c.birth_year,
            c.pii_phone,
            c.pii_address,
            c.pii_guardian_phone,
            c.pii_home_lat,
            c.pii_home_lon,
        )
        .join(Region, Region.id == c.region_id)
        .where(*_active())
    )
    if cities is not None:
        prefixes = sorted(set(cities))
        within = or_(*(Region.code.startswith(p) for p in prefixes)) if prefixes else false()
        stmt = stmt.where(within)
    if birth_years is not None:
        stmt = stmt.where(c.birth_year.in_(sorted(set(birth_years))))
    inside = in_areas(c.region_id, areas)
    if inside is not None:
        stmt = stmt.where(inside)
    # By position (id, ref, code, name, year, …): 30,000 rows of a city read in one go.
    keyed = [
        (row, (city_prefix(row[2]), name_key(row[3]), row[4]))
        for row in conn.execute(stmt.order_by(c.id)).tuples().all()  # fetchall: 3x row by row
    ]
    if groups is None:
        sizes = Counter(group for _, group in keyed)
        groups = {group for group, n in sizes.items() if n > 1}
    return [
        Enrolled(
            rid,
            ref,
            code,
            identity(
                rid,
                code,
                name,
                year,
                phone=phone,
                address=address,
                guardian_phone=guardian,
                home_lat=lat,
                home_lon=lon,
            ),
        )
        for (rid, ref, code, name, year, phone, address, guardian, lat, lon), group in keyed
        if group in groups
    ]


def different_pairs(conn: Connection) -> set[tuple[int, int]]:
    """Every pair a lead marked as different people, (lower id, higher id). A short table:
    one row per pair a lead looked at."""
    d = DifferentPeople
    return {(a, b) for a, b in conn.execute(select(d.first_id, d.second_id))}


@dataclass(frozen=True)
class Suspect:
    """Another person suspected to be the same as the one asked about: no personal value."""

    id: int
    external_ref: str
    region_code: str
    region_ko: str
    region_en: str
    program_code: str
    program_ko: str
    program_en: str
    open_alerts: int
    keys: tuple[str, ...]  # the second keys that matched (dashboard.registry.duplicates.KEYS)
    marked_by: str | None = None  # set when a lead marked the pair as different people
    marked_at: datetime | None = None

    @property
    def different(self) -> bool:
        return self.marked_by is not None


def _facts(conn: Connection, ids: Iterable[int]) -> dict[int, dict]:
    c = CareRecipient
    alerts = (
        select(func.count())
        .where(Alert.recipient_id == c.id, Alert.status.in_(OPEN_STATUSES))
        .scalar_subquery()
    )
    stmt = (
        select(
            c.id,
            c.external_ref,
            Region.code.label("region_code"),
            Region.name_ko.label("region_ko"),
            Region.name_en.label("region_en"),
            Program.code.label("program_code"),
            Program.name_ko.label("program_ko"),
            Program.name_en.label("program_en"),
            alerts.label("open_alerts"),
        )
        .join(Region, Region.id == c.region_id)
        .join(Program, Program.id == c.program_id)
        .where(c.id.in_(sorted(set(ids))))
    )
    return {row["id"]: dict(row) for row in conn.execute(stmt).mappings()}


def suspects_of(conn: Connection, recipient_id: int) -> list[Suspect]:
    """The people suspected to be ``recipient_id`` (none when that enrollment ended), by
    대상자번호, with the pairs a lead marked as different people flagged (not dropped: the
    page offers to undo the mark)."""
    c = CareRecipient
    found = conn.execute(
        select(Region.code, c.birth_year, c.pii_name)
        .join(Region, Region.id == c.region_id)
        .where(c.id == recipient_id, *_active())
    ).one_or_none()
    if found is None:
        return []
    group = (city_prefix(found.code), name_key(found.pii_name), found.birth_year)
    people = enrolled(conn, cities=[group[0]], birth_years=[group[2]], groups={group})
    me = next((p for p in people if p.id == recipient_id), None)
    if me is None:
        return []
    others = [p.identity for p in people if p.id != recipient_id]
    # Me first: every pair of mine has me as ``first``; pairs among the others are not asked.
    matches = {
        s.second.who: s.keys
        for s in suspected_pairs([me.identity, *others])
        if s.first is me.identity
    }
    if not matches:
        return []
    d = DifferentPeople
    marks = {
        (row.first_id, row.second_id): (row.marked_by, row.marked_at)
        for row in conn.execute(
            select(d.first_id, d.second_id, d.marked_by, d.marked_at).where(
                or_(d.first_id == recipient_id, d.second_id == recipient_id)
            )
        )
    }
    facts = _facts(conn, matches)
    out = []
    for other, keys in matches.items():
        by, at = marks.get(pair(recipient_id, other), (None, None))
        out.append(Suspect(**facts[other], keys=keys, marked_by=by, marked_at=at))
    return sorted(out, key=lambda s: s.external_ref)


def suspected_list(conn: Connection, areas: Iterable[str] | None = None) -> pd.DataFrame:
    """Every suspected pair not marked as different people, with both people in ``areas``
    (None: all; a lead's list, or an admin's without names): ``first_ref``, ``second_ref``,
    each side's dong and program, the open alerts of both and ``keys``; ordered by the first
    대상자번호."""
    people = enrolled(conn, areas=areas)
    different = different_pairs(conn)
    pairs: list[Suspected] = [
        s
        for s in suspected_pairs(p.identity for p in people)
        if pair(s.first.who, s.second.who) not in different
    ]
    columns = ["first_ref", "second_ref", "first_id", "second_id", "keys", "open_alerts"]
    side = ("region_ko", "region_en", "program_code", "program_ko", "program_en")
    columns += [f"{n}_{k}" for n in ("first", "second") for k in side]
    if not pairs:
        return pd.DataFrame(columns=columns)
    facts = _facts(conn, {p for s in pairs for p in (s.first.who, s.second.who)})
    rows = []
    for s in pairs:
        a, b = sorted((facts[s.first.who], facts[s.second.who]), key=lambda f: f["external_ref"])
        row = {
            "first_ref": a["external_ref"],
            "second_ref": b["external_ref"],
            "first_id": a["id"],
            "second_id": b["id"],
            "keys": s.keys,
            "open_alerts": a["open_alerts"] + b["open_alerts"],
        }
        row |= {f"first_{k}": a[k] for k in side} | {f"second_{k}": b[k] for k in side}
        rows.append(row)
    return (
        pd.DataFrame(rows, columns=columns)
        .sort_values(["first_ref", "second_ref"])
        .reset_index(drop=True)
    )


def open_alert_ids(
    conn: Connection, recipient_ids: Iterable[int], areas: Iterable[str] | None
) -> dict[int, list[int]]:
    """The open alerts of ``recipient_ids`` that lie in ``areas`` (None: all), gravest and then
    oldest first, by person: scoped by the queue's own rule (``queries.alerts.area_condition``),
    so an id listed here is one the ``?alert=ID`` link opens for that user."""
    ids = sorted(set(recipient_ids))
    if not ids:
        return {}
    rank = case(STAGE_RANK, value=Alert.stage, else_=len(STAGE_RANK))
    stmt = where_all(
        select(Alert.id, Alert.recipient_id).where(
            Alert.recipient_id.in_(ids), Alert.status.in_(OPEN_STATUSES)
        ),
        area_condition(areas),
    ).order_by(rank, Alert.opened_at, Alert.id)
    out: dict[int, list[int]] = {}
    for alert_id, rid in conn.execute(stmt):
        out.setdefault(rid, []).append(alert_id)
    return out
