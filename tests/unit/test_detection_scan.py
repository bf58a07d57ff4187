"""The vectorised history scan (``dashboard.detection.scan``) is the live rule's model, judged
at every half-hour: checked against ``learn_routine`` + ``score_quiet`` + the ladder, spell by
spell and point by point, on random homes."""

from __future__ import annotations

import random
from datetime import UTC, date, datetime, time, timedelta

import pytest

from dashboard.detection.routine import SLOT, learn_routine, score_quiet
from dashboard.detection.scan import STAGES, scan_plug
from dashboard.rules.config import current_thresholds
from dashboard.rules.model import worse
from dashboard.rules.plug import ladder_stage, plug_ladder, routine_stage
from dashboard.settings import LOCAL_TZ

DAY0 = date(2026, 9, 1)


def _slot_start(index: int) -> datetime:
    day, slot = divmod(index, 48)
    midnight = datetime.combine(DAY0 + timedelta(days=day), time.min, LOCAL_TZ)
    return (midnight + slot * SLOT).astimezone(UTC)


def _home(rng: random.Random, n_days: int) -> dict[date, int]:
    """A home with a waking day (sometimes irregular), some days away and some days missing."""
    wake, sleep, density = rng.randint(10, 20), rng.randint(38, 47), rng.choice([0.15, 0.4, 0.8])
    days = {}
    for k in range(n_days):
        roll = rng.random()
        if roll < 0.04:
            continue  # no row that day
        bits = 0
        if roll > 0.08:  # else a day without activity
            lo, hi = wake + rng.randint(-3, 3), sleep + rng.randint(-3, 0)
            if rng.random() < 0.15:  # a late morning: what the routine score is for
                lo += rng.randint(4, 12)
            for j in range(lo, hi):
                if rng.random() < density:
                    bits |= 1 << j
        days[DAY0 + timedelta(days=k)] = bits
    return days


def _reference(days, th, start, end, no_change_hours=None, background_since=None):
    """Brute force: every spell, every half-hour, with the live rule's own functions."""
    cfg = th.plug_routine
    ladder = plug_ladder(no_change_hours, th)
    shortest = min(ladder[0], cfg.min_quiet_h)
    end_index = int((end - _slot_start(0)) / SLOT)
    start_index = (start - _slot_start(0)) / SLOT
    active = [
        (d - DAY0).days * 48 + j
        for d in sorted(days)
        for j in range(48)
        if days[d] >> j & 1 and (d - DAY0).days * 48 + j <= end_index
    ]
    out = []
    for k, a in enumerate(active):
        running = k + 1 == len(active)
        b = end_index if running else active[k + 1]
        if (b - a - 0.5) / 2 < shortest or b <= start_index:
            continue
        since = _slot_start(a) + SLOT / 2
        reached = []
        for j in range(a + 1, b + 1):
            now = _slot_start(j)
            quiet = (now - since).total_seconds() / 3600
            if quiet < shortest:
                continue
            stage = ladder_stage(quiet, ladder)
            routine = learn_routine(
                days,
                now.astimezone(LOCAL_TZ).date(),
                window_days=cfg.window_days,
                half_life_days=cfg.half_life_days,
                background_since=background_since,
                min_days=cfg.min_days,
            )
            by_routine = None
            if quiet >= cfg.min_quiet_h and len(routine.reference_days) >= cfg.min_days:
                score = score_quiet(routine, since, now, LOCAL_TZ, cfg.min_share)
                by_routine = routine_stage(score, cfg)
            reached.append((now, stage, worse(stage, by_routine)))
        hits = [(now, ladder, final) for now, ladder, final in reached if final]
        if not hits:
            continue
        top = max(hits, key=lambda h: STAGES.index(h[2]))[2]
        top_at = next(now for now, _l, final in hits if final == top)
        low = min(STAGES.index(final) for _n, _l, final in hits)
        reached = tuple(
            (STAGES[level], next(n for n, _l, f in hits if STAGES.index(f) >= level))
            for level in range(low, STAGES.index(top) + 1)
        )
        ladder_top = max((STAGES.index(h[1]) for h in hits if h[1]), default=-1)
        out.append(
            (
                since,
                hits[0][0],
                top,
                "ladder" if ladder_top == STAGES.index(top) else "routine",
                running,
                top_at,
                reached,
            )
        )
    return out


@pytest.mark.parametrize("seed", range(8))
def test_the_scan_judges_every_spell_as_the_live_rule_would(seed):
    rng = random.Random(seed)
    th = current_thresholds()
    if seed % 3 == 2:  # another quantile and ladder: the scan follows the thresholds it gets
        th = th.model_copy(
            update={"plug_routine": replace_cfg(th.plug_routine, min_share=0.8, risk_slots=5)}
        )
    days = _home(rng, 45)
    end = _slot_start(44 * 48 + rng.randint(0, 47)) + timedelta(minutes=rng.randint(0, 29))
    start = end - timedelta(days=20)
    since = DAY0 + timedelta(days=rng.randint(0, 30)) if seed % 2 else None
    personal = rng.choice([None, 30.0])
    got = scan_plug(days, th, start, end, no_change_hours=personal, background_since=since).alerts
    want = _reference(days, th, start, end, personal, since)
    got = [(a.since, a.opened_at, a.stage, a.basis, a.running, a.top_at, a.reached) for a in got]
    assert got == want
    assert want, "the seed should give alerts to compare"


def replace_cfg(cfg, **changes):
    return cfg.model_copy(update=changes)


def _quiet_plug(since: datetime, seen: datetime, changed: datetime, routine):
    """A plug quiet since ``since`` (its last sign of life), reporting until ``seen``, its line
    last changed beyond the margins at ``changed`` (a fridge), with ``routine``."""
    from tests.unit.test_detection import plug_facts

    installed = since - timedelta(days=60)
    return plug_facts(since, routine, installed, last_seen_at=seen, last_change_at=changed)


def test_a_home_back_every_morning_alerts_the_morning_it_is_not():
    """27 ordinary days (up at 07:00, active until 22:00), then nothing from 22:00: the scan
    opens one alert the next morning, hours before the ladder's 24 h, and escalates it."""
    th = current_thresholds()
    usual = sum(1 << j for j in range(14, 44))
    days = {DAY0 + timedelta(days=k): usual for k in range(28)}
    end = _slot_start(29 * 48 + 20)  # 10:00 on day 29
    scan = scan_plug(days, th, end - timedelta(days=3), end)
    alerts = scan.alerts
    assert scan.routine_days == 4  # days 26–29: 14 days of history from day 14
    assert len(alerts) == 1
    alert = alerts[0]
    assert alert.running and alert.basis == "routine"
    opened = alert.opened_at.astimezone(LOCAL_TZ)
    assert opened.date() == DAY0 + timedelta(days=28) and 7 <= opened.hour < 10
    assert alert.since == _slot_start(27 * 48 + 43) + SLOT / 2  # 21:30–22:00 was the last


def test_without_days_or_activity_nothing_is_scanned():
    th = current_thresholds()
    end = _slot_start(10 * 48)
    assert scan_plug({}, th, end - timedelta(days=1), end).alerts == []
    assert scan_plug({DAY0: 0}, th, end - timedelta(days=1), end).alerts == []


def test_a_cycling_fridge_moves_the_ladder_clock_and_the_net_alerts_a_day_later():
    """As plug_no_change: on a plug with 28 days reported, changes beyond the margins (a
    fridge) restart the ladder's clock, and the net runs net_delay_h later on the spell since
    the last sign of life while the routine is usable; on a young plug the ladder keeps that
    spell."""
    from dataclasses import replace

    from dashboard.detection.routine import Routine
    from dashboard.rules.plug import plug_no_change

    # A routine that never raises (a home active on most days, too irregularly for the score):
    # what is left is the ladder, its clock and the net.
    shipped = current_thresholds()
    slow = {"attention_slots": 100, "risk_slots": 101, "severe_slots": 102}
    th = shipped.model_copy(update={"plug_routine": shipped.plug_routine.model_copy(update=slow)})
    # Active only at 08:00, on two days of every three: a usable routine (18-19 active days).
    days = {DAY0 + timedelta(days=k): (0 if k % 3 == 1 else 1 << 16) for k in range(28)}
    collapse_day = DAY0 + timedelta(days=27)  # active at 08:00, then nothing
    everything = (1 << 48) - 1
    fridge = {DAY0 + timedelta(days=k): everything for k in range(27, 31)}
    since = _slot_start((27 * 48) + 16) + SLOT / 2
    end = since + timedelta(hours=80)
    scan = scan_plug(days, th, since, end, changes=fridge)
    (alert,) = scan.alerts
    assert alert.basis == "net" and alert.stage == "severe"
    opened = dict(alert.reached)
    assert opened["attention"] - since == timedelta(hours=48, minutes=15)  # the next half-hour
    plain = scan_plug(days, th, since, end)  # no change bits: the spell
    assert plain.alerts[0].basis == "ladder"
    assert dict(plain.alerts[0].reached)["attention"] - since == timedelta(hours=24, minutes=15)
    young = {d: b for d, b in days.items() if d > collapse_day - timedelta(days=10)}
    (early,) = scan_plug(young, th, since, end, changes=fridge).alerts
    assert early.basis == "ladder" and dict(early.reached)["attention"] - since < timedelta(
        hours=25
    )
    # The live rule agrees at those moments.
    routine = Routine(collapse_day + timedelta(days=1), dict(days))
    facts = _quiet_plug(since, end, opened["attention"] - timedelta(minutes=20), routine)
    assert plug_no_change(facts, th, opened["attention"]).evidence["basis"] == "net"
    assert plug_no_change(facts, th, opened["attention"] - SLOT).stage is None
    young_facts = replace(facts, routine=Routine(routine.learned_on, dict(young)))
    assert plug_no_change(young_facts, th, since + timedelta(hours=24, minutes=1)).stage == (
        "attention"
    )
    # A home active on one day of every three (its last activity at 08:00 on day 27): 10 active
    # days in the window, no usable routine. The spell since the last sign of life says
    # nothing there (on a home whose background hides the person it runs for weeks): no net,
    # and the fixed rule's clock restarts at every fridge cycle. The preview and the rule agree.
    sparse = {DAY0 + timedelta(days=k): (0 if k % 3 else 1 << 16) for k in range(28)}
    assert not scan_plug(sparse, th, since, end, changes=fridge).alerts
    for hours in (48.5, 60.5, 72.5, 80):
        now = since + timedelta(hours=hours)
        learned = Routine(now.astimezone(LOCAL_TZ).date(), dict(sparse))
        assert len(learned.reference_days) < th.plug_routine.min_days
        judged = replace(facts, routine=learned, last_change_at=now - timedelta(minutes=20))
        assert plug_no_change(judged, th, now).stage is None


@pytest.mark.parametrize(("gap_h", "net_h"), [(36, 48), (60, 60), (120, 72)])
def test_the_net_waits_for_the_homes_longest_gap_up_to_a_day_more(gap_h, net_h):
    """The net raises 관심 at 48 h since the last sign of life, or at the home's own longest
    time between two signs of life in the window if that is longer, up to 72 h: a whole-home
    meter whose signs of life are days apart raised the net on every such gap. The preview and
    the live rule agree."""
    from dashboard.detection.explain import explain_plug
    from dashboard.detection.routine import Routine
    from dashboard.rules.plug import plug_no_change

    shipped = current_thresholds()
    slow = {"attention_slots": 100, "risk_slots": 101, "severe_slots": 102}
    th = shipped.model_copy(update={"plug_routine": shipped.plug_routine.model_copy(update=slow)})
    # Active every morning at 08:00, but once the home was quiet for gap_h hours from day 3.
    active = {k * 48 + 16 for k in range(28)}
    start = 3 * 48 + 16
    active = {i for i in active if not start < i < start + 2 * gap_h} | {start + 2 * gap_h}
    days = {DAY0 + timedelta(days=k): 0 for k in range(28)}
    for i in active:
        days[DAY0 + timedelta(days=i // 48)] |= 1 << (i % 48)
    routine = Routine(DAY0 + timedelta(days=28), dict(days))
    assert routine.gap_h == max(gap_h, 24) and len(routine.reference_days) >= 14
    everything = (1 << 48) - 1
    fridge = {DAY0 + timedelta(days=k): everything for k in range(27, 31)}
    since = _slot_start(27 * 48 + 16) + SLOT / 2
    end = since + timedelta(hours=80)
    (alert,) = scan_plug(days, th, since, end, changes=fridge).alerts
    assert alert.basis == "net"
    opened = dict(alert.reached)["attention"]
    assert opened - since == timedelta(hours=net_h, minutes=15)  # the next half-hour
    facts = _quiet_plug(since, end, opened - timedelta(minutes=20), routine)
    decision = plug_no_change(facts, th, opened)
    assert decision.stage == "attention" and decision.evidence["basis"] == "net"
    assert decision.evidence["net_delay_h"] == net_h - 24
    sentence = decision.evidence["explanation"]
    assert f"{net_h} / {net_h + 12} / {net_h + 24} h" in sentence
    later = net_h > 48  # the sentence says why the net waited longer than usual
    assert decision.evidence["net_gap_h"] == (gap_h if later else None)
    assert (
        f"in its last 28 days its signs of life came up to {gap_h} h apart" in sentence
    ) == later
    korean = explain_plug(decision.evidence, "ko")
    assert (f"최근 28일 동안 이 집의 활동은 최대 {gap_h}시간 간격" in korean) == later
    assert f"{net_h} / {net_h + 12} / {net_h + 24}시간에 경보" in korean
    assert plug_no_change(facts, th, opened - SLOT).stage is None


def test_the_docs_state_the_nets_longest_wait():
    from dashboard.rules.plug import NET_MAX_DELAY_H
    from dashboard.settings import PROJECT_ROOT

    rules = (PROJECT_ROOT / "docs" / "rules.md").read_text(encoding="utf-8")
    assert f"its delay at most {NET_MAX_DELAY_H:g} h in all (`rules.plug.NET_MAX_DELAY_H`" in rules
    assert f"관심 between 48 h and {24 + NET_MAX_DELAY_H:g} h by default" in rules
    detection = (PROJECT_ROOT / "docs" / "detection.md").read_text(encoding="utf-8")
    assert f"at most `NET_MAX_DELAY_H` ({NET_MAX_DELAY_H:g} h)" in detection
    assert f"관심 between 48 h and {24 + NET_MAX_DELAY_H:g} h after the last sign" in detection
