"""Leads register welfare centers and partner places and correct positions: validated,
permission-checked and audited."""

from __future__ import annotations

import re
from datetime import datetime

from sqlalchemy import Connection, insert, select, update

from dashboard.audit import write_audit
from dashboard.auth.permissions import require
from dashboard.auth.principal import SessionUser
from dashboard.clock import require_aware
from dashboard.db.schema import Responder
from dashboard.db.schema.responders import REGISTERED, RESPONDER_KINDS
from dashboard.plain_text import has_control_codes

ACTION = "manage_responders"
ENTITY = "responder"
# A position must lie in or near South Korea: a swapped lat/lon or a typo is refused.
LAT_RANGE = (33.0, 38.7)
LON_RANGE = (124.5, 131.9)
NAME_MAX, PHONE_MAX, ADDRESS_MAX = 120, 40, 200
_PHONE = re.compile(r"^\+?[0-9][0-9 \-]{5,38}$")


class ResponderError(ValueError):
    """Bad input for a responder; ``field`` names the form field, nothing was written. The
    message is English (CLI, logs); ``key`` and ``params`` let a page say it in its language
    (i18n ``responder_error.<key>``)."""

    def __init__(self, field: str, message: str, *, key: str, **params: object) -> None:
        self.field, self.key, self.params = field, key, params
        super().__init__(f"{field}: {message}")


def check_position(lat: object, lon: object) -> tuple[float, float]:
    try:
        la, lo = float(lat), float(lon)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        raise ResponderError(
            "position", f"not a number: {lat!r}, {lon!r}", key="not_a_number", value=f"{lat}, {lon}"
        ) from None
    if not (LAT_RANGE[0] <= la <= LAT_RANGE[1]) or not (LON_RANGE[0] <= lo <= LON_RANGE[1]):
        raise ResponderError(
            "position",
            f"{la:.5f}, {lo:.5f} is outside Korea (latitude {LAT_RANGE[0]}–{LAT_RANGE[1]}, "
            f"longitude {LON_RANGE[0]}–{LON_RANGE[1]}); latitude comes first",
            key="outside_korea",
            value=f"{la:.5f}, {lo:.5f}",
            lat=f"{LAT_RANGE[0]}–{LAT_RANGE[1]}",
            lon=f"{LON_RANGE[0]}–{LON_RANGE[1]}",
        )
    return round(la, 6), round(lo, 6)


def _text(field: str, value: str | None, limit: int, *, required: bool = False) -> str | None:
    text = " ".join((value or "").split())
    if not text:
        if required:
            raise ResponderError(field, "required", key="required")
        return None
    if len(text) > limit:
        raise ResponderError(
            field, f"at most {limit} characters (got {len(text)})", key="too_long", limit=limit
        )
    if has_control_codes(text):  # PostgreSQL refuses NUL: a clear refusal, not its error
        raise ResponderError(field, "contains control codes (such as NUL)", key="control_codes")
    return text


def _phone(value: str | None) -> str | None:
    phone = _text("phone", value, PHONE_MAX)
    if phone is not None and not _PHONE.match(phone):
        raise ResponderError(
            "phone", f"{phone!r} is not a phone number (digits, spaces, -)", key="phone"
        )
    return phone


def register_responder(
    conn: Connection,
    principal: SessionUser,
    now: datetime,
    *,
    kind: str,
    name: str,
    lat: float,
    lon: float,
    phone: str | None = None,
    address: str | None = None,
) -> int:
    """Add a place that can help (kind from RESPONDER_KINDS); returns its id."""
    require_aware(now)
    actor = require(principal, ACTION).username
    if kind not in RESPONDER_KINDS:
        raise ResponderError(
            "kind", f"{kind!r} is not one of {list(RESPONDER_KINDS)}", key="kind", value=kind
        )
    values = {
        "kind": kind,
        "name": _text("name", name, NAME_MAX, required=True),
        "phone": _phone(phone),
        "address": _text("address", address, ADDRESS_MAX),
        "approximate": False,
        "source": REGISTERED,
        "source_ref": None,
        "active": True,
        "updated_at": now,
        "updated_by": actor,
    }
    values["lat"], values["lon"] = check_position(lat, lon)
    new_id = conn.execute(insert(Responder).returning(Responder.id), values).scalar_one()
    write_audit(
        conn,
        at=now,
        actor=actor,
        action="responder_add",
        entity_type=ENTITY,
        entity_id=new_id,
        detail={"kind": kind, "name": values["name"]},
    )
    return int(new_id)


def _existing(conn: Connection, responder_id: int):
    row = conn.execute(
        select(Responder.id, Responder.lat, Responder.lon, Responder.approximate, Responder.active)
        .where(Responder.id == responder_id)
    ).one_or_none()  # fmt: skip
    if row is None:
        raise ResponderError(
            "responder", f"no responder with id {responder_id}", key="not_found", id=responder_id
        )
    return row


def move_responder(
    conn: Connection, principal: SessionUser, now: datetime, responder_id: int, lat: float,
    lon: float,
) -> None:  # fmt: skip
    """Put a responder where it really is (a lead's map click): no longer approximate."""
    require_aware(now)
    actor = require(principal, ACTION).username
    la, lo = check_position(lat, lon)
    before = _existing(conn, responder_id)
    conn.execute(
        update(Responder)
        .where(Responder.id == responder_id)
        .values(lat=la, lon=lo, approximate=False, updated_at=now, updated_by=actor)
    )
    write_audit(
        conn,
        at=now,
        actor=actor,
        action="responder_move",
        entity_type=ENTITY,
        entity_id=responder_id,
        detail={
            "from": None if before.lat is None else [before.lat, before.lon],
            "to": [la, lo],
            "was_approximate": bool(before.approximate),
        },
    )


def set_responder_active(
    conn: Connection, principal: SessionUser, now: datetime, responder_id: int, active: bool
) -> None:
    """Take a responder off the map (closed, moved away) or put it back."""
    require_aware(now)
    actor = require(principal, ACTION).username
    _existing(conn, responder_id)
    conn.execute(
        update(Responder)
        .where(Responder.id == responder_id)
        .values(active=bool(active), updated_at=now, updated_by=actor)
    )
    write_audit(
        conn,
        at=now,
        actor=actor,
        action="responder_enable" if active else "responder_disable",
        entity_type=ENTITY,
        entity_id=responder_id,
    )
