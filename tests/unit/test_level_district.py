"""The level test as a district override: validation, the effective value per region, the
nightly learning only where it is on (and the stored levels read only there), the tick raising
a level-based alert in one district and not in another with the same data (both backends), the
editor's three-state choice with its audit row, and the 30-day preview."""

from __future__ import annotations

import re
import shutil
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import event, select, update
from test_actions_support import T0, add_person, seed, who
from test_plug_levels import TODAY, _plug_alert, _store_home, at, history, home_day

from dashboard.db.schema import AuditLog, DeviceDaily, DeviceRoutine, DeviceState
from dashboard.detection.learning import learn_routines
from dashboard.detection.preview import PlugHistory, preview_district, replay_counts
from dashboard.rules import config
from dashboard.rules.config import RulesConfigError, Thresholds, load_thresholds, parse_thresholds
from dashboard.rules.districts import (
    ACTION,
    FIELDS,
    editor_values,
    effective_values,
    proposed_thresholds,
    update_district_thresholds,
)
from dashboard.rules.edit import ThresholdsInvalid, districts_of
from dashboard.rules.engine import run_silence_tick
from dashboard.settings import LOCAL_TZ

ILSAN, JONGNO = "4128500000", "1111000000"
ILSAN_DONG, JONGNO_DONG = 2, 4  # region ids of test_actions_support.seed
ILSAN_DONG_CODE, JONGNO_DONG_CODE = "4128552000", "1111051500"
# The city with the level test off (it is on by default since 2026-12-06) at the threshold it
# had then: these tests turn it on in one district against a city without it, and back.
CITY_OFF_TOML = "[plug_routine]\nlevel_enabled = false\nlevel_h = 24\n"
CITY = Thresholds(plug_routine={"level_enabled": False, "level_h": 24})
CITY_ON = Thresholds(plug_routine={"level_enabled": True, "level_h": 20})
# On in Jongno only (the city off), at the threshold the level tests use.
JONGNO_ON = proposed_thresholds(
    CITY, JONGNO, {"plug_routine.level_enabled": True, "plug_routine.level_h": 20.0}
)
# On in the city, off in Jongno.
JONGNO_OFF = proposed_thresholds(CITY_ON, JONGNO, {"plug_routine.level_enabled": False})


@pytest.fixture
def rules(tmp_path: Path) -> Path:
    path = tmp_path / "rules.toml"
    shutil.copy(config.DEFAULT_PATH, path)
    text = path.read_text(encoding="utf-8")
    text = re.sub(r"(?m)^level_enabled = \w+", "level_enabled = false", text)
    path.write_text(re.sub(r"(?m)^level_h = [\d.]+", "level_h = 24", text), encoding="utf-8")
    city = load_thresholds(path).plug_routine
    assert (city.level_enabled, city.level_h) == (False, 24)  # the city off, as CITY
    return path


# --- the file ---------------------------------------------------------------------------------


def test_the_level_keys_are_district_settings():
    assert {"plug_routine.level_enabled", "plug_routine.level_h"} <= set(FIELDS)


def test_a_district_table_turns_the_level_test_on_or_off_against_the_city():
    th = parse_thresholds(
        CITY_OFF_TOML + f'[districts."{JONGNO}".plug_routine]\nlevel_enabled = true\nlevel_h = 30\n'
    )
    jongno = th.for_region(JONGNO_DONG_CODE).plug_routine
    assert (jongno.level_enabled, jongno.level_h) == (True, 30)
    assert th.level_enabled_in(JONGNO_DONG_CODE) and th.level_enabled_in(JONGNO)
    assert not th.level_enabled_in(ILSAN_DONG_CODE) and not th.level_enabled_in(None)
    assert th.for_region(ILSAN_DONG_CODE).plug_routine.level_h == 24
    assert th.level_enabled_anywhere and not CITY.level_enabled_anywhere
    off = parse_thresholds(
        f'[plug_routine]\nlevel_enabled = true\n[districts."{JONGNO}".plug_routine]\n'
        "level_enabled = false\n"
    )
    assert not off.level_enabled_in(JONGNO_DONG_CODE) and off.level_enabled_in(ILSAN_DONG_CODE)
    assert off.level_enabled_anywhere


@pytest.mark.parametrize(
    ("line", "words"),
    [
        ('level_enabled = "yes"', "valid boolean"),
        ("level_enabled = 1", "valid boolean"),
        ('level_h = "high"', "valid number"),
        ("level_h = 0", "greater than 0"),
        ("level_h = 500", "less than or equal to 200"),
    ],
)
def test_a_bad_value_names_the_district_and_the_setting(line, words):
    key = line.split(" ")[0]
    with pytest.raises(RulesConfigError) as err:
        parse_thresholds(f'[districts."{JONGNO}".plug_routine]\n{line}\n')
    assert f"districts.{JONGNO}.plug_routine.{key}: " in str(err.value)
    assert words in str(err.value)


@pytest.mark.parametrize(
    ("values", "flagged", "words"),
    [
        ({"plug_routine.level_enabled": "yes"}, "plug_routine.level_enabled", "boolean"),
        ({"plug_routine.level_h": 0.0}, "plug_routine.level_h", "greater than 0"),
        ({"plug_routine.level_h": 201.0}, "plug_routine.level_h", "200"),
    ],
)
def test_the_editor_refuses_bad_level_values_naming_them(values, flagged, words):
    with pytest.raises(ThresholdsInvalid) as err:
        proposed_thresholds(CITY, JONGNO, values)
    assert any(words in m for m in err.value.problems[flagged]), err.value.problems
    assert JONGNO in str(err.value)


def test_the_switch_is_a_choice_stored_as_chosen():
    """On where the city is off, and on where the city is on (stored: the district stays in
    when the city turns it off); None follows the city and leaves no trace in the file."""
    assert districts_of(JONGNO_ON) == {
        JONGNO: {"plug_routine": {"level_enabled": True, "level_h": 20.0}}
    }
    assert editor_values(JONGNO_ON, JONGNO)["plug_routine.level_enabled"] is True
    assert editor_values(JONGNO_ON, ILSAN)["plug_routine.level_enabled"] is None
    assert effective_values(JONGNO_ON, ILSAN)["plug_routine.level_enabled"] is False
    same = proposed_thresholds(CITY_ON, JONGNO, {"plug_routine.level_enabled": True})
    assert districts_of(same) == {JONGNO: {"plug_routine": {"level_enabled": True}}}
    assert districts_of(JONGNO_OFF) == {JONGNO: {"plug_routine": {"level_enabled": False}}}
    back = proposed_thresholds(JONGNO_ON, JONGNO, {"plug_routine.level_enabled": None})
    assert districts_of(back) == {JONGNO: {"plug_routine": {"level_h": 20.0}}}
    assert not back.level_enabled_in(JONGNO_DONG_CODE)


def test_saving_the_switch_is_audited_with_the_new_keys(rules: Path, db_engine):
    seed(db_engine)
    values = {"plug_routine.level_enabled": True, "plug_routine.level_h": 30.0}
    with db_engine.begin() as conn:
        diff = update_district_thresholds(conn, who("lee"), JONGNO, values, rules, T0)
    assert diff == {
        "plug_routine.level_enabled": [None, True],
        "plug_routine.level_h": [24.0, 30.0],
    }
    th = load_thresholds(rules)
    assert th.level_enabled_in(JONGNO_DONG_CODE) and not th.level_enabled_in(ILSAN_DONG_CODE)
    with db_engine.connect() as conn:
        [audit] = conn.execute(select(AuditLog).where(AuditLog.action == ACTION)).all()
    assert audit.detail["changed"] == {k: list(v) for k, v in diff.items()}
    assert audit.detail["override"] == {"plug_routine": {"level_enabled": True, "level_h": 30.0}}
    # Back to the city's value: one more row, the switch gone from the file.
    with db_engine.begin() as conn:
        diff = update_district_thresholds(
            conn,
            who("lee"),
            JONGNO,
            {"plug_routine.level_enabled": None, "plug_routine.level_h": 24.0},
            rules,
            T0,
        )
    assert diff["plug_routine.level_enabled"] == [True, None]
    assert "districts" not in rules.read_text()


# --- learning and the tick ------------------------------------------------------------------


def _two_homes(conn, now):
    """A person in Ilsan and one in Jongno, each the same home that stops at 10:00 (no usable
    routine: the level test alone can tell)."""
    _ilsan, d1 = add_person(conn, region_id=ILSAN_DONG)
    _jongno, d2 = add_person(conn, program_id=2, region_id=JONGNO_DONG)
    for plug in (d1, d2):
        _store_home(conn, plug, now, stop_slot=20)
    return d1, d2


def _learned_homes(db_engine, th: Thresholds = CITY_ON) -> tuple[int, int]:
    """The seeded city with ``_two_homes``, their models learned at today's 00:05 with ``th``."""
    seed(db_engine)
    with db_engine.begin() as conn:
        homes = _two_homes(conn, at(TODAY, 18, 0).astimezone(UTC))
        learn_routines(conn, at(TODAY, 0, 5).astimezone(UTC), th)
    return homes


def _models(conn) -> dict[int, bool]:
    rows = conn.execute(select(DeviceRoutine.device_id, DeviceRoutine.level_model))
    return {device_id: blob is not None for device_id, blob in rows}


def test_learning_learns_levels_only_where_the_test_is_on_reading_them_only_there(db_engine):
    now = at(TODAY, 18, 0).astimezone(UTC)
    seed(db_engine)
    with db_engine.begin() as conn:
        ilsan, jongno = _two_homes(conn, now)
    level_reads: list[tuple[str, object]] = []

    def watch(conn, cursor, statement, parameters, context, executemany):
        if "device_daily.level_slots" in statement:
            level_reads.append((statement, parameters))

    event.listen(db_engine, "before_cursor_execute", watch)
    try:
        with db_engine.begin() as conn:
            summary = learn_routines(conn, at(TODAY, 0, 5).astimezone(UTC), JONGNO_ON)
    finally:
        event.remove(db_engine, "before_cursor_execute", watch)
    with db_engine.connect() as conn:
        assert _models(conn) == {ilsan: False, jongno: True}
    assert summary.with_levels == 1 and summary.devices == 2
    # The one read of the stored levels names Jongno's plug and not Ilsan's.
    [(statement, parameters)] = level_reads
    values = parameters.values() if isinstance(parameters, dict) else parameters
    flat = [v for v in values for v in (v if isinstance(v, list | tuple) else [v])]
    assert jongno in flat and ilsan not in flat, (statement, parameters)
    # On in the city, off in Jongno: the other way round.
    with db_engine.begin() as conn:
        learn_routines(conn, at(TODAY, 0, 5).astimezone(UTC), JONGNO_OFF)
    with db_engine.connect() as conn:
        assert _models(conn) == {ilsan: True, jongno: False}


def test_the_tick_raises_a_level_alert_in_the_enabled_district_only(db_engine):
    """The same stop in both homes: the level alert opens in Jongno (on there) and not in
    Ilsan (the city's off), even when Ilsan's plug has a level model from before."""
    now = at(TODAY, 18, 0).astimezone(UTC)
    ilsan, jongno = _learned_homes(db_engine)  # both learned
    with db_engine.begin() as conn:
        assert _models(conn) == {ilsan: True, jongno: True}
        run_silence_tick(conn, now, JONGNO_ON)
        assert _plug_alert(conn, ilsan) is None
        alert = _plug_alert(conn, jongno)
        assert alert is not None and alert.evidence["basis"] == "level"
        assert alert.evidence["level_h"] == 20


def test_the_tick_leaves_a_district_that_turned_it_off(db_engine):
    now = at(TODAY, 18, 0).astimezone(UTC)
    ilsan, jongno = _learned_homes(db_engine)
    with db_engine.begin() as conn:
        run_silence_tick(conn, now, JONGNO_OFF)
        assert _plug_alert(conn, jongno) is None
        assert _plug_alert(conn, ilsan).evidence["basis"] == "level"


# --- the 30-day preview -----------------------------------------------------------------------


def _stop_history() -> tuple[dict, dict]:
    """A home whose routine is never sure, stopping at 10:00 on ``TODAY``: (bits, levels)."""
    stored = history(40) | {TODAY: home_day(awake=range(14, 20))}
    bits = {day: (1 << 20) if (TODAY - day).days <= 5 else 0 for day in stored}
    bits[TODAY] = 1 << 19
    return bits, stored


def test_the_preview_counts_what_turning_the_level_test_on_would_raise():
    bits, stored = _stop_history()
    plug = PlugHistory(1, 11, None, bits, levels=stored)
    end = at(TODAY, 20).astimezone(UTC)
    current, proposed = CITY.for_region(JONGNO), JONGNO_ON.for_region(JONGNO)
    (now, new), _ = replay_counts([plug], [current, proposed], end - timedelta(days=30), end)
    assert now.alerts == 0
    assert new.alerts == 1 and new.by_basis["level"] == 1 and new.homes == 1


def test_the_preview_learns_levels_the_nightly_job_never_learned(db_engine):
    """City off: no plug has a level model; the preview learns them from the stored levels of
    the district's plugs and counts the level alert the proposal would have raised."""
    now = at(TODAY, 18, 0).astimezone(UTC)
    seed(db_engine)
    with db_engine.begin() as conn:
        _ilsan, jongno = _two_homes(conn, now)
        # today's last sign of life at 09:30, as the state row says (the preview reads bits)
        conn.execute(
            update(DeviceDaily)
            .where(DeviceDaily.device_id == jongno, DeviceDaily.day == TODAY)
            .values(activity_slots=1 << 19)
        )
        learn_routines(conn, at(TODAY, 0, 5).astimezone(UTC), CITY)
        assert not any(_models(conn).values())
    with db_engine.connect() as conn:
        preview = preview_district(
            conn, JONGNO, CITY.for_region(JONGNO), JONGNO_ON.for_region(JONGNO), now
        )
    assert preview.plugs == 1 and preview.level_test and preview.with_levels == 1
    # (the ladder's alert on the weeks without a sign of life in both; today's stop by level)
    assert preview.current.by_basis["level"] == 0
    assert preview.proposed.by_basis["level"] == 1
    assert preview.proposed.alerts == preview.current.alerts + 1
    assert preview.end.astimezone(LOCAL_TZ).date() == TODAY


def test_the_replay_fast_path_loads_levels_only_where_the_test_is_on(db_engine):
    """``replay.fast`` mirrors the tick: the level facts of the plugs whose region has the test
    on (both plugs have a model here), none for the others."""
    from dashboard.replay.fast import load_base, load_level_facts

    now = at(TODAY, 18, 0).astimezone(UTC)
    ilsan, jongno = _learned_homes(db_engine)
    with db_engine.connect() as conn:
        ids = [ilsan, jongno]
        base = load_base(conn, ids, JONGNO_ON, now)
        assert set(load_level_facts(conn, ids, JONGNO_ON, now, base)) == {jongno}
        assert set(load_level_facts(conn, ids, JONGNO_OFF, now, base)) == {ilsan}
        assert load_level_facts(conn, ids, CITY, now, base) == {}


def test_detection_md_lists_the_district_keys():
    """docs/detection.md's district section names exactly the keys a district may override."""
    import re

    from dashboard.settings import PROJECT_ROOT

    text = " ".join((PROJECT_ROOT / "docs" / "detection.md").read_text("utf-8").split())
    section = text[text.index("**Overrides.**") :]
    listed = {
        table: tuple(re.findall(r"`(\w+)`", keys))
        for table, keys in re.findall(r"`\[districts\.<code>\.(\w+)\]` \(([^)]*)\)", section)[:2]
    }
    assert listed == config.DISTRICT_KEYS


# --- the live page's watch list ---------------------------------------------------------------


def _level_s(conn, device_id: int, th: Thresholds, now) -> float:
    from dashboard.rules.facts import enrich, load_facts_by_id, with_history
    from dashboard.rules.plug import plug_no_change

    facts, _readings = enrich(conn, load_facts_by_id(conn, [device_id]), th, now)
    (f,) = with_history(conn, facts)
    return plug_no_change(f, th.for_region(f.region_code), now).evidence["level_s"]


def test_the_watch_list_lists_a_home_drifting_by_its_levels_where_the_test_is_on(db_engine):
    """Before 관심: a home halfway to the level threshold is on the watch list where its
    district has the level test on, with the level sentence, and not in the other district
    (the same home, no usable routine); the district's threshold decides, not the city's."""
    from queries.watch import drifting_homes

    now = at(TODAY, 18, 0).astimezone(UTC)
    _ilsan, jongno = _learned_homes(db_engine)
    with db_engine.connect() as conn:
        s = _level_s(conn, jongno, JONGNO_ON, now)
        assert s > 0
        # Halfway: the evidence is between half the district's threshold and the threshold.
        halfway = proposed_thresholds(
            CITY, JONGNO, {"plug_routine.level_enabled": True, "plug_routine.level_h": 1.5 * s}
        )
        watch = drifting_homes(conn, now, thresholds=halfway)
        not_yet = drifting_homes(
            conn,
            now,
            thresholds=proposed_thresholds(
                CITY, JONGNO, {"plug_routine.level_enabled": True, "plug_routine.level_h": 3 * s}
            ),
        )
    assert list(watch.rows["device_id"]) == [jongno]  # not Ilsan's: the city has it off
    evidence = watch.rows.iloc[0]["evidence"]
    assert evidence["basis"] == "level" and evidence["level_h"] == 1.5 * s
    assert evidence["level_days"] > 0 and evidence["level_above_days"] <= evidence["level_days"]
    from dashboard.detection.explain import explain_plug

    assert "night level" in explain_plug(evidence, "en")
    assert not_yet.rows.empty and not_yet.candidates == 2


def test_the_watch_list_judges_each_home_by_its_districts_routine_thresholds(db_engine):
    """A district more sensitive than the city (a shorter min_quiet_h and fewer missed
    half-hours) lists its drifting home while the same quiet elsewhere is not yet listed."""
    from queries.watch import drifting_homes
    from tests.routine_support import give_routine

    seed(db_engine)
    with db_engine.begin() as conn:
        _i, ilsan = add_person(conn, region_id=ILSAN_DONG)
        _j, jongno = add_person(conn, program_id=2, region_id=JONGNO_DONG)
        for plug in (ilsan, jongno):
            give_routine(conn, plug, T0, quiet_h=1.9)  # under the city's min_quiet_h of 2 h
    sensitive = proposed_thresholds(
        CITY, JONGNO, {"plug_routine.min_quiet_h": 1.0, "plug_routine.attention_slots": 1.0}
    )
    with db_engine.connect() as conn:
        city = drifting_homes(conn, T0, thresholds=CITY)
        district = drifting_homes(conn, T0, thresholds=sensitive)
    assert city.rows.empty and city.candidates == 0
    assert list(district.rows["device_id"]) == [jongno]
    assert district.candidates == 2  # both scored; Ilsan judged by the city's 2 h


def test_the_alert_detail_quotes_the_thresholds_of_the_alerts_district(tmp_path, monkeypatch):
    """The routine score in words names the thresholds the alert was judged by: a district's own
    관심 step, not the city's."""
    from dashboard.ui.routine_panel import score_words

    rules = tmp_path / "rules.toml"
    text = config.DEFAULT_PATH.read_text(encoding="utf-8")
    override = f'\n[districts."{JONGNO}".plug_routine]\nattention_slots = 1.5\n'
    rules.write_text(text + override, "utf-8")
    monkeypatch.setattr(config, "DEFAULT_PATH", rules)
    evidence = {
        "routine_share": 1.0,
        "routine_active_days": 28,
        "routine_days": 28,
        "routine_expected_slots": 3.0,
    }
    city_step = f"{CITY.plug_routine.attention_slots:g}"
    assert f"관심 {city_step}" in score_words(evidence, 28, ILSAN_DONG_CODE)
    in_jongno = score_words(evidence, 28, JONGNO_DONG_CODE)
    assert "관심 1.5" in in_jongno and f"관심 {city_step}" not in in_jongno


def test_a_report_makes_a_scored_plug_with_a_level_model_a_candidate_again(db_engine):
    """The level test's S moves with each stored half-hour, and ingest's pre-filter does not
    judge a plug quiet for less than the ladder's first stage: so a plug with a level model
    that reported since it was last scored is a tick candidate before its routine's due time;
    one with only a routine (no level model) waits for it, as before."""
    from dashboard.rules.engine import _candidates
    from dashboard.rules.facts import load_facts

    now = at(TODAY, 12, 0).astimezone(UTC)
    ilsan, jongno = _learned_homes(db_engine, JONGNO_ON)  # a model in Jongno only

    def candidates(at_: datetime, seen: datetime, due: datetime | None) -> set[int]:
        with db_engine.begin() as conn:
            conn.execute(update(DeviceState).values(last_seen_at=seen, rules_due_at=due))
        with db_engine.connect() as conn:
            found = {f.device_id for f in load_facts(conn, _candidates(conn, JONGNO_ON, at_))}
        return found & {ilsan, jongno}

    with db_engine.begin() as conn:
        conn.execute(
            update(DeviceRoutine).values(checked_at=now, score_due_at=now + timedelta(hours=9))
        )
    later = now + timedelta(minutes=30)
    # no report since: the due time the tick stored when it judged them has passed
    assert candidates(later, seen=now - timedelta(minutes=5), due=later) == set()
    # a report since (ingest cleared the due time)
    assert candidates(later, seen=later - timedelta(minutes=5), due=None) == {jongno}


def test_a_report_stored_after_the_scoring_makes_the_plug_a_candidate_whatever_its_stamp(
    db_engine,
):
    """What brings the plug back is a report *stored* since the tick scored it, not one stamped
    since: the tick marks the scoring ``now`` less up to ``score_every_min`` − 1 minutes
    (``records.mark_checked``), and a reading can arrive after its stamp (a buffered backlog
    sent after the live reading, or the vendor's delay across the tick). Such a report stores
    a half-hour level the scoring did not see, clears ``rules_due_at`` (ingest), and must not
    wait hours for the routine's due time."""
    from dashboard.detection.records import mark_checked
    from dashboard.rules.engine import _candidates
    from dashboard.rules.facts import load_facts
    from dashboard.rules.schedule import store_due

    now = at(TODAY, 12, 0).astimezone(UTC)
    ilsan, jongno = _learned_homes(db_engine, JONGNO_ON)  # a model in Jongno only
    every = JONGNO_ON.plug_routine.score_every_min
    with db_engine.begin() as conn:
        # the tick at ``now`` scored both on the last report, stamped 40 min before, and stored
        # their due times (the routine's: 9 h ahead; the rules': an hour ahead)
        conn.execute(update(DeviceState).values(last_seen_at=now - timedelta(minutes=40)))
        mark_checked(
            conn,
            [ilsan, jongno],
            now,
            every,
            dict.fromkeys((ilsan, jongno), now + timedelta(hours=9)),
        )
        store_due(
            conn,
            [(i, now - timedelta(minutes=40), now + timedelta(hours=1)) for i in (ilsan, jongno)],
        )
        # then a reading stamped 12 min before the scoring is stored (ingest: last_seen_at,
        # rules_due_at cleared)
        conn.execute(
            update(DeviceState).values(last_seen_at=now - timedelta(minutes=12), rules_due_at=None)
        )
    later = now + timedelta(minutes=30)
    with db_engine.connect() as conn:
        found = {f.device_id for f in load_facts(conn, _candidates(conn, JONGNO_ON, later))}
    assert found & {ilsan, jongno} == {jongno}
