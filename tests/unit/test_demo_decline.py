"""The demo city's plugs carry what the slow-risk flag reads, and its few declining households
are the ones the product's own judgement flags (``detection.decline.score_decline``)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import numpy as np
import pytest

from dashboard.demo import plugs
from dashboard.demo.clock import TimeGrid
from dashboard.demo.routines import tv_household
from dashboard.detection.decline import DayFigures, score_decline

END = datetime(2026, 12, 2, 3, 0, tzinfo=UTC)
DAYS = 90
MARGIN = 5.0


def _signals(n: int, declining: bool, monkeypatch) -> tuple[TimeGrid, dict[str, np.ndarray]]:
    grid = TimeGrid.make(END, DAYS)
    power, _lux = tv_household(np.random.default_rng(7), grid, n)
    ids = np.arange(1000, 1000 + n)
    monkeypatch.setattr(plugs, "DECLINE_SHARE", 1.0 if declining else 0.0)
    plugs._decline(power, ids, grid.hours)
    reported = np.zeros(power.shape, dtype=bool)
    reported[:, : grid.hours] = True
    slot_bits = np.left_shift(np.int64(1), 2 * np.arange(24, dtype=np.int64))[None, :].repeat(n, 0)
    return grid, plugs._day_signals(power, reported, slot_bits, grid.days, MARGIN)


def _flagged(grid: TimeGrid, signals: dict[str, np.ndarray], i: int) -> bool:
    days = {
        grid.day0 + timedelta(days=k): DayFigures(
            int(signals["above_slots"][i, k]).bit_count(),
            signals["watts_sum"][i, k] / signals["watts_n"][i, k],
        )
        for k in range(grid.days)
        if signals["watts_n"][i, k] > 0
    }
    judged = grid.day0 + timedelta(days=grid.days - 2)  # yesterday, the last whole day
    return score_decline(days, judged).flagged


def test_day_signals_are_what_ingest_keeps(monkeypatch) -> None:
    grid, s = _signals(20, declining=False, monkeypatch=monkeypatch)
    last = grid.days - 1  # the day of END: readings only up to 12:00 Seoul
    assert np.all(s["watts_n"][:, : grid.days - 1] == 24)
    assert np.all((s["watts_n"][:, last] > 0) & (s["watts_n"][:, last] < 24))
    # Nights are the TV's standby: the ceiling sits just above it, and the evening's TV
    # hours are above it.
    assert np.nanmedian(s["night_high_w"]) < 3.0
    above = np.vectorize(lambda v: int(v).bit_count())(s["above_slots"][:, :-1])
    assert 3 <= np.median(above) <= 14
    evening = np.int64(1) << np.int64(2 * 20)  # 20:00, when most watch
    assert np.mean((s["above_slots"][:, :-1].astype(np.int64) & evening) != 0) > 0.5


@pytest.mark.parametrize("declining", [False, True])
def test_declining_households_are_flagged_and_others_are_not(declining, monkeypatch) -> None:
    grid, s = _signals(30, declining, monkeypatch)
    flagged = [_flagged(grid, s, i) for i in range(30)]
    if declining:
        assert sum(flagged) >= 27  # the evaluation's TV plugs: 8 of 8 for most homes
    else:
        assert sum(flagged) <= 1


def test_the_share_of_declining_plugs_is_small_and_fixed_by_the_ids() -> None:
    grid = TimeGrid.make(END, DAYS)
    chosen = []
    for start in range(0, 32_000, plugs.CHUNK):
        ids = np.arange(start + 1, start + 1 + plugs.CHUNK)
        power = np.full((plugs.CHUNK, grid.slots), 100.0)
        power[:, ::2] = 1.0  # a TV on every other hour
        before = power.copy()
        plugs._decline(power, ids, grid.hours)
        chosen.append(int(np.any(power != before, axis=1).sum()))
    assert 0.002 * 32_000 <= sum(chosen) <= 0.006 * 32_000
