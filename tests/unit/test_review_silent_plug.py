"""Review of f106524 (issue #9): a person alert opened on quiet the plug watched must keep
escalating after the plug dies, whichever test opened it.

The commit keeps the ladder's clock for an alert the *ladder* opened on watched quiet, but an
alert the routine opened earlier (the stronger, earlier evidence) stops at its stage once the
plug goes silent before the ladder's 24 h: 관심 forever, while before the commit it reached
위험 at 36 h and 심각 at 48 h. The device ticket reaches 위험 only 26 h after the last report
and never 심각.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, timedelta

from dashboard.rules.plug import plug_no_change
from tests.unit.test_detection import TH, TODAY, daily_routine, local, plug_facts


def test_a_routine_alert_opened_on_watched_quiet_escalates_after_the_plug_dies():
    since = local(TODAY - timedelta(days=1), 22, 10)  # the last sign of life
    facts = plug_facts(since, daily_routine())
    opened = plug_no_change(facts, TH, (since + timedelta(hours=12)).astimezone(UTC))
    assert opened.stage == "attention" and opened.evidence["basis"] == "routine"
    # the plug dies right after the routine opened the person alert (12 h of watched quiet)
    dead = replace(facts, last_seen_at=(since + timedelta(hours=12)).astimezone(UTC))
    at = {
        h: plug_no_change(dead, TH, (since + timedelta(hours=h)).astimezone(UTC)).stage
        for h in (36, 48)
    }
    assert at == {36: "risk", 48: "severe"}  # as before f106524; it now stays "attention"


def test_a_routine_alert_is_not_cleared_for_good_by_the_line_dropping_to_0_w():
    """A home whose standby never drops under 5 W (10 W, up to 150 W): the routine opens 관심
    12 h into the quiet; an hour later the line drops to 0 W, which is no sign of life (0 W is
    above the background's floor less its slack: ``background.departs``). The rule's stage
    falls to None, so the lifecycle closes the person alert as ``safe``, and since f106524 no
    person alert ever opens again (the watch ends at the drop); before, the ladder reopened it
    at 24 h and reached 심각 at 48 h. Only a device ticket remains."""
    from dashboard.detection.background import Background, departs

    bg = Background(low_w=10.0, high_w=150.0, step_w=20.0, nights=20)
    assert not departs(10.0, 0.0, TH.plug_no_change.power_margin_w, bg)
    since = local(TODAY - timedelta(days=1), 22, 10)
    facts = plug_facts(since, replace(daily_routine(), background=bg), last_power_w=10.0)
    twelve = (since + timedelta(hours=12)).astimezone(UTC)
    assert plug_no_change(replace(facts, last_seen_at=twelve), TH, twelve).stage == "attention"
    drop = (since + timedelta(hours=13)).astimezone(UTC)
    at_0_w = replace(facts, last_power_w=0.0, last_change_at=drop)
    at = {}
    for h in (36, 48):
        now = (since + timedelta(hours=h)).astimezone(UTC)
        at[h] = plug_no_change(replace(at_0_w, last_seen_at=now), TH, now).stage
    assert at == {36: "risk", 48: "severe"}  # as before f106524; now None: no person alert
