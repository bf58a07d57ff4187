"""The level test's CUSUM resumes from its model's memo (``levels._run``): whatever the order of
the reports, late half-hours and restarts, it gives what a run from the start gives."""

from __future__ import annotations

import dataclasses
from datetime import date, datetime, timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from dashboard.detection import levels
from dashboard.settings import LOCAL_TZ
from tests.unit.test_plug_levels import DAY_W, TODAY, at, history, home_day

MODEL = levels.learn_levels(history(), TODAY)
FIRST = TODAY - timedelta(days=levels.LOOKBACK_DAYS - 1)

level = st.one_of(st.just(levels.NO_LEVEL), st.integers(0, 254))
# One step: advance the clock by some half-hours, store a level at the current half-hour or a
# late one at an earlier half-hour, maybe score from a sign of life.
step = st.tuples(
    st.integers(0, 5), st.integers(-60, 0), level, st.one_of(st.none(), st.integers(0, 150))
)


def fresh(model: levels.LevelModel) -> levels.LevelModel:
    return dataclasses.replace(model)  # the same model, an empty memo


@settings(max_examples=150, deadline=None)
@given(
    carry=st.sampled_from([(0.0, -1), (7.5, 3), (30.0, 0)]),
    learned_days_ago=st.integers(0, levels.LOOKBACK_DAYS + 1),
    steps=st.lists(step, min_size=1, max_size=40),
)
def test_a_resumed_run_scores_as_a_run_from_the_start(carry, learned_days_ago, steps):
    model = dataclasses.replace(
        MODEL,
        learned_on=TODAY - timedelta(days=learned_days_ago),
        carry=carry[0],
        carry_back=carry[1],
    )
    days: dict[date, bytes] = {FIRST - timedelta(days=1): home_day()}
    stored = {
        d: bytearray([levels.NO_LEVEL] * 96) for d in (FIRST + timedelta(k) for k in range(4))
    }
    clock = datetime.combine(FIRST, datetime.min.time(), LOCAL_TZ) + timedelta(hours=1)
    end = at(TODAY, 23, 59)
    for advance, back, q, life in steps:
        clock = min(clock + timedelta(minutes=30 * advance), end)
        when = max(clock + timedelta(minutes=30 * back), clock - timedelta(days=3))
        day = when.date()
        if day in stored:
            stored[day][levels.slot_of(when)] = q
        days.update({d: bytes(v) for d, v in stored.items()})
        start = None if life is None else clock - timedelta(minutes=30 * life)
        got = levels.score_levels(model, days, clock, LOCAL_TZ, start)
        want = levels.score_levels(fresh(model), days, clock, LOCAL_TZ, start)
        assert (got.s, got.since) == (want.s, want.since)


def test_the_memo_is_small_and_not_shared_by_a_replaced_model():
    """A worker caches thousands of models: the memo holds one run's state and at most
    ``LOOKBACK_DAYS`` days of level bytes; ``replace`` (the carry) starts a new one."""
    days = history(4) | {TODAY: home_day(awake=range(14, 20))}
    levels.score_levels(MODEL, days, at(TODAY, 20), LOCAL_TZ)
    memo = MODEL.memo[0]
    assert memo is not None
    assert sum(len(b) for b in memo[-1]) <= levels.LOOKBACK_DAYS * levels.SLOTS
    carried = dataclasses.replace(MODEL, carry=3.0)
    assert carried.memo is not MODEL.memo and carried.memo[0] is None


def test_a_late_half_hour_on_an_earlier_day_is_read_again():
    """The memo spans the days since the learning midnight: a half-hour stored late on one of
    them (a back-filled reading) is scored, not the memo's old state."""
    yesterday = TODAY - timedelta(days=1)
    model = dataclasses.replace(MODEL, learned_on=yesterday, carry=0.0, carry_back=-1)
    quiet = home_day(awake=range(0))  # the night load all day
    days = {yesterday: quiet, TODAY: home_day(awake=range(0), until=20)}
    before = levels.score_levels(model, days, at(TODAY, 9, 50), LOCAL_TZ)
    assert before.s > 0 and before.since is not None and before.since.date() == yesterday
    late = bytearray(quiet)
    late[40] = round(levels.level_byte(DAY_W))  # the TV on at 20:00 yesterday
    days[yesterday] = bytes(late)
    got = levels.score_levels(model, days, at(TODAY, 9, 55), LOCAL_TZ)
    want = levels.score_levels(fresh(model), days, at(TODAY, 9, 55), LOCAL_TZ)
    assert (got.s, got.since) == (want.s, want.since) and got.since > before.since


def test_a_resumed_run_keeps_the_gap_before_its_next_stored_half_hour():
    """The memo's state includes the last stored half-hour before it: after a gap in the
    reports the next stored half-hour covers the gap (``MAX_COVER``) whether the run resumes or
    starts over (a mutant resuming without it passed the property test above)."""
    model = dataclasses.replace(MODEL, learned_on=TODAY, carry=0.0, carry_back=-1)
    quiet = bytearray(home_day(awake=range(0)))  # the night load all day: S rises by day
    for slot in range(20, 23):
        quiet[slot] = levels.NO_LEVEL  # no report 10:00-11:30
    days = {TODAY: bytes(quiet)}
    levels.score_levels(model, days, at(TODAY, 10, 40), LOCAL_TZ)  # the memo: inside the gap
    got = levels.score_levels(model, days, at(TODAY, 11, 40), LOCAL_TZ)
    want = levels.score_levels(fresh(model), days, at(TODAY, 11, 40), LOCAL_TZ)
    assert got.s > 0 and (got.s, got.since) == (want.s, want.since)


def test_a_score_at_an_earlier_half_hour_is_not_taken_from_a_later_memo():
    """Scored at 15:00 and then at 10:00 of the same day (a report stamped late, a caller
    asking about the past): the earlier score is the one a run from the start gives."""
    model = dataclasses.replace(MODEL, learned_on=TODAY, carry=0.0, carry_back=-1)
    days = {TODAY: home_day(awake=range(0))}
    late = levels.score_levels(model, days, at(TODAY, 15), LOCAL_TZ)
    got = levels.score_levels(model, days, at(TODAY, 10), LOCAL_TZ)
    want = levels.score_levels(fresh(model), days, at(TODAY, 10), LOCAL_TZ)
    assert (got.s, got.since) == (want.s, want.since) and got.s < late.s


def test_the_run_from_the_sign_of_life_keeps_its_own_memo():
    """A score that runs again from the last sign of life (``start``) runs twice; each run has
    its own place in the memo, so neither evicts the other at every report."""
    model = dataclasses.replace(MODEL, learned_on=TODAY, carry=0.0, carry_back=-1)
    days = {TODAY: home_day(awake=range(0))}
    levels.score_levels(model, days, at(TODAY, 15), LOCAL_TZ, at(TODAY, 12))
    first, again = model.memo
    assert first is not None and again is not None and first[0] != again[0]
