"""The budget page's projections, as plain functions of the ledgers (tested on constructed ones).

Budget execution (per line: unit project × district × funding source, in one fiscal year):

- **schedule**: the planned monthly execution (월계획액) summed up when the file gives it for
  every month so far, otherwise a straight line, plan × month / 12;
- **pace and year-end projection**: execution to date × 12 / months elapsed (the pace so far,
  kept up to December);
- **불용 risk** (:data:`RISK_SHARE`, :data:`MIN_MONTHS`): a line is at risk of leaving budget
  unspent when its projected year-end execution is below 90 % of its plan, judged from the third
  month on (before that, a year's pace is not yet visible). A line at 30 % in October projects
  to 36 %: flagged.
- **a line's own months**: districts send their files on their own days, so a line may have
  data only up to an earlier month than the as-of month. Its pace, schedule and risk count the
  months its data cover (``months``): the missing months are not yet reported, not months
  without execution. The headline projection adds the lines' own projections
  (:func:`projected_total`).

Incentives: the budget runs out when the points granted (earned minus expired; one point is
one won) reach it. At the average daily pace of the months in the ledger, the run-out date is
the first day on which the pace covers what remains (:func:`run_out`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import date, timedelta
from fractions import Fraction

import pandas as pd

from dashboard.finance.sheet import UNITS

RISK_SHARE = 0.9
MIN_MONTHS = 3


def straight_line(plan: float, month: int) -> float:
    """The share of ``plan`` a straight-line schedule has executed by the end of ``month``."""
    return plan * month / 12


def projected_year_end(executed_to_date: float, months_elapsed: int) -> float:
    """Execution at the year's end if the pace so far continues."""
    if months_elapsed < 1:
        raise ValueError("at least one month must have elapsed")
    return executed_to_date * 12 / months_elapsed


def at_risk(
    plan: float,
    executed_to_date: float,
    months_elapsed: int,
    share: float = RISK_SHARE,
    min_months: int = MIN_MONTHS,
) -> bool:
    """불용 risk: projected year-end execution below ``share`` of ``plan`` (from ``min_months``)."""
    if months_elapsed < min_months or plan <= 0:
        return False
    return projected_year_end(executed_to_date, months_elapsed) < share * plan


LINE_KEYS = ["region_id", "unit_project", "funding_source"]


def line_status(rows: pd.DataFrame, as_of_month: int) -> pd.DataFrame:
    """One row per line (district × unit project × funding source) of one fiscal year, in the
    line's own unit: plan and secured (as stated in the latest month), executed to date, rate,
    the schedule to date, projected year-end execution and its share of plan, and the risk."""
    columns = [
        *LINE_KEYS,
        "unit",
        "months",
        "plan",
        "secured",
        "executed",
        "rate",
        "schedule",
        "projected",
        "projected_rate",
        "at_risk",
    ]
    if rows.empty:
        return pd.DataFrame(columns=columns)
    out = []
    for key, part in rows[rows["month"] <= as_of_month].groupby(LINE_KEYS, sort=True):
        part = part.sort_values("month")
        latest = part.iloc[-1]
        plan, executed = float(latest["plan"]), float(part["executed"].sum())
        months = int(latest["month"])  # the line's own data: a file may be behind as_of_month
        schedule = _schedule(part, plan, months)
        projected = projected_year_end(executed, months)
        out.append(
            dict(zip(LINE_KEYS, key, strict=True))
            | {
                "unit": latest["unit"],
                "months": months,
                "plan": plan,
                "secured": latest["secured"],
                "executed": executed,
                "rate": executed / plan * 100 if plan else math.nan,
                "schedule": schedule,
                "projected": projected,
                "projected_rate": projected / plan * 100 if plan else math.nan,
                "at_risk": at_risk(plan, executed, months),
            }
        )
    return pd.DataFrame(out, columns=columns)


def projected_total(lines: pd.DataFrame, unit: str) -> float:
    """The year-end projection of :func:`line_status`'s lines added up in ``unit``: each at its
    own pace, so a line whose file is behind is not read as months without execution."""
    if lines.empty:
        return 0.0
    scale = lines["unit"].map(UNITS).astype(float) / UNITS[unit]
    return float((lines["projected"].astype(float) * scale).sum())


def _schedule(part: pd.DataFrame, plan: float, month: int) -> float:
    planned = part.set_index("month")["planned"] if "planned" in part else pd.Series()
    if all(m in planned.index and pd.notna(planned[m]) for m in range(1, month + 1)):
        return float(sum(planned[m] for m in range(1, month + 1)))
    return straight_line(plan, month)


def s_curve(rows: pd.DataFrame, unit: str) -> pd.DataFrame:
    """Cumulative execution by month against the schedule, summed over lines in ``unit``
    (each line converted from its own unit): month, executed (cumulative), schedule
    (cumulative), plan, and both as percent of plan. Months without data are not projected."""
    columns = ["month", "executed", "schedule", "plan", "executed_rate", "schedule_rate"]
    if rows.empty:
        return pd.DataFrame(columns=columns)
    scale = rows["unit"].map(UNITS).astype(float) / UNITS[unit]
    data = rows.assign(
        executed=rows["executed"].astype(float) * scale,
        plan=rows["plan"].astype(float) * scale,
        planned=rows["planned"].astype(float) * scale,
    )
    last = int(data["month"].max())
    lines = data.groupby(LINE_KEYS)
    out = []
    for month in range(1, last + 1):
        executed = schedule = plan = 0.0
        for _key, part in lines:
            upto = part[part["month"] <= month]
            if upto.empty:
                continue
            line_plan = float(upto.sort_values("month").iloc[-1]["plan"])
            plan += line_plan
            executed += float(upto["executed"].sum())
            schedule += _schedule(upto, line_plan, month)
        out.append(
            {
                "month": month,
                "executed": executed,
                "schedule": schedule,
                "plan": plan,
                "executed_rate": executed / plan * 100 if plan else math.nan,
                "schedule_rate": schedule / plan * 100 if plan else math.nan,
            }
        )
    return pd.DataFrame(out, columns=columns)


@dataclass(frozen=True)
class RunOut:
    """Where an incentive budget stands: spent so far, the daily pace, and when it runs out
    (``on``: None when nothing is being spent; ``already``: the ledger has reached it)."""

    budget: float
    spent: float
    per_day: float
    on: date | None
    already: bool

    @property
    def remaining(self) -> float:
        return self.budget - self.spent


def run_out(budget: float, monthly: list[tuple[date, float]]) -> RunOut:
    """When ``budget`` is used up at the pace of ``monthly`` (month start, amount spent in that
    month; consecutive or not). The pace is the total over the days from the first month's first
    day to the last month's last day. Already reached: the day within the month where the
    month's spending (spread evenly) crossed it."""
    if not monthly:
        return RunOut(budget, 0.0, 0.0, None, False)
    monthly = sorted(monthly)
    first, last = monthly[0][0], monthly[-1][0]
    end = _month_end(last)
    days = (end - first).days + 1
    spent = Fraction(0)
    for start, amount in monthly:
        amount = Fraction(str(amount))
        if amount > 0 and spent + amount >= Fraction(str(budget)):
            need = Fraction(str(budget)) - spent
            length = (_month_end(start) - start).days + 1
            day = math.ceil(need / amount * length)
            return RunOut(
                budget,
                float(sum(Fraction(str(a)) for _s, a in monthly)),
                float(sum(Fraction(str(a)) for _s, a in monthly) / days),
                start + timedelta(days=max(day, 1) - 1),
                True,
            )
        spent += amount
    per_day = spent / days
    if per_day <= 0:
        return RunOut(budget, float(spent), float(per_day), None, False)
    remaining = Fraction(str(budget)) - spent
    return RunOut(
        budget,
        float(spent),
        float(per_day),
        end + timedelta(days=math.ceil(remaining / per_day)),
        False,
    )


def _month_end(start: date) -> date:
    nxt = date(start.year + (start.month == 12), start.month % 12 + 1, 1)
    return nxt - timedelta(days=1)
