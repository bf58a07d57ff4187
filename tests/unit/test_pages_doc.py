"""docs/pages.md describes every page, and docs/analysis.md states the review pages' constants
as the code has them."""

from __future__ import annotations

from dashboard.auth.roles import PAGES
from dashboard.settings import PROJECT_ROOT
from queries import vendor_performance, weekly_review

DOCS = PROJECT_ROOT / "docs"


def test_every_page_has_its_section_in_pages_md() -> None:
    text = (DOCS / "pages.md").read_text(encoding="utf-8")
    missing = [p for p in PAGES if f"— `/{p}`" not in text]
    assert not missing, f"docs/pages.md has no section for {missing}"


def test_analysis_md_states_the_vendor_and_week_constants() -> None:
    text = (DOCS / "analysis.md").read_text(encoding="utf-8")
    assert f"about {vendor_performance.DELAY_DEVICES} devices per vendor and type" in text
    assert f"latest {vendor_performance.DELAY_EVENTS} events of the period" in text
    assert vendor_performance.SILENT_OVER_S == 24 * 3600 and "more than 24 hours" in text
    assert weekly_review.FLOOR == {"count": 1.0, "share": 0.01}
    assert "at least 1 for counts and 0.01 (1 %p) for shares" in " ".join(text.split())
    assert weekly_review.WEEKS == 5 and "five 7-day windows" in text
