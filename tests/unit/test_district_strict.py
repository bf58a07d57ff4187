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
