"""Participation programs: enrolments, monthly aggregates that add up to the published figures,
and a 손목닥터 9988 incentive ledger for a sample of participants.

These histories are fixed to the documented periods (2021-11 … 2024-12) whatever ``end`` is.
"""

from __future__ import annotations

from datetime import date, timedelta

import numpy as np

from dashboard.demo.context import Ctx

GOYANG = "4128500000"
WRIST_SAMPLE = 3_000  # enrolments with a ledger; the 50,000 participants are in the aggregates
POINTS_PER_DAY = 200
YEAR_CAP = 100_000


def months(a: date, b: date) -> list[tuple[date, date]]:
    """Calendar months from the month of ``a`` to the month of ``b`` inclusive."""
    out = []
    y, m = a.year, a.month
    while (y, m) <= (b.year, b.month):
        ny, nm = (y + 1, 1) if m == 12 else (y, m + 1)
        out.append((date(y, m, 1), date(ny, nm, 1) - timedelta(days=1)))
        y, m = ny, nm
    return out


def split_total(rng: np.random.Generator, total: int, weights: np.ndarray) -> np.ndarray:
    """Integers proportional to ``weights`` that add up to ``total`` exactly."""
    raw = weights / weights.sum() * total
    out = np.floor(raw).astype(int)
    rest = total - out.sum()
    order = np.argsort(-(raw - out) + rng.uniform(0, 1e-6, len(raw)))
    out[order[:rest]] += 1
    return out


def _ramp(rng: np.random.Generator, n: int) -> np.ndarray:
    return np.linspace(0.6, 1.4, n) * rng.uniform(0.8, 1.2, n)


def _dates_in(rng: np.random.Generator, a: date, b: date, n: int) -> list[date]:
    span = (b - a).days + 1
    return sorted(a + timedelta(days=int(d)) for d in rng.integers(0, span, n))


AGE_BANDS_ADULT = ["19-29", "30-39", "40-49", "50-59", "60-69"]


def generate(ctx: Ctx) -> dict[str, list[dict]]:
    rng = ctx.rng
    prog = ctx.programs
    goyang_dongs = ctx.dongs(GOYANG)
    seoul_dongs = ctx.dongs("1100000000")
    enrol: list[dict] = []
    periods: list[dict] = []

    def add_enrolments(
        code: str,
        dates: list[date],
        cohort: str,
        bands: list[str],
        band_p: list[float],
        dongs,
        improved: np.ndarray | None = None,
        weeks: int | None = None,
    ) -> None:
        n = len(dates)
        band = rng.choice(bands, n, p=np.array(band_p) / sum(band_p))
        sex = np.where(rng.random(n) < 0.55, "F", "M")
        where = rng.integers(0, len(dongs), n)
        for i, d in enumerate(dates):
            ended = d + timedelta(weeks=weeks) if weeks else None
            enrol.append(
                {
                    "program_id": prog[code],
                    "region_id": dongs[where[i]].id,
                    "participant_ref": f"{code[:6].upper()}-{len(enrol) + 1:07d}",
                    "age_band": str(band[i]),
                    "sex": str(sex[i]),
                    "cohort": cohort,
                    "enrolled_on": d,
                    "status": "completed" if ended else "active",
                    "ended_on": ended,
                    "improved": None if improved is None else bool(improved[i]),
                    "risk_reduced": None,
                }
            )

    def add_monthly(code: str, metric: str, a: date, b: date, total: int, region) -> None:
        ms = months(a, b)
        vals = split_total(rng, total, _ramp(rng, len(ms)))
        for (ms_a, ms_b), v in zip(ms, vals.tolist(), strict=True):
            periods.append(
                {
                    "program_id": prog[code],
                    "region_id": region,
                    "metric": metric,
                    "period_start": ms_a,
                    "period_end": ms_b,
                    "value": float(v),
                }
            )

    g_id = ctx.places[GOYANG].id
    first_a, first_b, h2_a, h2_b = (
        date(2022, 7, 1),
        date(2024, 6, 30),
        date(2024, 7, 1),
        date(2024, 12, 31),
    )

    # Mobile healthcare: 940 health-risk + 50 chronic, 24 weeks; 57.4 % improved (568 of 990).
    mh_dates = _dates_in(rng, first_a, date(2023, 6, 30), 990)
    cohort = rng.permutation(np.array(["health_risk"] * 940 + ["chronic"] * 50))
    improved = rng.permutation(np.arange(990) < 568)
    for c in ("health_risk", "chronic"):
        sel = np.flatnonzero(cohort == c)
        add_enrolments(
            "goyang_mobile_health",
            [mh_dates[i] for i in sel],
            c,
            ["40-49", "50-59", "60-64", "65-69"],
            [0.25, 0.35, 0.25, 0.15],
            goyang_dongs,
            improved[sel],
            weeks=24,
        )
    cohort_weeks = course_of_cohort(ctx.rng.spawn(1)[0], enrol[: len(mh_dates)])
    # Walk-On: 3,738 by 2024-06, 4,475 in the 2024 H2 challenge (8,213).
    add_enrolments(
        "goyang_walkon",
        _dates_in(rng, first_a, first_b, 3_738),
        "2022-07~2024-06",
        [*AGE_BANDS_ADULT, "70+"],
        [0.12, 0.18, 0.22, 0.22, 0.18, 0.08],
        goyang_dongs,
    )
    add_enrolments(
        "goyang_walkon",
        _dates_in(rng, h2_a, h2_b, 4_475),
        "2024H2_challenge",
        [*AGE_BANDS_ADULT, "70+"],
        [0.14, 0.2, 0.22, 0.2, 0.17, 0.07],
        goyang_dongs,
    )
    # QR smoking-cessation clinic: 204, then 496 in 2024 H2 (700).
    add_enrolments(
        "goyang_qr_cessation",
        _dates_in(rng, date(2023, 1, 1), first_b, 204),
        "2023-01~2024-06",
        AGE_BANDS_ADULT,
        [0.2, 0.25, 0.25, 0.2, 0.1],
        goyang_dongs,
    )
    add_enrolments(
        "goyang_qr_cessation",
        _dates_in(rng, h2_a, h2_b, 496),
        "2024H2",
        AGE_BANDS_ADULT,
        [0.22, 0.26, 0.24, 0.18, 0.1],
        goyang_dongs,
    )
    # Monthly new enrolments, derived from the rows above so they always agree.
    for code in ("goyang_mobile_health", "goyang_walkon", "goyang_qr_cessation"):
        ds = [e["enrolled_on"] for e in enrol if e["program_id"] == prog[code]]
        for ma, mb in months(min(ds), max(ds)):
            periods.append(
                {
                    "program_id": prog[code],
                    "region_id": g_id,
                    "metric": "enrolments",
                    "period_start": ma,
                    "period_end": mb,
                    "value": float(sum(ma <= d <= mb for d in ds)),
                }
            )

    # AI check-in calls and people; follow-ups; robot services; HALF users.
    add_monthly("goyang_ai_call", "calls", first_a, first_b, 26_204, g_id)
    add_monthly("goyang_ai_call", "calls", h2_a, h2_b, 16_851, g_id)
    add_monthly("goyang_ai_call", "new_participants", first_a, first_b, 1_959, g_id)
    add_monthly("goyang_ai_call", "new_participants", h2_a, h2_b, 1_003, g_id)
    add_monthly("goyang_ai_call", "follow_ups", first_a, h2_b, 1_541, g_id)
    add_monthly("goyang_care_robot", "services", h2_a, h2_b, 17_201, g_id)
    add_monthly("goyang_half", "new_users", first_a, first_b, 20_367, g_id)
    add_monthly("goyang_half", "new_users", h2_a, h2_b, 20_825, g_id)
    add_monthly("goyang_half", "habit_tests", first_a, first_b, 19_806, g_id)
    add_monthly("goyang_half", "habit_tests", h2_a, h2_b, 1_323, g_id)

    # 손목닥터 9988: 50,000 participants in 2021 (from 2021-11) and in 2022.
    s_id = ctx.places["1100000000"].id
    for a, b in ((date(2021, 11, 1), date(2021, 12, 31)), (date(2022, 1, 1), date(2022, 12, 31))):
        periods.append(
            {
                "program_id": prog["seoul_wrist_doctor"],
                "region_id": s_id,
                "metric": "participants",
                "period_start": a,
                "period_end": b,
                "value": 50_000.0,
            }
        )
    first_wrist = len(enrol)
    bands = ["19-29", "30-39", "40-49", "50-59", "60-69"]
    add_enrolments(
        "seoul_wrist_doctor",
        _dates_in(rng, date(2021, 11, 1), date(2022, 6, 30), WRIST_SAMPLE),
        "sample",
        bands,
        [0.15, 0.2, 0.22, 0.23, 0.2],
        seoul_dongs,
    )
    return {
        "enrolments": enrol,
        "participation_periods": periods,
        "wrist_from": [first_wrist],
        "cohort_weeks": cohort_weeks,
    }


# The published outcomes of the mobile healthcare cohort (seed-000, as of 2023-12): the share of
# participants measured at the end of the 24 weeks whose health behaviour improved, and whose
# health-risk factors fell. The demo measures the completers and hits both rates exactly.
BEHAVIOUR_RATE = 57.4
RISK_RATE = 65.1
COURSE_WEEKS = 24
DROP_SHARE = 0.16  # about one in six stops before the end, most of them early


def exact_count(rate: float, n: int) -> int:
    """The whole number of ``n`` whose share, rounded to one decimal, is ``rate`` %."""
    guess = round(rate * n / 100)
    for k in sorted(range(max(guess - 3, 0), min(guess + 4, n + 1)), key=lambda k: abs(k - guess)):
        if round(k / n * 100, 1) == rate:
            return k
    raise ValueError(f"no count of {n} rounds to {rate} %")


def course_of_cohort(rng: np.random.Generator, people: list[dict]) -> list[tuple[int, int, int]]:
    """The 24-week course of each mobile healthcare participant, in place: drop-outs (status,
    end date, no outcome measured) and the completers' two outcomes at the published rates.
    Returns the weekly activity as (index into ``people``, week, active days); weeks without
    activity have no row. Drawn from its own generator so the rest of the demo is unchanged."""
    n = len(people)
    dongs = sorted({p["region_id"] for p in people})
    dong_risk = dict(zip(dongs, rng.uniform(0.6, 1.5, len(dongs)).tolist(), strict=True))
    p_drop = np.array([DROP_SHARE * dong_risk[p["region_id"]] for p in people])
    drops = rng.random(n) < p_drop
    # Drop-out week 0…23 (the week after the last active one): front-loaded, as coaching is.
    week_p = np.exp(-np.arange(COURSE_WEEKS) / 7.0)
    drop_week = rng.choice(COURSE_WEEKS, n, p=week_p / week_p.sum())
    keen = rng.beta(5, 2, n)  # share of days with a measurement or a coaching contact
    weeks: list[tuple[int, int, int]] = []
    for i, person in enumerate(people):
        last = int(drop_week[i]) - 1 if drops[i] else COURSE_WEEKS
        if drops[i]:
            person["status"] = "dropped"
            person["ended_on"] = person["enrolled_on"] + timedelta(weeks=last + 1)
            person["improved"] = None
        for w in range(last + 1):
            fade = 1.0 - 0.25 * w / COURSE_WEEKS  # activity thins a little towards the end
            days = int(rng.binomial(7, keen[i] * fade))
            if w == last:
                days = max(days, 1)  # the last active week has activity by definition
            if days:
                weeks.append((i, w, days))
    done = [i for i in range(n) if not drops[i]]
    improved = set(rng.permutation(done)[: exact_count(BEHAVIOUR_RATE, len(done))].tolist())
    reduced = set(rng.permutation(done)[: exact_count(RISK_RATE, len(done))].tolist())
    for i in done:
        people[i]["improved"] = i in improved
        people[i]["risk_reduced"] = i in reduced
    return weeks


def ledger(
    ctx: Ctx, wrist: list[dict], program_id: int, until: date = date(2022, 12, 31)
) -> list[dict]:
    """Monthly 'earn' rows: 200 points per day with 8,000 steps (5,000 at 70+), capped at
    100,000 a year; a 'redeem' row when people spend their Seoul Pay points."""
    rng = ctx.rng
    rows: list[dict] = []
    for e in wrist:
        keen = rng.beta(3, 2)  # share of days the step goal is met
        year_total: dict[int, int] = {}
        balance = 0
        for ma, mb in months(e["enrolled_on"], until):
            first = max(ma, e["enrolled_on"])
            n_days = (mb - first).days + 1
            hit = int(rng.binomial(n_days, keen))
            pts = min(hit * POINTS_PER_DAY, YEAR_CAP - year_total.get(ma.year, 0))
            if pts > 0:
                year_total[ma.year] = year_total.get(ma.year, 0) + pts
                balance += pts
                rows.append(
                    {
                        "program_id": program_id,
                        "enrolment_id": e["id"],
                        "occurred_on": mb,
                        "kind": "earn",
                        "reason": "steps_goal",
                        "points": pts,
                    }
                )
            if balance >= 5_000 and rng.random() < 0.3:
                rows.append(
                    {
                        "program_id": program_id,
                        "enrolment_id": e["id"],
                        "occurred_on": mb,
                        "kind": "redeem",
                        "reason": "seoul_pay",
                        "points": -balance,
                    }
                )
                balance = 0
    return rows
