"""The plugs' no-change alerts of the demo's past, from the same rule that runs at ``end``.

Every quiet spell of every plug's generated days goes through ``dashboard.detection.scan``
(the ladder and the routine score, judged at each half-hour with the routine of that day), and
each spell that reached a stage becomes a closed alert; the real rule (``Ctx.judge``) then
gives it its stage and evidence at the moment it reached its highest stage, with the plug's
real last reading, so a spell the live rule would not judge (a plug that was offline: a device
fault, not a person's silence) is left out. Before this, the past was judged by the fixed
ladder only, while the present (``dashboard.demo.present``) runs the routine-aware rule: the
last day opened more no-change alerts than any day before it (issue 11).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

import numpy as np

from dashboard.demo.context import Ctx, Episode
from dashboard.detection.routine import learn_routine
from dashboard.detection.scan import scan_plug
from dashboard.rules.plug import plug_no_change
from dashboard.settings import LOCAL_TZ


@dataclass(frozen=True)
class Away:
    """A generated time away (hour indices of the grid) and what it turned out to be."""

    start_h: int
    end_h: int
    truth: str  # routine | false_alarm | crisis | deceased


def _epoch(at: datetime) -> int:
    return int(at.timestamp())


def plug_spell_episodes(
    ctx: Ctx,
    *,
    program_id: int,
    device_id: int,
    recipient_id: int,
    region_id: int,
    dong_name: str,
    no_change_hours: float,
    activity_slots: np.ndarray,  # (days,) the plug's half-hour bits per grid day
    ts: np.ndarray,  # (hours,) when each hourly report was (or would have been) sent
    reported: np.ndarray,  # (hours,) whether it was
    power: np.ndarray,
    lux: np.ndarray,
    aways: list[Away],
    cut_s: int | None,  # a plug taken back after its person died: its history ends here
) -> list[Episode]:
    """Closed no-change alerts of one plug's generated past."""
    grid, th = ctx.grid, ctx.th
    days = {grid.day0 + timedelta(days=k): int(b) for k, b in enumerate(activity_slots)}
    start = datetime.fromtimestamp(grid.t0, UTC)
    end = datetime.fromtimestamp(cut_s, UTC) if cut_s is not None else grid.end
    scan = scan_plug(days, th, start, end, no_change_hours=no_change_hours)
    seen = np.flatnonzero(reported)
    cfg = th.plug_routine
    out = []
    for alert in scan.alerts:
        if alert.running and cut_s is None:
            continue  # still quiet at ``end``: the present's rules judge it
        at = _epoch(alert.top_at)
        last = seen[ts[seen] <= at]
        if not last.size:
            continue
        k = int(last[-1])
        since_h = int((_epoch(alert.since) - grid.t0) // 3600)
        routine = learn_routine(
            days,
            _local_day(alert.top_at),
            window_days=cfg.window_days,
            half_life_days=cfg.half_life_days,
            min_days=cfg.min_days,
        )
        decision = ctx.judge(
            plug_no_change,
            at,
            type_code="smart_plug",
            device_id=device_id,
            no_change_hours=float(no_change_hours),
            last_activity_at=int(ts[since_h]),
            last_seen_at=int(ts[k]),
            last_power_w=float(power[k]),
            last_lux=float(lux[k]),
            routine=routine,
        )
        if decision is None or decision.stage is None:
            continue
        resolved = _epoch(alert.end)
        end_h = (resolved - grid.t0) // 3600
        truth = next(
            (a.truth for a in aways if a.start_h <= end_h and since_h < a.end_h), "routine"
        )
        out.append(
            Episode(
                rule=decision.rule,
                stage=decision.stage,
                kind="person",
                program_id=program_id,
                region_id=region_id,
                recipient_id=recipient_id,
                device_id=device_id,
                opened_s=_epoch(alert.opened_at),
                resolved_s=resolved,
                evidence=decision.evidence,
                truth=truth,
                dong_name=dong_name,
            )
        )
    return out


def _local_day(at: datetime) -> date:
    return at.astimezone(LOCAL_TZ).date()
