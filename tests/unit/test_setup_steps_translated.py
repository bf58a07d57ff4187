"""Every first-run progress step the setup code reports has a Korean and an English label."""

from __future__ import annotations

import re

import pytest

from dashboard.i18n import has_key
from dashboard.settings import PROJECT_ROOT

SOURCES = ["dashboard/bootstrap.py", "dashboard/demo/build.py"]
STEP = re.compile(r"""report\([^,]+,\s*"([^"]+)"\)""")


def _steps() -> set[str]:
    found: set[str] = set()
    for source in SOURCES:
        found |= set(STEP.findall((PROJECT_ROOT / source).read_text(encoding="utf-8")))
    return found


def test_the_setup_code_reports_steps():
    assert {"schema", "catalog", "writing daily rollups", "ready"} <= _steps()


@pytest.mark.parametrize("lang", ["ko", "en"])
def test_every_step_is_translated(lang):
    from dashboard.ui.setup import _slug

    missing = [s for s in sorted(_steps()) if not has_key(f"setup_step.{_slug(s)}", lang)]
    assert not missing, f"untranslated setup steps ({lang}): {missing}"
