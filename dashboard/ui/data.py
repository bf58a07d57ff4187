"""The engine (one per database URL and process) and cached query loaders.

Queries are plain functions ``(conn, ...) -> DataFrame``; ``load`` runs one inside a connection
and caches the result. The URL is part of every cache key so a second database in the same
process (tests, a config change) never sees the first one's data.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from datetime import datetime
from typing import Any, TypeVar

import streamlit as st
from sqlalchemy import Engine

from dashboard import clock
from dashboard.db.engine import make_engine
from dashboard.settings import get_settings

T = TypeVar("T")

LIVE_TTL_S = 10  # wall screens refresh every 30 s; several screens share one read
REPORT_TTL_S = 300  # weekly-review figures change slowly
LIVE_BUCKET_S = 10


def database_url() -> str:
    return get_settings().resolved_database_url


@st.cache_resource(show_spinner=False)
def _engine_for(url: str) -> Engine:
    return make_engine(url)


def get_engine() -> Engine:
    return _engine_for(database_url())


def _call(_engine: Engine, path: str, args: tuple, kwargs: tuple) -> Any:
    module, _, name = path.partition(":")
    fn = getattr(importlib.import_module(module), name)
    with _engine.connect() as conn:
        return fn(conn, *args, **dict(kwargs))


@st.cache_data(ttl=LIVE_TTL_S, max_entries=128, show_spinner=False)
def _load_live(_engine: Engine, url: str, path: str, args: tuple, kwargs: tuple) -> Any:
    return _call(_engine, path, args, kwargs)


@st.cache_data(ttl=REPORT_TTL_S, max_entries=256, show_spinner=False)
def _load_report(_engine: Engine, url: str, path: str, args: tuple, kwargs: tuple) -> Any:
    return _call(_engine, path, args, kwargs)


def load(fn: Callable[..., T], *args: Any, live: bool = False, **kwargs: Any) -> T:
    """Run ``fn(conn, *args, **kwargs)`` through the cache (short TTL when ``live``)."""
    path = f"{fn.__module__}:{fn.__qualname__}"
    cached = _load_live if live else _load_report
    return cached(get_engine(), database_url(), path, args, tuple(sorted(kwargs.items())))


def clear_loads() -> None:
    """Forget every cached query result (after a write: the next read of any page, in any
    session, shows the change at once instead of after the cache's TTL)."""
    _load_live.clear()
    _load_report.clear()


def live_now() -> datetime:
    """Now, rounded down to a bucket so sessions refreshing together share one cached read."""
    now = clock.now().replace(microsecond=0)
    return now.replace(second=now.second - now.second % LIVE_BUCKET_S)
