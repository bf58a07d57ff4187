"""The routine model's measured gain over the fixed rule, on live alerts (the detection slide).

The fixed rule (the first step of the 24/36/48 h ladder, ``dashboard.rules.plug``) opens a
smart-plug alert at the first tick at or after the quiet spell's start plus the person's
no-change threshold; it can never open one earlier. So a plug alert opened *before* that moment
was opened by the home's routine, and the difference is how many hours earlier the person was
flagged than the fixed rule would have done. This is read from the times every alert stores,
not from the evidence's ``basis``, which follows the latest evaluation (a routine alert the
ladder later catches up with reads ``ladder``).

Live data only: the evaluation on recorded homes (``evaluate-detection``, docs/detection.md) is
a different measurement and is never copied onto the slide.
"""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

# Under this many alerts a median or a share says more about chance than about the model:
# the slide shows "측정 중" (measuring) instead of a figure.
MIN_GAIN_ALERTS = 10


@dataclass(frozen=True)
class EarlyGain:
    """Aggregate only: counts, a median and a share, never an alert of its own."""

    alerts: int  # plug alerts opened in the window whose evidence records both times
    early: int  # of them, opened before the fixed rule would have fired
    median_lead_h: float | None  # median hours ahead among the early ones; None: too few
    share_early: float | None  # early / alerts (0–1); None: too few alerts
    minimum: int = MIN_GAIN_ALERTS

    @property
    def measured(self) -> bool:
        return self.share_early is not None


def early_gain(timing: pd.DataFrame, minimum: int = MIN_GAIN_ALERTS) -> EarlyGain:
    """The gain from ``queries.briefing.plug_alert_timing`` rows (``opened_at``, ``fixed_at``).

    Alerts without a ``fixed_at`` are left out. The share needs ``minimum`` alerts, the median
    ``minimum`` early ones; below that the figure is None (the slide says it is measuring).
    """
    known = timing.dropna(subset=["fixed_at"]) if len(timing) else timing
    if not len(known):
        return EarlyGain(0, 0, None, None, minimum)
    lead_h = (known["fixed_at"] - known["opened_at"]).dt.total_seconds() / 3600
    ahead = lead_h[lead_h > 0]
    alerts, early = len(lead_h), len(ahead)
    return EarlyGain(
        alerts,
        early,
        float(ahead.median()) if early >= minimum else None,
        early / alerts if alerts >= minimum else None,
        minimum,
    )
