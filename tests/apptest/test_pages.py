"""Every page, in Korean and English, showing what the database holds."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime

import pytest
from sqlalchemy import func, select

from dashboard.db.schema import Alert, CareRecipient, Device, DeviceState, Program, Region
from dashboard.formatting import format_number
from dashboard.i18n import translate
from dashboard.reference.documents import publisher, source_documents
from dashboard.settings import PROJECT_ROOT
from queries import alerts as alert_q
from queries import briefing as briefing_q
from queries import budget as budget_q
from tests.apptest.conftest import metric, metric_column_share, open_page, texts

PAGES = ["live", "alerts", "wandering", "complaints", "participation", "budget", "briefing"]


def test_no_dashboard_pages_folder() -> None:
    """A pages/ folder beside the entry script would run pages without the entry script."""
    assert not (PROJECT_ROOT / "dashboard" / "pages").exists()


@pytest.mark.parametrize("lang", ["ko", "en"])
@pytest.mark.parametrize("page", PAGES)
def test_page_title_and_navigation_follow_language(demo_db, page: str, lang: str) -> None:
    at = open_page(page, **({"lang": "en"} if lang == "en" else {}))
    assert [t.value for t in at.title] == [translate(f"page.{page}", lang)]
    other = "en" if lang == "ko" else "ko"
    assert translate(f"page.{page}", other) not in [t.value for t in at.title]
    assert at.radio(key="anbu_lang_widget").value == lang


def test_root_opens_live_page(demo_db) -> None:
    at = open_page()
    assert [t.value for t in at.title] == ["실시간 현황"]


def test_language_survives_a_page_switch_without_the_url_parameter(demo_db) -> None:
    at = open_page("live", lang="en")
    at.query_params.pop("lang", None)  # the sidebar navigation drops query parameters
    at.switch_page("../pages/budget.py").run()
    assert [t.value for t in at.title] == ["Budget execution"]
    assert at.query_params.get("lang") == "en"  # and it is written back to the URL


def test_language_switch_widget(demo_db) -> None:
    at = open_page("alerts")
    at.radio(key="anbu_lang_widget").set_value("en").run()
    assert [t.value for t in at.title] == ["Alerts & dispatch"]
    assert at.query_params.get("lang") == "en"


def _device_states(engine) -> dict[str, int]:
    state = func.coalesce(DeviceState.state, "offline")
    stmt = (
        select(state, func.count())
        .select_from(Device)
        .outerjoin(DeviceState, DeviceState.device_id == Device.id)
        .where(Device.status == "active")
        .group_by(state)
    )
    with engine.connect() as conn:
        return dict(conn.execute(stmt).all())


def test_live_counts_match_device_state(demo_db) -> None:
    states = _device_states(demo_db)
    at = open_page("live")
    assert metric(at, "전체 기기") == format_number(sum(states.values()))
    for state, label in [
        ("normal", "정상"),
        ("attention", "관심"),
        ("risk", "위험"),
        ("severe", "심각"),
        ("offline", "장애"),
    ]:
        assert metric(at, label) == format_number(states.get(state, 0))
    # The demo ends on a fixed day, so the feed is stale and must say so.
    assert any("데이터 지연" in s for s in texts(at))


def test_live_in_english_and_state_filter(demo_db) -> None:
    states = _device_states(demo_db)
    at = open_page("live", lang="en")
    assert metric(at, "All devices") == format_number(sum(states.values()))
    assert metric(at, "Offline") == format_number(states.get("offline", 0))
    at.multiselect(key="live_states").set_value(["offline"]).run()
    assert metric(at, "All devices") == format_number(states.get("offline", 0))
    assert metric(at, "Normal") == "0"


def test_live_program_filter(demo_db) -> None:
    with demo_db.connect() as conn:
        n = conn.execute(
            select(func.count())
            .select_from(Device)
            .join(Program)
            .where(Program.code == "goyang_wandering", Device.status == "active")
        ).scalar_one()
    at = open_page("live")
    at.multiselect(key="live_programs").set_value(["goyang_wandering"]).run()
    assert metric(at, "전체 기기") == format_number(n)


def _place_names(engine) -> set[str]:
    """Names of places: a generated person called 송정동 is not a leak when the dong shows."""
    with engine.connect() as conn:
        return {n for row in conn.execute(select(Region.name_ko, Region.name_en)) for n in row}


def test_live_shows_no_full_names(demo_db) -> None:
    with demo_db.connect() as conn:
        names = {n for (n,) in conn.execute(select(CareRecipient.pii_name)) if len(n) >= 2}
    names -= _place_names(demo_db)
    shown = "\n".join(texts(open_page("live")))
    assert not [n for n in names if n in shown]


def _open_alerts(engine):
    with engine.connect() as conn:
        return alert_q.open_alerts(conn, datetime.now(UTC))


def test_alert_queue_counts_and_order(demo_db) -> None:
    expected = _open_alerts(demo_db)
    at = open_page("alerts")
    assert metric(at, "미처리 경보") == format_number(len(expected))
    assert metric(at, "심각") == format_number(int((expected["stage"] == "severe").sum()))
    queue = at.dataframe[0].value
    assert queue["경보 번호"].tolist() == expected["id"].tolist()
    assert queue["단계"].tolist()[0] == translate(f"state.{expected['stage'].iloc[0]}", "ko")


def test_alert_stage_filter(demo_db) -> None:
    expected = _open_alerts(demo_db)
    at = open_page("alerts", lang="en")
    at.multiselect(key="url_stage").set_value(["attention"]).run()
    assert metric(at, "Open alerts") == format_number(int((expected["stage"] == "attention").sum()))
    assert set(at.dataframe[0].value["Stage"]) <= {"Attention"}


def test_alert_deep_link_opens_detail_with_masked_recipient(demo_db) -> None:
    with demo_db.connect() as conn:
        alert_id, name = conn.execute(
            select(Alert.id, CareRecipient.pii_name)
            .join(CareRecipient, CareRecipient.id == Alert.recipient_id)
            .where(Alert.status != "closed")
            .order_by(Alert.id)
        ).first()
    at = open_page("alerts", alert=str(alert_id))
    shown = texts(at)
    assert f"경보 {alert_id}번" in "\n".join(shown)
    detail = next(d.value for d in at.dataframe if "항목" in d.value.columns)
    recipient = detail.loc[detail["항목"] == "대상자", "값"].item()
    assert recipient.startswith(name[0]) and "*" in recipient and recipient != name
    assert name not in "\n".join(shown)


def test_alert_deep_link_to_unknown_id(demo_db) -> None:
    at = open_page("alerts", alert="999999", lang="en")
    assert any("Alert 999999 was not found" in w.value for w in at.warning)


def test_wandering_counts(demo_db) -> None:
    with demo_db.connect() as conn:
        n = conn.execute(
            select(func.count())
            .select_from(Device)
            .join(Program)
            .where(Program.code == "goyang_wandering", Device.status == "active")
        ).scalar_one()
    at = open_page("wandering")
    assert metric(at, "배회감지기") == format_number(n)
    assert "안심 반경 밖" in [m.label for m in at.metric]


def test_complaints_show_published_changes(demo_db) -> None:
    at = open_page("complaints")
    table = at.dataframe[0].value
    assert "-35%" in table["증감(공표)"].tolist()
    assert "-90%" in table["증감(공표)"].tolist()
    at_en = open_page("complaints", lang="en")
    assert "Change (published)" in at_en.dataframe[0].value.columns


def test_participation_against_published(demo_db) -> None:
    at = open_page("participation")
    table = next(d.value for d in at.dataframe if "사업" in d.value.columns)
    row = table[table["사업"] == "모바일 헬스케어"]
    assert row["공표 수치"].item() == "990"
    assert row["참여 인원(데이터)"].item() == "990"  # the demo reproduces the document
    half = table[table["사업"] == "마음습관 하프"]
    assert half["공표 수치"].item() == "41,192"
    assert "적립 포인트" in [m.label for m in at.metric]


def test_budget_totals_and_findings(demo_db) -> None:
    with demo_db.connect() as conn:
        findings = budget_q.findings(conn)
    at = open_page("budget")
    assert metric(at, "투자계획 총액") == "1,731.6 백만원"
    assert metric(at, "확보액") == "896.9 백만원"
    assert metric(at, "집행액") == "820.7 백만원"
    documents = next(tab for tab in at.tabs if tab.label == "문서 표·검산")
    assert len(documents.warning) == len(findings) > 0
    assert any("656,685" in w.value for w in at.warning)
    at_en = open_page("budget", lang="en")
    assert metric(at_en, "Executed") == "820.7 million won"


def test_briefing_reach_slide_matches_database(demo_db) -> None:
    at = open_page("briefing")
    at.button(key="deck_next").click().run()  # the cover, then the programs' reach
    with demo_db.connect() as conn:
        k = briefing_q.reach_totals(conn)
    assert metric(at, "기기") == format_number(k["devices"])
    assert metric(at, "대상자") == format_number(k["people"])
    assert metric(at, "구") == format_number(k["districts"])


def test_briefing_shows_no_personal_data(demo_db) -> None:
    with demo_db.connect() as conn:
        rows = conn.execute(
            select(
                CareRecipient.pii_name,
                CareRecipient.pii_phone,
                CareRecipient.pii_address,
                CareRecipient.pii_guardian_name,
                CareRecipient.pii_guardian_phone,
                CareRecipient.pii_home_lat,
                CareRecipient.pii_home_lon,
            )
        ).all()
    values = set()
    for row in rows:
        for v in row:
            if v is None:
                continue
            values.add(f"{v:.5f}" if isinstance(v, float) else str(v))
    values = {v for v in values if len(v) >= 2} - _place_names(demo_db)
    coordinates = {v for v in values if v.replace(".", "").isdigit()}
    for params in ({}, {"lang": "en"}, {"projector": "1"}):
        at = open_page("briefing", **params)
        shown = "\n".join(texts(at))
        leaked = sorted(v for v in values - coordinates if v in shown)
        assert not leaked, leaked[:5]
        # The council map's numbers are dong boundary vertices, which may share five decimals
        # with someone's home by chance: checked below by what they are, not by their digits.
        plain = "\n".join(texts(at, decks=False))
        assert not sorted(v for v in coordinates if v in plain)
        _only_dong_shapes_in_decks(at)


def _only_dong_shapes_in_decks(at) -> None:
    """Every coordinate a pydeck map on the page carries is a shipped dong polygon's or the
    label point computed from one: no position of a person."""
    from dashboard.mapping.dongs import label_point
    from dashboard.settings import get_settings

    shipped = json.loads(get_settings().resolved_boundary_geojson.read_text(encoding="utf-8"))
    shapes = {f["properties"]["adm_cd2"]: f["geometry"] for f in shipped["features"]}
    decks = at.get("deck_gl_json_chart")
    assert decks, "no council map on the briefing page"
    for deck in decks:
        spec = json.loads(deck.proto.json)
        for layer in spec["layers"]:
            if layer["@@type"] == "GeoJsonLayer":
                for f in layer["data"]["features"]:
                    assert f["geometry"] == shapes[f["properties"]["code"]]
            elif layer["@@type"] == "TextLayer":
                labels = {tuple(label_point(g)) for g in shapes.values()}
                assert {tuple(d["position"]) for d in layer["data"]} <= labels
            else:
                raise AssertionError(f"unexpected layer {layer['@@type']}")


def test_briefing_council_map_table_matches_database_with_small_counts_hidden(demo_db) -> None:
    """The table under the council map: the largest district first, then all; counts below 5
    hidden over all dongs, so both views hide the same ones."""
    from dashboard.mapping.suppression import suppress_small_counts

    with demo_db.connect() as conn:
        by_dong = briefing_q.devices_by_dong_state(conn)
    by_dong["label"] = by_dong["district_ko"] + " " + by_dong["name_ko"]
    totals = by_dong.groupby("region_code", as_index=False).agg(
        label=("label", "first"),
        district=("district_code", "first"),
        devices=("devices", "sum"),
        people=("people", "max"),  # the people the dong's devices watch: its own column
    )
    expected = suppress_small_counts(totals, "devices", complementary=True, people="people")
    assert expected["suppressed"].any()  # the demo has small dongs: the test means something
    largest = totals.groupby("district")["devices"].sum().idxmax()

    def shown(at) -> dict[str, str]:
        (df,) = [d.value for d in at.dataframe if "기기 수" in d.value.columns]
        return dict(zip(df["행정동"], df["기기 수"], strict=True))

    at = open_page("briefing")
    assert "동별 기기 상태" in [s.value for s in at.subheader]
    mine = expected[expected["district"] == largest]
    assert shown(at) == dict(zip(mine["label"], mine["devices_text"], strict=True))
    at.selectbox(key="council_district").set_value("all").run()
    everything = dict(zip(expected["label"], expected["devices_text"], strict=True))
    assert len(everything) == len(expected)  # district + dong name one dong each
    assert shown(at) == everything


def test_projector_mode_enlarges_fonts(demo_db) -> None:
    at = open_page("briefing", projector="1")
    css = "\n".join(texts(at))
    assert "font-size: 61px" in css
    # The root font size sizes Streamlit's tables (st.dataframe), the alert queue's included.
    assert "html { font-size: 20px; }" in css
    plain = "\n".join(texts(open_page("briefing")))
    assert "font-size: 61px" not in plain and "html { font-size" not in plain


def test_live_counts_have_room_for_five_digits_on_a_projector(demo_db) -> None:
    """At 61 px "12,345" takes 167 px, a sixth of a 1,280 px projector page 163 px: there the
    all-devices and 정상 counts get 1.3 shares (193 px), the other four keep room for "1,234"."""
    plain = open_page("live")
    assert metric_column_share(plain, "전체 기기") == pytest.approx(1 / 6)
    projector = open_page("live", projector="1")
    for label in ("전체 기기", "정상"):
        assert metric_column_share(projector, label) == pytest.approx(1.3 / 6.6)
    assert metric_column_share(projector, "심각") == pytest.approx(1 / 6.6)


def test_live_severe_banner_counts_every_open_alert(demo_db) -> None:
    expected = int((_open_alerts(demo_db)["stage"] == "severe").sum())
    at = open_page("live", lang="en")
    banners = [s for s in texts(at) if "open alert(s) at the severe stage" in s]
    if expected:
        assert any(f"{expected} open alert(s)" in b for b in banners)
    else:
        assert not banners


def _all_text(at) -> str:
    """Every element's message as JSON (texts, help, labels, charts, tables' data)."""
    from google.protobuf.json_format import MessageToJson

    out, stack = [], [at._tree]
    while stack:
        node = stack.pop()
        proto = getattr(node, "proto", None)
        if proto is not None:
            out.append(MessageToJson(proto, ensure_ascii=False))
        children = getattr(node, "children", {})
        stack += list(children.values() if isinstance(children, dict) else children)
    return "\n".join(out + texts(at))


@pytest.mark.parametrize("lang", ["ko", "en"])
@pytest.mark.parametrize("page", ["briefing", "complaints", "participation", "budget"])
def test_council_pages_show_no_internal_references(demo_db, page: str, lang: str) -> None:
    """A council member reads who published a figure and the document's title, not a
    repository path or a source id of the reference data."""
    at = open_page(page, role="council", lang=lang)
    shown = [_all_text(at)]
    if page == "briefing":
        at.text_input(key="deck_period").set_value("2024-11").run()
        shown.append(_all_text(at))
        while not at.button(key="deck_next").disabled:
            at.button(key="deck_next").click().run()
            shown.append(_all_text(at))
        assert len(shown) > 8  # every slide was looked at
    page_text = "\n".join(shown)
    assert "docs/" not in page_text
    assert not re.findall(r".{0,60}seed-\d.{0,60}", page_text)
    # …and the documents are named instead (the deck's footers, the tables' sources, findings).
    assert any(publisher(doc) in page_text for doc in source_documents())
