"""A district table's numbers are numbers: ``level_h = true`` is refused by name, not read as
1.0 (a level test twenty-four times as sensitive as the city's)."""

from __future__ import annotations

import pytest

from dashboard.rules.config import RulesConfigError, Thresholds, parse_thresholds
from dashboard.rules.districts import proposed_thresholds
from dashboard.rules.edit import ThresholdsInvalid

JONGNO = "1111000000"


@pytest.mark.parametrize(
    ("section", "line"),
    [
        ("plug_routine", "level_h = true"),
        ("plug_routine", "attention_slots = true"),
        ("plug_routine", 'level_h = "24"'),
        ("plug_no_change", "default_hours = true"),
    ],
)
def test_a_district_number_given_as_true_or_text_is_named(section, line):
    key = line.split(" ")[0]
    with pytest.raises(RulesConfigError) as err:
        parse_thresholds(f'[districts."{JONGNO}".{section}]\n{line}\n')
    assert f"districts.{JONGNO}.{section}.{key}: Input should be a valid number" in str(err.value)


def test_the_editor_refuses_true_for_the_level_threshold():
    with pytest.raises(ThresholdsInvalid) as err:
        proposed_thresholds(Thresholds(), JONGNO, {"plug_routine.level_h": True})
    assert "plug_routine.level_h" in err.value.problems


def test_whole_numbers_still_read():
    th = parse_thresholds(f'[districts."{JONGNO}".plug_routine]\nlevel_h = 30\nmin_quiet_h = 3\n')
    assert th.for_region(JONGNO).plug_routine.level_h == 30.0


@pytest.mark.parametrize("gu_first", [True, False])
def test_a_gus_own_table_wins_over_its_sis_whatever_the_order(gu_first):
    """고양시 (4128000000) and its 일산동구 (4128500000) both have tables: a person in 일산동구
    is judged with 일산동구's, one elsewhere in 고양시 with 고양시's."""
    tables = {
        "4128500000": "level_enabled = false\nlevel_h = 30\n",
        "4128000000": "level_enabled = true\nlevel_h = 12\n",
    }
    order = list(tables) if gu_first else list(reversed(tables))
    th = parse_thresholds(
        "".join(f'[districts."{code}".plug_routine]\n{tables[code]}' for code in order)
    )
    assert not th.level_enabled_in("4128552000")
    assert th.for_region("4128552000").plug_routine.level_h == 30
    assert th.for_region("4128500000").plug_routine.level_h == 30  # the preview's own code
    assert th.level_enabled_in("4128157000")  # 덕양구: 고양시's
    assert th.for_region("4128000000").plug_routine.level_h == 12
