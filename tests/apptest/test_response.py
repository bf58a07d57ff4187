"""대응 지표 page: the KPIs are the query functions' figures for the chosen period, in Korean and
English; the CSV export is for leads only; the council never reaches the page."""

from __future__ import annotations

from datetime import date, datetime

import pytest
from streamlit.testing.v1 import AppTest

from dashboard.formatting import format_percent
from dashboard.i18n import translate
from dashboard.settings import LOCAL_TZ
from dashboard.ui.response import format_seconds, rule_summary, summary_csv
from queries.response_metrics import alert_metrics, field_visits_within
from tests.apptest.conftest import metric, open_page, texts

# The last full Seoul week of the demo city (it ends 2024-11-29 12:00 KST).
FIRST, LAST = date(2024, 11, 22), date(2024, 11, 28)
START = datetime(2024, 11, 22, tzinfo=LOCAL_TZ)
END = datetime(2024, 11, 29, tzinfo=LOCAL_TZ)


def _open(role: str, lang: str) -> AppTest:
    at = open_page("response", role=role, **({"lang": "en"} if lang == "en" else {}))
    at.date_input(key="response_period").set_value((FIRST, LAST)).run()
    assert not at.exception, [e.value for e in at.exception]
    return at


@pytest.fixture(scope="module")
def expected(demo_db):
    with demo_db.connect() as conn:
        metrics = alert_metrics(conn, START, END)
        return {
            "shares": metrics["severe_ack"],
            "visits": field_visits_within(conn, START, END),
            "times": metrics["times"],
            "counts": metrics["counts"],
            "rates": metrics["false_alarms"],
        }


@pytest.mark.parametrize("lang", ["ko", "en"])
@pytest.mark.parametrize("role", ["lead", "operator"])
def test_kpis_equal_the_queries(demo_db, expected, role: str, lang: str) -> None:
    at = _open(role, lang)
    assert [t.value for t in at.title] == [translate("page.response", lang)]
    shares, visits = expected["shares"], expected["visits"]
    assert shares["severe_alerts"].iloc[0] > 0, "the demo week has severe alerts to measure"
    for row in shares.to_dict("records"):
        label = translate("response.ack_within", lang, s=row["within_s"])
        assert metric(at, label) == format_percent(row["share"] * 100, 1)
    visit = visits.iloc[0]
    assert visit["visits"] > 0
    label = translate("response.visit_within", lang, m=45)
    assert metric(at, label) == format_percent(visit["share"] * 100, 1)
    for row in expected["times"].to_dict("records"):
        name = translate(f"response.measure.{row['measure']}", lang)
        median = translate("response.median", lang, measure=name)
        p90 = translate("response.p90", lang, measure=name)
        assert metric(at, median) == format_seconds(row["median_s"], lang)
        assert metric(at, p90) == format_seconds(row["p90_s"], lang)


def test_targets_are_marked_met_or_missed(demo_db, expected) -> None:
    at = _open("lead", "ko")
    shown = {m.label: m for m in at.metric}
    for row in expected["shares"].to_dict("records"):
        target = format_percent(row["target"] * 100, 1)
        m = shown[translate("response.ack_within", "ko", s=row["within_s"])]
        key = "response.met" if row["meets_target"] else "response.not_met"
        verdict = translate(key, target=target)
        assert m.delta.endswith(verdict)
        assert m.delta.startswith("+" if row["meets_target"] else "-")  # green up / red down


def test_table_and_download_for_lead(demo_db, expected) -> None:
    at = _open("lead", "ko")
    table = at.dataframe[0].value
    assert table[translate("response.col.alerts")].sum() == expected["counts"]["alerts"].sum()
    assert translate("rule.plug_no_change") in set(table[translate("response.col.rule")])
    buttons = at.get("download_button")
    assert [b.label for b in buttons] == [translate("response.download")]


def test_no_download_for_operator(demo_db) -> None:
    at = _open("operator", "ko")
    assert not at.get("download_button")
    assert translate("response.export_lead_only") in texts(at)


def test_csv_has_bom_and_translated_headers(expected) -> None:
    summary = rule_summary(expected["counts"], expected["rates"], "ko")
    data = summary_csv(summary, "ko")
    assert data.startswith(b"\xef\xbb\xbf")
    header = data.decode("utf-8-sig").splitlines()[0]
    assert header.startswith("규칙,경보,관심,위험,심각,미종결,종결,오경보,오경보율(%)")
    assert summary["alerts"].sum() == expected["counts"]["alerts"].sum()
    assert (summary["alerts"] == summary["open"] + summary["closed"]).all()


def test_csv_cannot_run_a_formula_and_keeps_numbers() -> None:
    """A rule label (rules.toml is editable text) that looks like a formula is exported as text."""
    import pandas as pd

    from dashboard.ui.response import SUMMARY_COLUMNS

    row = {c: 1 for c in SUMMARY_COLUMNS} | {"rule": "=cmd|' /C calc'!A0", "false_alarm_pct": 12.5}
    data = summary_csv(pd.DataFrame([row]), "en").decode("utf-8-sig")
    cells = data.splitlines()[1].split(",")
    assert cells[0] == "'=cmd|' /C calc'!A0"
    assert cells[1:] == ["1"] * (len(SUMMARY_COLUMNS) - 2) + ["12.5"]


def test_program_and_district_filters_reach_the_queries(demo_db) -> None:
    """Choosing a program and a district gives the figures of the queries with those filters."""
    from queries.filters import districts_with_devices

    program = "seoul_smart_plug"
    with demo_db.connect() as conn:
        districts = districts_with_devices(conn)
        for district in map(int, districts["id"]):
            filters = {"programs": [program], "districts": [district]}
            metrics = alert_metrics(conn, START, END, **filters)
            counts = metrics["counts"]
            if not counts.empty:
                break
        times = metrics["times"]
        everything = alert_metrics(conn, START, END)["counts"]
    assert 0 < counts["alerts"].sum() < everything["alerts"].sum()
    at = _open("lead", "en")
    code = districts.set_index("id").loc[district, "code"]
    at.multiselect(key="url_program").set_value([program])
    at.multiselect(key="url_district").set_value([code]).run()
    assert not at.exception, [e.value for e in at.exception]
    # Kept in the URL, so a copied link reproduces the view.
    assert at.query_params["program"] == program and at.query_params["district"] == code
    assert (
        at.query_params["from"] == FIRST.isoformat() and at.query_params["to"] == LAST.isoformat()
    )
    table = at.dataframe[0].value
    assert table[translate("response.col.alerts", "en")].sum() == counts["alerts"].sum()
    for row in times.to_dict("records"):
        name = translate(f"response.measure.{row['measure']}", "en")
        label = translate("response.median", "en", measure=name)
        assert metric(at, label) == format_seconds(row["median_s"], "en")


def test_page_shows_no_personal_data(demo_db) -> None:
    from sqlalchemy import select

    from dashboard.db.schema import CareRecipient

    with demo_db.connect() as conn:
        names = [n for (n,) in conn.execute(select(CareRecipient.pii_name).limit(200))]
    shown = "\n".join(texts(_open("lead", "ko")))
    assert names and not any(n in shown for n in names if n)


def test_council_cannot_reach_the_page(demo_db) -> None:
    at = open_page(role="council")
    with pytest.raises(ValueError, match="Could not find a navigation page"):
        at.switch_page("../pages/response.py")


def test_a_shared_link_reproduces_the_period_and_filters(demo_db) -> None:
    """Opened from a link with ?from=…&to=…&program=…, the page shows that view."""
    at = open_page(
        "response",
        **{"from": FIRST.isoformat(), "to": LAST.isoformat(), "program": "goyang_ai_call"},
    )
    assert at.date_input(key="response_period").value == (FIRST, LAST)
    assert at.multiselect(key="url_program").value == ["goyang_ai_call"]
    with demo_db.connect() as conn:
        counts = alert_metrics(conn, START, END, programs=["goyang_ai_call"])["counts"]
    table = at.dataframe[0].value
    assert table[translate("response.col.alerts")].sum() == counts["alerts"].sum() > 0
