"""Korean number, amount, date and age formats."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest

from dashboard.formatting import (
    format_age,
    format_amount,
    format_date,
    format_datetime,
    format_duration,
    format_duration_short,
    format_evidence,
    format_number,
    format_percent,
    mask_name,
    to_local,
)

NOW = datetime(2024, 11, 29, 3, 0, tzinfo=UTC)


def test_numbers_have_thousands_separators() -> None:
    assert format_number(26204) == "26,204"
    assert format_number(1731.6, 1) == "1,731.6"
    assert format_number(None) == "–"
    assert format_number(float("nan")) == "–"


def test_percent() -> None:
    assert format_percent(57.4) == "57.4%"
    assert format_percent(-35, 0, signed=True) == "-35%"
    assert format_percent(32, 0, signed=True) == "+32%"


@pytest.mark.parametrize(
    ("value", "unit", "lang", "expected"),
    [
        (1731.6, "백만원", "ko", "1,731.6 백만원"),
        (251, "백만원", "ko", "251 백만원"),
        (17_118_825, "천원", "ko", "17,118,825 천원"),
        (31934, "천원", "en", "31,934 thousand won"),
        (820.7, "백만원", "en", "820.7 million won"),
    ],
)
def test_amounts_keep_document_units(value, unit, lang, expected) -> None:
    assert format_amount(value, unit, lang) == expected


def test_dates_in_korean_style_and_seoul_time() -> None:
    assert format_date(date(2024, 11, 29)) == "2024. 11. 29."
    assert format_date(date(2024, 11, 29), "en") == "2024-11-29"
    # 2024-11-28 20:00 UTC is already the 29th in Seoul.
    late = datetime(2024, 11, 28, 20, 0, tzinfo=UTC)
    assert format_date(late) == "2024. 11. 29."
    assert format_datetime(late) == "2024. 11. 29. 05:00"
    assert to_local(datetime(2024, 1, 1)).utcoffset() == timedelta(hours=9)  # naive = UTC


@pytest.mark.parametrize(
    ("ago", "ko", "en"),
    [
        (timedelta(seconds=20), "방금", "just now"),
        (timedelta(minutes=3), "3분 전", "3 min ago"),
        (timedelta(hours=2, minutes=59), "2시간 전", "2 h ago"),
        (timedelta(days=4, hours=1), "4일 전", "4 d ago"),
    ],
)
def test_relative_ages(ago, ko, en) -> None:
    assert format_age(NOW - ago, NOW) == ko
    assert format_age(NOW - ago, NOW, "en") == en


def test_age_of_never_seen() -> None:
    assert format_age(None, NOW) == "수신 기록 없음"


def test_durations() -> None:
    assert format_duration(timedelta(minutes=65)) == "1시간 5분"
    assert format_duration(timedelta(minutes=65), "en") == "1 h 5 min"
    assert format_duration(timedelta(days=3)) == "3일"


@pytest.mark.parametrize(
    ("span", "ko", "en"),
    [
        (timedelta(seconds=40), "40초", "40 s"),
        (timedelta(minutes=47, seconds=59), "47분", "47 min"),
        (timedelta(hours=29, minutes=4), "29시간", "29 h"),
        (timedelta(hours=47, minutes=59), "47시간", "47 h"),  # rounded down: not yet 48
        (timedelta(hours=50), "2일", "2 d"),
        (None, "–", "–"),
    ],
)
def test_short_durations_keep_the_largest_unit(span, ko, en) -> None:
    assert format_duration_short(span) == ko
    assert format_duration_short(span, "en") == en


@pytest.mark.parametrize(
    ("name", "masked"),
    [
        ("김영수", "김*수"),
        ("이수", "이*"),
        ("남궁민수", "남**수"),
        ("박", "*"),
        ("", "–"),
        (None, "–"),
        (float("nan"), "–"),
    ],
)
def test_mask_name(name, masked) -> None:
    assert mask_name(name) == masked


def test_evidence_is_translated_and_times_local() -> None:
    text = format_evidence({"no_change_hours": 67, "last_activity_at": "2024-11-28T20:00:00+00:00"})
    assert text == "변화 없는 시간(시간): 67 · 마지막 활동: 2024. 11. 29. 05:00"
    assert format_evidence({"unknown_key": True}, "en") == "unknown_key: answered"
    assert format_evidence(None) == "–"


def test_whether_the_steps_apply_reads_yes_or_no() -> None:
    # not "answered": that is what a call's true/false means
    assert format_evidence({"steps_apply": True}, "en").endswith(": yes")
    assert format_evidence({"steps_apply": False}, "ko").endswith(": 아니오")
