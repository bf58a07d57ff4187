"""Did complaints fall after the smoking detectors went live? Two estimates, one rule for "too few".

Both are Poisson GLMs fitted with statsmodels on monthly counts (docs/analysis.md says why):

- :func:`interrupted_time_series`: one series (a site, or the monitored sites summed) with a
  trend, month-of-year seasonality (dummies with 24 months before go-live, one sine/cosine
  pair with 12 to 23), and a level and a slope change from go-live. Standard errors are HAC
  (Newey-West), robust to over-dispersion and to autocorrelation of monthly counts. The effect
  is the post-period's fitted total against its counterfactual (the same model without the
  level and slope change); its 95 % interval comes from t draws of the coefficients.
- :func:`difference_in_differences`: the per-site panel of monitored and unmonitored places
  with site and calendar-month fixed effects (so the seasonal pattern and anything common to
  all places cancel); the effect is ``exp(θ) − 1`` of the treated-after term, with
  quasi-Poisson (Pearson-scaled) standard errors.

A month the detectors went live in partway counts as after in proportion to its days after.
Too few data give a warning instead of an estimate (``MIN_MONTHS``, ``MIN_MONTHS_BEFORE_ITS``,
``MIN_COMPLAINTS``).
"""

from __future__ import annotations

import calendar
import math
import warnings
from dataclasses import dataclass
from datetime import date
from statistics import NormalDist

import numpy as np
import pandas as pd
from scipy.special import logsumexp

from dashboard.i18n import translate

MIN_MONTHS = 6  # complete months after go-live (and before it, for the DiD)
# The ITS needs a year before go-live: with less, the trend and the seasonal pattern cannot be
# told apart, and the counterfactual swings wildly (docs/analysis.md).
MIN_MONTHS_BEFORE_ITS = 12
MIN_COMPLAINTS = 30  # complaints before go-live (and, for the DiD, at the comparison places)
# Months before go-live, where the seasonal pattern is learnt: two of each calendar month give
# one dummy per month-of-year; one year gives one sine/cosine pair; less, no seasonality.
SEASON_DUMMY_MONTHS = 24
SEASON_HARMONIC_MONTHS = 12
LEVEL = 0.95
DRAWS = 4000  # coefficient draws for the ITS interval (seeded: the same data, the same interval)
WARNINGS = ("few_months_before", "few_months_after", "few_complaints", "no_comparison", "fit")


@dataclass(frozen=True)
class Effect:
    """A relative change after go-live (−0.62: fell by 62 %) with its 95 % interval, or a
    ``warning`` (one of ``WARNINGS``) saying why there is no conclusion."""

    method: str  # "its" or "did"
    change: float | None
    low: float | None
    high: float | None
    months_before: int
    months_after: int
    complaints_before: int
    complaints_after: int
    warning: str | None = None
    seasonality: str = "none"  # "months", "harmonic" or "none"
    units: int = 1  # monitored places in the estimate
    comparison_units: int = 0  # DiD: places without detectors
    fit: pd.DataFrame | None = None  # ITS: month, observed, fitted, counterfactual
    last_month: date | None = None  # ITS: the last month estimated (see the horizon rule)

    @property
    def conclusive(self) -> bool:
        return self.warning is None and self.change is not None

    @property
    def significant(self) -> bool:
        """The interval excludes no change."""
        return self.conclusive and (self.high < 0 or self.low > 0)  # type: ignore[operator]


def month_start(value: date) -> date:
    return date(value.year, value.month, 1)


def month_range(first: date, last: date) -> list[date]:
    """Every month start from ``first``'s month to ``last``'s month, inclusive."""
    months, m = [], month_start(first)
    while m <= last:
        months.append(m)
        m = date(m.year + (m.month == 12), m.month % 12 + 1, 1)
    return months


def share_after(month: date, golive: date) -> float:
    """The share of ``month``'s days on or after ``golive`` (0 before, 1 after)."""
    days = calendar.monthrange(month.year, month.month)[1]
    if golive <= month:
        return 1.0
    if (golive.year, golive.month) != (month.year, month.month):
        return 0.0  # a later month
    return (days - golive.day + 1) / days


def _counts(exposure: np.ndarray, y: np.ndarray) -> tuple[int, int, int, int]:
    before, after = exposure == 0, exposure > 0
    return (
        int(before.sum()),
        int((exposure == 1).sum()),
        int(y[before].sum()),
        int(y[after].sum()),
    )


def _hac_lags(n: int) -> int:
    # Newey and West's rule of thumb: 3 lags for 4-5 years of months.
    return max(1, math.floor(4 * (n / 100) ** (2 / 9)))


def _season(months: list[date], months_before: int) -> tuple[pd.DataFrame, str]:
    n = len(months)
    if months_before >= SEASON_DUMMY_MONTHS:
        moy = pd.Categorical([m.month for m in months], categories=range(1, 13))
        dummies = pd.get_dummies(moy, prefix="m", drop_first=True, dtype=float)
        return dummies, "months"
    if months_before >= SEASON_HARMONIC_MONTHS:
        angle = 2 * np.pi * np.array([m.month for m in months]) / 12
        return pd.DataFrame({"sin": np.sin(angle), "cos": np.cos(angle)}), "harmonic"
    return pd.DataFrame(index=range(n)), "none"


def interrupted_time_series(counts: pd.Series, golive: date, *, units: int = 1) -> Effect:
    """Segmented Poisson regression on monthly ``counts`` (indexed by month start, every month
    of the window present, zeros included) with a level and slope change at ``golive``."""
    import statsmodels.api as sm

    months = [month_start(m) for m in counts.index]
    y = counts.to_numpy(dtype=float)
    exposure = np.array([share_after(m, golive) for m in months])
    # The counterfactual is never carried further past go-live than the data reach before it:
    # a trend fitted on one year and extrapolated over three is not evidence (docs/analysis.md).
    if (exposure > 0).any():
        first_after = int(np.argmax(exposure > 0))
        partial = int(exposure[first_after] < 1)  # a go-live month is not a complete month after
        keep = first_after + partial + int((exposure == 0).sum())
        months, y, exposure = months[:keep], y[:keep], exposure[:keep]
    before_n, after_n, before_c, after_c = _counts(exposure, y)
    season, seasonality = _season(months, before_n)
    base = dict(
        method="its",
        months_before=before_n,
        months_after=after_n,
        complaints_before=before_c,
        complaints_after=after_c,
        seasonality=seasonality,
        units=units,
        last_month=months[-1] if months else None,
    )
    warning = _warning(before_n, after_n, before_c, MIN_MONTHS_BEFORE_ITS)
    if warning:
        return Effect(change=None, low=None, high=None, warning=warning, **base)

    n = len(months)
    t = np.arange(n, dtype=float) / 12  # years: coefficients read as per-year changes
    t0 = t[int(np.argmax(exposure > 0))]
    design = pd.DataFrame(
        {"const": 1.0, "trend": t, "level": exposure, "slope": exposure * (t - t0)}
    )
    design = pd.concat([design, season.reset_index(drop=True)], axis=1)
    counterfactual = design.assign(level=0.0, slope=0.0)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # convergence chatter; checked below instead
            model = sm.GLM(y, design, family=sm.families.Poisson())
            hac = model.fit(
                cov_type="HAC", cov_kwds={"maxlags": _hac_lags(n), "use_correction": True}
            )
            quasi = model.fit(scale="X2")
        params = np.asarray(hac.params)
        # HAC errors are too narrow in short series (docs/analysis.md, measured): take the wider
        # of HAC and quasi-Poisson for the level and slope change.
        covs = [np.asarray(hac.cov_params()), np.asarray(quasi.cov_params())]
        cov = max(covs, key=lambda c: c[2, 2] + c[3, 3])
        if not (np.all(np.isfinite(params)) and np.all(np.isfinite(cov))):
            raise ValueError("non-finite fit")
    except Exception:  # statsmodels raises several kinds on degenerate data
        return Effect(change=None, low=None, high=None, warning="fit", **base)

    after = exposure > 0
    x_after, cf_after = design.to_numpy()[after], counterfactual.to_numpy()[after]
    ratio = np.exp(x_after @ params).sum() / np.exp(cf_after @ params).sum()
    # Multivariate t draws (n − k degrees of freedom) of the coefficients, from the covariance
    # made symmetric positive semi-definite (rounding can leave tiny negative eigenvalues).
    values, vectors = np.linalg.eigh((cov + cov.T) / 2)
    root = vectors * np.sqrt(np.clip(values, 0, None))
    rng = np.random.default_rng(0)
    dof = max(n - design.shape[1], 1)
    noise = rng.standard_normal((DRAWS, len(params))) @ root.T
    draws = params + noise * np.sqrt(dof / rng.chisquare(dof, size=(DRAWS, 1)))
    # Ratios of sums of exponentials, in logs: extreme draws must not overflow.
    log_ratios = logsumexp(draws @ x_after.T, axis=1) - logsumexp(draws @ cf_after.T, axis=1)
    tail = (1 - LEVEL) / 2 * 100
    low, high = np.exp(np.percentile(log_ratios, [tail, 100 - tail]))
    if not (np.isfinite(low) and np.isfinite(high)):
        return Effect(change=None, low=None, high=None, warning="fit", **base)
    fit = pd.DataFrame(
        {
            "month": months,
            "observed": y,
            "fitted": np.exp(design.to_numpy() @ params),
            "counterfactual": np.where(after, np.exp(counterfactual.to_numpy() @ params), np.nan),
        }
    )
    return Effect(
        change=float(ratio - 1), low=float(low - 1), high=float(high - 1), fit=fit, **base
    )


def difference_in_differences(panel: pd.DataFrame, golive: date) -> Effect:
    """Poisson DiD on ``panel`` (month, unit, complaints, treated): unit and month fixed
    effects, the effect on the treated units' months after ``golive``."""
    import statsmodels.api as sm

    df = panel.copy()
    df["month"] = [month_start(m) for m in df["month"]]
    df["treated"] = df["treated"].astype(bool)
    df["exposure"] = [share_after(m, golive) for m in df["month"]]
    treated, control = df[df["treated"]], df[~df["treated"]]
    t_months = treated.groupby("month")["exposure"].first().to_numpy()
    before_n = int((t_months == 0).sum())
    after_n = int((t_months == 1).sum())
    before_c = int(treated.loc[treated["exposure"] == 0, "complaints"].sum())
    after_c = int(treated.loc[treated["exposure"] > 0, "complaints"].sum())
    control_before = int(control.loc[control["exposure"] == 0, "complaints"].sum())
    base = dict(
        method="did",
        months_before=before_n,
        months_after=after_n,
        complaints_before=before_c,
        complaints_after=after_c,
        seasonality="months",
        units=int(treated["unit"].nunique()),
        comparison_units=int(control["unit"].nunique()),
    )
    warning = _warning(before_n, after_n, before_c, MIN_MONTHS)
    if warning is None and (control.empty or control_before < MIN_COMPLAINTS):
        warning = "no_comparison"
    if warning:
        return Effect(change=None, low=None, high=None, warning=warning, **base)

    # Places or months without a single complaint carry no information under fixed effects.
    df = df[df.groupby("unit")["complaints"].transform("sum") > 0]
    df = df[df.groupby("month")["complaints"].transform("sum") > 0]
    design = pd.concat(
        [
            pd.DataFrame({"const": 1.0, "effect": df["treated"] * df["exposure"]}),
            pd.get_dummies(df["unit"].astype(str), prefix="u", drop_first=True, dtype=float),
            pd.get_dummies(df["month"].astype(str), prefix="t", drop_first=True, dtype=float),
        ],
        axis=1,
    )
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            result = sm.GLM(
                df["complaints"].to_numpy(dtype=float), design, family=sm.families.Poisson()
            ).fit(scale="X2")
        theta, se = float(result.params["effect"]), float(result.bse["effect"])
        if not (math.isfinite(theta) and math.isfinite(se)):
            raise ValueError("non-finite fit")
    except Exception:  # as above
        return Effect(change=None, low=None, high=None, warning="fit", **base)
    z = NormalDist().inv_cdf(0.5 + LEVEL / 2)
    return Effect(
        change=math.expm1(theta),
        low=math.expm1(theta - z * se),
        high=math.expm1(theta + z * se),
        **base,
    )


def _warning(
    months_before: int, months_after: int, complaints_before: int, min_before: int
) -> str | None:
    if months_before < min_before:
        return "few_months_before"
    if months_after < MIN_MONTHS:
        return "few_months_after"
    if complaints_before < MIN_COMPLAINTS:
        return "few_complaints"
    return None


def _pct(value: float) -> int:
    return round(abs(value) * 100)


def sentence(effect: Effect, lang: str, where: str) -> str:
    """The estimate as one plain sentence in ``lang``; ``where`` names the places (e.g. "the 5
    sites", already translated). A warning replaces the conclusion when the data are too few."""
    if not effect.conclusive:
        return translate(
            f"effects.warning.{effect.warning}",
            lang,
            where=where,
            before=effect.months_before,
            after=effect.months_after,
            complaints=effect.complaints_before,
            min_before=MIN_MONTHS_BEFORE_ITS if effect.method == "its" else MIN_MONTHS,
            min_after=MIN_MONTHS,
            min_complaints=MIN_COMPLAINTS,
        )
    assert effect.change is not None and effect.low is not None and effect.high is not None
    key = f"effects.{effect.method}"
    if effect.significant:
        direction = "fell" if effect.change < 0 else "rose"
        # Both ends on the same side of zero: the interval in sizes of the fall (or rise).
        ends = sorted((_pct(effect.low), _pct(effect.high)))
        return translate(
            f"{key}.{direction}",
            lang,
            where=where,
            pct=_pct(effect.change),
            low=ends[0],
            high=ends[1],
            controls=effect.comparison_units,
        )
    return translate(
        f"{key}.unclear",
        lang,
        where=where,
        pct=f"{effect.change * 100:+.0f}",
        low=f"{effect.low * 100:+.0f}",
        high=f"{effect.high * 100:+.0f}",
        controls=effect.comparison_units,
    )
