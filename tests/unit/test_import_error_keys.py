"""Import refusals carry an i18n key with their parameters, so the Korean page shows them in
Korean; the English text (the CLI's and the JSON report's contract) stays as it was."""

from __future__ import annotations

import ast
import importlib
import inspect
import string
from datetime import date
from pathlib import Path

import pytest

from dashboard.i18n import LANGS, catalog, translate
from dashboard.ingest.events import validate_event
from dashboard.ingest.files import RowError, _check_header, read_table
from dashboard.ingest.refusal import Refused
from dashboard.registry import columns

ROOT = Path(__file__).resolve().parents[2]


def _placeholders(text: str) -> set[str]:
    return {name for _, name, _, _ in string.Formatter().parse(text) if name}


def _keyed_calls() -> list[tuple[str, int, str, set[str] | None]]:
    """Every ``Refused(msg, "key", **params)`` and ``RowError``/``Rejection`` built with a
    literal key: (file, line, key, parameter names or None when given as a dict expression)."""
    found = []
    for path in sorted((ROOT / "dashboard").rglob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if not isinstance(node, ast.Call) or not isinstance(node.func, ast.Name):
                continue
            name, where = node.func.id, str(path.relative_to(ROOT))
            if name == "Refused" and len(node.args) >= 2:
                key = node.args[1]
                if isinstance(key, ast.Constant):
                    params = {kw.arg for kw in node.keywords if kw.arg}
                    found.append((where, node.lineno, key.value, params))
            elif name in ("RowError", "Rejection") and len(node.args) >= 4:
                key = node.args[3]
                if isinstance(key, ast.Constant) and isinstance(key.value, str):
                    params: set[str] | None = set()
                    if len(node.args) >= 5:
                        given = node.args[4]
                        params = (
                            {k.value for k in given.keys if isinstance(k, ast.Constant)}
                            if isinstance(given, ast.Dict)
                            else None
                        )
                    found.append((where, node.lineno, key.value, params))
    return found


KEYED = _keyed_calls()


def test_the_walk_finds_the_keyed_refusals() -> None:
    assert len(KEYED) >= 40
    files = {where for where, *_ in KEYED}
    assert {"dashboard/ingest/files.py", "dashboard/registry/columns.py"} <= files


@pytest.mark.parametrize(
    ("where", "line", "key", "params"), KEYED, ids=[f"{w}:{n}" for w, n, *_ in KEYED]
)
def test_every_keyed_refusal_is_translated(
    where: str, line: int, key: str, params: set[str] | None
) -> None:
    for lang in LANGS:
        text = catalog(lang).get(f"import_error.{key}")
        assert text is not None, f"{where}:{line}: import_error.{key} missing in {lang}"
        if params is not None:
            assert _placeholders(text) <= params, (where, line, lang, key)


def test_header_errors_keep_english_and_carry_keys() -> None:
    errors = _check_header(["event_id", "ts", "colour", "ts"])
    assert [(e.row, e.column, e.key) for e in errors] == [
        (1, "colour", "unknown_column"),
        (1, "ts", "column_twice"),
        (1, "device_id", "column_missing"),
        (1, "type", "column_missing"),
    ]
    assert errors[0].reason.startswith("unknown column (known columns: event_id")
    assert errors[2] == RowError(1, "device_id", "required column is missing")  # key aside
    assert str(errors[2]) == "row 1, column device_id: required column is missing"


def test_a_file_neither_utf8_nor_cp949_is_keyed_with_its_line() -> None:
    with pytest.raises(Refused) as err:
        read_table(b"event_id,device_id\n\xff\xfe\xfa\n", "x.csv")
    assert err.value.key == "not_utf8" and err.value.params == {"line": 2}
    assert "save it as CSV UTF-8" in str(err.value)
    error = RowError.of(0, None, err.value)
    ko = translate(f"import_error.{error.key}", "ko", **error.params)
    assert "2번째 줄" in ko and "UTF-8" in ko


@pytest.mark.parametrize(
    ("parse", "value", "key"),
    [
        (columns.coordinate(124.0, 132.0), "140", "outside_korea"),
        (lambda v: columns.day(v, date(2026, 1, 1)), "2030-13-45", "no_such_date"),
        (lambda v: columns.day(v, date(2026, 1, 1)), "2030-12-01", "future_date"),
        (columns.phone, "12", "bad_phone"),
        (lambda v: columns.birth_year(v, date(2026, 1, 1)), "1700", "out_of_range"),
    ],
)
def test_roster_cells_are_refused_with_keys(parse, value: str, key: str) -> None:
    with pytest.raises(Refused) as err:
        parse(value)
    assert err.value.key == key
    ko = translate(f"import_error.{key}", "ko", **err.value.params)
    assert not any(word in ko for word in ("must", "between", "not a date", "future"))


def test_event_rejections_carry_the_pydantic_type_and_its_bounds() -> None:
    raw = {"event_id": "e1", "device_id": "d", "ts": "2024-12-01T09:00:00+09:00", "type": "power"}
    rejection = validate_event(0, {**raw, "watts": -1})
    assert rejection.message.startswith("Input should be greater than or equal to 0")
    assert rejection.key == "type.greater_than_equal"
    assert rejection.params == {"ge": 0, "value": "-1"}
    assert translate("import_error.type.greater_than_equal", "ko", **rejection.params) == (
        "0 이상이어야 합니다 (입력: -1)."
    )
    naive = validate_event(0, {**raw, "ts": "2024-12-01T09:00:00", "watts": 1})
    assert naive.key == "ts_needs_zone"


FINANCE = ("common", "sheet", "budget", "incentives")
# The modules whose refusals reach an import page's problem table (roster, finance, complaints,
# participation): a cell parser raises a keyed Refused, and every RowError names its key.
IMPORTERS = sorted(
    [
        *(ROOT / "dashboard" / "finance" / f"{name}.py" for name in FINANCE),
        ROOT / "dashboard" / "complaints" / "importer.py",
        ROOT / "dashboard" / "participation" / "importer.py",
        ROOT / "dashboard" / "registry" / "roster.py",
        ROOT / "dashboard" / "registry" / "columns.py",
        ROOT / "dashboard" / "ingest" / "files.py",
    ]
)


def _importer_calls() -> list[tuple[str, int, ast.AST]]:
    """Every ``raise X(...)`` and every direct ``RowError(...)`` in the importers."""
    found = []
    for path in IMPORTERS:
        where = str(path.relative_to(ROOT))
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Raise) and isinstance(node.exc, ast.Call):
                found.append((where, node.lineno, node.exc))
            elif (
                isinstance(node, ast.Call)
                and isinstance(node.func, ast.Name)
                and node.func.id == "RowError"
            ):
                found.append((where, node.lineno, node))
    return found


IMPORTER_CALLS = _importer_calls()
# Raised inside an import and caught by its caller, which records a keyed RowError instead.
CAUGHT_AND_KEYED = {"ImportConflict"}


def test_the_importer_walk_finds_raises_and_row_errors() -> None:
    assert len(IMPORTER_CALLS) >= 100
    files = {where for where, *_ in IMPORTER_CALLS}
    assert {
        "dashboard/finance/common.py",
        "dashboard/complaints/importer.py",
        "dashboard/participation/importer.py",
        "dashboard/registry/roster.py",
    } <= files


def _literal_keys(node: ast.AST) -> list[str] | None:
    """The key a call passes: a literal, or a choice between literals; None otherwise."""
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return [node.value]
    if isinstance(node, ast.IfExp):
        body, orelse = _literal_keys(node.body), _literal_keys(node.orelse)
        return body + orelse if body is not None and orelse is not None else None
    return None


@pytest.mark.parametrize(
    ("where", "line", "call"),
    IMPORTER_CALLS,
    ids=[f"{w}:{n}" for w, n, _ in IMPORTER_CALLS],
)
def test_every_importer_refusal_has_a_translated_key(where: str, line: int, call: ast.Call) -> None:
    """A plain ValueError or a RowError without a key would show its English text on the
    Korean page; this fails for a new one until it carries a key both languages translate."""
    name = call.func.id if isinstance(call.func, ast.Name) else ast.unparse(call.func)
    if name == "RowError":
        assert len(call.args) >= 4, f"{where}:{line}: RowError without an i18n key"
        if isinstance(call.args[3], ast.Attribute) and call.args[3].attr == "key":
            return  # an event rejection's key passed on (checked by the tests above)
        keys = _literal_keys(call.args[3])
    elif name in CAUGHT_AND_KEYED:
        return
    else:
        module = importlib.import_module(where.removesuffix(".py").replace("/", "."))
        raised = getattr(module, name, None)
        if callable(raised) and not isinstance(raised, type):  # a helper building the refusal
            assert inspect.signature(raised).return_annotation in ("Refused", Refused), name
            return
        assert isinstance(raised, type) and issubclass(raised, Refused), (
            f"{where}:{line}: raise {name}(...) instead of a keyed Refused"
        )
        keys = _literal_keys(call.args[1]) if len(call.args) >= 2 else None
    assert keys, f"{where}:{line}: the key is not a literal"
    for key in keys:
        for lang in LANGS:
            assert catalog(lang).get(f"import_error.{key}") is not None, (
                f"{where}:{line}: import_error.{key} missing in {lang}"
            )


def test_finance_cells_are_refused_in_korean() -> None:
    from dashboard.finance.common import parse_month
    from dashboard.finance.sheet import parse_amount

    for parse, raw, key in (
        (parse_month, "13월", "month_out_of_range"),
        (parse_month, "봄", "not_a_month"),
        (parse_amount, "12원", "not_an_amount_hint"),
    ):
        with pytest.raises(Refused) as err:
            parse(raw)
        assert err.value.key == key
        assert "not" not in translate(f"import_error.{key}", "ko", **err.value.params)
    assert str(err.value) == "not an amount (got '12원'); write it like 1,234 or △1,234"
