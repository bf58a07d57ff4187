"""A quiet spell's waits are remembered per routine (``routine._spell_waits``): scoring a spell
tick after tick, or two spells alternately, gives what a routine scored for the first time
gives."""

from __future__ import annotations

from dataclasses import replace
from datetime import date, datetime, timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from dashboard.detection.routine import learn_routine, next_stage_at, score_quiet
from dashboard.settings import LOCAL_TZ

TODAY = date(2026, 11, 30)  # a Monday

days = st.dictionaries(
    st.integers(1, 28).map(lambda k: TODAY - timedelta(days=k)),
    st.integers(0, (1 << 48) - 1),
    min_size=14,
    max_size=28,
)
moment = st.tuples(st.integers(0, 3 * 48 - 1), st.integers(1, 3 * 48), st.sampled_from([0.9, 0.95]))


def _at(half_hours: int) -> datetime:
    start = datetime(TODAY.year, TODAY.month, TODAY.day, tzinfo=LOCAL_TZ)
    return start + timedelta(minutes=30 * half_hours - 7)


@settings(max_examples=100, deadline=None)
@given(days=days, moments=st.lists(moment, min_size=1, max_size=25))
def test_a_remembered_spell_scores_as_a_new_one(days, moments):
    routine = learn_routine(days, TODAY)
    for since_h, length, quantile in moments:
        since, now = _at(since_h), _at(since_h + length)
        got = score_quiet(routine, since, now, LOCAL_TZ, quantile)
        want = score_quiet(replace(routine), since, now, LOCAL_TZ, quantile)
        assert got == want
        kw = dict(quantile=quantile, attention_slots=2.5, min_quiet_h=2.0)
        assert next_stage_at(routine, since, now, LOCAL_TZ, **kw) == next_stage_at(
            replace(routine), since, now, LOCAL_TZ, **kw
        )


def test_one_spell_at_two_quantiles_scores_as_new_ones():
    """The memo keeps each quantile's usual return apart (thresholds re-read with another
    ``min_share`` while a spell lasts): a mutant keeping only the first passed the test above."""
    routine = learn_routine({TODAY - timedelta(days=k): 0xFFF << 14 for k in range(1, 29)}, TODAY)
    since, now = _at(20), _at(40)
    for quantile in (0.9, 0.5, 0.9):
        got = score_quiet(routine, since, now, LOCAL_TZ, quantile)
        assert got == score_quiet(replace(routine), since, now, LOCAL_TZ, quantile)
