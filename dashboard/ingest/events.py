"""The vendor event contract: one pydantic model per event type, and a validator that turns a raw
dict into a ``ValidEvent`` or a ``Rejection`` naming the field that is wrong.

This module is pure (no database, no clock): the checks that need the catalog or the time live in
``dashboard.ingest.core``.
"""

from __future__ import annotations

import logging
import math
import reprlib
import sys
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, tzinfo
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    PlainValidator,
    Strict,
    TypeAdapter,
    ValidationError,
    ValidationInfo,
    WithJsonSchema,
)

from dashboard.db.schema.devices import EVENT_TYPES
from dashboard.ingest.refusal import Refused

log = logging.getLogger(__name__)

TS_EXAMPLE = "2024-12-01T09:00:00+09:00"
NOTE_MAX = 500
OUT_OF_RANGE = f"number out of range (at most ±{sys.float_info.max:.3g})"


def _number(value: Any) -> Any:
    """Only JSON numbers are numbers: pydantic's lax mode would read true as 1.0 and "50" as 50."""
    if isinstance(value, bool):
        raise Refused("must be a number, not true/false", "number_not_bool")
    if isinstance(value, str):
        raise Refused("must be a number, not a string", "number_not_text")
    if isinstance(value, int):
        try:
            float(value)
        except OverflowError:
            raise Refused(OUT_OF_RANGE, "number_out_of_range") from None
    if isinstance(value, float) and math.isinf(value):  # 1e400, or an integer too long to parse
        raise Refused(OUT_OF_RANGE, "number_out_of_range")
    return value


def _parse_ts(value: Any, info: ValidationInfo) -> datetime:
    """An aware UTC time. A naive time is read in the vendor's declared zone, passed by the
    caller as ``context["naive_tz"]`` (rejected when none is given). Local times that a DST
    change makes ambiguous or nonexistent take ``fold=0``: the offset in force before the change
    (an ambiguous 02:30 is the first one; a skipped 02:30 reads as 03:30 after the change)."""
    if isinstance(value, datetime):
        parsed = value
    elif isinstance(value, str):
        try:
            parsed = datetime.fromisoformat(value)
        except ValueError:
            raise Refused(
                f"not an ISO-8601 time (expected e.g. {TS_EXAMPLE})",
                "ts_not_iso",
                example=TS_EXAMPLE,
            ) from None
        if len(value.strip()) <= 10:  # "2024-12-01", "20241201": a day, not a moment
            raise Refused(
                f"a date without a time of day (expected e.g. {TS_EXAMPLE})",
                "ts_date_only",
                example=TS_EXAMPLE,
            )
    else:
        raise Refused(
            f"must be an ISO-8601 string with a time zone, e.g. {TS_EXAMPLE}",
            "ts_not_text",
            example=TS_EXAMPLE,
        )
    if parsed.tzinfo is None or parsed.utcoffset() is None:
        context = info.context or {}
        zone = context.get("naive_tz")
        if zone is None:
            raise Refused(
                f"needs a time zone (e.g. {TS_EXAMPLE} or a trailing Z)",
                "ts_needs_zone",
                example=TS_EXAMPLE,
            )
        parsed = parsed.replace(tzinfo=zone, fold=0)
        context["naive"] = True
    try:
        return parsed.astimezone(UTC)
    except OverflowError:  # 0001-01-01T00:00:00+14:00 is a valid string but no UTC time
        raise Refused(
            "out of range once converted to UTC (years 1–9999)", "ts_out_of_range"
        ) from None


# Strict: a JSON integer is still a number, a string or a boolean is not.
Number = Annotated[float, BeforeValidator(_number), Strict(), Field(allow_inf_nan=False)]
Timestamp = Annotated[
    datetime,
    PlainValidator(_parse_ts),
    WithJsonSchema(
        {
            "type": "string",
            "format": "date-time",
            "description": "ISO-8601, preferably with a time zone (offset or Z); a time without "
            "one is read in the vendor's declared time zone (default Asia/Seoul)",
            "examples": [TS_EXAMPLE],
        }
    ),
]


def _storable(value: Any) -> Any:
    # Neither can be stored: PostgreSQL text refuses NUL, UTF-8 refuses lone surrogates.
    if not isinstance(value, str):
        return value  # the type check that follows names the problem
    if "\x00" in value or (not value.isascii() and _safe(value) != value):
        raise Refused(
            "contains a NUL character or an unpaired surrogate; send plain UTF-8 text", "bad_text"
        )
    return value


def _text(**limits: Any) -> Any:
    """A string field that the database can store, within ``limits``."""
    return Annotated[str, Field(**limits), BeforeValidator(_storable)]


Identifier = _text(min_length=1, max_length=80, pattern=r"^[^\x00-\x1f]+$")
DeviceId = _text(min_length=1, max_length=60)
Note = _text(max_length=NOTE_MAX)
Kind = _text(max_length=40)


class _EventBase(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    event_id: Identifier = Field(
        description="The vendor's id of this event; with the vendor, the idempotency key."
    )
    device_id: DeviceId = Field(
        description="The vendor's device id, as registered in Anbu (devices.device_uid)."
    )
    ts: Timestamp = Field(
        description="When the event happened; without a time zone, in the vendor's declared zone."
    )
    battery_pct: Annotated[Number | None, Field(ge=0, le=100)] = Field(
        default=None, description="Optional battery level of the device, 0–100."
    )


class PowerEvent(_EventBase):
    """Smart plug power reading."""

    type: Literal["power"]
    watts: Annotated[Number, Field(ge=0, le=20_000)]


class LuxEvent(_EventBase):
    """Smart plug light reading."""

    type: Literal["lux"]
    lux: Annotated[Number, Field(ge=0, le=200_000)]


class HeartbeatEvent(_EventBase):
    """The device is alive (says nothing about the person)."""

    type: Literal["heartbeat"]


class CallEvent(_EventBase):
    """A call on a monitored phone line; an incoming call with duration 0 was not answered."""

    type: Literal["call"]
    direction: Literal["in", "out"]
    duration_s: Annotated[Number, Field(ge=0, le=86_400)]


class AiCallResultEvent(_EventBase):
    """Outcome of an AI check-in call."""

    type: Literal["ai_call_result"]
    outcome: Literal["answered", "unanswered", "concern"]
    note: Note | None = None


class SosEvent(_EventBase):
    """SOS button pressed (a care robot's, or any device's with one): the person is alerted at
    once, whatever the device's status; a ts the device clock cannot have right is stored at
    the receive time instead of being refused (the reply's clock_corrected)."""

    type: Literal["sos"]


class InteractionEvent(_EventBase):
    """The person interacted with a care robot (conversation, reminder acknowledged, …)."""

    type: Literal["interaction"]
    kind: Kind | None = None


class PositionEvent(_EventBase):
    """A wandering detector's position fix."""

    type: Literal["position"]
    lat: Annotated[Number, Field(ge=-90, le=90)]
    lon: Annotated[Number, Field(ge=-180, le=180)]
    accuracy_m: Annotated[Number | None, Field(ge=0, le=100_000)] = None


class TriggerEvent(_EventBase):
    """A smoking detector fired."""

    type: Literal["trigger"]


class SessionEvent(_EventBase):
    """A use of an IoT park exercise machine."""

    type: Literal["session"]
    duration_s: Annotated[Number, Field(ge=0, le=86_400)]


MODELS: dict[str, type[_EventBase]] = {
    "power": PowerEvent,
    "lux": LuxEvent,
    "heartbeat": HeartbeatEvent,
    "call": CallEvent,
    "ai_call_result": AiCallResultEvent,
    "sos": SosEvent,
    "interaction": InteractionEvent,
    "position": PositionEvent,
    "trigger": TriggerEvent,
    "session": SessionEvent,
}
assert tuple(MODELS) == EVENT_TYPES, "event models and the schema's EVENT_TYPES must agree"

# Which field is stored in device_events.value; every other type field goes to device_events.data.
VALUE_FIELD: dict[str, str | None] = {
    "power": "watts",
    "lux": "lux",
    "heartbeat": "battery_pct",
    "call": "duration_s",
    "ai_call_result": None,
    "sos": None,
    "interaction": None,
    "position": None,
    "trigger": None,
    "session": "duration_s",
}
COMMON_FIELDS = ("event_id", "device_id", "ts", "type")
_COMMON = frozenset(COMMON_FIELDS)
ALL_FIELDS: tuple[str, ...] = tuple(
    dict.fromkeys(name for model in MODELS.values() for name in model.model_fields)
)
NUMBER_FIELDS = frozenset(
    name
    for model in MODELS.values()
    for name, info in model.model_fields.items()
    if info.annotation in (float, Number | None)
)


def number_from_text(text: str) -> float | str:
    """A spreadsheet cell's text as a number, for file import (a CSV cell is always text);
    text that is no number is returned as it is, for the validator to reject."""
    try:
        return float(text)
    except ValueError:
        return text


AnyEvent = Annotated[
    PowerEvent
    | LuxEvent
    | HeartbeatEvent
    | CallEvent
    | AiCallResultEvent
    | SosEvent
    | InteractionEvent
    | PositionEvent
    | TriggerEvent
    | SessionEvent,
    Field(discriminator="type"),
]


@dataclass(frozen=True, slots=True)
class Rejection:
    index: int
    field: str | None  # the offending field (a CSV column), None for the event as a whole
    message: str  # English: the API's JSON and the CLI say it
    # The page's translation (``import_error.<key>``), not part of the rejection's identity.
    key: str | None = field(default=None, compare=False)
    params: dict[str, Any] = field(default_factory=dict, compare=False)

    @property
    def reason(self) -> str:
        return f"{self.field}: {self.message}" if self.field else self.message


@dataclass(frozen=True, slots=True)
class ValidEvent:
    index: int
    event_uid: str
    device_uid: str
    ts: datetime  # aware UTC
    type: str
    value: float | None
    data: dict[str, Any] | None
    fields: dict[str, Any]  # every type field, for state and rules (watts, lat, outcome, …)
    naive_ts: bool = False  # ts came without a zone and was read in the vendor's zone
    # a call for help whose ts was impossible (device clock wrong): ``ts`` is the server's
    # receive time and ``data`` keeps the device's own as ``device_ts`` (``ingest.core``)
    clock_corrected: bool = False


def validate_event(index: int, raw: Any, naive_tz: tzinfo | None = None) -> ValidEvent | Rejection:
    """Check one raw event against the contract; never raises: whatever goes wrong is this
    event's rejection, so one strange event cannot fail its batch.

    ``naive_tz`` is the vendor's declared zone, in which a ``ts`` without a zone is read;
    without it such a ``ts`` is rejected.
    """
    try:
        return _validate(index, raw, naive_tz)
    except Exception as exc:  # RecursionError, a pydantic-core panic, …: a bug to log, not a 500
        log.warning("event #%d could not be validated: %r", index, exc, exc_info=True)
        return Rejection(index, None, f"event could not be validated ({type(exc).__name__})")


def _validate(index: int, raw: Any, naive_tz: tzinfo | None) -> ValidEvent | Rejection:
    if not isinstance(raw, dict):
        return Rejection(index, None, "event must be a JSON object")
    kind = raw.get("type")
    if kind is None:
        return Rejection(
            index,
            "type",
            f"required (one of {', '.join(EVENT_TYPES)})",
            "type_required",
            {"types": ", ".join(EVENT_TYPES)},
        )
    model = MODELS.get(kind) if isinstance(kind, str) else None
    if model is None:
        return Rejection(
            index,
            "type",
            f"unknown event type {_show(kind)} (one of {', '.join(EVENT_TYPES)})",
            "unknown_event_type",
            {"value": _show(kind), "types": ", ".join(EVENT_TYPES)},
        )
    for key in raw:  # pydantic would refuse the whole event without naming the field
        if isinstance(key, str) and not key.isascii() and _safe(key) != key:
            return Rejection(index, _safe(key), "field name contains an unpaired surrogate")
    context: dict[str, Any] = {"naive_tz": naive_tz}
    try:
        event = model.model_validate(raw, context=context)
    except ValidationError as exc:
        return _rejection_from(index, kind, exc)
    return _valid_event(index, kind, event, context.get("naive", False))


# Per type, the fields beside the common ones, in the model's order (``model_dump``'s order).
_TYPE_FIELDS = {
    kind: tuple(name for name in model.model_fields if name not in _COMMON)
    for kind, model in MODELS.items()
}
# The same without the value field: what goes to device_events.data.
_DATA_FIELDS = {
    kind: tuple(name for name in names if name != VALUE_FIELD[kind])
    for kind, names in _TYPE_FIELDS.items()
}


def _valid_event(index: int, kind: str, event: _EventBase, naive: bool) -> ValidEvent:
    # The model's own values (scalars only), as model_dump(exclude_none=True) gives them, cheaper.
    values = event.__dict__
    fields = {k: v for k in _TYPE_FIELDS[kind] if (v := values[k]) is not None}
    value_field = VALUE_FIELD[kind]
    value = fields.get(value_field) if value_field else None
    data = {k: v for k in _DATA_FIELDS[kind] if (v := values[k]) is not None} or None
    return ValidEvent(
        index,
        event.event_id,
        event.device_id,
        event.ts,
        kind,
        value,
        data,
        fields,
        naive,
    )


# The same models as one list validator: one call into pydantic-core per batch instead of one
# per event (≈ 2 ms less per 1,000 events). Only for batches where every event passes; see below.
_BATCH = TypeAdapter(list[AnyEvent])


def validate_events(events: Sequence[Any], naive_tz: tzinfo | None = None) -> list[Any]:
    """``validate_event`` for each event of a batch, in order: the same results, faster.

    The whole list goes through one pydantic validator built from the same models and
    validators. It runs only on events that pass the cheap checks ``_validate`` makes before
    pydantic (an object, a known type, field names without unpaired surrogates); as soon as
    anything is wrong the batch is validated event by event instead, so every rejection is
    exactly ``validate_event``'s.
    """
    fast = _validate_all(events, naive_tz)
    if fast is not None:
        return fast
    return [validate_event(index, raw, naive_tz) for index, raw in enumerate(events)]


def _validate_all(events: Sequence[Any], naive_tz: tzinfo | None) -> list[ValidEvent] | None:
    for raw in events:
        kind = raw.get("type") if isinstance(raw, dict) else None
        if not isinstance(kind, str) or kind not in MODELS:  # a list or dict type is unhashable
            return None
        try:  # one C call per event; a name that is no text raises TypeError
            if not "".join(raw).isascii():
                return None  # non-ASCII names are legal but rare: the per-event path checks them
        except TypeError:
            return None
    context: dict[str, Any] = {"naive_tz": naive_tz}
    try:
        models = _BATCH.validate_python(events, context=context)
    except Exception:  # ValidationError, or anything validate_event would turn into a reason
        return None
    if not context.get("naive"):
        return [_valid_event(i, event.type, event, False) for i, event in enumerate(models)]
    # Some ts had no zone; the shared context cannot say which: ask each one again.
    return [
        _valid_event(i, event.type, event, _is_naive(raw["ts"]))
        for i, (raw, event) in enumerate(zip(events, models, strict=True))
    ]


def _is_naive(value: Any) -> bool:
    """Whether a ts that ``_parse_ts`` accepted was read in the vendor's zone."""
    parsed = value if isinstance(value, datetime) else datetime.fromisoformat(value)
    return parsed.tzinfo is None or parsed.utcoffset() is None


def _rejection_from(index: int, kind: str, exc: ValidationError) -> Rejection:
    errors = exc.errors(include_url=False)
    parts = [_describe(kind, error) for error in errors]
    name, message = parts[0]
    message += "".join(f"; {f}: {m}" if f else f"; {m}" for f, m in parts[1:])
    # Translated when it is one problem; several keep the English list (rare, and exact).
    key, params = _key_of(kind, errors[0]) if len(errors) == 1 else (None, {})
    return Rejection(index, name, message, key, params)


def _key_of(kind: str, error: Any) -> tuple[str | None, dict[str, Any]]:
    """The i18n key and parameters of one pydantic error: a :class:`Refused`'s own, or the
    error's type (``type.<type>``) with its context and the value given."""
    ctx = dict(error.get("ctx") or {})
    cause = ctx.pop("error", None)
    if error["type"] == "missing":
        return "required", {}
    if error["type"] == "extra_forbidden":
        return "not_a_field", {"kind": kind}
    if isinstance(cause, Refused):
        return cause.key, dict(cause.params)
    if cause is not None:
        return None, {}
    return f"type.{error['type']}", {**ctx, "value": _show(error.get("input"))}


def _safe(text: str) -> str:
    """``text`` as it can be encoded in UTF-8 (a reason is sent back as JSON and logged)."""
    return text.encode("utf-8", "backslashreplace").decode("utf-8")


def _describe(kind: str, error: Any) -> tuple[str | None, str]:
    field = _safe(".".join(str(part) for part in error["loc"])) or None
    if error["type"] == "missing":
        return field, "required"
    if error["type"] == "extra_forbidden":
        return field, f"not a field of {kind!r} events"
    message = error["msg"].removeprefix("Value error, ")
    return field, f"{message} (got {_show(error.get('input'))})"


# repr that stays short and cannot recurse: a field may hold JSON nested many levels deep.
_REPR = reprlib.Repr()
_REPR.maxlevel, _REPR.maxstring, _REPR.maxother, _REPR.maxlong = 2, 60, 60, 40


def _show(value: Any) -> str:
    if isinstance(value, int) and value.bit_length() > 128:  # repr() fails past 4,300 digits
        return f"an integer of about {int(value.bit_length() * math.log10(2)) + 1} digits"
    text = _REPR.repr(value)
    if isinstance(value, float) and not math.isfinite(value):
        text = str(value)
    return text if len(text) <= 60 else text[:57] + "..."
