"""민원 추이 page: the effect estimate's sentence and its figures against the demo database, the
too-few-data warning, the URL filters and the import section's visibility."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest
from sqlalchemy import func, select

from dashboard.analysis.complaints import complaint_effects
from dashboard.analysis.effects import sentence
from dashboard.db.schema import Complaint, ComplaintSite
from dashboard.i18n import translate
from dashboard.ui.safe_text import md_escape
from queries.complaints import monthly, sites
from tests.apptest.conftest import open_page, private_copy, texts

KST = timedelta(hours=9)
ILSANDONG_GU = "4128500000"


def _expected(engine, lang: str, where: str) -> tuple[str, str]:
    with engine.connect() as conn:
        month_df, site_df = monthly(conn), sites(conn)
        last = conn.scalar(select(func.max(Complaint.received_at)))
    effects = complaint_effects(month_df, site_df, (last + KST).date())
    return sentence(effects.overall, lang, where), sentence(effects.did, lang, where)


def _monitored(engine) -> int:
    with engine.connect() as conn:
        return conn.scalar(
            select(func.count())
            .select_from(ComplaintSite)
            .where(ComplaintSite.measures_from.is_not(None))
        )


def _count(engine, start: date, end: date) -> int:
    """Complaints at monitored sites received in Seoul days [start, end)."""
    lo = datetime(start.year, start.month, start.day, tzinfo=UTC) - KST
    hi = datetime(end.year, end.month, end.day, tzinfo=UTC) - KST
    with engine.connect() as conn:
        return conn.scalar(
            select(func.count())
            .select_from(Complaint)
            .join(ComplaintSite, ComplaintSite.id == Complaint.site_id)
            .where(
                ComplaintSite.measures_from.is_not(None),
                Complaint.received_at >= lo,
                Complaint.received_at < hi,
            )
        )


def test_the_estimate_sentence_and_counts_match_the_database(demo_db) -> None:
    n = _monitored(demo_db)
    its, did = _expected(demo_db, "ko", f"{n}곳")
    at = open_page("complaints")
    shown = [e.value for e in (*at.success, *at.info, *at.warning)]
    assert its in shown and did in shown
    assert "설치 후 5곳의 민원이" in its  # the demo has five detector sites
    # The effect table's observed months add up to the monitored sites' complaints in its window.
    table = next(d.value for d in at.dataframe if "실제 민원" in d.value.columns)
    first = date.fromisoformat(table["월"].iloc[0] + "-01")
    last = date.fromisoformat(table["월"].iloc[-1] + "-01")
    after_last = date(last.year + (last.month == 12), last.month % 12 + 1, 1)
    assert int(table["실제 민원"].sum()) == _count(demo_db, first, after_last)
    page = "\n".join(texts(at))
    assert "데모 데이터(생성, 실제 민원 아님)" in page  # the source label
    assert "기준 시각" in page
    assert at.get("download_button")  # leads may export the table


def test_english_sentence(demo_db) -> None:
    its, _did = _expected(demo_db, "en", "the 5 sites")
    at = open_page("complaints", lang="en")
    assert its in [e.value for e in (*at.success, *at.info, *at.warning)]
    assert its.startswith("Complaints at the 5 sites ")
    assert "95% CI" in its


def test_a_short_period_warns_instead_of_concluding(demo_db) -> None:
    at = open_page("complaints", **{"from": "2023-10-01", "to": "2024-05-31"})
    warnings = [w.value for w in at.warning]
    too_few = "자료가 부족해 결론을 낼 수 없습니다"
    assert any(too_few in w and "3개월" in w for w in warnings), warnings
    assert not any("감소했습니다" in e.value for e in at.success)


def test_days_inside_months_say_which_whole_months_are_counted(demo_db) -> None:
    """The figures are monthly: 15 March – 10 May counts March, April and May whole (the site
    totals and the estimates too). The page says so instead of letting the picker's days
    stand for them; whole months and the default period need no such line."""
    at = open_page("complaints", **{"from": "2024-03-15", "to": "2024-05-10"})
    counted = "월 단위로 셉니다: 2024. 3. – 2024. 5."
    assert any(str(c.value).startswith(counted) for c in at.caption)
    for whole_months in ({}, {"from": "2024-03-01", "to": "2024-05-31"}):
        at = open_page("complaints", **whole_months)
        assert not any(str(c.value).startswith("월 단위로 셉니다") for c in at.caption)


def test_comparison_places_are_named_as_the_dashed_lines(demo_db) -> None:
    at = open_page("complaints")
    dashed = [str(c.value) for c in at.caption if str(c.value).startswith("점선:")]
    assert dashed == [
        "점선: 감지기가 없는 비교 장소(장항동 카페거리, 중산동 근린공원 입구, 식사동 상가 거리)."
    ]


def test_filters_are_read_from_and_written_to_the_url(demo_db) -> None:
    at = open_page("complaints", district=ILSANDONG_GU, **{"from": "2023-01-01"})
    picker = at.multiselect(key="url_district")
    assert list(picker.value) == [ILSANDONG_GU]
    assert at.date_input(key="url_from_to").value[0] == date(2023, 1, 1)
    picker.set_value([]).run()
    assert "district" not in at.query_params


def test_only_importers_see_the_import_section(demo_db) -> None:
    lead = open_page("complaints")
    assert any("민원 가져오기" in e.label for e in lead.expander)
    council = open_page("complaints", role="council")
    assert not any("민원 가져오기" in e.label for e in council.expander)
    assert not council.get("download_button")  # council: no export


CSV = (
    "접수번호,접수일시,민원유형,내용,위도,경도,처리상태\n"
    "AT-1,2024-11-10 14:00,흡연,출구 앞 흡연,37.6432,126.7880,완료\n"
    "AT-2,2024-11-10 18:30,흡연,출구 앞 흡연!,37.6432,126.7880,완료\n"
).encode()


def test_a_lead_previews_and_imports_a_complaint_export(demo_db, tmp_path) -> None:
    with private_copy(demo_db, tmp_path) as engine:
        at = open_page("complaints")
        at.file_uploader[0].set_value(("새올.csv", CSV, "text/csv")).run()
        assert not at.exception, [e.value for e in at.exception]
        page = "\n".join(texts(at))
        assert "미리 보기(아직 저장 안 됨): 2행: 새 민원 2건(그중 중복 1건)" in page
        assert "읽지 않는 열(저장하지 않음): 처리상태" in page
        assert _imported(engine) == 0  # the preview stores nothing
        at.button(key="complaint_import_confirm").click().run()
        assert not at.exception, [e.value for e in at.exception]
        assert any("새올" in s.value and ": 저장했습니다" in s.value for s in at.success)
        assert _imported(engine) == 2
        assert "가져온 파일 새올.csv" in "\n".join(texts(at))  # the source label names it

        bad = CSV.replace(b"2024-11-10 18:30", "어제".encode())
        at.file_uploader[0].set_value(("bad.csv", bad, "text/csv")).run()
        errors = next(d.value for d in at.dataframe if "이유" in d.value.columns)
        assert errors.iloc[0].tolist() == [
            "3",
            "접수일시",
            translate("import_error.not_a_datetime", "ko", value="어제"),
        ]
        assert _imported(engine) == 2


def _imported(engine) -> int:
    with engine.connect() as conn:
        return conn.scalar(
            select(func.count()).select_from(Complaint).where(Complaint.import_file.is_not(None))
        )


def _warnings(at) -> list[str]:
    return [w.value for w in at.warning]


@pytest.mark.parametrize(
    ("params", "key", "named"),
    [
        ({"district": "XYZ"}, "url.bad_choices", "XYZ"),
        ({"from": "abc"}, "url.bad_date", "abc"),
        ({"from": "1900-01-01"}, "url.out_of_range", "1900-01-01"),
        ({"from": "2024-06-01", "to": "2023-01-01"}, "url.reversed", "2024-06-01"),
    ],
)
def test_a_link_parameter_that_cannot_be_used_is_named(demo_db, params, key, named) -> None:
    """Shared links with a bad filter once showed the whole range silently: the viewer believed
    the filter applied. Now the page falls back and says which parameter it did not use."""
    at = open_page("complaints", **params)
    assert not at.exception
    said = [w for w in _warnings(at) if md_escape(named) in w]  # values come escaped
    template = translate(key).split("{")[0]
    assert said and any(template in w for w in said), _warnings(at)


def test_a_valid_link_raises_no_parameter_warning(demo_db) -> None:
    at = open_page("complaints", district=ILSANDONG_GU, **{"from": "2023-01-01"})
    url_texts = [translate(k).split("{")[0] for k in ("url.bad_choices", "url.bad_date")]
    assert not [w for w in _warnings(at) if any(x in w for x in url_texts)]
