"""Edit ``data/rules.toml`` from the settings page: flatten, validate, render and save.

Settings are addressed by flat dotted keys (``plug_no_change.min_hours``,
``device_silent.timeout_s.smart_plug``). :func:`save_thresholds` renders the complete file,
validates the rendered text with the same parser the rules use (:func:`parse_thresholds`) and
only then replaces the file atomically (temp file in the same folder + ``os.replace``), so a
reader never sees a half-written or invalid file. ``current_thresholds`` notices the new
modification time and the rules use the new values on the next batch or tick.

:func:`update_thresholds` is what the settings page calls: it checks ``edit_thresholds`` for the
acting principal and writes the ``thresholds_update`` audit row with the file, in the caller's
transaction. :func:`save_thresholds` is its file half and checks nobody.
"""

from __future__ import annotations

import json
import os
import re
import tempfile
from datetime import datetime
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ValidationError
from pydantic_core import ErrorDetails
from sqlalchemy import Connection

from dashboard.audit import write_audit
from dashboard.auth.permissions import require
from dashboard.auth.principal import SessionUser
from dashboard.rules.config import (
    RuleError,
    RulesConfigError,
    Thresholds,
    load_thresholds,
    parse_thresholds,
)

DEFAULT_HEADER = (
    "# Anbu wellbeing-check rule thresholds (see docs/rules.md).\n"
    "#\n"
    "# Team leads may edit this file; it is validated on load and a bad value stops the worker"
    " with a\n"
    "# message naming the setting.\n"
)
EDITED_NOTE = (
    "# Saved from the settings page (/settings); each setting is explained in docs/rules.md.\n"
)

# Unit code of each setting (labels per language in i18n ``settings_page.unit.<code>``).
_UNIT_SUFFIXES = (
    ("_slots", "slots"),
    ("_pct", "pct"),
    ("_kmh", "kmh"),
    ("_min", "min"),
    ("_days", "days"),
    ("_hours", "h"),
    ("_h", "h"),
    ("_s", "s"),
    ("_w", "w"),
    ("_m", "m"),
)
_UNIT_EXACT = {
    "days": "days",
    "lux_margin": "lux",
    "attempts": "times",
    "unanswered_in_a_row": "times",
    "risk_in_a_row": "times",
    "concern_stage": "stage",
    "night_start_hour": "clock",
    "night_end_hour": "clock",
    "level_h": "none",  # a threshold on the level test's evidence S (no unit), not hours
}


class Problem(str):
    """One validation problem: the English text (CLI, logs, tests compare it as a string) that
    also carries an i18n key (``settings_page.error.<key>``) and parameters for the page."""

    key: str | None
    params: dict[str, Any]

    def __new__(cls, text: str, key: str | None = None, **params: Any) -> Problem:
        problem = super().__new__(cls, text)
        problem.key, problem.params = key, params
        return problem


def problem_of(err: ErrorDetails) -> Problem:
    """A pydantic error as a :class:`Problem`: keyed by the error's ``type`` (its ``ctx`` the
    parameters: ``le``, ``gt``…) or, for a cross-field check, by the :class:`RuleError`'s key."""
    message = err["msg"].removeprefix("Value error, ")
    if err["type"] == "extra_forbidden":
        return Problem("unknown setting", "unknown_setting")
    ctx = dict(err.get("ctx") or {})
    cause = ctx.pop("error", None)
    if isinstance(cause, RuleError):
        return Problem(message, f"rule.{cause.key}", **cause.params)
    return Problem(message, f"type.{err['type']}", **ctx)


class ThresholdsInvalid(RulesConfigError):
    """The values do not validate; ``problems`` maps each flat key to its messages."""

    def __init__(self, message: str, problems: dict[str, list[str]]):
        super().__init__(message)
        self.problems = problems


def unit_of(key: str) -> str:
    """Unit code of a flat key (``plug_no_change.min_hours`` → ``h``)."""
    parts = key.split(".")
    if parts[:2] == ["device_silent", "timeout_s"]:
        return "s"
    name = parts[-1]
    if name in _UNIT_EXACT:
        return _UNIT_EXACT[name]
    for suffix, unit in _UNIT_SUFFIXES:
        if name.endswith(suffix):
            return unit
    return "none"


def flatten(thresholds: Thresholds) -> dict[str, Any]:
    """Every setting as flat dotted key → value, in the model's order (sections, then fields)."""
    flat: dict[str, Any] = {}
    for section in Thresholds.model_fields:
        if section == "districts":  # per-district overrides: edited on their own (districts_of)
            continue
        model: BaseModel = getattr(thresholds, section)
        for name in type(model).model_fields:
            value = getattr(model, name)
            if isinstance(value, dict):
                for code, inner in value.items():
                    flat[f"{section}.{name}.{code}"] = inner
            else:
                flat[f"{section}.{name}"] = value
    return flat


def nest(values: dict[str, Any]) -> dict[str, Any]:
    """Flat dotted keys back to the TOML tables."""
    tree: dict[str, Any] = {}
    for key, value in values.items():
        *parents, leaf = key.split(".")
        node = tree
        for part in parents:
            node = node.setdefault(part, {})
        node[leaf] = value
    return tree


def _toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)  # a float keeps its ".0": the model's type survives the round trip
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)  # a TOML basic string
    raise TypeError(f"cannot write {value!r} to TOML")


def render_toml(values: dict[str, Any], header: str = DEFAULT_HEADER) -> str:
    """The TOML text of flat ``values`` (any order), preceded by ``header`` (comment lines)."""
    lines = [header.rstrip("\n"), EDITED_NOTE.rstrip("\n")]

    def table(name: str, node: dict[str, Any]) -> None:
        scalars = {k: v for k, v in node.items() if not isinstance(v, dict)}
        tables = {k: v for k, v in node.items() if isinstance(v, dict)}
        if scalars or not tables:  # a table of tables only needs no header of its own
            lines.append("")
            lines.append(f"[{name}]")
        for key, value in scalars.items():
            lines.append(f"{key} = {_toml_value(value)}")
        for key, inner in tables.items():
            table(f"{name}.{key}", inner)

    for section, node in nest(values).items():
        if not isinstance(node, dict):
            problem = Problem("not a section", "not_a_section")
            raise ThresholdsInvalid(f"{section}: not a section", {section: [problem]})
        table(section, node)
    return "\n".join(lines) + "\n"


def header_of(text: str) -> str:
    """The leading comment block of a file (our own edited note dropped), or the default."""
    header: list[str] = []
    for line in text.splitlines(keepends=True):
        if not line.startswith("#"):
            break
        if line != EDITED_NOTE:
            header.append(line)
    return "".join(header) or DEFAULT_HEADER


def districts_of(thresholds: Thresholds) -> dict[str, dict[str, Any]]:
    """The district overrides as TOML tables (``{code: {section: {key: value}}}``), unset
    values left out."""
    return {
        code: {
            section: values
            for section, values in override.model_dump(exclude_none=True).items()
            if values
        }
        for code, override in thresholds.districts.items()
        if override.values()
    }


def problems_of(
    values: dict[str, Any], districts: dict[str, Any] | None = None
) -> dict[str, list[str]]:
    """Validation problems of flat ``values`` by flat key; ``{}`` when they are valid.

    A section-level check (``min_hours must not be greater than max_hours``) is reported on
    every setting of that section its message names, so the page shows it next to each; so is
    a district override that the city values would make invalid (``districts``: the file's).
    """
    tree = nest(values)
    if districts:
        tree["districts"] = districts
    try:
        Thresholds.model_validate(tree)
    except ValidationError as exc:
        problems: dict[str, list[str]] = {}  # Problem: a str with its i18n key
        for err in exc.errors():
            loc = [str(p) for p in err["loc"]]
            message = problem_of(err)
            where = ".".join(loc) or "(top level)"
            keys = [where]
            if len(loc) <= 1:  # a section's (or the districts') check: name the settings
                named = [
                    k
                    for k in values
                    if (not loc or k.startswith(f"{loc[0]}."))
                    and re.search(rf"\b{re.escape(k.split('.')[-1])}\b", message)
                ]
                keys = named or keys
            for key in keys:
                problems.setdefault(key, []).append(message)
        return problems
    return {}


def _flat_districts(districts: dict[str, Any]) -> dict[str, Any]:
    return {
        f"districts.{code}.{section}.{key}": value
        for code, sections in districts.items()
        for section, values in sections.items()
        for key, value in values.items()
    }


def save_thresholds(
    values: dict[str, Any], path: Path | str, districts: dict[str, Any] | None = None
) -> Thresholds:
    """Validate flat ``values`` and write them to ``path`` atomically; return the new model.

    Settings not in ``values`` keep the file's current value (or the default when the file is
    missing); the district overrides are kept unless ``districts`` replaces them all. Raises
    :class:`ThresholdsInvalid` (``problems`` by key) and writes nothing when a value is wrong;
    the rendered text is checked with :func:`parse_thresholds` before writing.
    """
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        text = ""
    try:
        parsed = parse_thresholds(text, source=str(path))
    except RulesConfigError:
        parsed = Thresholds()  # a broken file is replaced by a valid one
    merged = {**flatten(parsed), **values}
    kept = districts_of(parsed) if districts is None else districts
    problems = problems_of(merged, kept)
    if problems:
        lines = "\n".join(f"  {k}: {'; '.join(v)}" for k, v in problems.items())
        raise ThresholdsInvalid(f"{path}: invalid thresholds:\n{lines}", problems)
    rendered = render_toml({**merged, **_flat_districts(kept)}, header_of(text))
    thresholds = parse_thresholds(rendered, source=str(path))  # what the rules will read
    fd, temp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(rendered)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(temp, path)
    except BaseException:
        Path(temp).unlink(missing_ok=True)
        raise
    return thresholds


def changes(old: dict[str, Any], new: dict[str, Any]) -> dict[str, list[Any]]:
    """Keys whose value differs: key → [old, new] (for the audit detail and the page)."""
    return {k: [old.get(k), v] for k, v in new.items() if old.get(k) != v}


def update_thresholds(
    conn: Connection,
    principal: SessionUser,
    values: dict[str, Any],
    path: Path | str,
    now: datetime,
) -> dict[str, list[Any]]:
    """Apply flat ``values`` to the thresholds file as ``principal``; returns what changed.

    Nothing changed: nothing is written. Otherwise the audit row goes in first, so an invalid
    value (:class:`ThresholdsInvalid`) or a failed write raises and rolls it back with the
    caller's transaction; the file is replaced only after both were accepted.
    """
    actor = require(principal, "edit_thresholds").username
    path = Path(path)
    try:
        old = flatten(load_thresholds(path))
    except RulesConfigError:  # missing or broken: every given value is a change
        old = {}
    diff = changes(old, values)
    if not diff:
        return diff
    write_audit(
        conn,
        at=now,
        actor=actor,
        action="thresholds_update",
        entity_type="thresholds",
        entity_id=path.name,
        detail={"changed": diff},
    )
    save_thresholds(values, path)
    return diff
