"""The council's figures on a tiny city (dongs of 2–3 people), on SQLite and PostgreSQL: what
a council member can work out from the deck and the council map — a total minus the parts
shown, a statistic over one or two episodes, a dong of two people with many devices — must
never be one person's or one small dong's figure."""

from __future__ import annotations

from datetime import date, timedelta

import pandas as pd
import pytest

from dashboard.briefing.period import parse_period
from dashboard.briefing.slides import Slide, build_deck
from dashboard.formatting import format_duration, format_number
from dashboard.i18n import translate
from dashboard.mapping.dongs import dong_totals
from dashboard.mapping.suppression import (
    SUPPRESS_BELOW,
    count_text,
    enough,
    hidden_cells,
    suppress_group_counts,
)
from queries import briefing as q
from tests.council_support import (
    BAEKSEOK1,
    BUAM,
    CHEONGUN,
    NOW,
    SAJIK,
    SOGONG,
    add_alerts,
    boundaries,
    tiny_city,
)


def _deck(engine, period: str = "30d", lang: str = "ko") -> list[Slide]:
    with engine.connect() as conn:
        return build_deck(conn, parse_period(period, NOW), lang, NOW, boundaries=boundaries())


def _slide(deck: list[Slide], key: str) -> Slide:
    return next(s for s in deck if s.key == key)


def _figure(slide: Slide, key: str, lang: str = "ko") -> str:
    label = translate(key, lang)
    return next(f.value for f in slide.figures if f.label == label)


def _number(text: str) -> int:
    return int(text.replace(",", ""))


def test_map_slides_do_not_give_a_small_dong_back_from_the_totals(db_engine) -> None:
    """Reach slide: 22 people. Map: 사직동 12, 청운효자동 8, 소공동 hidden. 22 − 12 − 8 was 소공동's
    2 people; the checks slide's 13 alerts − 6 − 7 was its 0 alerts (a zero hidden alone)."""
    tiny_city(db_engine, {SAJIK: 12, CHEONGUN: 8, SOGONG: 2}, alerts={SAJIK: 6, CHEONGUN: 7})
    deck = _deck(db_engine)
    people = _number(_figure(_slide(deck, "reach"), "deck.reach.people"))
    alerts = _number(_figure(_slide(deck, "checks"), "deck.checks.alerts"))
    assert (people, alerts) == (22, 13)
    dongs = [d for s in deck if s.map for d in s.map.dongs]
    assert {d.code for d in dongs} == {SAJIK, CHEONGUN, SOGONG}
    for column, total in (("people", people), ("alerts", alerts)):
        hidden = [d.code for d in dongs if getattr(d, column) is None]
        shown = sum(getattr(d, column) or 0 for d in dongs)
        assert SOGONG in hidden
        # What the council can work out is a sum over two dongs or more, never one alone.
        assert len(hidden) >= 2, (column, total - shown, hidden)
    sogong = next(d for d in dongs if d.code == SOGONG)
    assert sogong.suppressed and sogong.people is None and sogong.alerts is None
    assert _figure(next(s for s in deck if s.map), "deck.map.suppressed") == "2"


def test_each_map_slide_hides_two_dongs_or_none(db_engine) -> None:
    """A program's people may all live in one province (고양 only: the robots), and the reach
    slide shows people per program: each map slide is complemented on its own."""
    tiny_city(
        db_engine,
        {SAJIK: 12, CHEONGUN: 8, SOGONG: 6, BAEKSEOK1: 3, "4128555200": 9},
        programs={BAEKSEOK1: "goyang_care_robot", "4128555200": "goyang_care_robot"},
    )
    deck = _deck(db_engine)
    for slide in (s for s in deck if s.map):
        hidden = [d.code for d in slide.map.dongs if d.people is None]
        assert len(hidden) != 1, (slide.key, hidden)
    goyang = next(s for s in deck if s.key == "map_gyeonggi")
    assert sum(d.people is None for d in goyang.map.dongs) == 2
    seoul = next(s for s in deck if s.key == "map_seoul")
    assert all(d.people is not None for d in seoul.map.dongs)  # nothing small: nothing hidden


def test_reach_slide_hides_a_program_of_few_people(db_engine) -> None:
    """A pilot of three robots: "AI돌봄로봇 3" on the reach slide is three people."""
    tiny_city(db_engine, {SAJIK: 12, BAEKSEOK1: 3}, programs={BAEKSEOK1: "goyang_care_robot"})
    slide = _slide(_deck(db_engine), "reach")
    counts = [r["count"] for r in (slide.chart.rows if slide.chart else ())]
    assert not any(0 < n < SUPPRESS_BELOW for n in counts), counts
    # …and 15 people in total minus the programs shown is not the pilot's 3 either.
    assert 15 - sum(counts) not in range(1, SUPPRESS_BELOW)
    assert any(translate("deck.reach.hidden", "ko", n=2, k=SUPPRESS_BELOW) in b
               for b in slide.bullets)  # fmt: skip


def test_council_map_counts_people_not_devices(db_engine) -> None:
    """부암동: two people with three plugs each. Six devices is not six people: the dong's
    count and its worst state (one of two people's) stay hidden."""
    tiny_city(db_engine, {SAJIK: 12, CHEONGUN: 9, BUAM: 2}, plugs_each={BUAM: 3})
    with db_engine.connect() as conn:
        by_dong = q.devices_by_dong_state(conn)
    assert int(by_dong.loc[by_dong["region_code"] == BUAM, "devices"].sum()) == 6
    totals = dong_totals(by_dong, suppress_below=SUPPRESS_BELOW, complementary=True)
    buam = totals.set_index("region_code").loc[BUAM]
    assert bool(buam["suppressed"]) and buam["devices_text"] == "<5" and buam["worst"] is None
    # Hidden alone, it would come back as the reach slide's 33 devices minus those shown.
    assert int(totals["suppressed"].sum()) >= 2


def test_wandering_slide_shows_no_statistic_of_one_episode(db_engine) -> None:
    """One wandering episode in the living lab, closed after 47 minutes: its median, its 90th
    percentile and its bar are that person's 47 minutes."""
    tiny_city(db_engine, {BAEKSEOK1: 6}, program="goyang_wandering")
    with db_engine.begin() as conn:
        add_alerts(
            conn, BAEKSEOK1, 1, NOW - timedelta(days=2), rule="wander_left_zone", minutes_open=47
        )
    for lang in ("ko", "en"):
        slide = _slide(_deck(db_engine, lang=lang), "wandering")
        spoken = repr(slide)
        assert format_duration(timedelta(minutes=47), lang) not in spoken
        assert slide.chart is None
        assert _figure(slide, "deck.wandering.episodes", lang) == "<5"
        too_few = translate("deck.too_few", lang, n=SUPPRESS_BELOW)
        assert _figure(slide, "deck.wandering.median", lang) == too_few
        assert translate("deck.wandering.message_few", lang, n=SUPPRESS_BELOW) == slide.message


def test_standards_slide_judges_no_share_of_one_severe_alert(db_engine) -> None:
    """One 심각 alert acknowledged in 30 s: "100.0 % / 97.5 %" is that alert's handling."""
    tiny_city(db_engine, {SAJIK: 12})
    with db_engine.begin() as conn:
        add_alerts(conn, SAJIK, 1, NOW - timedelta(days=2), stage="severe")
    slide = _slide(_deck(db_engine), "standards")
    values = [f.value for f in slide.figures]
    assert not any(v.startswith("100.0%") for v in values), values
    too_few = translate("deck.too_few", "ko", n=SUPPRESS_BELOW)
    assert all(v.startswith(too_few) for v in values), values
    assert slide.chart is None
    assert slide.message == translate("deck.standards.message_few", "ko", n=SUPPRESS_BELOW)
    assert format_number(1) not in slide.bullets[0]  # the basis: "<5", not "1 severe alert"


@pytest.mark.xfail(
    strict=True,
    reason="LEAK NOT FIXED: two deck periods a day apart (or two minutes apart: '30d' slides "
    "with the clock) differ by one day's alerts in a dong, however small; exact counts cannot "
    "stop differencing, only noise or coarse fixed windows could (docs/briefing.md)",
)
def test_two_periods_do_not_isolate_one_days_alerts_in_a_dong(db_engine) -> None:
    tiny_city(db_engine, {SAJIK: 12, CHEONGUN: 9}, alerts={SAJIK: 6, CHEONGUN: 6})
    day = NOW - timedelta(days=5)
    with db_engine.begin() as conn:
        add_alerts(conn, SAJIK, 1, day)

    def sajik(period: str) -> int:
        return next(d.alerts for s in _deck(db_engine, period) if s.map for d in s.map.dongs
                    if d.code == SAJIK)  # fmt: skip

    first = f"{(day - timedelta(days=10)):%Y-%m-%d}"
    with_day = sajik(f"{first}..{NOW:%Y-%m-%d}")
    without = sajik(f"{first}..{(day - timedelta(days=1)):%Y-%m-%d}")
    with_rest = sajik(f"{(day + timedelta(days=1)):%Y-%m-%d}..{NOW:%Y-%m-%d}")
    assert with_day - without - with_rest not in range(1, SUPPRESS_BELOW)


# --- the rule itself, in one place -----------------------------------------------------------


def test_rule_helpers() -> None:
    assert [count_text(n) for n in (0, 1, 4, 5, 1234)] == ["0", "<5", "<5", "5", "1,234"]
    assert not enough(4) and enough(5)


def test_a_lone_hidden_zero_takes_a_shown_count_with_it() -> None:
    """A group of few people with no alert: hidden, but alone the total gives its 0 back."""
    counts = pd.Series([0, 6, 7])
    few = pd.Series([True, False, False])
    assert hidden_cells(counts, also=few, complementary=True).tolist() == [True, True, False]
    assert hidden_cells(counts, also=few).tolist() == [True, False, False]


def test_complement_within_each_group() -> None:
    df = pd.DataFrame({"code": ["11a", "11b", "11c", "41a", "41b"], "people": [3, 9, 12, 7, 30]})
    out = suppress_group_counts(df, within=df["code"].str[:2]).set_index("code")
    assert out["people"].isna().tolist() == [True, True, False, False, False]
    assert out["suppressed"].tolist() == [True, False, False, False, False]


def test_ledger_months_leave_out_a_sample_cell_of_one_person(db_engine) -> None:
    """Six participants earn in November; one of them alone redeems 5,000 points: that cell is
    their spending, so it is not there for any total to include (or give back)."""
    from sqlalchemy import insert, select

    from dashboard.catalog import load_catalog
    from dashboard.db.schema import Enrolment, IncentiveLedger, Program, Region
    from queries.budget import incentive_months
    from queries.participation import WRIST_DOCTOR, incentives_by_source, ledger_months

    with db_engine.begin() as conn:
        load_catalog(conn)
        program = conn.scalar(select(Program.id).where(Program.code == WRIST_DOCTOR))
        region = conn.scalar(select(Region.id).where(Region.code == SAJIK))
        ids = []
        for n in range(6):
            ids.append(
                conn.execute(
                    insert(Enrolment).returning(Enrolment.id),
                    {
                        "program_id": program,
                        "region_id": region,
                        "participant_ref": f"W{n}",
                        "age_band": "70-74",
                        "sex": "F",
                        "enrolled_on": date(2025, 10, 1),
                    },
                ).scalar_one()
            )
        rows = [
            {"enrolment_id": i, "occurred_on": date(2025, 11, 3 + k), "kind": "earn",
             "reason": "steps_8000", "points": 200}
            for k, i in enumerate(ids)
        ] + [
            {"enrolment_id": ids[0], "occurred_on": date(2025, 11, 20), "kind": "redeem",
             "reason": "seoul_pay", "points": -5000}
        ]  # fmt: skip
        conn.execute(insert(IncentiveLedger), [r | {"program_id": program} for r in rows])
    with db_engine.connect() as conn:
        cells = ledger_months(conn, WRIST_DOCTOR)
        by_source = incentives_by_source(conn, WRIST_DOCTOR)
        budget = incentive_months(conn, WRIST_DOCTOR, 2025)
    assert cells[["month", "kind", "points", "people"]].to_dict("records") == [
        {"month": date(2025, 11, 1), "kind": "earn", "points": 1200.0, "people": 6}
    ]
    assert by_source["kind"].tolist() == ["earn"] and -5000.0 not in by_source["points"].tolist()
    assert budget.empty  # the budget tab reads the statements only, never the sample


def test_cohort_areas_pool_small_ones_and_hide_one_persons_week() -> None:
    from dashboard.analysis import cohort

    def person(area: str, status: str, last: int) -> dict:
        return {"area": area, "status": status, "last_week": last, "observed_to": 24}

    weeks = pd.DataFrame(
        [person("A", "completed", 24)] * 7
        + [person("A", "dropped", 3)]
        + [person("B", "dropped", 5)] * 2  # two people: one share, one median week
        + [person("C", "completed", 24)] * 6
        + [person("D", "dropped", 9)]
    )
    frame = cohort.shown_dropouts_by_area(weeks, "area", "other")
    assert frame["area"].tolist() == ["A", "other"]  # B+D = 3, too few: C (6) joins them
    assert frame["finished"].tolist() == [8, 9]
    assert frame["median_week"].isna().all()  # 1 and 3 drop-outs: no one's week
    curve = cohort.shown_retention(
        pd.DataFrame({"week": [0, 1], "observed": [6, 2], "active": [6, 1], "share": [100, 50]})
    )
    assert curve["share"].isna().tolist() == [False, True]
    assert curve["observed"].isna().tolist() == [False, True]


def test_the_exports_carry_what_the_slides_hide(sqlite_url, tmp_path) -> None:
    """The PowerPoint's XML and the PDF's text of the tiny city's deck: no 47-minute search,
    no "100.0%" of one severe alert, no small dong's count, as on the page."""
    import io
    import shutil
    import subprocess
    import zipfile

    from dashboard.briefing import export
    from dashboard.db.engine import make_engine
    from dashboard.db.schema import metadata

    db_engine = make_engine(sqlite_url)  # the slides are the same on both backends
    metadata.create_all(db_engine)
    tiny_city(db_engine, {SAJIK: 12, CHEONGUN: 8, SOGONG: 2, BAEKSEOK1: 6},
              programs={BAEKSEOK1: "goyang_wandering"}, alerts={SAJIK: 6, CHEONGUN: 7})  # fmt: skip
    with db_engine.begin() as conn:
        add_alerts(
            conn, BAEKSEOK1, 1, NOW - timedelta(days=2), rule="wander_left_zone", minutes_open=47
        )
        add_alerts(conn, SAJIK, 1, NOW - timedelta(days=2), stage="severe")
    slides = _deck(db_engine)
    with zipfile.ZipFile(io.BytesIO(export.render_pptx(slides, "src"))) as z:
        shown = {"pptx": "\n".join(z.read(n).decode() for n in z.namelist() if n.endswith(".xml"))}
    if shutil.which("pdftotext"):
        (tmp_path / "d.pdf").write_bytes(export.render_pdf(slides, "src"))
        subprocess.run(["pdftotext", str(tmp_path / "d.pdf")], check=True)
        shown["pdf"] = (tmp_path / "d.txt").read_text(encoding="utf-8")
    for where, text in shown.items():
        assert format_duration(timedelta(minutes=47), "ko") not in text, where
        assert "100.0%" not in text, where
        assert translate("deck.too_few", "ko", n=SUPPRESS_BELOW) in text, where
        assert "시험" not in text and "010-5555" not in text, where  # names, phones


def test_detection_slide_does_not_give_the_hidden_wandering_count_back(db_engine) -> None:
    """The wandering slide hides two episodes; the alerts-by-rule chart said "안심 반경 이탈 2",
    and one robot SOS "돌봄로봇 SOS 1"."""
    tiny_city(db_engine, {SAJIK: 12, BAEKSEOK1: 6}, programs={BAEKSEOK1: "goyang_wandering"},
              alerts={SAJIK: 9})  # fmt: skip
    with db_engine.begin() as conn:
        add_alerts(conn, BAEKSEOK1, 2, NOW - timedelta(days=2), rule="wander_left_zone")
        add_alerts(conn, BAEKSEOK1, 1, NOW - timedelta(days=2), rule="robot_sos")
    deck = _deck(db_engine)
    assert _figure(_slide(deck, "wandering"), "deck.wandering.episodes") == "<5"
    slide = _slide(deck, "detection")
    counts = {r["rule"]: r["alerts"] for r in (slide.chart.rows if slide.chart else ())}
    assert counts == {translate("rule.plug_no_change", "ko"): 9}  # 12 − 9: two rules, not one
    hidden = translate("deck.detection.rules_hidden", "ko", n=2, k=SUPPRESS_BELOW)
    assert hidden in slide.bullets
