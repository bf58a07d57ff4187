"""Rule thresholds from ``data/rules.toml``, validated on load.

A lead edits the file by hand, so every mistake must come back as a message that names the
setting and says what is wrong, and a missing setting falls back to the documented default.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, PrivateAttr, ValidationError, model_validator

from dashboard.tomlconfig import parse_toml_model, read_config_text, reloading

DEFAULT_PATH = Path(__file__).resolve().parents[2] / "data" / "rules.toml"

Stage = Literal["attention", "risk", "severe"]


class RulesConfigError(ValueError):
    """``rules.toml`` is missing, not TOML, or holds a bad value; the message says which."""


class RuleError(ValueError):
    """A cross-field refusal: the English message (CLI, logs) plus an i18n key
    (``settings_page.error.rule.<key>``) and parameters, so the settings page says it in its
    language. Parameters ``a``/``b``/``c``/``setting`` are flat setting keys (shown as labels)."""

    def __init__(self, message: str, key: str, **params: object) -> None:
        super().__init__(message)
        self.key, self.params = key, params


def _not_greater(section: str, a: str, b: str) -> RuleError:
    return RuleError(
        f"{a} must not be greater than {b}", "not_greater", a=f"{section}.{a}", b=f"{section}.{b}"
    )


def _greater(section: str, a: str, b: str) -> RuleError:
    return RuleError(
        f"{a} must be greater than {b}", "greater", a=f"{section}.{a}", b=f"{section}.{b}"
    )


def _not_smaller(section: str, a: str, b: str) -> RuleError:
    return RuleError(
        f"{a} must not be smaller than {b}", "not_smaller", a=f"{section}.{a}", b=f"{section}.{b}"
    )


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
            raise _not_greater("plug_no_change", "min_hours", "max_hours")
        if not self.min_hours <= self.default_hours <= self.max_hours:
            raise RuleError(
                "default_hours must lie between min_hours and max_hours",
                "between",
                setting="plug_no_change.default_hours",
                a="plug_no_change.min_hours",
                b="plug_no_change.max_hours",
            )
        if self.severe_after_attention_h <= self.risk_after_attention_h:
            raise _greater("plug_no_change", "severe_after_attention_h", "risk_after_attention_h")
        return self


class PlugRoutine(_Section):
    """The routine-aware score over the fixed ladder (docs/detection.md)."""

    enabled: bool = True
    min_days: int = Field(14, ge=7, le=28)
    window_days: int = Field(28, ge=14, le=56)
    half_life_days: float = Field(14, gt=0)
    min_quiet_h: float = Field(2, gt=0, le=24)
    min_share: float = Field(0.95, gt=0, le=1)
    attention_slots: float = Field(2.5, gt=0)
    risk_slots: float = Field(6, gt=0)
    severe_slots: float = Field(12, gt=0)
    score_every_min: int = Field(10, ge=1, le=60)
    # The safety net: the person's ladder this much later on the spell since the last sign of
    # life, beside the floor on the fixed rule's clock (docs/detection.md).
    net_delay_h: float = Field(24, ge=0, le=72)
    # The level test (detection.levels): a CUSUM on the half-hour power levels, 관심 at
    # S ≥ level_h, 위험 at 2 × level_h, 심각 at 4 × level_h, beside the routine and the floor.
    level_enabled: bool = True
    level_h: float = Field(12, gt=0, le=200)
    # A timed night load (detection.timer_load): learned, and its half-hours judged apart, only
    # when on (off: the nights' background at every hour; docs/detection.md says why).
    timer_enabled: bool = False
    # Unusual stillness (detection.stillness): no change beyond the fixed margins for
    # still_factor × the home's longest still run of the window (at least still_min_h) is 관심,
    # 2× that 위험, 4× 심각, beside the routine and the floor.
    still_enabled: bool = True
    still_factor: float = Field(3, ge=1.5, le=20)
    still_min_h: float = Field(3, ge=1, le=24)
    # A load left on (detection.left_on): power above the background's ceiling for
    # on_factor × the home's longest such run of the window (at least on_min_h) is 관심, 2× that
    # 위험, 4× 심각, beside the routine and the floor.
    on_enabled: bool = True
    on_factor: float = Field(2, ge=1.5, le=20)
    on_min_h: float = Field(6, ge=1, le=48)
    # A line held in a narrow band (detection.band): power within band_w for band_factor × the
    # home's longest such time of the window (at least band_min_h) is 관심, 2× that 위험, 4× 심각,
    # beside the routine and the floor.
    band_enabled: bool = True
    band_w: float = Field(100, ge=10, le=1000)
    band_factor: float = Field(3, ge=1.5, le=20)
    band_min_h: float = Field(3, ge=1, le=48)

    @model_validator(mode="after")
    def _ordered(self) -> PlugRoutine:
        if not self.attention_slots < self.risk_slots < self.severe_slots:
            raise RuleError(
                "attention_slots < risk_slots < severe_slots must hold",
                "increasing",
                a="plug_routine.attention_slots",
                b="plug_routine.risk_slots",
                c="plug_routine.severe_slots",
            )
        if self.min_days > self.window_days:
            raise _not_greater("plug_routine", "min_days", "window_days")
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
                raise RuleError(
                    f"timeout_s.{code} must be at least 60 seconds",
                    "timeout_min",
                    setting=f"device_silent.timeout_s.{code}",
                    min=60,
                )
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
            raise _not_smaller("ai_call", "risk_in_a_row", "unanswered_in_a_row")
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
    bad_fix_min: float = Field(30, gt=0, le=24 * 60)

    @model_validator(mode="after")
    def _ordered(self) -> Wandering:
        if self.severe_after_min <= self.risk_after_min:
            raise _greater("wandering", "severe_after_min", "risk_after_min")
        if self.severe_distance_m <= self.risk_distance_m:
            raise _greater("wandering", "severe_distance_m", "risk_distance_m")
        if self.edge_dwell_min < self.exit_dwell_min:
            raise _not_smaller("wandering", "edge_dwell_min", "exit_dwell_min")
        if self.far_m <= self.margin_m:
            raise _greater("wandering", "far_m", "margin_m")
        if self.no_position_stopped_min < self.no_position_min:
            raise _not_smaller("wandering", "no_position_stopped_min", "no_position_min")
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
            raise _not_smaller("battery", "clear_pct", "low_pct")
        return self


# What a district may override (``[districts."<code>".<section>]``): the routine score's
# sensitivity, the level test (on or off, and its threshold: a district may preview and opt in
# without the whole city) and the ladder's steps for people without a personal setting.
# Everything else (the noise margins, the routine's learning window, min/max_hours) stays
# city-wide.
DISTRICT_KEYS: dict[str, tuple[str, ...]] = {
    "plug_routine": (
        "min_share",
        "min_quiet_h",
        "attention_slots",
        "risk_slots",
        "severe_slots",
        "level_enabled",
        "level_h",
    ),
    "plug_no_change": ("default_hours", "risk_after_attention_h", "severe_after_attention_h"),
}
# The ladder is the floor guarantee: a district may make it earlier, never later than the city's.
LADDER_CEILING_KEYS = DISTRICT_KEYS["plug_no_change"]


class DistrictRoutine(_Section):
    """A district's ``[plug_routine]`` values; a missing one is the city's."""

    # Strict: in a hand-edited district table, ``level_h = true`` (lax: 1.0, an alert flood),
    # ``level_enabled = 1`` or ``"no"`` is a mistake to name, not a value to guess.
    model_config = ConfigDict(extra="forbid", frozen=True, strict=True)

    min_share: float | None = Field(None, gt=0, le=1)
    min_quiet_h: float | None = Field(None, gt=0, le=24)
    attention_slots: float | None = Field(None, gt=0)
    risk_slots: float | None = Field(None, gt=0)
    severe_slots: float | None = Field(None, gt=0)
    level_enabled: bool | None = None
    level_h: float | None = Field(None, gt=0, le=200)


class DistrictLadder(_Section):
    """A district's ``[plug_no_change]`` steps; each at most the city's (checked in Thresholds)."""

    model_config = ConfigDict(extra="forbid", frozen=True, strict=True)  # as DistrictRoutine

    default_hours: float | None = Field(None, gt=0, le=24 * 14)
    risk_after_attention_h: float | None = Field(None, gt=0)
    severe_after_attention_h: float | None = Field(None, gt=0)


class DistrictOverride(_Section):
    plug_routine: DistrictRoutine = DistrictRoutine()
    plug_no_change: DistrictLadder = DistrictLadder()

    def values(self) -> dict[str, float | bool]:
        """The overridden settings as flat ``section.key`` → value (None left out)."""
        return {
            f"{section}.{key}": value
            for section in DISTRICT_KEYS
            for key, value in getattr(self, section).model_dump().items()
            if value is not None
        }


class Thresholds(_Section):
    """Every rule threshold; ``Thresholds()`` gives the documented defaults.

    ``districts`` maps a 시·군·구 code to its overrides of the plug thresholds; a person's plug is
    judged with :meth:`for_region` of the person's region (the city's values elsewhere).
    """

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
    districts: dict[str, DistrictOverride] = Field(default_factory=dict)
    # region code → effective thresholds (the rule tick asks once per device)
    _by_region: dict[str | None, Thresholds] = PrivateAttr(default_factory=dict)

    def __eq__(self, other: object) -> bool:
        # The settings decide; the per-region cache (a private attribute) must not.
        if not isinstance(other, Thresholds):
            return NotImplemented
        return all(getattr(self, f) == getattr(other, f) for f in Thresholds.model_fields)

    __hash__ = None  # type: ignore[assignment]  # dict settings: never hashable anyway

    @model_validator(mode="after")
    def _districts_valid(self) -> Thresholds:
        if not self.districts:
            return self
        # Imported here: the auth package is heavy, and most files have no district section.
        from dashboard.auth.regions import area_prefix

        for code, override in self.districts.items():
            try:
                area_prefix(code)
            except ValueError as exc:
                raise RuleError(f"districts.{code}: {exc}", "district_code", code=code) from None
            if code[5:] != "00000" or code[2:] == "00000000":
                raise RuleError(
                    f"districts.{code}: not a 시·군·구 (district) code", "district_code", code=code
                )
            self._effective(code, override)
        return self

    def _effective(self, code: str, override: DistrictOverride) -> Thresholds:
        """The city's thresholds with ``override`` applied, validated as the city's are."""
        ladder = override.plug_no_change.model_dump(exclude_none=True)
        for key, value in ladder.items():
            city = getattr(self.plug_no_change, key)
            if value > city:
                raise RuleError(
                    f"districts.{code}.plug_no_change.{key} = {value:g} is later than the "
                    f"city's {city:g}: a district may make the fixed ladder earlier, never later",
                    "district_later",
                    code=code,
                    setting=f"plug_no_change.{key}",
                    value=value,
                    city=city,
                )
        routine = override.plug_routine.model_dump(exclude_none=True)
        try:
            merged_ladder = PlugNoChange(**{**self.plug_no_change.model_dump(), **ladder})
            merged_routine = PlugRoutine(**{**self.plug_routine.model_dump(), **routine})
        except ValidationError as exc:  # name the district; keep the first check's key
            messages = "; ".join(e["msg"].removeprefix("Value error, ") for e in exc.errors())
            cause = exc.errors()[0].get("ctx", {}).get("error")
            key, params = (
                (cause.key, cause.params)
                if isinstance(cause, RuleError)
                else ("district_invalid", {"detail": messages})
            )
            raise RuleError(f"districts.{code}: {messages}", key, code=code, **params) from None
        return self.model_copy(
            update={
                "plug_no_change": merged_ladder,
                "plug_routine": merged_routine,
                "districts": {},
            }
        )

    def for_region(self, region_code: str | None) -> Thresholds:
        """The thresholds for a person in ``region_code`` (any code under a 시·군·구): the
        district's override applied, or these (the city's) when the district has none."""
        if not self.districts:
            return self
        cached = self._by_region.get(region_code)
        if cached is not None:
            return cached
        from dashboard.auth.regions import area_prefix

        out, best = self, ""
        # The most specific district: a 구's own table (일산동구) before its 시's (고양시),
        # whatever their order in the file.
        for code, override in self.districts.items():
            prefix = area_prefix(code)
            if region_code and region_code.startswith(prefix) and len(prefix) > len(best):
                out, best = self._effective(code, override), prefix
        self._by_region[region_code] = out
        return out

    def level_enabled_in(self, region_code: str | None) -> bool:
        """Whether the level test judges (and the nightly job learns for) plugs of a person in
        ``region_code``: the district's ``plug_routine.level_enabled``, else the city's."""
        return self.for_region(region_code).plug_routine.level_enabled

    @property
    def level_enabled_anywhere(self) -> bool:
        """The level test is on in the city or in some district (the tick's candidate query
        then takes plugs with a level model)."""
        return any(v.plug_routine.level_enabled for v in self.district_variants())

    def district_variants(self) -> list[Thresholds]:
        """The city's thresholds and every district's (the tick's candidate query takes the most
        sensitive of them)."""
        return [self, *(self._effective(c, o) for c, o in self.districts.items())]


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
