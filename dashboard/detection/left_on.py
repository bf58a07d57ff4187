"""A load left on: a plug whose power has stayed above its standby for far longer than ever.

A TV that flickers by 20 W, or a compressor that starts on a plug whose nights are flat, moves
the power beyond the background's step at every reading: each move counts as a sign of life, so
neither the routine nor the ladder ever sees a quiet spell, and a person who collapsed with the
TV on (or beside a new cycling load) was not alerted within 96 h. What such a line does not do is
come back down: a person switches the TV off, goes to bed, leaves. In the evaluation's demo
homes (TV plugs) the longest run of readings above the unattended load's ceiling in any 28 days
was 5–12 h.

The test reads ``device_state.above_since`` (ingest: the first reading of the current run above
the ceiling ``ceiling(background, margin)``, the same line ``device_daily.above_slots`` is
drawn against) against the home's longest such run of its last ``window_days`` days: 관심 once
the run is ``on_factor`` (2) times that long (at least ``on_min_h``), 위험 at twice, 심각 at four
times, as the stillness test does (``detection.stillness``). A whole-home meter whose days run
above its nights' ceiling from morning to night has a long record, and the test stays behind
the ladder there; it only ever adds an earlier stage.

The record is read from the stored half-hours above the ceiling: up to two half-hours without
such a reading between two with one are bridged (an hourly plug fills every other half-hour,
and its readings drift across the boundary; a TV off for half an hour lengthens the record,
which only makes the test later), three end the run, and so does a day without a row. The live
run ends the same way: a reading after more than ``MAX_GAP`` (90 min) without any report
(heartbeats count) starts a new run, as the record would, so a TV switched off while the Wi-Fi
was down is not counted as on through the outage. A run still going at the window's end is
left out, as the stillness record leaves out a still run with no change after it: else the
nightly learning would take a run that has not ended (the very one the test is judging) as the
home's normal.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date, timedelta

import numpy as np

from dashboard.detection.background import Background, ceiling
from dashboard.detection.stillness import SLOTS_PER_DAY, day_rows

# Two half-hours above the ceiling at most this far apart belong to one run: up to two
# half-hours between without such a reading (an hourly plug whose readings drift across the
# half-hour boundary leaves two). The live run restarts after the same silence (MAX_GAP).
BRIDGE = 3
MAX_GAP = timedelta(minutes=90)
# Only a plug whose unattended load is a standby (its ceiling at most this): a plug on one
# appliance. A whole-home meter's nights hold the fridge and more (ceilings of 450–6,000 W in
# the tune part's London homes), its days run above them whenever someone is in, and on the
# tune part the test gave those two homes only false alarms (2 in 730 household-days) and no
# stop earlier; every gain was on the TV plugs (ceilings of 6–8 W). docs/detection.md.
STANDBY_MAX_W = 50.0


def judges(background: Background | None, margin_w: float) -> bool:
    """Whether the test judges a plug with this learned unattended load: a standby's."""
    return background is not None and ceiling(background, margin_w) <= STANDBY_MAX_W


def standby_high_max(margin_w: float) -> float:
    """The highest learned night high (``device_routines.background_high_w``) a plug the test
    judges can have: for a query's candidates, a superset of :func:`judges` (the ceiling adds
    the margin, or 10 % of the high where that is more)."""
    return STANDBY_MAX_W - margin_w


def longest_on_h(
    above: Mapping[date, int], first: date, until: date, min_days: int
) -> float | None:
    """The longest run, in hours, of half-hours above the ceiling over the days ``first`` ≤ day
    < ``until`` that have a row in ``above`` (local day → 48 bits, ``above_slots``); 0.0 when no
    half-hour was above, None with fewer than ``min_days`` such days."""
    rows = day_rows(above, first, until, min_days)
    return None if rows is None else longest_on_in_rows(*rows)


def longest_on_in_rows(above: np.ndarray, day_numbers: np.ndarray) -> float:
    """:func:`longest_on_h` over rows of days already in arrays: ``above`` (days, 48) booleans,
    ``day_numbers`` each row's day (ascending; a gap between two is a day without a row, which
    ends a run). The nightly learning and the threshold preview share it."""
    at = np.flatnonzero(above.ravel())  # (row, slot) of each half-hour above, in time order
    if at.size == 0:
        return 0.0
    row = at // SLOTS_PER_DAY
    # within a stretch of consecutive days with rows, the flat distance is the time
    breaks = np.concatenate(([0], np.cumsum(np.diff(day_numbers) > 1)))
    joined = (np.diff(at) <= BRIDGE) & (breaks[row[1:]] == breaks[row[:-1]])
    # each run: from its first half-hour to its last, both whole
    starts = np.flatnonzero(np.concatenate(([True], ~joined)))
    ends = np.concatenate((starts[1:] - 1, [at.size - 1]))
    if at[-1] >= above.size - BRIDGE:  # the last run may still be going: not a record yet
        starts, ends = starts[:-1], ends[:-1]
    if starts.size == 0:
        return 0.0
    return float((at[ends] - at[starts] + 1).max()) / 2
