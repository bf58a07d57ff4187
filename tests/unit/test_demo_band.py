"""The demo's band breaks (``demo.plugs._day_band``): the same half-hours as ingest's band
(``band.widen`` reading by reading; a silence is no break)."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from dashboard.demo.plugs import _day_band
from dashboard.detection.band import widen, widen_each

HOUR = 3600


def by_reading(watts, reported, band_w: float) -> list[list[bool]]:
    """Each plug's readings in order as ingest follows them (``ingest.state.merge_state``)."""
    out = []
    for w, rep in zip(watts, reported, strict=True):
        low = high = None
        broke = []
        for value, seen in zip(w.tolist(), rep.tolist(), strict=True):
            if not seen:
                broke.append(False)
                continue
            low, high, b = widen(low, high, value, band_w)
            broke.append(b)
        out.append(broke)
    return out


@given(
    data=st.data(),
    m=st.integers(1, 4),
    days=st.integers(1, 3),
    band_w=st.sampled_from([10.0, 100.0]),
)
@settings(max_examples=60, deadline=None)
def test_the_demo_breaks_the_band_where_ingest_would(data, m, days, band_w):
    hours = days * 24
    levels = st.sampled_from([0.5, 1.0, 2.5, 60.0, 95.0, 120.0, 150.0, 240.0])
    watts = np.array(data.draw(st.lists(levels, min_size=m * hours, max_size=m * hours)))
    watts = watts.reshape(m, hours).astype(np.float32)
    reported = np.array(data.draw(st.lists(st.booleans(), min_size=m * hours, max_size=m * hours)))
    reported = reported.reshape(m, hours)
    off = np.array(data.draw(st.lists(st.integers(0, HOUR - 1), min_size=m, max_size=m)))
    half = (off >= HOUR // 2).astype(np.int64)
    slots = 2 * np.arange(24, dtype=np.int64)[None, :] + half[:, None]
    slot_bits = np.left_shift(np.int64(1), slots)
    got = _day_band(watts, reported, slot_bits, days, band_w)
    expected = by_reading(watts.astype(np.float64), reported, band_w)
    for i in range(m):
        for d in range(days):
            hour = slice(d * 24, (d + 1) * 24)
            if not reported[i, hour].any():
                assert np.isnan(got[i, d])
                continue
            bits = sum(int(slot_bits[i, h]) for h, b in enumerate(expected[i][hour]) if b)
            assert int(got[i, d]) == bits


def test_many_plugs_widen_as_one():
    low = np.array([np.nan, 10.0, 10.0, 10.0])
    high = np.array([np.nan, 60.0, 60.0, 60.0])
    watts = np.array([5.0, 100.0, 120.0, 0.0])
    lo, hi, broke = widen_each(low, high, watts, 100.0)
    for k in range(4):
        one = widen(
            None if np.isnan(low[k]) else low[k],
            None if np.isnan(high[k]) else high[k],
            watts[k],
            100.0,
        )
        assert (lo[k], hi[k], broke[k]) == one
