"""Small counts hidden in aggregate views for a council (a map, a table, a slide).

A count of 1–4 people in one dong can point at a person ("the one severe case in 백석1동").
Such counts are shown as "<5" and not coloured by state; zero stays zero (nobody to point
at). When exactly one cell of a set is hidden, a total shown elsewhere gives it back by
subtraction, so ``complementary=True`` also hides the next smallest count.
"""

from __future__ import annotations

import math

import pandas as pd

from dashboard.formatting import format_number

SUPPRESS_BELOW = 5


def suppressed_text(threshold: int = SUPPRESS_BELOW) -> str:
    """What a hidden count reads: "<5" (the same in Korean and English)."""
    return f"<{threshold}"


def suppress_small_counts(
    df: pd.DataFrame,
    count_col: str,
    threshold: int = SUPPRESS_BELOW,
    *,
    complementary: bool = False,
) -> pd.DataFrame:
    """A copy of ``df`` where every count in ``count_col`` from 1 to ``threshold - 1`` is
    hidden: ``count_col`` becomes a nullable integer with <NA> there, ``suppressed`` says
    which rows, and ``{count_col}_text`` reads the count ("1,234", "0") or "<5".

    With ``complementary`` and exactly one row hidden, the smallest shown non-zero count is
    hidden too (otherwise total minus the shown rows gives the hidden one back).
    Raises ValueError for a threshold below 1 or a count that is missing, negative or not a
    whole number, naming the column and the row.
    """
    if threshold < 1:
        raise ValueError(f"threshold must be at least 1, got {threshold}")
    if count_col not in df.columns:
        raise ValueError(f"no column {count_col!r} to suppress (columns: {list(df.columns)})")
    counts = []
    for index, value in df[count_col].items():
        bad = value is None or pd.isna(value) or float(value) < 0
        if bad or not math.isclose(float(value), round(float(value))):
            raise ValueError(f"{count_col} at row {index!r} is not a count: {value!r}")
        counts.append(round(float(value)))
    shown = pd.Series(counts, index=df.index, dtype="Int64")
    hidden = (shown > 0) & (shown < threshold)
    if complementary and int(hidden.sum()) == 1:
        rest = shown[~hidden & (shown > 0)]
        if len(rest):
            hidden.loc[rest.idxmin()] = True
    out = df.copy()
    out[count_col] = shown.mask(hidden)
    out["suppressed"] = hidden.astype(bool)
    out[f"{count_col}_text"] = [
        suppressed_text(threshold) if h else format_number(int(c))
        for c, h in zip(shown, hidden, strict=True)
    ]
    return out
