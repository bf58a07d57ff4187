"""docs/detection.md's Evaluation section states what the code decides; check it does."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np

from dashboard.evaluation import commands, incidents
from dashboard.evaluation.datasets import MAX_GAP_S, Trace

DOC = (Path(__file__).resolve().parents[2] / "docs" / "detection.md").read_text(encoding="utf-8")
FLAT = " ".join(DOC[DOC.index("## Evaluation") :].split())


def _part(home: str) -> str:
    t = Trace(home, home.split("/")[0], 3600, np.array([0], dtype=np.int64), np.array([1.0]))
    return commands.part_of(t)


def test_split_table_matches_the_code():
    rows = re.findall(
        r"\| `([\w@-]+/[\w@-]+)`(?:, `([\w@]+)`)?[^|]*\|[^|]*\|[^|]*\| \**(tune|report)", FLAT
    )
    assert len(rows) == 6
    for home, second, part in rows:
        assert _part(home) == part, home
        if second:
            assert _part(f"{home.split('/')[0]}/{second}") == part, second
    assert _part("demo/plug-06") == "tune"


def test_numbers_in_the_doc():
    plan = incidents.Plan()
    assert (
        f"Per home (full run): {plan.stops_per_residual * len(incidents.STOP_RESIDUALS)} stops "
        f"({plan.stops_per_residual} of each residual load), {plan.absences} absences, "
        f"{len(incidents.FAULTS)} device faults, 1 slow decline"
    ) in FLAT
    assert f"at most {incidents.HISTORY_DAYS} days before" in FLAT
    assert f"at least {incidents.MIN_HISTORY_DAYS} days of history" in FLAT
    assert f"ends {incidents.AFTER_H} h after it" in FLAT
    assert f"noise of {incidents.NOISE_SD_W} W (sd)" in FLAT
    assert f"its last {incidents.NIGHT_POOL_DAYS} nights" in FLAT
    assert f"over {incidents.DECLINE_DAYS} days" in FLAT
    assert f"longer than {MAX_GAP_S // 3600} h" in FLAT
    assert f"{commands.DEMO_DAYS} days" in FLAT
    assert f"first {commands.QUICK_DAYS} days of `{commands.QUICK_REAL[0].split('/')[1]}`" in FLAT


def test_the_slow_risk_flag_as_documented():
    from dashboard.detection import decline
    from dashboard.evaluation import decline as measured

    section = " ".join(DOC[DOC.index("## A slow decline") : DOC.index("## Thresholds per")].split())
    assert (
        f"over the last {decline.RECENT_DAYS} days, the mean number of half-hours above the "
        f"ceiling is under **{decline.ABOVE_RATIO} ×** and the mean load under "
        f"**{decline.WATTS_RATIO} ×** their means over a **{decline.BASELINE_DAYS}-day baseline "
        f"that ended {decline.GAP_DAYS} days before**"
    ) in section
    assert f"after **{decline.PERSIST_DAYS} below days in a row**" in section
    assert f"fewer than {decline.MIN_BASELINE_VALID} baseline days" in section
    assert f"or {decline.MIN_RECENT_VALID} recent days are known" in section
    assert f"under {decline.MIN_BASELINE:g} half-hours above the ceiling a day" in section
    assert f"from its last {decline.HISTORY_DAYS} days" in section
    assert f"a study of {measured.STUDY_STARTS} more declines per home" in FLAT
