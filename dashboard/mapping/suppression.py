"""Small counts hidden in aggregate views for a council (a map, a table, a slide, a page).

The one rule, used by every council-visible figure (the briefing deck and its exports, the
council map, the participation and budget pages):

- a count of people, or of their alerts, episodes or points, from 1 to ``SUPPRESS_BELOW - 1``
  is not shown: it reads "<5" ("the one severe case in 백석1동"); zero stays zero;
- a group of 1 to ``SUPPRESS_BELOW - 1`` people shows none of its counts, not even a zero
  (its alerts belong to those few people), and counts *people*, not devices: two people with
  three plugs each are two people;
- a share, median, percentile or sum is computed over at least ``SUPPRESS_BELOW`` people or
  events (:func:`enough`), else it is not shown: the median of one episode is that episode;
- when a total is shown elsewhere and exactly one cell of a set is hidden, the total minus the
  cells shown gives it back, so the smallest shown non-zero cell is hidden with it
  (complementary suppression), within each group whose total is shown (``within``).
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import pandas as pd

from dashboard.formatting import format_number

SUPPRESS_BELOW = 5


def suppressed_text(threshold: int = SUPPRESS_BELOW) -> str:
    """What a hidden count reads: "<5" (the same in Korean and English)."""
    return f"<{threshold}"


def is_small(count: float, threshold: int = SUPPRESS_BELOW) -> bool:
    """A count that must not be shown: 1 to ``threshold - 1``."""
    return 0 < count < threshold


def enough(count: float, threshold: int = SUPPRESS_BELOW) -> bool:
    """Whether a share, median, percentile or sum over ``count`` people or events may be
    shown: only over ``threshold`` or more (over one or two it is their own value)."""
    return count >= threshold


def count_text(count: float, threshold: int = SUPPRESS_BELOW) -> str:
    """A count as shown: "1,234", "0", or "<5" for a small one."""
    return suppressed_text(threshold) if is_small(count, threshold) else format_number(int(count))


def _counts(df: pd.DataFrame, col: str) -> pd.Series:
    if col not in df.columns:
        raise ValueError(f"no column {col!r} to suppress (columns: {list(df.columns)})")
    counts = []
    for index, value in df[col].items():
        bad = value is None or pd.isna(value) or float(value) < 0
        if bad or not math.isclose(float(value), round(float(value))):
            raise ValueError(f"{col} at row {index!r} is not a count: {value!r}")
        counts.append(round(float(value)))
    return pd.Series(counts, index=df.index, dtype="int64")


def hidden_cells(
    counts: pd.Series,
    threshold: int = SUPPRESS_BELOW,
    *,
    also: pd.Series | None = None,
    complementary: bool = False,
    within: pd.Series | None = None,
) -> pd.Series:
    """Which of ``counts`` must not be shown (a boolean Series on the same index).

    Small counts (1 to ``threshold - 1``) and the rows of ``also`` (a group of few people:
    hidden even at zero). With ``complementary``, in each group of ``within`` (all rows as one
    group when None) where exactly one count is hidden, zero or not, the smallest shown
    non-zero count is hidden too: the group's total shown elsewhere minus the counts shown
    must not give one cell back.
    """
    hide = (counts > 0) & (counts < threshold)
    if also is not None:
        hide |= also.astype(bool)
    if complementary and len(counts):
        groups = within if within is not None else pd.Series(0, index=counts.index)
        for _, index in counts.groupby(groups, sort=False).groups.items():
            part = hide.loc[index]
            if int(part.sum()) != 1:
                continue
            values = counts.loc[index]
            rest = values[~part & (values > 0)]
            if len(rest):
                hide.loc[rest.idxmin()] = True
    return hide.astype(bool)


def suppress_small_counts(
    df: pd.DataFrame,
    count_col: str,
    threshold: int = SUPPRESS_BELOW,
    *,
    complementary: bool = False,
    people: str | None = None,
) -> pd.DataFrame:
    """A copy of ``df`` where every count in ``count_col`` from 1 to ``threshold - 1`` is
    hidden: ``count_col`` becomes a nullable integer with <NA> there, ``suppressed`` says
    which rows, and ``{count_col}_text`` reads the count ("1,234", "0") or "<5".

    ``people``: a column with the number of people each row's count is about (a dong's
    devices watch that many people): a row with 1 to ``threshold - 1`` people is hidden
    whatever its count. With ``complementary`` and exactly one row hidden, the smallest shown
    non-zero count is hidden too (otherwise total minus the shown rows gives the hidden one
    back). Raises ValueError for a threshold below 1 or a count that is missing, negative or
    not a whole number, naming the column and the row.
    """
    if threshold < 1:
        raise ValueError(f"threshold must be at least 1, got {threshold}")
    shown = _counts(df, count_col)
    few = None
    if people is not None:
        heads = _counts(df, people)
        few = (heads > 0) & (heads < threshold)
    hidden = hidden_cells(shown, threshold, also=few, complementary=complementary)
    out = df.copy()
    out[count_col] = shown.astype("Int64").mask(hidden)
    out["suppressed"] = hidden.astype(bool)
    out[f"{count_col}_text"] = [
        suppressed_text(threshold) if h else format_number(int(c))
        for c, h in zip(shown, hidden, strict=True)
    ]
    return out


def suppress_group_counts(
    df: pd.DataFrame,
    people: str = "people",
    others: Sequence[str] = (),
    threshold: int = SUPPRESS_BELOW,
    *,
    within: pd.Series | None = None,
) -> pd.DataFrame:
    """Counts per small area made safe to show when totals are shown elsewhere: a row with 1
    to ``threshold - 1`` people hides every count (its ``others`` belong to those few
    people, even a zero says something about them), and any other count from 1 to
    ``threshold - 1`` is hidden too. Each column is then complemented (:func:`hidden_cells`)
    within each group of ``within`` (all rows when None). Hidden counts become None;
    ``suppressed`` marks the rows of few people (the complement's are not: they only lose
    the count hidden with another)."""
    out = df.copy()
    heads = _counts(df, people)
    few = (heads > 0) & (heads < threshold)
    out["suppressed"] = few
    for col in (people, *others):
        values = _counts(df, col)
        hide = hidden_cells(values, threshold, also=few, complementary=True, within=within)
        out[col] = values.astype(object).where(~hide, None)
    return out
