"""이번 주 and 업체 성과: what the pages show is what the queries give for the same filters, in
Korean and English; downloads for leads only; neither page exists for the council or admins;
the filters live in the URL."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest
from streamlit.testing.v1 import AppTest

from dashboard.formatting import format_number
from dashboard.i18n import translate
from dashboard.settings import LOCAL_TZ
from dashboard.ui.vendors import _cell
from dashboard.ui.week import format_value
from queries.vendor_performance import vendor_performance
from queries.weekly_review import weekly_review
from tests.apptest.conftest import metric, open_page, texts

# The demo city of the AppTests ends 2024-11-29 12:00 KST: the last complete day is the 28th.
LAST_DAY = date(2024, 11, 28)
FIRST = date(2024, 11, 1)
START = datetime(2024, 11, 1, tzinfo=LOCAL_TZ)
END = datetime(2024, 11, 29, tzinfo=LOCAL_TZ)


def _open(page: str, role: str = "lead", lang: str = "ko", **params: str) -> AppTest:
    extra = {"lang": "en"} if lang == "en" else {}
    return open_page(page, role=role, **params, **extra)


@pytest.fixture(scope="module")
def week_expected(demo_db):
    with demo_db.connect() as conn:
        return weekly_review(conn, LAST_DAY, datetime.now(UTC))


@pytest.fixture(scope="module")
def vendors_expected(demo_db):
    with demo_db.connect() as conn:
        return vendor_performance(conn, START, END)


@pytest.mark.parametrize("lang", ["ko", "en"])
def test_week_shows_the_ranked_changes_of_the_query(demo_db, week_expected, lang) -> None:
    at = _open("week", lang=lang, week=LAST_DAY.isoformat())
    assert [t.value for t in at.title] == [translate("page.week", lang)]
    changes = week_expected["changes"]
    outside = changes[changes["side"].isin(["above", "below"])].head(4)
    assert len(outside) > 0, "the demo week has something outside its four-week range"
    for row in outside.to_dict("records"):
        label = translate(f"week.metric.{row['metric']}", lang)
        assert metric(at, label) == format_value(row["this_week"], row["kind"])
    ranked = at.dataframe[0].value
    names = [translate(f"week.metric.{m}", lang) for m in changes["metric"]]
    assert list(ranked[translate("week.col.metric", lang)]) == names
    scale = [100 if k == "share" else 1 for k in changes["kind"]]
    expected = [_cell(round(v * s, 1)) for v, s in zip(changes["this_week"], scale, strict=True)]
    assert list(ranked[translate("week.col.this_week", lang)]) == expected


def test_week_figures_per_week_equal_the_query(demo_db, week_expected) -> None:
    at = _open("week", week=LAST_DAY.isoformat())
    weeks = at.dataframe[1].value
    figures = week_expected["figures"]
    severe = figures[figures["metric"] == "alerts_severe"].sort_values("week")["value"]
    row = weeks[weeks[translate("week.col.metric")] == translate("week.metric.alerts_severe")]
    assert list(row.iloc[0, 1:]) == [_cell(v) for v in severe]
    assert sum(severe) > 0
    assert any("2024. 11. 22. – 2024. 11. 28." in c or "11. 22" in c for c in weeks.columns)


def test_week_filters_stay_in_the_url(demo_db) -> None:
    at = _open("week", week=LAST_DAY.isoformat(), program="seoul_smart_plug")
    assert at.query_params["week"] == LAST_DAY.isoformat()
    assert at.query_params["program"] == "seoul_smart_plug"
    with_filter = at.dataframe[0].value
    with demo_db.connect() as conn:
        only = weekly_review(conn, LAST_DAY, datetime.now(UTC), programs=["seoul_smart_plug"])
    names = [translate(f"week.metric.{m}") for m in only["changes"]["metric"]]
    assert list(with_filter[translate("week.col.metric")]) == names


@pytest.mark.parametrize("lang", ["ko", "en"])
def test_vendors_table_equals_the_query(demo_db, vendors_expected, lang) -> None:
    at = _open("vendors", lang=lang, **{"from": FIRST.isoformat(), "to": "2024-11-28"})
    assert [t.value for t in at.title] == [translate("page.vendors", lang)]
    summary = vendors_expected["summary"]
    assert summary["faults"].sum() > 0 and summary["vendor"].nunique() >= 5
    assert metric(at, translate("vendors.metric_faults", lang)) == format_number(
        summary["faults"].sum()
    )
    assert metric(at, translate("vendors.metric_devices", lang)) == format_number(
        summary["devices"].sum()
    )
    table = at.dataframe[0].value
    col = lambda key: list(table[translate(f"vendors.col.{key}", lang)])  # noqa: E731
    assert col("vendor") == list(summary["vendor"])
    for key in ("devices", "faults", "faults_per_100", "repair_median_h", "delay_median_s"):
        assert col(key) == [_cell(v) for v in summary[key]], key
    weekly = at.dataframe[1].value
    assert len(weekly) == len(vendors_expected["weekly"])
    assert (
        sum(int(v.replace(",", "")) for v in weekly[translate("vendors.col.faults", lang)])
        == summary["faults"].sum()
    )
    source = translate("vendors.source", lang, start="", end="", as_of="").split("·")[1].strip()
    assert any(source in text for text in texts(at))


def test_downloads_for_leads_only(demo_db) -> None:
    params = {"from": FIRST.isoformat(), "to": "2024-11-28"}
    lead = _open("vendors", **params)
    labels = [b.label for b in lead.get("download_button")]
    assert labels == [translate("review.csv"), translate("review.xlsx")] * 2
    operator = _open("vendors", role="operator", **params)
    assert not operator.get("download_button")
    assert translate("response.export_lead_only") in texts(operator)
    week = _open("week", role="operator", week=LAST_DAY.isoformat())
    assert not week.get("download_button")


@pytest.mark.parametrize("role", ["council", "admin"])
def test_neither_page_exists_for_council_or_admin(demo_db, role) -> None:
    at = open_page(role=role)
    for page in ("week", "vendors"):
        with pytest.raises(ValueError, match="Could not find a navigation page"):
            at.switch_page(f"../pages/{page}.py")
    assert translate("page.week") not in texts(at)


def test_pages_recheck_the_role(demo_db) -> None:
    """Run directly for a council session, both pages stop before reading anything."""
    from dashboard.settings import PROJECT_ROOT
    from tests.apptest.conftest import TIMEOUT, login_as

    for page in ("week", "vendors"):
        at = AppTest.from_file(str(PROJECT_ROOT / "pages" / f"{page}.py"), default_timeout=TIMEOUT)
        login_as(at, "council").run()
        assert [e.value for e in at.error] == [translate("auth.forbidden")], page
        assert not at.dataframe and not at.metric
