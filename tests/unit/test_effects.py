"""The effect estimators (dashboard.analysis.effects) on simulated data with a known effect.

Series are seeded: negative-binomial monthly counts with a seasonal pattern and a gentle trend,
the detectors multiplying the level by (1 + effect) from go-live. Each property is checked over
many seeds, so a test fails when the interval is systematically off, not on one unlucky draw.
"""

from __future__ import annotations

from datetime import date

import numpy as np
import pandas as pd
import pytest

from dashboard.analysis.complaints import complaint_effects
from dashboard.analysis.effects import (
    MIN_COMPLAINTS,
    MIN_MONTHS,
    MIN_MONTHS_BEFORE_ITS,
    difference_in_differences,
    interrupted_time_series,
    month_range,
    sentence,
    share_after,
)

GOLIVE = date(2024, 1, 1)
SEEDS = range(40)


def series(
    seed: int, effect: float, *, before: int = 24, after: int = 24, base: float = 40.0
) -> pd.Series:
    rng = np.random.default_rng(seed)
    every = month_range(date(2015, 1, 1), date(2035, 1, 1))
    at = every.index(GOLIVE)
    months = every[at - before : at + after]
    moy = np.array([m.month for m in months])
    trend = 1 + 0.03 * np.arange(len(months)) / 12
    mu = base * (1 + 0.3 * np.sin(2 * np.pi * moy / 12)) * trend
    mu = mu * np.where([share_after(m, GOLIVE) > 0 for m in months], 1 + effect, 1)
    k = 20  # negative binomial: over-dispersed like real complaint counts
    return pd.Series(rng.negative_binomial(k, k / (k + mu)), index=months)


def test_its_recovers_a_known_fall_of_60_percent():
    results = [interrupted_time_series(series(s, -0.6), GOLIVE) for s in SEEDS]
    covered = sum(r.low <= -0.6 <= r.high for r in results)
    assert covered >= 0.8 * len(results)  # nominal 95 %; measured 87–93 % (docs/analysis.md)
    assert all(r.high < 0 for r in results)  # a fall of this size is always detected
    assert np.median([r.change for r in results]) == pytest.approx(-0.6, abs=0.05)
    one = results[0]
    assert one.low <= -0.6 <= one.high and one.significant
    assert (one.months_before, one.months_after, one.seasonality) == (24, 24, "months")


def test_its_finds_no_effect_where_there_is_none():
    results = [interrupted_time_series(series(s, 0.0), GOLIVE) for s in SEEDS]
    assert sum(r.low <= 0 <= r.high for r in results) >= 0.85 * len(results)
    # Extrapolating the slope makes single estimates spread (docs/analysis.md); centred near 0.
    assert abs(np.median([r.change for r in results])) < 0.1


def test_its_with_one_year_uses_harmonic_seasonality():
    result = interrupted_time_series(series(3, -0.6, before=12, after=9), GOLIVE)
    assert result.seasonality == "harmonic" and result.conclusive
    short = interrupted_time_series(series(3, -0.6, before=6, after=5), GOLIVE)
    assert short.seasonality == "none"


def test_the_counterfactual_reaches_no_further_after_go_live_than_the_data_before():
    result = interrupted_time_series(series(2, -0.6, before=12, after=36), GOLIVE)
    assert (result.months_before, result.months_after) == (12, 12)
    assert result.last_month == date(2024, 12, 1) and len(result.fit) == 24


def test_the_fit_has_a_counterfactual_only_after_go_live():
    fit = interrupted_time_series(series(1, -0.6), GOLIVE).fit
    after = fit["month"] >= GOLIVE
    assert fit.loc[~after, "counterfactual"].isna().all()
    assert (fit.loc[after, "counterfactual"] > fit.loc[after, "fitted"]).all()
    # A Poisson GLM with a level term reproduces the post-period's observed total.
    assert fit.loc[after, "fitted"].sum() == pytest.approx(fit.loc[after, "observed"].sum())


@pytest.mark.parametrize(
    ("before", "after", "base", "warning", "rule"),
    [
        (MIN_MONTHS_BEFORE_ITS - 1, 24, 40.0, "few_months_before", "at least 12 before"),
        (24, MIN_MONTHS - 1, 40.0, "few_months_after", "and 6 after"),
        (24, 24, 1.0, "few_complaints", f"at least {MIN_COMPLAINTS}"),  # ~24 before go-live
    ],
)
def test_too_few_data_give_a_warning_not_a_conclusion(before, after, base, warning, rule):
    result = interrupted_time_series(series(0, -0.6, before=before, after=after, base=base), GOLIVE)
    assert result.warning == warning and not result.conclusive and result.change is None
    text = sentence(result, "en", "the 5 sites")
    assert text.startswith("Too few data to conclude for the 5 sites") and rule in text
    assert "자료가 부족해" in sentence(result, "ko", "5곳")


def test_a_partial_go_live_month_counts_in_proportion():
    assert share_after(date(2024, 1, 1), date(2024, 1, 2)) == pytest.approx(30 / 31)
    assert share_after(date(2023, 12, 1), date(2024, 1, 2)) == 0
    assert share_after(date(2024, 2, 1), date(2024, 1, 2)) == 1


def test_sentences_state_the_interval():
    fell = interrupted_time_series(series(0, -0.6), GOLIVE)
    text = sentence(fell, "en", "the 5 sites")
    low, high = sorted((round(-fell.high * 100), round(-fell.low * 100)))
    assert text == (
        f"Complaints at the 5 sites fell by {round(-fell.change * 100)}% (95% CI {low}–{high}%) "
        "after installation, beyond the seasonal pattern."
    )
    assert "감소했습니다(95% 신뢰구간" in sentence(fell, "ko", "5곳")
    null = next(
        r
        for r in (interrupted_time_series(series(s, 0.0), GOLIVE) for s in SEEDS)
        if r.low < 0 < r.high
    )
    assert "not distinguishable from no change" in sentence(null, "en", "the 5 sites")


# --- difference in differences ------------------------------------------------------------------


def panel(seed: int, effect: float, treated: int = 5, controls: int = 3) -> pd.DataFrame:
    """Monthly counts per place: a shared seasonal pattern and trend, place-level differences,
    and the treated places multiplied by (1 + effect) from go-live."""
    rng = np.random.default_rng(seed)
    months = month_range(date(2022, 1, 1), date(2025, 12, 1))
    rows = []
    for unit in range(treated + controls):
        base, is_treated = rng.uniform(5, 15), unit < treated
        for i, m in enumerate(months):
            mu = base * (1 + 0.3 * np.sin(2 * np.pi * m.month / 12)) * (1 + 0.1 * i / 12)
            if is_treated and m >= GOLIVE:
                mu *= 1 + effect
            rows.append(
                {"month": m, "unit": unit, "complaints": rng.poisson(mu), "treated": is_treated}
            )
    return pd.DataFrame(rows)


def test_did_recovers_a_known_effect_and_a_null_one():
    seeds = range(25)  # each fit has ~56 fixed effects: fewer seeds keep the test short
    fell = [difference_in_differences(panel(s, -0.6), GOLIVE) for s in seeds]
    assert sum(r.low <= -0.6 <= r.high for r in fell) >= 0.85 * len(fell)
    assert all(r.high < 0 for r in fell)
    null = [difference_in_differences(panel(s, 0.0), GOLIVE) for s in seeds]
    assert sum(r.low <= 0 <= r.high for r in null) >= 0.85 * len(null)
    assert (fell[0].units, fell[0].comparison_units) == (5, 3)
    assert sentence(fell[0], "en", "the 5 sites").startswith(
        "Against 3 places without detectors, complaints at the 5 sites fell by"
    )


def test_did_without_comparison_places_warns():
    only_treated = panel(0, -0.6, controls=0)
    result = difference_in_differences(only_treated, GOLIVE)
    assert result.warning == "no_comparison"
    assert "No comparison" in sentence(result, "en", "the 5 sites")


# --- the page's wrapper ---------------------------------------------------------------------------


def test_complaint_effects_leaves_out_the_running_month_and_fills_quiet_months():
    data = panel(0, -0.6)
    data = data[~((data["unit"] == 0) & (data["month"] == date(2023, 5, 1)))]  # a quiet month
    monthly = data.rename(columns={"unit": "site_id"})[["month", "site_id", "complaints"]]
    sites = pd.DataFrame({"site_id": range(8), "measures_from": [GOLIVE] * 5 + [None] * 3})
    result = complaint_effects(monthly, sites, date(2025, 12, 15))
    assert result.last_month == date(2025, 11, 1)  # December is still running
    assert result.overall.months_after == 23 and result.overall.units == 5
    assert (
        result.overall.fit["observed"].sum()
        == monthly[(monthly["site_id"] < 5) & (monthly["month"] < date(2025, 12, 1))][
            "complaints"
        ].sum()
    )
    assert set(result.per_site) == {0, 1, 2, 3, 4}
    assert result.did.comparison_units == 3 and result.did.significant
