"""설정 page: leads edit the rule thresholds (validated, saved atomically, audited); admins read
them; operators and the council cannot reach the page.

These tests write the thresholds file and audit rows, so they run on a copy of data/rules.toml
(``dashboard.rules.config.DEFAULT_PATH`` points at it) and a copy of the session database.
"""

from __future__ import annotations

import re
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine, select
from streamlit.testing.v1 import AppTest

from dashboard.db.schema import AuditLog
from dashboard.i18n import translate
from dashboard.rules import config
from dashboard.rules.districts import FIELDS
from dashboard.settings import PROJECT_ROOT
from dashboard.ui import settings_page as sp
from tests.apptest.conftest import TIMEOUT, login_as, open_page, private_copy, texts

RISK = "plug_no_change.risk_after_attention_h"


@pytest.fixture(scope="module")
def settings_db(demo_db: Engine, tmp_path_factory) -> Iterator[Engine]:
    """A copy of the session database, made the app's database for this module only."""
    with private_copy(demo_db, tmp_path_factory.mktemp("settings")) as engine:
        yield engine


@pytest.fixture
def rules(settings_db: Engine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A fresh copy of data/rules.toml for each test; the repository's file is never written."""
    path = tmp_path / "rules.toml"
    shutil.copy(config.DEFAULT_PATH, path)
    monkeypatch.setattr(config, "DEFAULT_PATH", path)
    return path


def _open(role: str = "lead", lang: str = "ko") -> AppTest:
    at = open_page(role=role, **({"lang": "en"} if lang == "en" else {}))
    at.switch_page("../pages/settings.py").run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def _audits(engine: Engine) -> list[AuditLog]:
    with engine.connect() as conn:
        return list(
            conn.execute(
                select(AuditLog).where(AuditLog.action == "thresholds_update").order_by(AuditLog.id)
            )
        )


@pytest.mark.parametrize("lang", ["ko", "en"])
def test_lead_sees_every_threshold_and_edits(rules: Path, lang: str) -> None:
    at = _open("lead", lang)
    assert [t.value for t in at.title] == [translate("page.settings", lang)]
    table = at.dataframe[0].value
    keys = list(table[translate("settings_page.col_key", lang)])
    assert RISK in keys and "device_silent.timeout_s.smart_plug" in keys
    assert "battery.clear_pct" in keys and len(keys) == len(set(keys))
    row = table[table[translate("settings_page.col_key", lang)] == RISK].iloc[0]
    assert row[translate("settings_page.col_value", lang)] == "12"
    assert row[translate("settings_page.col_unit", lang)] == translate("settings_page.unit.h", lang)
    assert row[translate("settings_page.col_setting", lang)] == translate(
        f"settings_page.field.{RISK}", lang
    )
    assert at.number_input(key=sp.widget_key(RISK)).value == 12.0
    assert translate("settings_page.section.plug_no_change", lang) in "\n".join(texts(at))


@pytest.mark.parametrize("lang", ["ko", "en"])
def test_valid_edit_is_saved_audited_and_reloaded(
    settings_db: Engine, rules: Path, lang: str
) -> None:
    before = len(_audits(settings_db))
    at = _open("lead", lang)
    at.number_input(key=sp.widget_key(RISK)).set_value(10.0)
    at.number_input(key=sp.widget_key("battery.low_pct")).set_value(15.0)
    at.button(key=sp.SAVE).click().run()
    assert not at.exception, [e.value for e in at.exception]
    assert [s.value for s in at.success] == [translate("settings_page.saved", lang)]
    shown = "\n".join(texts(at))
    assert f"({RISK}): 12 → 10" in shown and "(battery.low_pct): 20 → 15" in shown
    assert not at.error
    assert config.current_thresholds(rules).plug_no_change.risk_after_attention_h == 10
    assert config.load_thresholds(rules).battery.low_pct == 15
    audits = _audits(settings_db)
    assert len(audits) == before + 1
    audit = audits[-1]
    assert audit.actor == "lead" and audit.entity_type == "thresholds"
    assert audit.detail == {"changed": {RISK: [12.0, 10.0], "battery.low_pct": [20.0, 15.0]}}
    # The table now shows the new value.
    table = at.dataframe[0].value
    row = table[table[translate("settings_page.col_key", lang)] == RISK].iloc[0]
    assert row[translate("settings_page.col_value", lang)] == "10"


@pytest.mark.parametrize(
    ("key", "value", "flagged"),
    [
        (RISK, -1.0, [RISK]),
        (
            "plug_no_change.min_hours",
            60.0,
            ["plug_no_change.min_hours", "plug_no_change.max_hours"],
        ),
    ],
)
@pytest.mark.parametrize("lang", ["ko", "en"])
def test_invalid_edit_writes_nothing(
    settings_db: Engine, rules: Path, key: str, value: float, flagged: list[str], lang: str
) -> None:
    before_file = rules.read_bytes()
    before = len(_audits(settings_db))
    at = _open("lead", lang)
    at.number_input(key=sp.widget_key(key)).set_value(value)
    at.button(key=sp.SAVE).click().run()
    assert not at.exception, [e.value for e in at.exception]
    errors = [e.value for e in at.error]
    assert errors[0] == translate("settings_page.invalid", lang)
    # One message per flagged setting, shown under its input.
    assert len(errors) == 1 + len(flagged)
    assert all(
        e.startswith(translate("settings_page.problem", lang, message="")) for e in errors[1:]
    )
    assert not at.success
    assert rules.read_bytes() == before_file
    assert len(_audits(settings_db)) == before
    assert at.number_input(key=sp.widget_key(key)).value == value  # kept to be fixed


def test_no_change_saves_nothing(settings_db: Engine, rules: Path) -> None:
    before_file = rules.read_bytes()
    before = len(_audits(settings_db))
    at = _open("lead")
    at.button(key=sp.SAVE).click().run()
    assert [i.value for i in at.info] == [translate("settings_page.no_change")]
    assert rules.read_bytes() == before_file and len(_audits(settings_db)) == before


@pytest.mark.parametrize("lang", ["ko", "en"])
def test_admin_reads_only(rules: Path, lang: str) -> None:
    at = _open("admin", lang)
    assert [t.value for t in at.title] == [translate("page.settings", lang)]
    assert RISK in list(at.dataframe[0].value[translate("settings_page.col_key", lang)])
    assert not at.number_input
    assert [b.key for b in at.button] == ["anbu_logout"]  # no save button
    assert [i.value for i in at.info] == [translate("settings_page.read_only", lang)]


@pytest.mark.parametrize("role", ["operator", "council"])
def test_operator_and_council_cannot_reach_it(rules: Path, role: str) -> None:
    at = open_page(role=role)
    with pytest.raises(ValueError, match="Could not find a navigation page"):
        at.switch_page("../pages/settings.py")


@pytest.mark.parametrize("role", ["operator", "council"])
def test_page_rechecks_the_role(rules: Path, role: str) -> None:
    at = AppTest.from_file(str(PROJECT_ROOT / "pages" / "settings.py"), default_timeout=TIMEOUT)
    login_as(at, role).run()
    assert [e.value for e in at.error] == [translate("auth.forbidden")]
    assert not at.number_input and not at.dataframe


# --- thresholds per district and the 30-day preview ---------------------------------------------

JUNG = "1114000000"  # 중구: the demo city's smallest district (51 plugs), a quick replay
STRICTER = {"plug_routine.attention_slots": 1.0, "plug_routine.min_share": 0.9}


def _district(at: AppTest, values: dict[str, float]) -> AppTest:
    at.selectbox(key=sp.DISTRICT).set_value(JUNG).run()
    for key, value in values.items():
        at.number_input(key=sp.district_key(JUNG, key)).set_value(value)
    return at


def _preview_table(at: AppTest, lang: str):
    current = translate("settings_page.district.col_current", lang)
    found = [d.value for d in at.dataframe if current in d.value.columns]
    return found[0] if found else None


def _expected_preview(engine: Engine, rules: Path, wanted: dict):
    """What the preview module itself counts for Jung-gu with ``wanted`` over the rules file."""
    from datetime import UTC, datetime

    from dashboard.detection.preview import preview_district
    from dashboard.rules.districts import proposed_thresholds

    th = config.load_thresholds(rules)
    with engine.connect() as conn:
        return preview_district(
            conn,
            JUNG,
            th.for_region(JUNG),
            proposed_thresholds(th, JUNG, wanted).for_region(JUNG),
            datetime.now(UTC),
        )


@pytest.mark.parametrize("lang", ["ko", "en"])
def test_lead_previews_a_district_against_the_replay_module(
    settings_db: Engine, rules: Path, lang: str
) -> None:
    at = _district(_open("lead", lang), STRICTER)
    assert _preview_table(at, lang) is None
    at.button(key=sp.D_PREVIEW).click().run()
    assert not at.exception, [e.value for e in at.exception]
    assert not at.error
    table = _preview_table(at, lang)
    expected = _expected_preview(settings_db, rules, STRICTER)
    col = translate("settings_page.district.col_count", lang)
    rows = dict(zip(table[col], range(len(table)), strict=True))
    for label, field in [
        (translate("settings_page.stage.attention", lang), "attention"),
        (translate("settings_page.stage.risk", lang), "risk"),
        (translate("settings_page.stage.severe", lang), "severe"),
        (translate("settings_page.district.row_alerts", lang), "alerts"),
        (translate("settings_page.district.row_people", lang), "people"),
        (translate("settings_page.district.row_homes", lang), "homes"),
    ]:
        row = table.iloc[rows[label]]
        assert row[translate("settings_page.district.col_current", lang)] == getattr(
            expected.current, field
        ), label
        assert row[translate("settings_page.district.col_proposed", lang)] == getattr(
            expected.proposed, field
        ), label
    # Stricter thresholds raise more, never fewer; the demo's district has some of each.
    assert expected.proposed.alerts > expected.current.alerts > 0
    shown = "\n".join(texts(at))
    assert (
        f"{expected.plugs}" in shown
        and translate("settings_page.district.preview_limits", lang) in shown
    )
    # Previewing saves nothing.
    assert config.load_thresholds(rules).districts == {}


def test_lead_saves_a_district_and_it_is_audited(settings_db: Engine, rules: Path) -> None:
    at = _district(_open("lead"), {"plug_routine.risk_slots": 4.0})
    at.button(key=sp.D_SAVE).click().run()
    assert not at.exception, [e.value for e in at.exception]
    assert [s.value for s in at.success] == [translate("settings_page.district.saved")]
    assert config.load_thresholds(rules).districts[JUNG].values() == {
        "plug_routine.risk_slots": 4.0
    }
    with settings_db.connect() as conn:
        audit = conn.execute(
            select(AuditLog.actor, AuditLog.entity_id, AuditLog.detail).where(
                AuditLog.action == "district_thresholds_update"
            )
        ).all()[-1]
    assert audit.actor == "lead" and audit.entity_id == JUNG
    assert audit.detail["changed"] == {"plug_routine.risk_slots": [6.0, 4.0]}
    # The overrides table shows it, by the district's name.
    overrides = [
        d.value
        for d in at.dataframe
        if translate("settings_page.district.col_city") in d.value.columns
    ]
    assert overrides and list(overrides[0][translate("settings_page.col_key")]) == [
        "plug_routine.risk_slots"
    ]


def test_an_invalid_district_value_is_named_and_nothing_runs(
    settings_db: Engine, rules: Path
) -> None:
    before = rules.read_bytes()
    at = _district(_open("lead"), {"plug_routine.attention_slots": 7.0})
    at.button(key=sp.D_PREVIEW).click().run()
    errors = [e.value for e in at.error]
    assert errors[0] == translate("settings_page.district.preview_invalid")
    # The cross-field check names both settings by their labels, in the page's language.
    risk, attention = (
        translate(f"settings_page.field.plug_routine.{k}")
        for k in ("risk_slots", "attention_slots")
    )
    plain = [e.replace("\\", "") for e in errors[1:]]  # labels are md-escaped
    assert any(risk in e and attention in e for e in plain), errors
    assert _preview_table(at, "ko") is None
    at.button(key=sp.D_SAVE).click().run()
    assert next(e.value for e in at.error) == translate("settings_page.invalid")
    assert rules.read_bytes() == before


LEVEL = "plug_routine.level_enabled"


@pytest.mark.parametrize("lang", ["ko", "en"])
def test_lead_turns_the_level_test_on_for_a_district_and_previews_it(
    settings_db: Engine, rules: Path, lang: str
) -> None:
    """The three-state switch (the city's value, named; on; off) and the level threshold; the
    preview with the level test on in the district only counts what it would have raised,
    learned from the stored levels (the city has it off: no model was ever learned)."""
    # The city with the level test off at its former threshold (on at 12 by default since
    # 2026-12-06): the district turns it on against an off city.
    text = re.sub(r"(?m)^level_enabled = \w+", "level_enabled = false", rules.read_text("utf-8"))
    rules.write_text(re.sub(r"(?m)^level_h = [\d.]+", "level_h = 24", text), "utf-8")
    assert not config.current_thresholds().plug_routine.level_enabled
    at = _open("lead", lang)
    at.selectbox(key=sp.DISTRICT).set_value(JUNG).run()
    switch = at.radio(key=sp.district_key(JUNG, LEVEL))
    assert switch.value == "city" and switch.options == [
        translate(
            "settings_page.district.choice_city", lang, value=translate("settings_page.off", lang)
        ),
        translate("settings_page.district.choice_on", lang),
        translate("settings_page.district.choice_off", lang),
    ]
    assert switch.label == translate(f"settings_page.field.{LEVEL}", lang)
    assert at.number_input(key=sp.district_key(JUNG, "plug_routine.level_h")).value == 24.0
    switch.set_value("on")
    at.number_input(key=sp.district_key(JUNG, "plug_routine.level_h")).set_value(12.0)
    at.button(key=sp.D_PREVIEW).click().run()
    assert not at.exception and not at.error, [e.value for e in at.exception]
    table = _preview_table(at, lang)
    wanted = {LEVEL: True, "plug_routine.level_h": 12.0}
    expected = _expected_preview(settings_db, rules, wanted)
    assert expected.level_test and expected.with_levels > 0
    col = translate("settings_page.district.col_count", lang)
    row = table[table[col] == translate("settings_page.district.row_level", lang)].iloc[0]
    assert row[translate("settings_page.district.col_current", lang)] == 0
    assert (
        row[translate("settings_page.district.col_proposed", lang)]
        == (expected.proposed.by_basis["level"])
    )
    alerts = table[table[col] == translate("settings_page.district.row_alerts", lang)].iloc[0]
    assert alerts[translate("settings_page.district.col_proposed", lang)] == (
        expected.proposed.alerts
    )
    shown = "\n".join(texts(at))
    assert (
        translate(
            "settings_page.district.preview_levels",
            lang,
            plugs=expected.plugs,
            with_levels=expected.with_levels,
        )
        in shown
    )
    assert config.load_thresholds(rules).districts == {}  # previewing saves nothing


def test_lead_saves_the_level_switch_audited_and_back_to_the_citys(
    settings_db: Engine, rules: Path
) -> None:
    at = _open("lead")
    at.selectbox(key=sp.DISTRICT).set_value(JUNG).run()
    at.radio(key=sp.district_key(JUNG, LEVEL)).set_value("on")
    at.button(key=sp.D_SAVE).click().run()
    assert not at.exception, [e.value for e in at.exception]
    assert [s.value for s in at.success] == [translate("settings_page.district.saved")]
    th = config.load_thresholds(rules)
    assert th.districts[JUNG].values() == {LEVEL: True} and th.level_enabled_in(JUNG)

    def last_audit():
        with settings_db.connect() as conn:
            return conn.execute(
                select(AuditLog.detail)
                .where(AuditLog.action == "district_thresholds_update")
                .order_by(AuditLog.id.desc())
            ).first()

    assert last_audit().detail["changed"] == {LEVEL: [None, True]}
    assert at.radio(key=sp.district_key(JUNG, LEVEL)).value == "on"  # the form shows it
    at.radio(key=sp.district_key(JUNG, LEVEL)).set_value("city")
    at.button(key=sp.D_SAVE).click().run()
    assert config.load_thresholds(rules).districts == {}
    assert last_audit().detail["changed"] == {LEVEL: [True, None]}
    shown = "\n".join(texts(at))
    assert translate("settings_page.district.follows_city") in shown  # the change's line


def test_admin_sees_district_overrides_but_no_editor(rules: Path) -> None:
    at = _open("admin")
    assert translate("settings_page.district.title") in [h.value for h in at.subheader]
    assert translate("settings_page.district.none") in "\n".join(texts(at))
    assert not at.selectbox and not at.number_input


@pytest.mark.parametrize("lang", ["ko", "en"])
def test_a_district_table_for_no_district_is_pointed_out(rules: Path, lang: str) -> None:
    """A hand-edited table for a code no district has (a typo) changes nobody's thresholds: the
    page says so, naming the code; a real district's table is not named."""
    typo, real = "4799900000", JUNG
    rules.write_text(
        rules.read_text(encoding="utf-8")
        + f'\n[districts."{typo}".plug_routine]\nattention_slots = 2.0\n'
        + f'\n[districts."{real}".plug_routine]\nattention_slots = 2.0\n',
        encoding="utf-8",
    )
    at = _open("admin", lang)
    notice = translate("settings_page.district.unknown", lang, codes=typo)
    assert [w.value for w in at.warning] == [notice]


@pytest.mark.parametrize(
    ("key", "value", "expected"),
    [
        ("battery.low_pct", 500.0, [("settings_page.error.type.less_than_equal", {"le": "100"})]),
        (
            "plug_no_change.min_hours",
            60.0,
            [("settings_page.error.rule.not_greater", {})],
        ),
    ],
)
@pytest.mark.parametrize("lang", ["ko", "en"])
def test_refusals_read_in_the_page_language(
    rules: Path, key: str, value: float, expected: list, lang: str
) -> None:
    at = _open("lead", lang)
    at.number_input(key=sp.widget_key(key)).set_value(value)
    at.button(key=sp.SAVE).click().run()
    errors = [e.value.replace("\\", "") for e in at.error][1:]  # md escapes dropped
    assert errors
    assert not any("Input should" in e or "must not be" in e for e in errors) or lang == "en"
    if key == "plug_no_change.min_hours":
        labels = {
            k: translate(f"settings_page.field.plug_no_change.{k}", lang)
            for k in ("min_hours", "max_hours")
        }
        params = {"a": labels["min_hours"], "b": labels["max_hours"]}
    else:
        params = expected[0][1]
    message = translate(expected[0][0], lang, **params)
    assert translate("settings_page.problem", lang, message=message) in errors, errors


@pytest.mark.parametrize("lang", ["ko", "en"])
def test_every_rendered_input_is_labelled_in_the_page_language(rules: Path, lang: str) -> None:
    """Walks every input the city and district forms render: its label is the translation
    (never the raw key or a missing-key marker), with the unit at most once."""
    from dashboard.rules.edit import flatten, unit_of

    at = _open("lead", lang)
    widgets = [*at.number_input, *at.toggle, *at.selectbox, *at.radio]
    by_key = {w.key: w for w in widgets}
    keys = list(flatten(config.load_thresholds(rules)))
    assert len(keys) > 50
    for key in keys:
        widget = by_key[sp.widget_key(key)]
        label = translate(f"settings_page.field.{key}", lang)
        unit = translate(f"settings_page.unit.{unit_of(key)}", lang)
        assert widget.label.startswith(label), (key, widget.label)
        assert "⟦" not in widget.label
        assert widget.label.count(f"({unit})") <= 1, widget.label
        if unit_of(key) == "none":
            assert "(–)" not in widget.label, widget.label
    district = [w for w in widgets if str(w.key).startswith("settings_district__")]
    # the district editor's inputs, one per district setting
    assert {str(w.key).rsplit("__", 1)[-1] for w in district} == set(FIELDS)
    for widget in district:
        key = str(widget.key).rsplit("__", 1)[-1]
        assert widget.label.startswith(translate(f"settings_page.field.{key}", lang)), key
        assert "⟦" not in widget.label
    shown = "\n".join(texts(at))
    for section in {k.split(".")[0] for k in keys}:
        assert translate(f"settings_page.section.{section}", lang) in shown, section
