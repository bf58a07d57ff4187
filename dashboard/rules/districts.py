"""Per-district plug thresholds: a lead sets a 시·군·구's own routine sensitivity and ladder steps.

The overrides live in the thresholds file itself (``[districts."<code>".plug_routine]`` and
``[districts."<code>".plug_no_change]`` in ``data/rules.toml``), so the rules, the replay
command and evaluate-detection read one file as before; a file without the tables behaves
exactly as it did. Only the keys of ``config.DISTRICT_KEYS`` may differ by district, and the
ladder's keys only downwards: a district may make the fixed ladder earlier, never later than
the city's, so the floor guarantee (nothing the city's ladder catches is missed) holds in every
district.

The editor works with *effective* values (the city's, with the district's override applied);
a value equal to the city's is not stored, so setting every value back to the city's removes
the district's table. The switches of ``CHOICE_KEYS`` (the level test) are a choice instead:
the city's value (None, not stored), on or off, stored as chosen even when the city has the
same value, so a district that opted in stays in when the city changes its mind.
"""

from __future__ import annotations

import re
from datetime import datetime
from pathlib import Path
from typing import Any

from pydantic import ValidationError
from sqlalchemy import Connection, select

from dashboard.audit import write_audit
from dashboard.auth.permissions import require_in_scope
from dashboard.auth.principal import SessionUser
from dashboard.auth.users import DISTRICT_LEVELS
from dashboard.db.schema import Region
from dashboard.rules.config import (
    DISTRICT_KEYS,
    DistrictOverride,
    RulesConfigError,
    Thresholds,
    load_thresholds,
)
from dashboard.rules.edit import (
    Problem,
    ThresholdsInvalid,
    changes,
    districts_of,
    nest,
    problem_of,
    save_thresholds,
)

ACTION = "district_thresholds_update"
# The editable settings as flat keys, in the editor's order.
FIELDS: tuple[str, ...] = tuple(f"{s}.{k}" for s, keys in DISTRICT_KEYS.items() for k in keys)
# Switches a district chooses (None: the city's value) rather than tunes.
CHOICE_KEYS: frozenset[str] = frozenset({"plug_routine.level_enabled"})


def effective_values(th: Thresholds, code: str) -> dict[str, float]:
    """The district's value of every editable setting (the city's where it has none)."""
    effective = th.for_region(code)
    return {
        key: getattr(getattr(effective, key.split(".")[0]), key.split(".")[1]) for key in FIELDS
    }


def city_values(th: Thresholds) -> dict[str, float]:
    return {key: getattr(getattr(th, key.split(".")[0]), key.split(".")[1]) for key in FIELDS}


def editor_values(th: Thresholds, code: str) -> dict[str, Any]:
    """What the district editor shows and the audit compares: the effective values, and for
    ``CHOICE_KEYS`` the district's choice (None: it follows the city)."""
    override = th.districts.get(code)
    chosen = override.values() if override is not None else {}
    values: dict[str, Any] = effective_values(th, code)
    for key in CHOICE_KEYS:
        values[key] = chosen.get(key)
    return values


def _override_of(th: Thresholds, values: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """The TOML tables of ``values`` (effective values; choices): only the values differing
    from the city's, and every choice made."""
    city = city_values(th)
    unknown = [k for k in values if k not in FIELDS]
    if unknown:
        raise ThresholdsInvalid(
            f"not a district setting: {', '.join(unknown)} (one of {', '.join(FIELDS)})",
            {k: [Problem("not a district setting", "not_district_setting")] for k in unknown},
        )
    return nest(
        {k: v for k, v in values.items() if v is not None and (k in CHOICE_KEYS or v != city[k])}
    )


def _named(message: str) -> list[str]:
    """The editable settings a validation message names (by their last part)."""
    return [k for k in FIELDS if re.search(rf"\b{re.escape(k.split('.')[-1])}\b", message)]


def proposed_thresholds(th: Thresholds, code: str, values: dict[str, Any]) -> Thresholds:
    """``th`` with district ``code`` set to ``values`` (effective values, by flat key; keys not
    given keep the district's current value; a ``CHOICE_KEYS`` switch takes True, False or
    None for the city's value). Raises :class:`ThresholdsInvalid` with ``problems`` by flat
    key, each message naming the setting and what is wrong."""
    merged = {**editor_values(th, code), **values}
    tables = _override_of(th, merged)
    problems: dict[str, list[str]] = {}
    try:
        DistrictOverride.model_validate(tables)
    except ValidationError as exc:
        for err in exc.errors():
            key = ".".join(str(p) for p in err["loc"])
            problems.setdefault(key, []).append(problem_of(err))
    if not problems:
        districts = {**districts_of(th), code: tables}
        if not tables:
            districts.pop(code)
        try:
            return Thresholds.model_validate(
                {**th.model_dump(exclude={"districts"}), "districts": districts}
            )
        except ValidationError as exc:
            for err in exc.errors():
                message = problem_of(err)
                for key in _named(message) or ["district"]:
                    problems.setdefault(key, []).append(message)
    lines = "\n".join(f"  {k}: {'; '.join(v)}" for k, v in problems.items())
    raise ThresholdsInvalid(f"district {code}: invalid thresholds:\n{lines}", problems)


def district_name(conn: Connection, code: str) -> str:
    """The district's Korean name; :class:`ThresholdsInvalid` when ``code`` is no 시·군·구."""
    row = conn.execute(select(Region.name_ko, Region.level).where(Region.code == code)).first()
    if row is None or row.level not in DISTRICT_LEVELS:
        raise ThresholdsInvalid(
            f"district: {code!r} is not a 시·군·구 code in the regions table",
            {
                "district": [
                    Problem(f"{code!r} is not a 시·군·구 code", "rule.district_code", code=code)
                ]
            },
        )
    return row.name_ko


def update_district_thresholds(
    conn: Connection,
    principal: SessionUser,
    code: str,
    values: dict[str, Any],
    path: Path | str,
    now: datetime,
) -> dict[str, list[Any]]:
    """Set district ``code``'s thresholds to ``values`` (effective values by flat key) as
    ``principal``; returns what changed, key → [before, after] (effective values; for
    ``CHOICE_KEYS`` the choice, None for the city's value).

    Checks ``edit_thresholds`` for a person in that district (``require_in_scope``), that the
    code is a district, and the values; writes the ``district_thresholds_update`` audit row
    (before/after, and the stored override) before the file, in the caller's transaction, so
    an invalid value or a failed write leaves neither.
    """
    actor = require_in_scope(principal, "edit_thresholds", code).username
    name = district_name(conn, code)
    path = Path(path)
    try:
        th = load_thresholds(path)
    except RulesConfigError as exc:
        # Saving a district writes the whole file: from the defaults, the city's own values in
        # the broken file would be lost. The city's thresholds are repaired first (설정's form).
        raise ThresholdsInvalid(
            f"{path}: the rules file is invalid ({exc}); a district cannot be saved until the "
            "city's thresholds are",
            {"district": [Problem(str(exc), "rule.file_invalid", detail=str(exc))]},
        ) from None
    before = editor_values(th, code)
    proposed = proposed_thresholds(th, code, values)
    after = editor_values(proposed, code)
    diff = changes(before, after)
    if not diff:
        return diff
    override = districts_of(proposed).get(code, {})
    write_audit(
        conn,
        at=now,
        actor=actor,
        action=ACTION,
        entity_type="thresholds",
        entity_id=code,
        detail={"district": code, "district_name": name, "changed": diff, "override": override},
    )
    save_thresholds({}, path, districts=districts_of(proposed))
    return diff
