"""The batch envelope shared by HTTP and MQTT: ``{"events": [...]}``, size- and depth-limited."""

from __future__ import annotations

import json
import math
from typing import Any

MAX_BODY_BYTES = 5 * 1024 * 1024
MAX_EVENTS = 5_000
# The envelope is 3 levels deep ({"events": [{...}]}) and event fields are scalars; deeper JSON
# is never a valid batch, and JSON nested ~1,000 levels deep makes the parser raise RecursionError.
MAX_DEPTH = 32
# No float has more digits than this; longer integers are out of range (and past 4,300 digits
# Python refuses to parse them at all), so they become infinity and a per-event rejection.
_MAX_INT_DIGITS = 400
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
    """The events of a raw ``{"events": [...]}`` body (UTF-8: ``body_text``); raises
    ``PayloadError``."""
    if len(body) > MAX_BODY_BYTES:
        raise too_large(f"body of {len(body)} bytes")
    text = body_text(body)
    try:
        payload = json.loads(text, parse_int=_parse_int)
    except json.JSONDecodeError as exc:
        raise PayloadError(f"body is not valid JSON: {exc}") from None
    except RecursionError:
        raise PayloadError(f"JSON nested more than {MAX_DEPTH} levels deep") from None
    _check_depth(payload)
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


def body_text(body: bytes) -> str:
    """The body as text: strict UTF-8, a leading UTF-8 byte order mark ignored (RFC 8259 lets a
    parser ignore it, and ``json.loads`` always did); raises ``PayloadError`` otherwise.

    Decoded here rather than by ``json.loads(bytes)``, which guesses UTF-16 and UTF-32 from the
    byte order mark or the zero bytes and decodes with ``surrogatepass``: such bodies were
    accepted although the contract says UTF-8. The guess now only names what was sent.
    """
    guess = json.detect_encoding(body)
    if guess not in ("utf-8", "utf-8-sig"):
        raise PayloadError(
            f"body is not UTF-8 JSON: it looks like {guess.upper()}; send the JSON encoded as UTF-8"
        )
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise PayloadError(
            f"body is not UTF-8 JSON: {exc.reason} (0x{body[exc.start]:02x}) at byte "
            f"{exc.start}; send the JSON encoded as UTF-8"
        ) from None
    return text.removeprefix("\ufeff")


def _parse_int(text: str) -> int | float:
    if len(text) > _MAX_INT_DIGITS:
        return -math.inf if text.startswith("-") else math.inf
    return int(text)


_NESTED = (dict, list)
_NESTED_TYPES = frozenset(_NESTED)  # json.loads makes exactly these, never subclasses


def _check_depth(payload: Any) -> None:
    """Refuse JSON nested deeper than ``MAX_DEPTH``, naming where (iterative: cannot recurse)."""
    stack: list[tuple[Any, int, str]] = [(payload, 1, "")] if isinstance(payload, _NESTED) else []
    while stack:
        value, depth, where = stack.pop()
        if depth > MAX_DEPTH:
            where = where[:80].encode("utf-8", "backslashreplace").decode()
            raise PayloadError(f"JSON nested more than {MAX_DEPTH} levels deep (at {where})")
        children = value.values() if isinstance(value, dict) else value
        if _NESTED_TYPES.isdisjoint(map(type, children)):
            continue  # only scalars below (an event's fields): nothing to walk, checked in C
        items = value.items() if isinstance(value, dict) else enumerate(value)
        for key, child in items:
            if isinstance(child, _NESTED):
                # Paths name the event and its field; below that the parent's path is enough.
                if depth < 4:
                    path = f"{where}.{key}" if isinstance(value, dict) else f"{where}[{key}]"
                else:
                    path = where
                stack.append((child, depth + 1, path.lstrip(".")))
