"""The batch envelope shared by HTTP and MQTT: ``{"events": [...]}``, size-limited."""

from __future__ import annotations

import json
from typing import Any

MAX_BODY_BYTES = 5 * 1024 * 1024
MAX_EVENTS = 5_000
SHAPE = 'body must be a JSON object {"events": [...]}'


class PayloadError(ValueError):
    """The envelope is unusable; ``too_large`` separates HTTP 413 from 422."""

    def __init__(self, message: str, *, too_large: bool = False) -> None:
        super().__init__(message)
        self.too_large = too_large


def too_large(what: str) -> PayloadError:
    return PayloadError(
        f"{what} over the limit ({MAX_BODY_BYTES} bytes, {MAX_EVENTS} events per batch); "
        "send smaller batches",
        too_large=True,
    )


def decode_batch(body: bytes) -> list[Any]:
    """The events of a raw ``{"events": [...]}`` body; raises ``PayloadError``."""
    if len(body) > MAX_BODY_BYTES:
        raise too_large(f"body of {len(body)} bytes")
    try:
        payload = json.loads(body)
    except UnicodeDecodeError:
        raise PayloadError("body is not UTF-8 JSON") from None
    except json.JSONDecodeError as exc:
        raise PayloadError(f"body is not valid JSON: {exc}") from None
    if not isinstance(payload, dict):
        raise PayloadError(f"{SHAPE}, not {type(payload).__name__}")
    if "events" not in payload:
        raise PayloadError(f"{SHAPE}: 'events' is missing")
    extra = sorted(set(payload) - {"events"})
    if extra:
        raise PayloadError(f"{SHAPE}: unknown field(s) {', '.join(map(repr, extra))}")
    events = payload["events"]
    if not isinstance(events, list):
        raise PayloadError(f"{SHAPE}: 'events' must be a list")
    if len(events) > MAX_EVENTS:
        raise too_large(f"{len(events)} events")
    return events
