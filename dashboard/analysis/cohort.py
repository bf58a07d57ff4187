"""A fixed-length program cohort (the 24-week mobile healthcare coaching): retention by week,
drop-out by week and by area, outcomes against a benchmark.

Definitions (docs/analysis.md, "Participation cohort"):

- week ``w`` of a participant runs from day ``7w`` to ``7w + 6`` after the enrolment day
  (week 0 is the enrolment week); the program's last week is ``WEEKS`` (24);
- a participant's **last active week** is the last week with recorded activity; without any
  weekly records it follows the enrolment record: completed → 24, dropped → the week before
  the week of ``ended_on``; an enrolment that is still running is active up to this week;
- a participant **still active at week w** has a last active week ≥ w; the **retention** at
  week w is their share of the participants *observed* through week w (still-running
  enrolments count only for the weeks they have reached);
- a participant whose enrolment has ended (completed or dropped) with a last active week
  below 24 **dropped out at week** ``last active week + 1`` (0 = never active).
"""

from __future__ import annotations

from datetime import date

import numpy as np
import pandas as pd

from dashboard.mapping.suppression import enough

WEEKS = 24
FINISHED = ("completed", "dropped")


def week_of(enrolled_on: date, day: date) -> int:
    """The program week ``day`` falls in (negative before the enrolment)."""
    return (day - enrolled_on).days // 7


def participant_weeks(people: pd.DataFrame, activity: pd.DataFrame, today: date) -> pd.DataFrame:
    """Per participant: ``last_week`` (−1 … 24) and ``observed_to`` (the last week known).

    ``people``: enrolment_id, enrolled_on, status, ended_on (and any other columns, kept);
    ``activity``: enrolment_id, week, active_days (rows with 0 days count as no activity).
    """
    out = people.copy()
    if out.empty:
        return out.assign(last_week=pd.Series(dtype=int), observed_to=pd.Series(dtype=int))
    active = activity[(activity["active_days"] > 0) & (activity["week"] <= WEEKS)]
    last = active.groupby("enrolment_id")["week"].max()
    has_records = set(activity["enrolment_id"])
    last_weeks, observed = [], []
    for row in out.itertuples(index=False):
        elapsed = min(max(week_of(row.enrolled_on, today), 0), WEEKS)
        finished = row.status in FINISHED
        observed.append(WEEKS if finished else elapsed)
        if row.enrolment_id in has_records:
            last_weeks.append(int(last.get(row.enrolment_id, -1)))
        elif row.status == "completed":
            last_weeks.append(WEEKS)
        elif row.status == "dropped":
            ended = row.ended_on if row.ended_on is not None else row.enrolled_on
            last_weeks.append(min(max(week_of(row.enrolled_on, ended), 0), WEEKS) - 1)
        else:
            last_weeks.append(elapsed)
    out["last_week"] = np.array(last_weeks, dtype=int)
    out["observed_to"] = np.array(observed, dtype=int)
    return out


def retention(weeks: pd.DataFrame) -> pd.DataFrame:
    """Per week 0…24: observed, active (still active at that week), share (%, NaN if none)."""
    rows = []
    for w in range(WEEKS + 1):
        seen = weeks[weeks["observed_to"] >= w]
        still = int((seen["last_week"] >= w).sum())
        rows.append(
            {
                "week": w,
                "observed": len(seen),
                "active": still,
                "share": still / len(seen) * 100 if len(seen) else float("nan"),
            }
        )
    return pd.DataFrame(rows)


def dropped_mask(weeks: pd.DataFrame) -> pd.Series:
    """Ended enrolments whose activity stopped before the last week."""
    return weeks["status"].isin(FINISHED) & (weeks["last_week"] < WEEKS)


def dropouts_by_week(weeks: pd.DataFrame) -> pd.DataFrame:
    """Per week 0…24: participants who dropped out at that week, and the cumulative count."""
    gone = weeks[dropped_mask(weeks)]
    counts = (gone["last_week"] + 1).value_counts()
    frame = pd.DataFrame({"week": range(WEEKS + 1)})
    frame["dropped"] = [int(counts.get(w, 0)) for w in frame["week"]]
    frame["cumulative"] = frame["dropped"].cumsum()
    return frame


def dropouts_by_area(weeks: pd.DataFrame, area: str) -> pd.DataFrame:
    """Per value of the ``area`` column: finished participants, drop-outs, their share (%) and
    the median drop-out week; areas sorted by drop-out share, highest first."""
    finished = weeks[weeks["status"].isin(FINISHED)].copy()
    if finished.empty:
        return pd.DataFrame(columns=[area, "finished", "dropped", "share", "median_week"])
    finished["dropped"] = dropped_mask(finished)
    finished["drop_week"] = np.where(finished["dropped"], finished["last_week"] + 1, np.nan)
    grouped = finished.groupby(area, sort=False)
    frame = pd.DataFrame(
        {
            "finished": grouped.size(),
            "dropped": grouped["dropped"].sum().astype(int),
            "median_week": grouped["drop_week"].median(),
        }
    ).reset_index()
    frame["share"] = frame["dropped"] / frame["finished"] * 100
    return frame.sort_values(["share", area], ascending=[False, True]).reset_index(drop=True)[
        [area, "finished", "dropped", "share", "median_week"]
    ]


def outcome_rate(values: pd.Series) -> tuple[int, int, float]:
    """(improved, measured, rate %) of a boolean outcome column; None is not measured."""
    measured = values.dropna()
    hits = int(measured.astype(bool).sum())
    return hits, len(measured), hits / len(measured) * 100 if len(measured) else float("nan")


# --- what a council may see (dashboard.mapping.suppression: the one rule) -----------------------


def pooled_areas(weeks: pd.DataFrame, area: str, other: str) -> pd.Series:
    """The ``area`` of each participant, with every area of fewer than ``SUPPRESS_BELOW``
    finished participants pooled into ``other``; while the pool has some but too few, the
    smallest named area joins it (its drop-out share would be one or two people's, and the
    cohort's total minus the areas shown would give a lone small area back)."""
    labels = weeks[area].copy()
    finished = weeks["status"].isin(FINISHED)
    sizes = labels[finished].value_counts()
    small = [a for a, n in sizes.items() if not enough(int(n))]
    labels = labels.where(~labels.isin(small), other)
    while True:
        pool = int((finished & (labels == other)).sum())
        named = labels[finished & (labels != other)].value_counts()
        if pool == 0 or enough(pool) or named.empty:
            return labels
        smallest = named.sort_values(kind="stable").index[0]
        labels = labels.where(labels != smallest, other)


def shown_dropouts_by_area(weeks: pd.DataFrame, area: str, other: str) -> pd.DataFrame:
    """:func:`dropouts_by_area` over :func:`pooled_areas` (the pool last), without any row of
    fewer than ``SUPPRESS_BELOW`` finished participants, and the median drop-out week only
    over that many drop-outs (over one it is that person's week)."""
    frame = dropouts_by_area(weeks.assign(**{area: pooled_areas(weeks, area, other)}), area)
    frame = frame[[enough(int(n)) for n in frame["finished"]]].reset_index(drop=True)
    frame["median_week"] = frame["median_week"].where([enough(int(n)) for n in frame["dropped"]])
    last = frame[area] == other  # the pool goes last, whatever its share
    return pd.concat([frame[~last], frame[last]], ignore_index=True)


def shown_retention(curve: pd.DataFrame) -> pd.DataFrame:
    """:func:`retention` with the weeks observed through by fewer than ``SUPPRESS_BELOW``
    participants blank (share NaN, counts <NA>): a share of one or two is theirs."""
    few = [not enough(int(n)) for n in curve["observed"]]
    out = curve.copy()
    for col in ("observed", "active"):
        out[col] = out[col].astype("Int64").mask(few)
    out["share"] = out["share"].mask(few)
    return out
