"""Vendors a file import can name: those with an API key and those that own devices."""

from __future__ import annotations

import pandas as pd
from sqlalchemy import Connection, func, select

from dashboard.db.schema import ApiKey, Device


def import_vendors(conn: Connection) -> pd.DataFrame:
    """One row per vendor: ``vendor``, ``api_key`` (has an unrevoked key), ``devices``.

    Device owners are included because an import must name the vendor of the rows' devices
    (``devices.vendor``), also for vendors that never used the API.
    """
    keys = set(conn.scalars(select(ApiKey.vendor).where(ApiKey.revoked_at.is_(None))))
    any_keys = set(conn.scalars(select(ApiKey.vendor)))
    devices = dict(conn.execute(select(Device.vendor, func.count()).group_by(Device.vendor)).all())
    names = sorted(any_keys | set(devices))
    return pd.DataFrame(
        {
            "vendor": names,
            "api_key": [n in keys for n in names],
            "devices": [int(devices.get(n, 0)) for n in names],
        },
        columns=["vendor", "api_key", "devices"],
    ).astype({"vendor": "object", "api_key": "bool", "devices": "int64"})
