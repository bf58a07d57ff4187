"""docs/access-control.md shows the permission matrix exactly as the code has it."""

from __future__ import annotations

import re

import pytest

from dashboard.auth import ACTIONS, PAGES, ROLES, can, can_open
from dashboard.auth.demo import DEMO_ACCOUNTS, DEMO_PASSWORD
from dashboard.settings import PROJECT_ROOT

DOC = (PROJECT_ROOT / "docs" / "access-control.md").read_text(encoding="utf-8")
ROW = re.compile(r"^\| `([a-z_0-9]+)` \|(.*)\|\s*$", re.MULTILINE)


def _table(header: str) -> dict[str, dict[str, bool]]:
    """The rows of the table whose header line starts with ``| header |``."""
    start = DOC.index(f"| {header} | {' | '.join(ROLES)} |")
    block = DOC[start:].split("\n\n", 1)[0]
    rows = {}
    for name, cells in ROW.findall(block):
        marks = [c.strip() for c in cells.split("|")]
        assert set(marks) <= {"✓", "–"}, (name, marks)
        rows[name] = dict(zip(ROLES, [m == "✓" for m in marks], strict=True))
    return rows


@pytest.mark.parametrize(
    ("header", "names", "check"), [("page", PAGES, can_open), ("action", ACTIONS, can)]
)
def test_matrix_in_docs_matches_code(header, names, check) -> None:
    table = _table(header)
    assert list(table) == list(names), f"docs list {list(table)}, code has {list(names)}"
    for name in names:
        for role in ROLES:
            assert table[name][role] == check(role, name), f"{role} × {name}"


def test_demo_accounts_and_settings_documented() -> None:
    assert f"**`{DEMO_PASSWORD}`**" in DOC
    for name in DEMO_ACCOUNTS:
        assert f"| `{name}` | {name} |" in DOC
    for setting in ("AUTH_MAX_FAILURES", "AUTH_LOCKOUT_MINUTES", "SESSION_IDLE_MINUTES"):
        assert f"`ANBU_{setting}`" in DOC
    for api in ("st.login", "st.user", "[auth]", "st.logout"):
        assert api in DOC
