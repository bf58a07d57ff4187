"""Fixed installations without recipients: smoking detectors at complaint sites, park machines."""

from __future__ import annotations

from datetime import date

import numpy as np

from dashboard.demo.clock import DAY, HOUR
from dashboard.demo.context import (
    Ctx,
    Part,
    daily_columns,
    event_columns,
    state_row,
    times_in_days,
)

SMOKING = "goyang_smoking"
PARK = "goyang_health_park"
RAW_DAYS = 3
PHASE1 = date(2024, 1, 2)  # one detector per site: decided in 2023 H2, live from 2024 H1
PHASE2 = date(2024, 7, 1)  # expanded to 12 units
PARK_OPENED = date(2024, 11, 29)

# code, name_ko, name_en, dong code, lat, lon, detectors (approximate spots, not surveyed)
SITES = [
    (
        "smk-baekseok-stn",
        "백석역 1번 출구 주변",
        "Near Baekseok Station exit 1",
        "4128555100",
        37.6432,
        126.7880,
        3,
    ),
    (
        "smk-madu-stn",
        "마두역 4번 출구 상가 이면도로",
        "Behind shops at Madu Station exit 4",
        "4128556000",
        37.6522,
        126.7777,
        3,
    ),
    (
        "smk-jeongbalsan-stn",
        "정발산역 2번 출구 주변",
        "Near Jeongbalsan Station exit 2",
        "4128553000",
        37.6597,
        126.7733,
        2,
    ),
    (
        "smk-pungsan-stn",
        "풍산역 광장 주변",
        "Pungsan Station square",
        "4128554000",
        37.6724,
        126.7946,
        2,
    ),
    (
        "smk-baekseok-office",
        "백석동 업무지구 보행로",
        "Baekseok office district walkway",
        "4128555200",
        37.6418,
        126.7838,
        2,
    ),
]
UNMONITORED = [
    (
        "cmp-siksa-shops",
        "식사동 상가 거리",
        "Siksa-dong shopping street",
        "4128551000",
        37.6775,
        126.8122,
    ),
    (
        "cmp-jungsan-park",
        "중산동 근린공원 입구",
        "Jungsan-dong park entrance",
        "4128552000",
        37.6851,
        126.7772,
    ),
    (
        "cmp-janghang-cafe",
        "장항동 카페거리",
        "Janghang-dong cafe street",
        "4128558000",
        37.6589,
        126.7689,
    ),
]
MACHINES = [
    "로잉머신 (rowing machine)",
    "스텝사이클 (step cycle)",
    "체스트프레스 (chest press)",
    "레그프레스 (leg press)",
    "허리돌리기 (waist twister)",
    "크로스스텝퍼 (cross stepper)",
]
TRIGGER_HOURS = np.array(
    [
        0.5,
        0.2,
        0.1,
        0,
        0,
        0.1,
        0.5,
        2,
        3,
        1.5,
        1,
        1.5,
        3,
        2.5,
        1.5,
        1.5,
        1.5,
        2,
        3,
        3,
        2.5,
        2,
        1.5,
        1,
    ]
)
PARK_HOURS = np.array(
    [0, 0, 0, 0, 0, 0.5, 2, 3, 2.5, 2, 1.5, 1, 0.8, 0.8, 1, 1.2, 1.5, 2, 2.5, 2.5, 2, 1, 0.2, 0]
)


def site_rows(ctx: Ctx) -> list[dict]:
    """complaint_sites rows; ids allocated here so devices and complaints can point at them."""
    rows = []
    for code, ko, en, dong, lat, lon, _n in SITES:
        rows.append(
            dict(
                code=code,
                name_ko=ko,
                name_en=en,
                dong=dong,
                lat=lat,
                lon=lon,
                measures_from=PHASE1,
                category="smoking",
            )
        )
    for code, ko, en, dong, lat, lon in UNMONITORED:
        rows.append(
            dict(
                code=code,
                name_ko=ko,
                name_en=en,
                dong=dong,
                lat=lat,
                lon=lon,
                measures_from=None,
                category="smoking",
            )
        )
    ids = ctx.alloc("complaint_sites", len(rows))
    out = []
    for sid, r in zip(ids.tolist(), rows, strict=True):
        out.append(
            {
                "id": sid,
                "code": r["code"],
                "program_id": ctx.programs[SMOKING],
                "region_id": ctx.places[r["dong"]].id,
                "name_ko": r["name_ko"],
                "name_en": r["name_en"],
                "lat": r["lat"],
                "lon": r["lon"],
                "category": r["category"],
                "measures_from": r["measures_from"],
            }
        )
    return out


def generate(ctx: Ctx, sites: list[dict]) -> Part:
    rng, grid = ctx.rng, ctx.grid
    part = Part()
    specs = []  # (program, type, label, site id, dong code, lat, lon, installed, base rate)
    for (code, _ko, _en, dong, lat, lon, n), site in zip(SITES, sites, strict=False):
        for k in range(n):
            installed = PHASE1 if k == 0 else PHASE2
            specs.append(
                (
                    SMOKING,
                    "smoking_detector",
                    f"{code} #{k + 1}",
                    site["id"],
                    dong,
                    lat + rng.normal(0, 0.0002),
                    lon + rng.normal(0, 0.0002),
                    installed,
                    rng.uniform(4, 12),
                )
            )
    park_lat, park_lon = 37.6445, 126.7905  # 안산공원, Baekseok-dong (approximate)
    for k, label in enumerate(MACHINES):
        specs.append(
            (
                PARK,
                "park_machine",
                label,
                None,
                "4128555100",
                park_lat + 0.00012 * (k % 3),
                park_lon + 0.00015 * (k // 3),
                PARK_OPENED,
                rng.uniform(6, 16),
            )
        )
    n = len(specs)
    ids = ctx.alloc("devices", n)
    uids = [f"{'SMK' if s[0] == SMOKING else 'PRK'}-{i + 1:04d}" for i, s in enumerate(specs)]
    for i, s in enumerate(specs):
        part.devices.append(
            {
                "id": int(ids[i]),
                "device_uid": uids[i],
                "type_code": s[1],
                "program_id": ctx.programs[s[0]],
                "vendor": "smokeguard" if s[0] == SMOKING else "parkfit",
                "recipient_id": None,
                "site_id": s[3],
                "region_id": ctx.places[s[4]].id,
                "label": s[2],
                "installed_on": s[7],
                "status": "active",
                "lat": round(float(s[5]), 6),
                "lon": round(float(s[6]), 6),
            }
        )

    days = grid.days
    day_dates = np.array([(grid.day0.toordinal() + d) for d in range(days)])
    month = np.array([date.fromordinal(int(o)).month for o in day_dates])
    wd = grid.day_weekday()
    installed = np.array([s[7].toordinal() for s in specs])
    live = day_dates[None, :] >= installed[:, None]
    base = np.array([s[8] for s in specs])[:, None]
    is_park = np.array([s[0] == PARK for s in specs])[:, None]
    season_smk = 1 + 0.25 * np.cos((month - 7) / 12 * 2 * np.pi)  # more outdoor smoking in summer
    season_park = np.select([np.isin(month, [12, 1, 2]), np.isin(month, [7, 8])], [0.35, 0.8], 1.2)
    weekday_smk = np.where(wd >= 5, 0.6, 1.0)  # commuters and office workers
    weekday_park = np.where(wd >= 5, 1.6, 1.0)
    age = (day_dates[None, :] - installed[:, None]).clip(0)
    learn = 0.35 + 0.65 * np.exp(-age / 120)  # smokers move away once warned
    rate = np.where(
        is_park, base * season_park * weekday_park, base * season_smk * weekday_smk * learn
    )
    counts = rng.poisson(rate) * live
    down = np.zeros(n, dtype=bool)
    down[int(rng.integers(0, n))] = rng.random() < 0.6  # sometimes one unit is offline
    down_since = grid.end_s - int(rng.integers(3 * HOUR, 2 * DAY))
    w0 = max(days - RAW_DAYS, 0)
    rows, ts = times_in_days(rng, grid, counts[:, w0:], w0, TRIGGER_HOURS)
    prow, pts = times_in_days(rng, grid, counts[:, w0:], w0, PARK_HOURS)
    park_rows = is_park[:, 0]
    sel, psel = ~park_rows[rows], park_rows[prow]
    rows = np.concatenate([rows[sel], prow[psel]])
    ts = np.concatenate([ts[sel], pts[psel]])
    keep = (ts <= grid.end_s) & ~(down[rows] & (ts >= down_since))
    rows, ts = rows[keep], ts[keep]
    win = np.zeros((n, days - w0), dtype=int)
    np.add.at(win, (rows, (ts - grid.t0) // DAY - w0), 1)
    counts[:, w0:] = win
    etype = np.where(park_rows[rows], "session", "trigger")
    value = np.where(
        park_rows[rows], rng.integers(60, 900, len(rows)), rng.integers(3, 40, len(rows))
    )
    data = [
        {"kcal": int(v // 20)} if p else {"voice_warning": True}
        for p, v in zip(park_rows[rows].tolist(), value.tolist(), strict=True)
    ]
    part.events.append(
        event_columns(
            ids[rows],
            [f"{uids[r]}-e{t}" for r, t in zip(rows.tolist(), ts.tolist(), strict=True)],
            "fixed",
            ts,
            etype,
            value,
            data,
        )
    )
    hb = grid.end_s - (grid.end_s % HOUR) - np.arange(24)[::-1] * HOUR
    live_now = installed <= date.fromordinal(int(day_dates[-1])).toordinal()
    hr, hc = np.nonzero(
        (hb[None, :] >= 0) & live_now[:, None] & ~(down[:, None] & (hb[None, :] >= down_since))
    )
    hts = hb[hc]
    part.events.append(
        event_columns(
            ids[hr],
            [f"{uids[r]}-h{t}" for r, t in zip(hr.tolist(), hts.tolist(), strict=True)],
            "fixed",
            hts,
            "heartbeat",
            np.full(len(hts), np.nan),
        )
    )
    # Events of fixed devices carry their own vendor; fix the batch vendor per row.
    for batch in part.events[-2:]:
        batch["vendor"] = [
            "parkfit" if park_rows[int(d) - int(ids[0])] else "smokeguard"
            for d in batch["device_id"].tolist()
        ]
    part.daily.append(
        daily_columns(
            ids,
            days,
            valid=live,
            events=counts + 24 * live,
            active_hours=np.minimum(counts, 14),
            triggers=np.where(is_park, 0, counts),
            sessions=np.where(is_park, counts, 0),
        )
    )
    for i in range(n):
        mine = ts[rows == i]
        mine_hb = hts[hr == i]
        last_act = int(mine.max()) if len(mine) else None
        last_hb = int(mine_hb.max()) if len(mine_hb) else None
        cand = [
            (t, k)
            for t, k in (
                (last_act, str(etype[rows == i][np.argmax(mine)]) if len(mine) else None),
                (last_hb, "heartbeat"),
            )
            if t is not None
        ]
        seen, kind = max(cand) if cand else (None, None)
        part.states.append(
            state_row(
                ids[i],
                state_since=grid.t0,
                last_seen_at=seen,
                last_activity_at=last_act,
                last_event_type=kind,
            )
        )
    return part
