"""docs/detection.md "In the product" states figures the code decides: keep them in step."""

from __future__ import annotations

from datetime import date

from dashboard.notify.reminders import REMIND_AT, reminder_key
from dashboard.settings import PROJECT_ROOT
from dashboard.ui import routine_chart, watch
from queries.routine import STRIP_DAYS
from queries.watch import SCAN, SHOWN

DOC = (PROJECT_ROOT / "docs" / "detection.md").read_text(encoding="utf-8")
SECTION = DOC.split("## In the product", 1)[1].split("\n## ", 1)[0]


def test_the_documented_figures_are_the_codes() -> None:
    assert f"the last {STRIP_DAYS} local days" in SECTION
    assert f"at or after {REMIND_AT:%H:%M} Seoul" in SECTION
    assert reminder_key(7, date(2024, 12, 2)) == "away:recipient7:2024-12-02"
    assert "`away:recipient{id}:{day}`" in SECTION
    assert f"At most {SHOWN}, the nearest to 관심 first" in SECTION
    assert f"capped at {SCAN:,}" in SECTION
    assert f"`run_every={watch.REFRESH_S}`" in SECTION and watch.CACHE_TTL_S == 60
    assert "one-minute cache" in SECTION
    # Okabe–Ito sky blue and orange, as the text says.
    assert (routine_chart.ACTIVE, routine_chart.WINDOW) == ("#56B4E9", "#E69F00")


def test_the_reach_refresh_is_documented_as_it_runs() -> None:
    from dashboard import background
    from dashboard.detection import reach_refresh

    kept = DOC.split("**Kept for the whole city**", 1)[1].split("\n\n", 1)[0]
    assert f"`PASS_BUDGET_S` ({reach_refresh.PASS_BUDGET_S:g} s;" in kept
    assert f"live loop, which shares the app's process, {background.REACH_BUDGET_S:g} s)" in kept
    assert f"`REFRESH_DAYS` ({reach_refresh.REFRESH_DAYS})" in kept
    assert f"in batches of {reach_refresh.BATCH}" in kept
