"""Log lines for people (``text``, the default) or for a log pipeline (``json``), with an id
per unit of work: an HTTP request of the ingest server, an MQTT message, a worker tick.

The id lives in a ``contextvars.ContextVar``, so every line logged while that unit runs carries
it, including lines from threads it hands work to (Starlette's ``run_in_threadpool`` copies the
context). ``ANBU_LOG_FORMAT=json`` switches the format; see docs/operations.md#logs.

A small formatter on the standard ``json`` module rather than python-json-logger: the fields are
few and fixed, and a dependency would add nothing we need.
"""

from __future__ import annotations

import json
import logging
import re
import sys
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from datetime import UTC, datetime

REQUEST_ID_HEADER = "X-Request-ID"
# Accepted from a client: short, and nothing that could forge a line or a field in a log.
_VALID_ID = re.compile(r"^[A-Za-z0-9._:\-]{1,128}$")
TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s %(message)s"
# The fields of a JSON line, in order; ``exc`` only when an exception is logged.
JSON_FIELDS = ("ts", "level", "logger", "message", "request_id", "process", "thread")

request_id: ContextVar[str | None] = ContextVar("anbu_request_id", default=None)


def new_request_id(prefix: str = "") -> str:
    """A fresh id: 32 hex digits, after ``prefix`` (``tick-``, ``mqtt-``) when given."""
    return f"{prefix}{uuid.uuid4().hex}"


def valid_request_id(value: str | None) -> bool:
    """May a client-sent ``X-Request-ID`` be used as is? 1–128 of ``A-Z a-z 0-9 . _ : -``."""
    return bool(value) and _VALID_ID.match(value) is not None


@contextmanager
def request_context(rid: str) -> Iterator[str]:
    """Every line logged inside the block (in this context) carries ``rid``."""
    token = request_id.set(rid)
    try:
        yield rid
    finally:
        request_id.reset(token)


class JsonFormatter(logging.Formatter):
    """One JSON object per line: ts (UTC, ISO 8601 with milliseconds), level, logger, message,
    request_id (null outside a request), process, thread, and exc (the traceback) if any."""

    def format(self, record: logging.LogRecord) -> str:
        line = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
            "request_id": request_id.get(),
            "process": record.process,
            "thread": record.threadName,
        }
        if record.exc_info:
            line["exc"] = self.formatException(record.exc_info)
        elif record.exc_text:
            line["exc"] = record.exc_text
        return json.dumps(line, ensure_ascii=False, default=str)


class TextFormatter(logging.Formatter):
    """The human-readable line, with `` [request_id=…]`` appended inside a request."""

    def __init__(self) -> None:
        super().__init__(TEXT_FORMAT)

    def format(self, record: logging.LogRecord) -> str:
        text = super().format(record)
        rid = request_id.get()
        if rid is None:
            return text
        first, newline, rest = text.partition("\n")  # keep a traceback below the id
        return f"{first} [request_id={rid}]{newline}{rest}"


def formatter(fmt: str) -> logging.Formatter:
    if fmt == "json":
        return JsonFormatter()
    if fmt == "text":
        return TextFormatter()
    raise ValueError(f"log format {fmt!r}: expected 'text' or 'json'")


def configure_logging(fmt: str | None = None, level: int = logging.INFO) -> logging.Handler:
    """One stderr handler on the root logger in ``fmt`` (default: ``ANBU_LOG_FORMAT``).

    Replaces handlers an earlier call installed, so a command may call it once more without
    doubling lines; uvicorn's loggers propagate to it when it runs with ``log_config=None``.
    """
    if fmt is None:
        from dashboard.settings import get_settings

        fmt = get_settings().log_format
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(formatter(fmt))
    handler.set_name("anbu")
    root = logging.getLogger()
    for old in [h for h in root.handlers if h.get_name() == "anbu"]:
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level)
    return handler
