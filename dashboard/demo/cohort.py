"""Care recipients and their devices for one program, built as whole columns."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

import numpy as np

from dashboard.demo.context import Ctx, Place
from dashboard.demo.people import addresses, homes_near, names, sexes


@dataclass
class Cohort:
    recipient_ids: np.ndarray
    device_ids: np.ndarray
    device_uids: list[str]
    places: list[Place]  # per person
    home_lat: np.ndarray
    home_lon: np.ndarray
    thresholds: np.ndarray | None  # no_change_hours
    safe_zone: np.ndarray | None


def make_cohort(
    ctx: Ctx,
    part,
    *,
    program: str,
    type_code: str,
    vendor: str,
    uid_prefix: str,
    n: int,
    dongs: list[Place],
    ages: np.ndarray,
    female_share: float,
    household: np.ndarray,
    risk_group: np.ndarray,
    guardian_share: float,
    enrolled_from: date,
    thresholds: np.ndarray | None = None,
    safe_zone: np.ndarray | None = None,
    enrolled: list[date] | None = None,
) -> Cohort:
    rng = ctx.rng
    weights = np.array([p.weight for p in dongs], dtype=float)
    where = rng.choice(len(dongs), n, p=weights / weights.sum())
    places = [dongs[i] for i in where.tolist()]
    lat, lon = homes_near(rng, np.array([p.lat for p in places]), np.array([p.lon for p in places]))
    sex = sexes(rng, n, female_share)
    person_names = names(rng, sex)
    phones = ctx.phones.take(n)
    has_guardian = rng.random(n) < guardian_share
    guardian_names = names(rng, sexes(rng, n, 0.5), older=False)
    guardian_phones = ctx.phones.take(int(has_guardian.sum()))
    g_iter = iter(guardian_phones)
    addr = addresses(rng, [p.name_ko for p in places])
    # Everyone is enrolled before the simulated period so every day has data.
    last = ctx.grid.day0 - timedelta(days=1)
    span = max((last - enrolled_from).days, 0)
    enrolled = enrolled or [
        enrolled_from + timedelta(days=int(d)) for d in rng.integers(0, span + 1, n)
    ]
    rids = ctx.alloc("care_recipients", n)
    dids = ctx.alloc("devices", n)
    birth = ctx.grid.end.year - ages.astype(int)
    program_id = ctx.programs[program]
    uids = [f"{uid_prefix}-{i + 1:06d}" for i in range(n)]
    for i in range(n):
        g = bool(has_guardian[i])
        part.recipients.append(
            {
                "id": int(rids[i]),
                "program_id": program_id,
                "region_id": places[i].id,
                "external_ref": f"{uid_prefix}-P{i + 1:06d}",
                "birth_year": int(birth[i]),
                "sex": str(sex[i]),
                "household": str(household[i]),
                "risk_group": None if risk_group[i] == "" else str(risk_group[i]),
                "enrolled_on": enrolled[i],
                "ended_on": None,
                "end_reason": None,
                "no_change_hours": None if thresholds is None else int(thresholds[i]),
                "safe_zone_m": None if safe_zone is None else int(safe_zone[i]),
                "pii_name": person_names[i],
                "pii_phone": phones[i],
                "pii_address": addr[i],
                "pii_home_lat": float(lat[i]),
                "pii_home_lon": float(lon[i]),
                "pii_guardian_name": guardian_names[i] if g else None,
                "pii_guardian_phone": next(g_iter) if g else None,
            }
        )
        part.devices.append(
            {
                "id": int(dids[i]),
                "device_uid": uids[i],
                "type_code": type_code,
                "program_id": program_id,
                "vendor": vendor,
                "recipient_id": int(rids[i]),
                "site_id": None,
                "region_id": places[i].id,
                "label": None,
                "installed_on": enrolled[i],
                "status": "active",
                "lat": None,
                "lon": None,
            }
        )
    return Cohort(rids, dids, uids, places, lat, lon, thresholds, safe_zone)
