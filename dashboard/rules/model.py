"""The vocabulary shared by the pure rules and the alert lifecycle: facts in, decisions out."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from typing import TYPE_CHECKING, Any, Literal

if TYPE_CHECKING:
    from dashboard.detection.levels import LevelFacts
    from dashboard.detection.routine import Routine

Stage = Literal["attention", "risk", "severe"]
Kind = Literal["person", "device_fault"]

STAGE_RANK: dict[str, int] = {"attention": 1, "risk": 2, "severe": 3}

# rule code → alert kind. The demo city writes alerts with the same codes.
RULE_KINDS: dict[str, Kind] = {
    "plug_no_change": "person",
    "plug_no_load": "device_fault",
    "device_silent": "device_fault",
    "call_no_activity": "person",
    "call_auto_unanswered": "person",
    "ai_call_unanswered": "person",
    "ai_call_concern": "person",
    "robot_sos": "person",
    "robot_no_interaction": "person",
    "wander_left_zone": "person",
    "wander_no_position": "person",
    "wander_no_fix": "device_fault",
    "wander_bad_fix": "device_fault",
    "low_battery": "device_fault",
}

# Rules that record an event a person must follow up; they never close by themselves.
STICKY_RULES = frozenset({"robot_sos", "ai_call_concern"})
# Event types by which a person asks for help (a pressed SOS button, linked to 119): alerted
# whatever the device's status (``facts.load_help_facts``) or type, and kept when the device's
# clock is wrong (stamped at receipt by ingest, ``ingest.core``). Nothing else in the contract
# is a person asking: ``trigger`` is a smoking detector at a site.
HELP_EVENTS = frozenset({"sos"})
# Rules whose open alert follows the decided stage down as well as up: one wandering episode is
# one alert that de-escalates (back near home, returning) instead of closing and reopening.
FOLLOWING_RULES = frozenset({"wander_left_zone"})


def worse(a: str | None, b: str | None) -> str | None:
    """The graver of two stages (``None`` is below every stage)."""
    # ``max`` with a key, unrolled (the first on a tie): the rules call this at every evaluation.
    return b if STAGE_RANK.get(b or "", 0) > STAGE_RANK.get(a or "", 0) else a


def dedup_key(rule: str, recipient_id: int | None, device_id: int) -> str:
    """``rule:<recipient id>`` for person alerts, ``rule:d<device id>`` for device faults.

    Device faults carry no recipient (the ticket is about the device), so they key on the device.
    """
    subject = recipient_id if RULE_KINDS[rule] == "person" and recipient_id else f"d{device_id}"
    return f"{rule}:{subject}"


@dataclass(frozen=True)
class Reading:
    """One raw event as the rules see it."""

    ts: datetime
    type: str
    value: float | None = None
    data: dict[str, Any] | None = None


@dataclass(slots=True)
class DeviceFacts:
    """What the rules know about one device, its latest state and its person.

    Treated as immutable (use ``dataclasses.replace``); not frozen only because a frozen
    dataclass is several times slower to build, and ingestion builds one per device per batch.
    """

    device_id: int
    type_code: str
    program_id: int
    region_id: int
    heartbeat_timeout_s: int
    recipient_id: int | None = None
    installed_at: datetime | None = None  # installed_on, 00:00 Asia/Seoul
    registered_at: datetime | None = None  # entered in Anbu (None: before that was recorded)
    # device_state (None when the device never reported)
    state: str | None = None
    last_seen_at: datetime | None = None
    last_activity_at: datetime | None = None
    last_change_at: datetime | None = None  # beyond the fixed margins: the ladder's clock
    # a smart plug's person's latest sign of life on another of their active plugs, where it
    # is later than this plug's own (rules.household): the person's quiet spell starts there
    person_active_at: datetime | None = None
    last_power_w: float | None = None
    last_lux: float | None = None
    battery_pct: float | None = None
    last_lat: float | None = None
    last_lon: float | None = None
    first_seen_at: datetime | None = None  # the oldest event (back-filled history included)
    first_received_at: datetime | None = None  # when Anbu stored the device's first event
    # a plug's first reading of its current run above the background's ceiling (left_on)
    above_since: datetime | None = None
    # a plug's current band of readings (detection.band): its start, lowest and highest
    band_since: datetime | None = None
    band_low_w: float | None = None
    band_high_w: float | None = None
    band_gap_h: float | None = None  # its hours without any report (not band time)
    # the person
    no_change_hours: float | None = None
    safe_zone_m: float | None = None
    home_lat: float | None = None
    home_lon: float | None = None
    dong_name: str | None = None
    # the person's region code (the device's without a person): picks the district thresholds
    region_code: str | None = None
    # the home's learned routine (smart plugs with enough history; dashboard.detection)
    routine: Routine | None = None
    # its level model and recent half-hour levels (dashboard.detection.levels), loaded with the
    # routine when the level test is on
    levels: LevelFacts | None = None
    # staff marked the person away until this return date (exclusive): person alerts pause
    away_until: date | None = None
    # the first day and the return date of their latest away period that has ended (not
    # cancelled): the plug rule's clock starts no earlier than the return date's midnight
    # where nothing showed the person since before the first day (rules.plug.back_at)
    left_on: date | None = None
    back_on: date | None = None
    # wandering: an optional polygon zone ((lat, lon), …) and quiet hours (minutes of the day,
    # Asia/Seoul); the evidence of the open left-zone alert (the episode), and since when the
    # geofence has been in its state: the episode's opening, else the last episode's close.
    zone_polygon: tuple[tuple[float, float], ...] | None = None
    quiet_start_min: int | None = None
    quiet_end_min: int | None = None
    wander_episode: dict[str, Any] | None = None
    wander_since: datetime | None = None
    # rule code → when an operator last closed that rule's alert for this subject: a human
    # check restarts the rule's clock, so a persisting condition does not reopen at once.
    human_closed_at: dict[str, datetime] = field(default_factory=dict)
    # rule code → evidence of the newest alert for this subject (any status), for event rules
    # that must not alert twice on the same event.
    last_evidence: dict[str, dict[str, Any]] = field(default_factory=dict)
    # a plug's open ``plug_no_change`` alert: the quiet spell it was raised on (its evidence's
    # ``since``) and when a test of that quiet spell first raised it (``alerted_at``, None
    # before one did): the ladder's steps count from then while the spell goes on
    # (rules.plug.steps_stage)
    plug_alert: tuple[str | None, datetime | None] | None = None
    # ``devices.status``: only ``active`` devices are watched by the rules; a device out of
    # service is loaded only to alert a person's call for help (``facts.load_help_facts``),
    # with the person of its last assignment when it was released (``released_at``), and the
    # day that person's enrollment ended, if it has
    device_status: str = "active"
    released_at: datetime | None = None
    enrollment_ended_on: date | None = None


@dataclass(frozen=True)
class Decision:
    """A rule's verdict for one subject: ``stage`` set = the condition holds; ``None`` = it cleared.

    ``outbox`` holds notification rows to write with the alert (e.g. an automatic call request).
    """

    rule: str
    stage: Stage | None
    evidence: dict[str, Any] = field(default_factory=dict)
    outbox: tuple[dict[str, Any], ...] = ()

    @property
    def kind(self) -> Kind:
        return RULE_KINDS[self.rule]


def iso(ts: datetime | None) -> str | None:
    return ts.isoformat() if ts is not None else None


def hours_between(earlier: datetime, later: datetime) -> float:
    return (later - earlier).total_seconds() / 3600
