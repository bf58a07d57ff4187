"""Rule thresholds from ``data/rules.toml``, validated on load.

A lead edits the file by hand, so every mistake must come back as a message that names the
setting and says what is wrong, and a missing setting falls back to the documented default.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from dashboard.tomlconfig import parse_toml_model, read_config_text, reloading

DEFAULT_PATH = Path(__file__).resolve().parents[2] / "data" / "rules.toml"

Stage = Literal["attention", "risk", "severe"]


class RulesConfigError(ValueError):
    """``rules.toml`` is missing, not TOML, or holds a bad value; the message says which."""


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class PlugNoChange(_Section):
    default_hours: float = Field(24, gt=0, le=24 * 14)
    min_hours: float = Field(24, gt=0)
    max_hours: float = Field(50, gt=0)
    risk_after_attention_h: float = Field(12, gt=0)
    severe_after_attention_h: float = Field(24, gt=0)
    power_margin_w: float = Field(5.0, ge=0)
    lux_margin: float = Field(30.0, ge=0)

    @model_validator(mode="after")
    def _ordered(self) -> PlugNoChange:
        if self.min_hours > self.max_hours:
            raise ValueError("min_hours must not be greater than max_hours")
        if not self.min_hours <= self.default_hours <= self.max_hours:
            raise ValueError("default_hours must lie between min_hours and max_hours")
        if self.severe_after_attention_h <= self.risk_after_attention_h:
            raise ValueError("severe_after_attention_h must be greater than risk_after_attention_h")
        return self


class PlugRoutine(_Section):
    """The routine-aware score over the fixed ladder (docs/detection.md)."""

    enabled: bool = True
    min_days: int = Field(14, ge=7, le=28)
    window_days: int = Field(28, ge=14, le=56)
    half_life_days: float = Field(14, gt=0)
    min_quiet_h: float = Field(2, gt=0, le=24)
    min_share: float = Field(0.95, gt=0, le=1)
    attention_slots: float = Field(3, gt=0)
    risk_slots: float = Field(6, gt=0)
    severe_slots: float = Field(12, gt=0)
    score_every_min: int = Field(10, ge=1, le=60)

    @model_validator(mode="after")
    def _ordered(self) -> PlugRoutine:
        if not self.attention_slots < self.risk_slots < self.severe_slots:
            raise ValueError("attention_slots < risk_slots < severe_slots must hold")
        if self.min_days > self.window_days:
            raise ValueError("min_days must not be greater than window_days")
        return self


class CallRoutine(_Section):
    """A line's own calling habit, before the fixed ``call_no_activity`` days (docs/rules.md)."""

    enabled: bool = True
    min_days: int = Field(14, ge=7, le=28)  # days with a call in the window: a regular caller
    gap_factor: float = Field(1.5, ge=1)  # 관심 after this × the line's longest recent silence
    min_quiet_h: float = Field(24, ge=12, le=72)  # never before this much silence


class DeviceSilent(_Section):
    risk_after_h: float = Field(24, gt=0)
    timeout_s: dict[str, int] = Field(default_factory=lambda: {"smart_plug": 7200})

    @model_validator(mode="after")
    def _positive(self) -> DeviceSilent:
        for code, seconds in self.timeout_s.items():
            if seconds < 60:
                raise ValueError(f"timeout_s.{code} must be at least 60 seconds")
        return self


class CallNoActivity(_Section):
    days: float = Field(3, gt=0)
    min_answered_s: float = Field(1, ge=0)


class CallAutoUnanswered(_Section):
    attempts: int = Field(2, ge=1, le=10)
    min_gap_h: float = Field(1, ge=0)


class AiCall(_Section):
    unanswered_in_a_row: int = Field(3, ge=1, le=20)
    risk_in_a_row: int = Field(4, ge=1, le=20)
    concern_stage: Stage = "attention"
    concern_max_age_h: float = Field(168, gt=0)

    @model_validator(mode="after")
    def _ordered(self) -> AiCall:
        if self.risk_in_a_row < self.unanswered_in_a_row:
            raise ValueError("risk_in_a_row must not be smaller than unanswered_in_a_row")
        return self


class Robot(_Section):
    no_interaction_h: float = Field(48, gt=0)
    sos_max_age_h: float = Field(24, gt=0)


class Wandering(_Section):
    default_safe_zone_m: float = Field(500, gt=0, le=50_000)
    no_position_min: float = Field(30, gt=0)
    # The geofence (docs/rules.md, "Wandering: a geofence that knows GPS").
    margin_m: float = Field(25, ge=0, le=1_000)
    max_accuracy_m: float = Field(150, gt=0, le=10_000)
    exit_dwell_min: float = Field(1.5, ge=0, le=10)
    edge_dwell_min: float = Field(2, ge=0, le=10)
    far_m: float = Field(250, gt=0, le=50_000)
    far_dwell_s: float = Field(20, ge=0, le=300)
    reentry_dwell_min: float = Field(5, ge=0, le=20)
    max_speed_kmh: float = Field(150, gt=0, le=1_000)
    risk_after_min: float = Field(15, gt=0)
    severe_after_min: float = Field(45, gt=0)
    risk_distance_m: float = Field(1_000, gt=0)
    severe_distance_m: float = Field(3_000, gt=0)
    night_start_hour: int = Field(22, ge=0, le=23)
    night_end_hour: int = Field(6, ge=0, le=23)
    no_fix_inside_h: float = Field(12, gt=0)
    stopped_m: float = Field(50, gt=0, le=1_000)
    stopped_min: float = Field(1, gt=0, le=10)
    no_position_stopped_min: float = Field(90, gt=0)

    @model_validator(mode="after")
    def _ordered(self) -> Wandering:
        if self.severe_after_min <= self.risk_after_min:
            raise ValueError("severe_after_min must be greater than risk_after_min")
        if self.severe_distance_m <= self.risk_distance_m:
            raise ValueError("severe_distance_m must be greater than risk_distance_m")
        if self.edge_dwell_min < self.exit_dwell_min:
            raise ValueError("edge_dwell_min must not be smaller than exit_dwell_min")
        if self.far_m <= self.margin_m:
            raise ValueError("far_m must be greater than margin_m")
        if self.no_position_stopped_min < self.no_position_min:
            raise ValueError("no_position_stopped_min must not be smaller than no_position_min")
        return self


def position_lookback_min(w: Wandering) -> float:
    """Minutes of fixes before the newest one that the geofence needs (its longest dwell)."""
    return max(w.exit_dwell_min, w.edge_dwell_min, w.reentry_dwell_min, w.stopped_min) + 10


class Battery(_Section):
    low_pct: float = Field(20, gt=0, le=100)
    clear_pct: float = Field(25, gt=0, le=100)

    @model_validator(mode="after")
    def _hysteresis(self) -> Battery:
        if self.clear_pct < self.low_pct:
            raise ValueError("clear_pct must not be smaller than low_pct")
        return self


class Thresholds(_Section):
    """Every rule threshold; ``Thresholds()`` gives the documented defaults."""

    plug_no_change: PlugNoChange = PlugNoChange()
    plug_routine: PlugRoutine = PlugRoutine()
    device_silent: DeviceSilent = DeviceSilent()
    call_no_activity: CallNoActivity = CallNoActivity()
    call_routine: CallRoutine = CallRoutine()
    call_auto_unanswered: CallAutoUnanswered = CallAutoUnanswered()
    ai_call: AiCall = AiCall()
    robot: Robot = Robot()
    wandering: Wandering = Wandering()
    battery: Battery = Battery()


def parse_thresholds(text: str, source: str = "rules.toml") -> Thresholds:
    """Parse and validate TOML text; raise :class:`RulesConfigError` naming each bad setting."""
    return parse_toml_model(
        text,
        Thresholds,
        source=source,
        what="thresholds",
        error=RulesConfigError,
        unknown_key_hint="unknown setting (check the spelling against docs/rules.md)",
    )


def load_thresholds(path: Path | str | None = None) -> Thresholds:
    """Read thresholds from ``path`` (default ``data/rules.toml``)."""
    path = Path(path) if path is not None else DEFAULT_PATH
    text = read_config_text(path, what="rule thresholds", error=RulesConfigError)
    return parse_thresholds(text, source=str(path))


# The thresholds in a file, re-read only when it changes (ingestion's hot path). A lead's edit
# takes effect on the next batch or tick without a restart; an invalid edit raises, so the bad
# file is noticed at once instead of silently running on old values. ``DEFAULT_PATH`` is read at
# each call, so pointing it at another file (evaluate-detection's fixed-rule run) moves every
# reader at once.
current_thresholds = reloading(load_thresholds, lambda: DEFAULT_PATH)
