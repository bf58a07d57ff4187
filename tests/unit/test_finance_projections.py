"""The budget page's projections on constructed ledgers with known answers."""

from __future__ import annotations

from datetime import date

import pandas as pd
import pytest

from dashboard.finance.projections import (
    at_risk,
    line_status,
    projected_total,
    projected_year_end,
    run_out,
    s_curve,
    straight_line,
)


def _line(executed: list[float], plan: float = 1200.0, unit: str = "천원", **extra) -> pd.DataFrame:
    rows = [
        {
            "region_id": extra.get("region_id", 1),
            "unit_project": extra.get("project", "p"),
            "funding_source": extra.get("fund", "city"),
            "month": m,
            "unit": unit,
            "plan": plan,
            "secured": plan,
            "executed": amount,
            "planned": extra["planned"][m - 1] if "planned" in extra else float("nan"),
        }
        for m, amount in enumerate(executed, 1)
    ]
    return pd.DataFrame(rows)


def test_a_line_at_30_percent_in_october_is_flagged():
    # 360 of 1,200 by the end of October: 36 % at year end at this pace.
    assert projected_year_end(360, 10) == pytest.approx(432)
    assert at_risk(1200, 360, 10)
    status = line_status(_line([36.0] * 10), 10).iloc[0]
    assert status["rate"] == pytest.approx(30.0)
    assert status["projected_rate"] == pytest.approx(36.0)
    assert bool(status["at_risk"])


def test_a_line_on_a_straight_line_is_not_flagged():
    status = line_status(_line([100.0] * 10), 10).iloc[0]  # 1,000 of 1,200 by October
    assert status["projected_rate"] == pytest.approx(100.0)
    assert status["schedule"] == pytest.approx(straight_line(1200, 10)) == pytest.approx(1000)
    assert not bool(status["at_risk"])


def test_the_rule_waits_for_the_third_month_and_uses_90_percent():
    assert not at_risk(1200, 0, 2)  # two months: too early to judge
    assert at_risk(1200, 0, 3)
    assert at_risk(1200, 269, 3)  # 1,076 projected < 1,080
    assert not at_risk(1200, 270, 3)  # exactly 90 %
    assert not at_risk(0, 0, 6)  # no plan, nothing to leave unspent


def test_planned_schedule_is_used_when_given_for_every_month():
    planned = [50.0] * 6 + [150.0] * 6
    status = line_status(_line([50.0] * 6, planned=planned), 6).iloc[0]
    assert status["schedule"] == pytest.approx(300)  # not the straight line's 600
    partial = planned[:3] + [float("nan")] * 9
    assert line_status(_line([50.0] * 6, planned=partial), 6).iloc[0]["schedule"] == 600


def test_a_line_whose_file_stops_earlier_is_judged_at_its_own_pace():
    """Districts send their files on their own days: with another district's November in,
    a line whose data reach August must not count September to November as months of no
    execution. 9 a month for eight months projects 108 of 120 (90 %): not at risk; read as
    ten months it would be 86.4 (72 %) and flagged."""
    behind = _line([9.0] * 8, plan=120.0)
    current = _line([10.0] * 10, plan=120.0, region_id=2)
    lines = line_status(pd.concat([behind, current]), 10).set_index("region_id")
    assert lines.loc[1, "months"] == 8 and lines.loc[2, "months"] == 10
    assert lines.loc[1, "projected"] == pytest.approx(108.0)
    assert lines.loc[1, "schedule"] == pytest.approx(straight_line(120, 8))
    assert not bool(lines.loc[1, "at_risk"])
    assert lines.loc[2, "projected"] == pytest.approx(120.0)
    # The headline adds each line's own projection (in one unit), not total × 12 / 10.
    assert projected_total(lines.reset_index(), "천원") == pytest.approx(228.0)
    assert projected_total(lines.reset_index(), "백만원") == pytest.approx(0.228)


def test_s_curve_adds_lines_in_one_unit():
    a = _line([10.0, 20.0, 30.0], plan=120.0, unit="백만원")  # 120 백만원 = 120,000 천원
    b = _line([1000.0, 1000.0, 1000.0], plan=12000.0, region_id=2)
    curve = s_curve(pd.concat([a, b]), "천원")
    assert list(curve["executed"]) == [11000.0, 32000.0, 63000.0]
    assert list(curve["plan"]) == [132000.0] * 3
    assert curve["schedule"].iloc[-1] == pytest.approx(132000 * 3 / 12)
    assert curve["executed_rate"].iloc[-1] == pytest.approx(63000 / 132000 * 100)


def test_linear_ledger_runs_out_on_a_computable_date():
    # 100 a month from January to June 2023 (181 days): 600 left at 600/181 a day → 181 days
    # after June 30, i.e. December 28.
    outcome = run_out(1200, [(date(2023, m, 1), 100) for m in range(1, 7)])
    assert outcome.spent == 600 and outcome.remaining == 600 and not outcome.already
    assert outcome.per_day == pytest.approx(600 / 181)
    assert outcome.on == date(2023, 12, 28)


def test_a_budget_already_spent_names_the_day_it_ran_out():
    outcome = run_out(1000, [(date(2023, m, 1), 100) for m in range(1, 13)])
    assert outcome.already
    assert outcome.on == date(2023, 10, 31)  # the tenth month's last day reaches 1,000
    half = run_out(950, [(date(2023, m, 1), 100) for m in range(1, 13)])
    assert half.on == date(2023, 10, 16)  # 50 of October's 100: 16 of its 31 days


def test_no_spending_never_runs_out():
    assert run_out(1000, []).on is None
    assert run_out(1000, [(date(2023, 1, 1), 0)]).on is None
