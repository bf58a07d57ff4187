"""A person's care settings and home position."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Connection, update

from dashboard.auth.principal import SessionUser
from dashboard.db.schema import CareRecipient
from dashboard.enrollment.common import audit, authorise, load_person, refuse_ended
from dashboard.enrollment.errors import EnrollmentError
from dashboard.plain_text import has_control_codes
from dashboard.rules.geo import KOREA_LAT, KOREA_LON  # re-exported: the bounds pages quote
from dashboard.rules.schedule import judge_again

NO_CHANGE_HOURS = (24, 50)  # the range for the per-person no-change threshold
SAFE_ZONE_M = (50, 5_000)  # a wanderer's zone: a building to a neighbourhood
NOTES_MAX = 2_000
RISK_GROUP_MAX = 40
_UNSET: Any = object()


def _bounded_int(field: str, value: int | None, bounds: tuple[int, int]) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int):
        raise EnrollmentError(
            field, f"must be a whole number, got {value!r}", key="not_whole", value=value
        )
    low, high = bounds
    if not low <= value <= high:
        raise EnrollmentError(
            field,
            f"must be between {low} and {high}, got {value}",
            key="out_of_range",
            low=low,
            high=high,
            value=value,
        )
    return value


def _text(field: str, value: str | None, limit: int) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str):
        raise EnrollmentError(field, "must be text", key="not_text")
    value = value.strip()
    if has_control_codes(value):
        raise EnrollmentError(field, "contains control codes (such as NUL)", key="control_codes")
    if len(value) > limit:
        raise EnrollmentError(
            field,
            f"at most {limit} characters, got {len(value)}",
            key="too_long",
            max=limit,
            length=len(value),
        )
    return value or None


def update_person_settings(
    conn: Connection,
    principal: SessionUser,
    now: datetime,
    recipient_id: int,
    *,
    no_change_hours: int | None = _UNSET,
    safe_zone_m: int | None = _UNSET,
    risk_group: str | None = _UNSET,
    notes: str | None = _UNSET,
) -> dict[str, Any]:
    """Change the given settings (None clears one: the program's default applies); returns
    the values written. An ended enrollment is history: refused."""
    actor = authorise(principal, now)
    person = load_person(conn, recipient_id, for_update=True)
    refuse_ended(person)
    values: dict[str, Any] = {}
    if no_change_hours is not _UNSET:
        values["no_change_hours"] = _bounded_int(
            "no_change_hours", no_change_hours, NO_CHANGE_HOURS
        )
    if safe_zone_m is not _UNSET:
        values["safe_zone_m"] = _bounded_int("safe_zone_m", safe_zone_m, SAFE_ZONE_M)
    if risk_group is not _UNSET:
        values["risk_group"] = _text("risk_group", risk_group, RISK_GROUP_MAX)
    if notes is not _UNSET:
        values["notes"] = _text("notes", notes, NOTES_MAX)
    if not values:
        raise EnrollmentError("settings", "nothing to change", key="nothing_to_change")
    r = CareRecipient.__table__
    conn.execute(update(r).where(r.c.id == recipient_id).values(**values))
    judge_again(conn, recipient_ids=[recipient_id])  # the ladder may move
    # Thresholds are not personal; notes may be, so only the fact that they changed is kept.
    detail = {k: v for k, v in values.items() if k in ("no_change_hours", "safe_zone_m")}
    detail["fields"] = sorted(values)
    audit(conn, now, actor, "person_settings", "care_recipient", recipient_id, detail)
    return values


def set_home_position(
    conn: Connection,
    principal: SessionUser,
    now: datetime,
    recipient_id: int,
    lat: float | None,
    lon: float | None,
    *,
    source: str = "entered",
) -> None:
    """Set the home (entered, from the roster, or picked on a map: ``source``), or clear it
    with ``lat = lon = None``: the dong's centroid then stands in, flagged approximate."""
    actor = authorise(principal, now)
    if source not in ("entered", "roster", "map"):
        raise EnrollmentError(
            "source", "one of entered, roster, map", key="bad_source", source=source
        )
    if (lat is None) != (lon is None):
        raise EnrollmentError(
            "lat/lon", "give both, or neither to clear the home position", key="lat_lon_both"
        )
    if lat is not None:
        for field, value, (low, high) in (("lat", lat, KOREA_LAT), ("lon", lon, KOREA_LON)):
            if isinstance(value, bool) or not isinstance(value, int | float):
                raise EnrollmentError(
                    field, f"must be a number, got {value!r}", key="not_a_number", value=value
                )
            if not low <= float(value) <= high:
                raise EnrollmentError(
                    field,
                    f"{value} is outside Korea ({low}–{high})",
                    key="outside_korea",
                    value=value,
                    low=low,
                    high=high,
                )
    person = load_person(conn, recipient_id, for_update=True)
    refuse_ended(person)
    r = CareRecipient.__table__
    conn.execute(
        update(r)
        .where(r.c.id == recipient_id)
        .values(
            pii_home_lat=None if lat is None else float(lat),
            pii_home_lon=None if lon is None else float(lon),
        )
    )
    detail = {"cleared": lat is None, "source": None if lat is None else source}
    audit(conn, now, actor, "person_home", "care_recipient", recipient_id, detail)
