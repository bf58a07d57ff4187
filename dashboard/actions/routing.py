"""Routing of dispatches and notifications from ``data/dispatch_routing.toml``, validated.

The file decides where a check request goes (dong welfare center in office hours, the central
control center otherwise), which routing address each kind of notification gets, and how the
outbox is delivered. A lead may edit it, so every mistake comes back naming the key.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time
from pathlib import Path
from typing import Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from dashboard.clock import require_aware
from dashboard.tomlconfig import parse_toml_model, read_config_text, reloading

DEFAULT_PATH = Path(__file__).resolve().parents[2] / "data" / "dispatch_routing.toml"
WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
# Outbox channels: the rules write auto_call and dong_center; actions write the rest but
# operators, which the daily away reminder writes (dashboard.notify.reminders).
CHANNELS = (
    "auto_call",
    "dong_center",
    "field_visit",
    "emergency_119",
    "guardian_call",
    "lead",
    "responder",  # a police box or partner place (dashboard.actions.notify_responder)
    "operators",
)
PLACEHOLDERS = ("alert_id", "recipient_id", "device_id", "dong_code", "district_code", "program")


class RoutingConfigError(ValueError):
    """The routing file is missing, not TOML, or holds a bad value; the message says which."""


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


def _check_template(value: str) -> str:
    try:
        value.format(**{name: "x" for name in (*PLACEHOLDERS, "dong")})
    except (KeyError, IndexError, ValueError) as exc:
        raise ValueError(f"unknown placeholder {exc} in {value!r}") from None
    return value


class CentralCenter(_Section):
    target: str = Field(min_length=1)
    recipient: str = Field(min_length=1)


class DongCenter(_Section):
    office_days: tuple[str, ...] = ("mon", "tue", "wed", "thu", "fri")
    office_start: time = time(9, 0)
    office_end: time = time(18, 0)
    dong_target: str = "{dong} 행정복지센터"
    dong_recipient: str = "dong:{dong_code}"
    central_target: str = "중앙관제센터"
    central_recipient: str = "central:control_center"
    holiday_years: tuple[int, ...] = ()
    holidays: frozenset[date] = frozenset()
    central_by_program: dict[str, CentralCenter] = Field(default_factory=dict)

    @field_validator("office_days")
    @classmethod
    def _days(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        unknown = [d for d in value if d not in WEEKDAYS]
        if unknown:
            raise ValueError(f"unknown weekday(s) {unknown}; use {list(WEEKDAYS)}")
        return value

    @field_validator("dong_target", "dong_recipient")
    @classmethod
    def _template(cls, value: str) -> str:
        return _check_template(value)

    @model_validator(mode="after")
    def _consistent(self) -> DongCenter:
        if self.office_start >= self.office_end:
            raise ValueError("office_start must be before office_end")
        stray = sorted({d.year for d in self.holidays} - set(self.holiday_years))
        if stray:
            raise ValueError(f"holidays in years {stray} not listed in holiday_years")
        return self


class Recipients(_Section):
    field_visit: str = "field_team:{district_code}"
    emergency_119: str = "119:liaison"
    on_duty_lead: str = "lead:on_duty"
    guardian_call: str = "guardian:{recipient_id}"
    ai_recall: str = "device:{device_id}"
    operators: str = "operators:{district_code}"

    @field_validator("*")
    @classmethod
    def _template(cls, value: str) -> str:
        return _check_template(value)


class Retry(_Section):
    base_s: float = Field(15, gt=0)
    cap_s: float = Field(600, gt=0)
    jitter: float = Field(0.2, ge=0, le=1)
    lease_s: float = Field(120, gt=0)
    timeout_s: float = Field(10, gt=0)
    batch: int = Field(100, ge=1, le=10_000)

    @model_validator(mode="after")
    def _ordered(self) -> Retry:
        if self.cap_s < self.base_s:
            raise ValueError("cap_s must not be smaller than base_s")
        if self.lease_s <= 2 * self.timeout_s:
            # A lease shorter than a send would let a second worker resend while the first waits.
            raise ValueError("lease_s must be more than twice timeout_s")
        return self


Transport = Literal["webhook", "log"]


class Delivery(_Section):
    production: dict[str, Transport] = Field(default_factory=lambda: {"default": "webhook"})
    demo: dict[str, Transport] = Field(
        default_factory=lambda: {"default": "log", "auto_call": "log"}
    )
    retry: Retry = Retry()

    @field_validator("production", "demo")
    @classmethod
    def _channels(cls, value: dict[str, str]) -> dict[str, str]:
        unknown = sorted(set(value) - {"default", *CHANNELS})
        if unknown:
            raise ValueError(f"unknown channel(s) {unknown}; use {['default', *CHANNELS]}")
        if "default" not in value:
            raise ValueError("needs a 'default' transport")
        return value

    def transport(self, channel: str, *, demo: bool) -> Transport:
        mapping = self.demo if demo else self.production
        return mapping.get(channel, mapping["default"])


class RoutingConfig(_Section):
    timezone: str = "Asia/Seoul"
    dong_center: DongCenter = DongCenter()
    recipients: Recipients = Recipients()
    delivery: Delivery = Delivery()

    @field_validator("timezone")
    @classmethod
    def _zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"unknown time zone {value!r}") from None
        return value

    @property
    def tz(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)


def parse_routing(text: str, source: str = "dispatch_routing.toml") -> RoutingConfig:
    return parse_toml_model(
        text,
        RoutingConfig,
        source=source,
        what="routing",
        error=RoutingConfigError,
        unknown_key_hint="unknown key (check the spelling against docs/alert-actions.md)",
    )


def load_routing(path: Path | str | None = None) -> RoutingConfig:
    path = Path(path) if path is not None else DEFAULT_PATH
    text = read_config_text(path, what="dispatch routing", error=RoutingConfigError)
    return parse_routing(text, source=str(path))


# The routing in a file, re-read when it changes (an edit needs no restart).
current_routing = reloading(load_routing, DEFAULT_PATH)


@dataclass(frozen=True)
class Route:
    """Where one check request goes, and why (kept in the audit entry and the payload)."""

    target: str  # human-readable, e.g. 백석1동 행정복지센터
    recipient: str  # routing address for the gateway, e.g. dong:4128552000
    reason: str  # office_hours | after_hours | weekend | holiday | holiday_calendar_missing


def route_check_request(
    cfg: RoutingConfig,
    now: datetime,
    *,
    dong_name: str | None,
    dong_code: str | None,
    program: str | None = None,
) -> Route:
    """Dong welfare center in office hours on a working day, else the central control center.

    A person without a known dong also goes to the central center: nobody else could act on it.
    """
    require_aware(now)
    dc = cfg.dong_center
    local = now.astimezone(cfg.tz)
    day = local.date()
    if day.year not in dc.holiday_years:
        reason = "holiday_calendar_missing"
    elif day in dc.holidays:
        reason = "holiday"
    elif WEEKDAYS[local.weekday()] not in dc.office_days:
        reason = "weekend"
    elif not dc.office_start <= local.time().replace(tzinfo=None) < dc.office_end:
        reason = "after_hours"
    elif not dong_code:
        reason = "no_dong"
    else:
        fields = {"dong": dong_name or dong_code, "dong_code": dong_code}
        return Route(
            target=dc.dong_target.format_map(_Blank(fields)),
            recipient=dc.dong_recipient.format_map(_Blank(fields)),
            reason="office_hours",
        )
    central = dc.central_by_program.get(program or "")
    if central is not None:
        return Route(central.target, central.recipient, reason)
    return Route(dc.central_target, dc.central_recipient, reason)


class _Blank(dict):
    """``format_map`` helper: a placeholder without a value renders empty, never raises."""

    def __missing__(self, key: str) -> str:
        return ""


def recipient_address(cfg: RoutingConfig, kind: str, **fields: object) -> str:
    """The routing address for ``kind`` (a field of ``[recipients]``), placeholders filled."""
    template: str = getattr(cfg.recipients, kind)
    return template.format_map(_Blank({k: "" if v is None else str(v) for k, v in fields.items()}))
