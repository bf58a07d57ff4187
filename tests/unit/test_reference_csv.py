"""The reference CSVs hold every published figure, and a malformed CSV is rejected precisely."""

from __future__ import annotations

import csv
from decimal import Decimal
from pathlib import Path

import pytest

from dashboard.reference.csvdata import (
    BUDGET_CSV,
    FIGURES_CSV,
    SOURCES_CSV,
    ReferenceDataError,
    read_budget_lines,
    read_figure_sums,
    read_published_figures,
)

D = Decimal

# Every figure BRIEF.md lists, by key: value and unit as published.
BRIEF_FIGURES = {
    "goyang.mobile_health.participants": ("990", "명"),
    "goyang.mobile_health.health_risk_group": ("940", "명"),
    "goyang.mobile_health.chronic_patients": ("50", "명"),
    "goyang.mobile_health.behaviour_improvement_rate": ("57.4", "%"),
    "goyang.mobile_health.behaviour_improvement_rate_national": ("55.2", "%"),
    "goyang.mobile_health.risk_reduction_rate": ("65.1", "%"),
    "goyang.mobile_health.risk_reduction_rate_national": ("58.5", "%"),
    "goyang.walkon.participants": ("3738", "명"),
    "goyang.walkon.challenge_participants_2024h2": ("4475", "명"),
    "goyang.walkon.participants_cumulative": ("8213", "명"),
    "goyang.qr_cessation.participants": ("204", "명"),
    "goyang.qr_cessation.participants_2024h2": ("496", "명"),
    "goyang.qr_cessation.participants_cumulative": ("700", "명"),
    "goyang.qr_cessation.registration_change_yoy": ("32", "%"),
    "goyang.qr_cessation.registration_change_yoy_2024h2": ("29", "%"),
    "goyang.qr_cessation.form_items_before": ("41", "개"),
    "goyang.qr_cessation.form_items_after": ("21", "개"),
    "goyang.smoking.sites": ("5", "개소"),
    "goyang.smoking.complaints_change_yoy": ("-35", "%"),
    "goyang.smoking.sites_2024h2": ("5", "개소"),
    "goyang.smoking.units_2024h2": ("12", "대"),
    "goyang.smoking.complaints_change_yoy_2024h2": ("-90", "%"),
    "goyang.health_park.secured_budget": ("31934", "천원"),
    "goyang.health_park.machine_types_installed": ("6", "종"),
    "goyang.health_park.opened": ("1", "개소"),
    "goyang.half.users": ("20367", "명"),
    "goyang.half.members": ("1964", "명"),
    "goyang.half.habit_test_users": ("19806", "명"),
    "goyang.half.content_uploads": ("59", "건"),
    "goyang.half.users_2024h2": ("20825", "명"),
    "goyang.half.users_cumulative": ("41192", "명"),
    "goyang.half.habit_test_users_2024h2": ("1323", "명"),
    "goyang.half.content_uploads_2024h2": ("13", "건"),
    "goyang.half.content_uploads_cumulative": ("72", "건"),
    "goyang.half.promotions_2024h2": ("41", "회"),
    "goyang.ai_call.recipients": ("1959", "명"),
    "goyang.ai_call.calls": ("26204", "건"),
    "goyang.ai_call.recipients_2024h2": ("1003", "명"),
    "goyang.ai_call.recipients_cumulative": ("2962", "명"),
    "goyang.ai_call.calls_2024h2": ("16851", "건"),
    "goyang.ai_call.calls_cumulative": ("43055", "건"),
    "goyang.ai_call.followups_2024h2": ("1541", "건"),
    "goyang.care_robot.robots": ("100", "대"),
    "goyang.care_robot.purchase_cost": ("150", "백만원"),
    "goyang.care_robot.services": ("17201", "회"),
    "goyang.care_robot.daily_services_before": ("44", "회"),
    "goyang.care_robot.daily_services_after": ("144", "회"),
    "goyang.wandering.detectors": ("200", "개"),
    "goyang.wandering.council_formed": ("1", "개"),
    "goyang.participation.pledge_meetings": ("21", "회"),
    "goyang.participation.briefings": ("13", "회"),
    "goyang.participation.expert_consultations": ("5", "회"),
    "goyang.participation.media_reports": ("40", "회"),
    "goyang.participation.other": ("5", "회"),
    "goyang.budget.plan_total": ("1731.6", "백만원"),
    "goyang.budget.secured_total": ("896.9", "백만원"),
    "goyang.budget.executed_total": ("820.7", "백만원"),
    "seoul.wrist_doctor.budget_2023": ("17118825", "천원"),
    "seoul.wrist_doctor.budget.total.2022": ("3472320", "천원"),
    "seoul.wrist_doctor.budget.total.change_pct": ("393", "%"),
    "seoul.wrist_doctor.incentive_budget": ("14000000", "천원"),
    "seoul.wrist_doctor.counseling_staff": ("50", "명"),
    "seoul.wrist_doctor.big_data_budget": ("200000", "천원"),
    "seoul.wrist_doctor.sms_budget": ("48500", "천원"),
    "seoul.wrist_doctor.target_people": ("230000", "명"),
    "seoul.wrist_doctor.target_age_min": ("19", "세"),
    "seoul.wrist_doctor.target_age_max": ("69", "세"),
    "seoul.wrist_doctor.participants_2021": ("50000", "명"),
    "seoul.wrist_doctor.participants_2022": ("50000", "명"),
    "daedeok.call_monitor.total_cost": ("340", "백만원"),
    "daedeok.call_monitor.secured": ("135", "백만원"),
    "daedeok.call_monitor.executed": ("115", "백만원"),
    "daedeok.call_monitor.people_monitored": ("948", "명"),
    "daedeok.call_monitor.operation_start": ("1", "식"),
    "seoul.smart_plug.households": ("32000", "가구"),
    "seoul.smart_plug.introduced": ("1", "건"),
}

# Events keep their date in ``period``.
EVENT_DATES = {
    "goyang.health_park.opened": "2024-11-29",
    "goyang.wandering.council_formed": "2024-07-01",
    "daedeok.call_monitor.operation_start": "2022-11-08",
    "seoul.smart_plug.introduced": "2020",
    "seoul.smart_plug.households": "2024-03",
    "goyang.care_robot.robots": "2024-07",
}


@pytest.fixture(scope="module")
def figures():
    return {f.figure_key: f for f in read_published_figures()}


@pytest.mark.parametrize(("key", "expected"), sorted(BRIEF_FIGURES.items()))
def test_brief_figure_is_transcribed(figures, key, expected):
    value, unit = expected
    figure = figures[key]
    assert figure.value == D(value)
    assert figure.unit == unit
    assert figure.source_doc.startswith("seed-00")
    assert figure.source_table


def test_event_dates_are_in_the_period(figures):
    for key, period in EVENT_DATES.items():
        assert figures[key].period == period, key


def test_every_figure_names_its_source_and_program(figures):
    with SOURCES_CSV.open(encoding="utf-8") as fh:
        docs = {row["source_doc"] for row in csv.DictReader(fh)}
    assert {f.source_doc for f in figures.values()} == docs
    programs = {f.program_code for f in figures.values()} - {None}
    assert "goyang_ai_call" in programs and "seoul_smart_plug" in programs
    assert len(programs) == 12  # every program in data/programs.csv has figures


def test_budget_csv_shape():
    lines = read_budget_lines()
    assert {(c.city, c.source_doc) for c in lines} == {
        ("goyang", "seed-000"),
        ("seoul", "seed-001"),
        ("daedeok", "seed-002"),
    }
    assert {c.measure for c in lines} == {"plan", "secured", "executed", "budget"}
    assert all(isinstance(c.amount, Decimal) for c in lines)


def test_figure_sums_refer_to_existing_keys(figures):
    for rule in read_figure_sums():
        assert rule.total_key in figures
        assert all(k in figures for k in rule.part_keys)


# --- malformed CSVs -----------------------------------------------------------------------------


def _copy_with(tmp_path: Path, source: Path, line: int, column: str, value: str) -> Path:
    """Copy a CSV, setting one cell (line 1 is the header)."""
    with source.open(encoding="utf-8", newline="") as fh:
        rows = list(csv.reader(fh))
    header = rows[0]
    rows[line - 1][header.index(column)] = value
    target = tmp_path / source.name
    with target.open("w", encoding="utf-8", newline="") as fh:
        csv.writer(fh, lineterminator="\n").writerows(rows)
    return target


@pytest.mark.parametrize(
    ("line", "column", "value", "message"),
    [
        (5, "amount", "12a", "not a plain decimal"),
        (9, "amount", "", "value is required"),
        (3, "funding_source", "federal", "not one of"),
        (4, "measure", "forecast", "not one of"),
        (6, "period", "2023년", "not YYYY"),
        (7, "is_total", "yes", "true or false"),
        (2, "is_total", "false", "should be true"),
        (12, "unit", "원", "not one of"),
        (11, "period", "prior", "already on line 10"),
        (3, "source_doc", "seed-009", "source_documents.csv"),
    ],
)
def test_malformed_budget_csv_names_file_line_and_column(tmp_path, line, column, value, message):
    path = _copy_with(tmp_path, BUDGET_CSV, line, column, value)
    with pytest.raises(ReferenceDataError, match=message) as info:
        read_budget_lines(path)
    assert (info.value.line, info.value.column) == (line, column)
    assert f"budget_lines.csv, line {line}, column {column!r}" in str(info.value)


@pytest.mark.parametrize(
    ("line", "column", "value", "message"),
    [
        (2, "value", "990명", "not a plain decimal"),
        (3, "figure_key", "goyang.mobile_health.participants", "already used on line 2"),
        (4, "program_code", "goyang_unknown", "programs.csv"),
        (5, "unit", "people", "not one of"),
        (6, "city", "busan", "not one of"),
        (7, "period", "2023년 12월", "interval"),
        (8, "figure_key", "seoul.walkon.participants", "must start with its city"),
        (9, "label_en", "", "value is required"),
    ],
)
def test_malformed_figures_csv_names_file_line_and_column(tmp_path, line, column, value, message):
    path = _copy_with(tmp_path, FIGURES_CSV, line, column, value)
    with pytest.raises(ReferenceDataError, match=message) as info:
        read_published_figures(path)
    assert (info.value.line, info.value.column) == (line, column)
    assert "published_figures.csv" in str(info.value)


def test_a_missing_column_is_reported_on_the_header_line(tmp_path):
    text = FIGURES_CSV.read_text(encoding="utf-8").replace("label_en,", "label_english,", 1)
    path = tmp_path / "published_figures.csv"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(ReferenceDataError, match="missing column") as info:
        read_published_figures(path)
    assert (info.value.line, info.value.column) == (1, "label_en")


def test_a_short_row_is_reported(tmp_path):
    lines = BUDGET_CSV.read_text(encoding="utf-8").splitlines()
    lines[3] = ",".join(lines[3].split(",")[:5])
    path = tmp_path / "budget_lines.csv"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    with pytest.raises(ReferenceDataError, match="expected 16 fields, found 5") as info:
        read_budget_lines(path)
    assert info.value.line == 4


def test_a_rate_without_a_formula_is_rejected(tmp_path):
    path = _copy_with(tmp_path, BUDGET_CSV, 2, "rate", "0.5")
    with pytest.raises(ReferenceDataError, match="needs unit_price_won") as info:
        read_budget_lines(path)
    assert info.value.column == "rate"


def test_csv_columns_are_the_table_columns():
    from dashboard.db.schema import BudgetLine, PublishedFigure
    from dashboard.reference.csvdata import BUDGET_COLUMNS, FIGURE_COLUMNS

    assert set(FIGURE_COLUMNS) == set(PublishedFigure.__table__.columns.keys()) - {"id"}
    assert set(BUDGET_COLUMNS) == set(BudgetLine.__table__.columns.keys()) - {"id"}
