"""The council deck as plain data: one :class:`Slide` per message, built from live data.

No streamlit here: the 브리핑 page, the PDF/PPTX export and the CLI all render the same specs.
Aggregates only: every number comes from ``queries.briefing`` and the other read-side
aggregates, none of which selects a personal column; counts under :data:`SUPPRESS_BELOW`,
and shares or medians over fewer, are never shown (the rule of
:mod:`dashboard.mapping.suppression`).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from functools import lru_cache
from typing import Any

import pandas as pd
from sqlalchemy import Connection

from dashboard.briefing.gain import early_gain
from dashboard.briefing.period import Period
from dashboard.formatting import (
    format_amount,
    format_date,
    format_datetime,
    format_duration,
    format_number,
    format_percent,
)
from dashboard.i18n import localized, translate, translate_or
from dashboard.mapping.suppression import (
    SUPPRESS_BELOW,
    count_text,
    enough,
    hidden_cells,
    suppress_group_counts,
    suppress_small_counts,
    suppressed_text,
)
from dashboard.reference.documents import cite, publisher
from queries import briefing as q
from queries import complaints as complaints_q
from queries.budget import budget_lines, findings
from queries.participation import participants
from queries.reference import published_figures
from queries.response_metrics import alerts_in_period, field_visits_within, severe_ack_shares_of

NATIONAL_PAIRS = (  # (ours, national) figure keys, data/reference/published_figures.csv
    (
        "goyang.mobile_health.behaviour_improvement_rate",
        "goyang.mobile_health.behaviour_improvement_rate_national",
    ),
    (
        "goyang.mobile_health.risk_reduction_rate",
        "goyang.mobile_health.risk_reduction_rate_national",
    ),
)
COMPLAINT_KEYS = (
    "goyang.smoking.complaints_change_yoy",
    "goyang.smoking.complaints_change_yoy_2024h2",
)
SIDO_KEYS = {"11": "seoul", "30": "daejeon", "41": "gyeonggi"}
RESOLUTION_BINS = ((30, "m30"), (60, "h1"), (120, "h2"), (360, "h6"))


@dataclass(frozen=True)
class Figure:
    """One big number: its label and its already formatted value."""

    label: str
    value: str


@dataclass(frozen=True)
class ChartSpec:
    """A bar or line chart over ``rows`` (plain dicts), rendered by dashboard.briefing.charts.

    ``kind``: ``hbar`` (a bar per ``category``, side by side per ``series`` when given) or
    ``line`` (``category`` is a month, ISO date text).
    """

    kind: str
    rows: tuple[dict[str, Any], ...]
    category: str
    value: str
    value_title: str
    category_title: str = ""
    series: str | None = None
    series_title: str = ""
    percent: bool = False
    rules: tuple[tuple[str, float], ...] = ()  # labelled reference values (targets)


@dataclass(frozen=True)
class DongArea:
    """One dong on the map slide: counts are None where suppressed."""

    code: str
    name: str
    people: int | None
    alerts: int | None
    suppressed: bool
    geometry: dict


@dataclass(frozen=True)
class DongMap:
    area: str  # the province or metropolitan city, translated
    dongs: tuple[DongArea, ...]
    people_title: str
    alerts_title: str
    hidden_label: str  # what a suppressed count reads, e.g. "5명 미만"


@dataclass(frozen=True)
class Slide:
    key: str
    title: str
    message: str
    figures: tuple[Figure, ...] = ()
    chart: ChartSpec | None = None
    bullets: tuple[str, ...] = ()
    source: str = ""
    as_of: str = ""
    map: DongMap | None = None


@dataclass(frozen=True)
class ComplaintEffect:
    """An effect estimate of the smoking detectors on complaints (issue 11 adds one).

    Pass it to :func:`build_deck` (``complaint_effect=``); the complaints slide then shows it
    next to the documents' own before/after figures.
    """

    change_pct: float
    ci_low_pct: float
    ci_high_pct: float
    method: str  # one short sentence, in the deck's language


@dataclass
class _Ctx:
    conn: Connection
    period: Period
    now: datetime
    lang: str
    alerts: pd.DataFrame = field(default_factory=pd.DataFrame)

    def t(self, key: str, **kwargs: Any) -> str:
        return translate(key, self.lang, **kwargs)

    @property
    def window(self) -> str:
        first, last = (
            format_date(self.period.first_day, self.lang),
            format_date(self.period.last_day, self.lang),
        )
        return first if first == last else f"{first} – {last}"

    @property
    def as_of(self) -> str:
        return self.t("deck.as_of", at=format_datetime(self.now, self.lang))

    @property
    def window_as_of(self) -> str:
        return self.t(
            "deck.window_as_of", window=self.window, at=format_datetime(self.now, self.lang)
        )


def suppress_reach_counts(
    df: pd.DataFrame,
    people: str = "people",
    others: tuple[str, ...] = ("alerts",),
    threshold: int = SUPPRESS_BELOW,
) -> pd.DataFrame:
    """The map slides' rows (``code``, people, alerts per dong) made safe to show, by the one
    rule of :mod:`dashboard.mapping.suppression`: a dong with 1–4 people hides every count,
    any other count from 1 to 4 is hidden, and each province's slide is complemented on its
    own, since a program may live in one province only and the reach slide shows its people
    (the checks slide the period's person alerts in total): total minus the dongs shown is
    never one dong. Hidden counts become None; ``suppressed`` marks the dongs of few
    people."""
    return suppress_group_counts(df, people, others, threshold, within=df["code"].str[:2])


def _pct(value: float | None) -> str:
    return format_percent(None if value is None else value * 100, 1)


def _cover(c: _Ctx) -> Slide:
    return Slide(
        "cover",
        c.t("deck.cover.title"),
        c.t("deck.cover.message", window=c.window),
        bullets=(c.t("deck.cover.privacy"),),
        source=c.t("deck.source.db"),
        as_of=c.as_of,
    )


def _reach(c: _Ctx) -> Slide:
    reach = q.program_reach(c.conn)
    totals = q.reach_totals(c.conn)
    # People per program; programs watching places, not people (smoking, parks), have none.
    # A pilot of three people is three people: small programs are left out, and with one
    # left out the smallest other goes too (the total people is the slide's first figure).
    watched = reach[reach["people"] > 0].sort_values("people", ascending=False)
    safe = suppress_small_counts(watched, "people", complementary=True)
    rows = [
        {"program": localized(r, "name", c.lang), "count": int(r["people"])}
        for r in safe.to_dict("records")
        if not r["suppressed"]
    ]
    n_hidden = int(safe["suppressed"].sum())
    return Slide(
        "reach",
        c.t("deck.reach.title"),
        c.t(
            "deck.reach.message",
            people=format_number(totals["people"]),
            devices=format_number(totals["devices"]),
            districts=format_number(totals["districts"]),
            programs=len(reach),
        ),
        figures=(
            Figure(c.t("deck.reach.people"), format_number(totals["people"])),
            Figure(c.t("deck.reach.devices"), format_number(totals["devices"])),
            Figure(c.t("deck.reach.districts"), format_number(totals["districts"])),
        ),
        chart=ChartSpec(
            "hbar",
            tuple(rows),
            "program",
            "count",
            c.t("deck.reach.people"),
        )
        if rows
        else None,
        bullets=(c.t("deck.reach.hidden", n=n_hidden, k=SUPPRESS_BELOW),) if n_hidden else (),
        source=c.t("deck.source.reach"),
        as_of=c.as_of,
    )


def _checks(c: _Ctx) -> Slide:
    checks = q.checks_in_period(c.conn, c.period.start, c.period.end)
    person_alerts = int((c.alerts["kind"] == "person").sum()) if len(c.alerts) else 0
    total = int(checks["checks"].sum()) if len(checks) else 0
    on_site = int(checks.loc[checks["kind"].isin(q.ON_SITE), "checks"].sum()) if total else 0
    people = q.people_checked(c.conn, c.period.start, c.period.end)
    rows = tuple(
        {
            "kind": translate_or(f"act.{r['kind']}", r["kind"], c.lang),
            "checks": int(r["checks"]),
        }
        for r in checks.sort_values("checks", ascending=False).to_dict("records")
    )
    return Slide(
        "checks",
        c.t("deck.checks.title"),
        c.t(
            "deck.checks.message",
            alerts=format_number(person_alerts),
            checks=format_number(total),
            people=format_number(people),
        ),
        figures=(
            Figure(c.t("deck.checks.alerts"), format_number(person_alerts)),
            Figure(c.t("deck.checks.checks"), format_number(total)),
            Figure(c.t("deck.checks.on_site"), format_number(on_site)),
            Figure(c.t("deck.checks.people"), format_number(people)),
        ),
        chart=ChartSpec("hbar", rows, "kind", "checks", c.t("deck.checks.checks"))
        if rows
        else None,
        source=c.t("deck.source.checks"),
        as_of=c.window_as_of,
    )


def _standards(c: _Ctx) -> Slide:
    """A share is judged only over 5 alerts or visits or more: "100 % of one 심각 alert" is
    how that one alert was handled."""
    ack = severe_ack_shares_of(c.alerts)
    visits = field_visits_within(c.conn, c.period.start, c.period.end).iloc[0]
    severe = int(ack["severe_alerts"].iloc[0]) if len(ack) else 0
    n_visits = int(visits["visits"])
    too_few = c.t("deck.too_few", n=SUPPRESS_BELOW)
    rows, figures, met = [], [], 0

    def judge(label: str, share: float | None, target: float, meets: bool, n: int) -> int:
        if not enough(n):
            figures.append(Figure(label, f"{too_few} / {_pct(target)}"))
            return 0
        rows.append({"standard": label, "share": share or 0.0, "target": target})
        figures.append(Figure(label, f"{_pct(share)} / {_pct(target)}"))
        return int(bool(meets))

    for r in ack.to_dict("records"):
        label = c.t("deck.standards.ack", s=int(r["within_s"]))
        met += judge(label, r["share"], r["target"], r["meets_target"], severe)
    label = c.t("deck.standards.visit", m=int(visits["within_min"]))
    met += judge(label, visits["share"], visits["target"], visits["meets_target"], n_visits)
    message = (
        c.t("deck.standards.message", met=met, of=len(rows))
        if rows
        else c.t("deck.standards.message_few", n=SUPPRESS_BELOW)
    )
    return Slide(
        "standards",
        c.t("deck.standards.title"),
        message,
        figures=tuple(figures),
        chart=ChartSpec(
            "hbar", tuple(rows), "standard", "share", c.t("deck.standards.share"), percent=True
        )
        if rows
        else None,
        bullets=(
            c.t("deck.standards.basis", severe=count_text(severe), visits=count_text(n_visits)),
        ),
        source=c.t("deck.source.standards"),
        as_of=c.window_as_of,
    )


def _detection(c: _Ctx) -> Slide:
    basis = q.plug_alert_basis(c.conn, c.period.start, c.period.end)
    by_basis = basis.groupby("basis")["alerts"].sum() if len(basis) else pd.Series(dtype=int)
    # The net is the same fixed ladder, a day later: a fixed-time alert like the ladder's.
    routine = int(by_basis.get("routine", 0))
    ladder = int(by_basis.get("ladder", 0)) + int(by_basis.get("net", 0))
    gain = early_gain(q.plug_alert_timing(c.conn, c.period.start, c.period.end))
    person = c.alerts[c.alerts["kind"] == "person"] if len(c.alerts) else c.alerts
    by_rule = (
        person.groupby("rule").size().sort_values(ascending=False).rename("alerts").reset_index()
        if len(person)
        else pd.DataFrame({"rule": [], "alerts": []})
    )
    # A rule may watch a small group (the living lab's wandering, a hundred robots): a count of
    # 1–4 is left out, and with it the next smallest (the checks slide gives the total).
    by_rule = suppress_small_counts(by_rule, "alerts", complementary=True)
    rows = tuple(
        {"rule": translate_or(f"rule.{r['rule']}", r["rule"], c.lang), "alerts": int(r["alerts"])}
        for r in by_rule.to_dict("records")
        if not r["suppressed"]
    )
    rules_hidden = int(by_rule["suppressed"].sum())
    # Routine + fixed rule is the plug rule's count: one small, both go.
    hide = hidden_cells(pd.Series([routine, ladder]), complementary=True).tolist()
    routine_text, ladder_text = (
        suppressed_text() if h else format_number(n)
        for n, h in zip((routine, ladder), hide, strict=True)
    )
    measuring = c.t("deck.detection.measuring")
    share = measuring if gain.share_early is None else _pct(gain.share_early)
    lead = (
        measuring
        if gain.median_lead_h is None
        else format_duration(timedelta(hours=gain.median_lead_h), c.lang)
    )
    if gain.median_lead_h is not None and gain.share_early is not None:
        message = c.t(
            "deck.detection.message_gain",
            alerts=format_number(gain.alerts),
            share=share,
            lead=lead,
        )
    elif gain.share_early == 0:
        message = c.t("deck.detection.message_none", alerts=format_number(gain.alerts))
    elif gain.share_early is not None:
        message = c.t(
            "deck.detection.message_share", alerts=format_number(gain.alerts), share=share
        )
    else:
        message = c.t("deck.detection.message", routine=routine_text, ladder=ladder_text)
    bullets = [c.t("deck.detection.method")]
    if rules_hidden:
        bullets.append(c.t("deck.detection.rules_hidden", n=rules_hidden, k=SUPPRESS_BELOW))
    if gain.median_lead_h is None or gain.share_early is None:
        bullets.append(
            c.t(
                "deck.detection.too_few",
                alerts=count_text(gain.alerts),
                early=count_text(gain.early),
                min=gain.minimum,
            )
        )
    return Slide(
        "detection",
        c.t("deck.detection.title"),
        message,
        figures=(
            Figure(c.t("deck.detection.routine"), routine_text),
            Figure(c.t("deck.detection.ladder"), ladder_text),
            Figure(c.t("deck.detection.share"), share),
            Figure(c.t("deck.detection.lead"), lead),
        ),
        chart=ChartSpec("hbar", rows, "rule", "alerts", c.t("deck.detection.alerts"))
        if rows
        else None,
        bullets=tuple(bullets),
        source=c.t("deck.source.detection"),
        as_of=c.window_as_of,
    )


def _wandering(c: _Ctx) -> Slide:
    df = c.alerts[c.alerts["rule"] == q.WANDER_RULE] if len(c.alerts) else c.alerts
    episodes = len(df)
    closed = df[df["closed_at"].notna()] if episodes else df
    minutes = (
        (closed["closed_at"] - closed["opened_at"]).dt.total_seconds() / 60
        if len(closed)
        else pd.Series(dtype=float)
    )
    median = float(minutes.median()) if len(minutes) else None
    p90 = float(minutes.quantile(0.9)) if len(minutes) else None
    within_h = int((minutes <= 60).sum())
    counts: dict[str, int] = {}
    for m in minutes:
        key = next((k for limit, k in RESOLUTION_BINS if m <= limit), "longer")
        counts[key] = counts.get(key, 0) + 1
    order = [k for _, k in RESOLUTION_BINS] + ["longer"]
    rows = [{"bin": c.t(f"deck.wandering.bin_{k}"), "episodes": counts.get(k, 0)} for k in order]
    if episodes - len(closed):
        rows.append({"bin": c.t("deck.wandering.bin_open"), "episodes": episodes - len(closed)})
    as_td = lambda m: None if m is None else pd.Timedelta(minutes=m).to_pytimedelta()  # noqa: E731
    if episodes > 0 and not enough(episodes):
        # The living lab is two dongs: one episode's median is that person's search, and
        # even the count points at a few people. Nothing but "fewer than 5".
        too_few = c.t("deck.too_few", n=SUPPRESS_BELOW)
        return Slide(
            "wandering",
            c.t("deck.wandering.title"),
            c.t("deck.wandering.message_few", n=SUPPRESS_BELOW),
            figures=(
                Figure(c.t("deck.wandering.episodes"), count_text(episodes)),
                Figure(c.t("deck.wandering.median"), too_few),
                Figure(c.t("deck.wandering.p90"), too_few),
                Figure(c.t("deck.wandering.within_hour"), too_few),
            ),
            source=c.t("deck.source.wandering"),
            as_of=c.window_as_of,
        )
    return Slide(
        "wandering",
        c.t("deck.wandering.title"),
        c.t(
            "deck.wandering.message",
            episodes=format_number(episodes),
            median=format_duration(as_td(median), c.lang),
        )
        if median is not None
        else c.t("deck.wandering.message_none", episodes=format_number(episodes)),
        figures=(
            Figure(c.t("deck.wandering.episodes"), format_number(episodes)),
            Figure(c.t("deck.wandering.median"), format_duration(as_td(median), c.lang)),
            Figure(c.t("deck.wandering.p90"), format_duration(as_td(p90), c.lang)),
            Figure(c.t("deck.wandering.within_hour"), format_number(within_h)),
        ),
        chart=ChartSpec("hbar", tuple(rows), "bin", "episodes", c.t("deck.wandering.episodes"))
        if episodes
        else None,
        source=c.t("deck.source.wandering"),
        as_of=c.window_as_of,
    )


def _sido_name(code: str, lang: str) -> str:
    return translate(f"deck.map.sido_{SIDO_KEYS.get(code[:2], 'other')}", lang)


def _maps(c: _Ctx, boundaries: dict | None) -> list[Slide]:
    """One map slide per province or metropolitan city with people or alerts."""
    if not boundaries:
        return []
    by_dong = suppress_reach_counts(q.reach_by_dong(c.conn, c.period.start, c.period.end))
    shapes = {str(f["properties"].get("adm_cd2")): f["geometry"] for f in boundaries["features"]}
    hidden = c.t("deck.map.hidden", n=SUPPRESS_BELOW)
    slides = []
    for sido, part in by_dong.groupby(by_dong["code"].str[:2]):
        dongs = tuple(
            DongArea(
                str(r["code"]),
                localized(r, "name", c.lang),
                None if r["people"] is None else int(r["people"]),
                None if r["alerts"] is None else int(r["alerts"]),
                bool(r["suppressed"]),
                shapes[str(r["code"])],
            )
            for r in part.to_dict("records")
            if str(r["code"]) in shapes
        )
        if not dongs:
            continue
        area = _sido_name(sido, c.lang)
        shown_people = sum(d.people or 0 for d in dongs)
        shown_alerts = sum(d.alerts or 0 for d in dongs)
        n_hidden = sum(d.people is None for d in dongs)  # with the one hidden beside a lone one
        slides.append(
            Slide(
                f"map_{SIDO_KEYS.get(sido, sido)}",
                c.t("deck.map.title", area=area),
                c.t(
                    "deck.map.message",
                    dongs=len(dongs),
                    area=area,
                    hidden=n_hidden,
                    n=SUPPRESS_BELOW,
                ),
                figures=(
                    Figure(c.t("deck.map.dongs"), format_number(len(dongs))),
                    Figure(c.t("deck.map.people_shown"), format_number(shown_people)),
                    Figure(c.t("deck.map.alerts_shown"), format_number(shown_alerts)),
                    Figure(c.t("deck.map.suppressed"), format_number(n_hidden)),
                ),
                source=c.t("deck.source.map"),
                as_of=c.window_as_of,
                map=DongMap(
                    area, dongs, c.t("deck.map.people_title"), c.t("deck.map.alerts_title"), hidden
                ),
            )
        )
    return slides


def _figures(c: _Ctx, keys: tuple[str, ...]) -> dict[str, dict]:
    df = published_figures(c.conn, keys=keys)
    return {r["figure_key"]: r for r in df.to_dict("records")}


def _cited(figs: dict[str, dict], lang: str) -> str:
    """The documents the slide's published figures come from, by publisher and title."""
    return "; ".join(cite(d, lang) for d in sorted({f["source_doc"] for f in figs.values()})) or "–"


def _complaints(c: _Ctx, effect: ComplaintEffect | None) -> Slide:
    figs = _figures(c, COMPLAINT_KEYS)
    ours = complaints_q.year_on_year(c.conn, complaints_q.DOCUMENTED_FRAMINGS[:2])
    figures = [
        Figure(localized(f, "label", c.lang), format_percent(f["value"], 0, signed=True))
        for f in figs.values()
    ]
    bullets = [
        c.t(
            "deck.complaints.ours",
            framing=translate_or(f"framing.{r['framing']}", r["framing"], c.lang),
            change=format_percent(r["change_pct"], 0, signed=True),
            current=format_number(r["current"]),
            previous=format_number(r["previous"]),
        )
        for r in ours.to_dict("records")
    ]
    if effect is not None:  # the hook for issue 11's estimate
        figures.append(
            Figure(
                c.t("deck.complaints.effect"),
                f"{format_percent(effect.change_pct, 0, signed=True)} "
                f"({format_percent(effect.ci_low_pct, 0)}…{format_percent(effect.ci_high_pct, 0)})",
            )
        )
        bullets.append(effect.method)
    else:
        bullets.append(c.t("deck.complaints.no_effect"))
    monthly = q.smoking_complaints_monthly(c.conn)
    rows = tuple(
        {"month": r["month"].isoformat(), "complaints": int(r["complaints"])}
        for r in monthly.to_dict("records")
    )
    first = next(iter(figs.values()), None)
    return Slide(
        "complaints",
        c.t("deck.complaints.title"),
        c.t(
            "deck.complaints.message",
            change=format_percent(abs(first["value"]), 0) if first else "–",
        ),
        figures=tuple(figures),
        chart=ChartSpec(
            "line",
            rows,
            "month",
            "complaints",
            c.t("deck.complaints.monthly"),
            c.t("deck.complaints.month"),
        )
        if rows
        else None,
        bullets=tuple(bullets),
        source=c.t("deck.source.complaints", docs=_cited(figs, c.lang)),
        as_of=c.t("deck.published_as_of", at=format_datetime(c.now, c.lang)),
    )


def _participation(c: _Ctx) -> Slide:
    figs = _figures(c, tuple(k for pair in NATIONAL_PAIRS for k in pair))
    rows, figures = [], []
    for ours_key, national_key in NATIONAL_PAIRS:
        if ours_key not in figs or national_key not in figs:
            continue
        ours, nat = figs[ours_key], figs[national_key]
        label = localized(ours, "label", c.lang)
        rows.append(
            {"measure": label, "who": c.t("deck.participation.goyang"), "pct": ours["value"]}
        )
        rows.append(
            {"measure": label, "who": c.t("deck.participation.national"), "pct": nat["value"]}
        )
        figures.append(
            Figure(label, f"{format_percent(ours['value'])} / {format_percent(nat['value'])}")
        )
    people = participants(c.conn)
    enrolled = int(people["enrolled"].sum()) if len(people) else 0
    figures.append(Figure(c.t("deck.participation.enrolled"), format_number(enrolled)))
    gaps = [r["pct"] for r in rows]
    gap = [gaps[i] - gaps[i + 1] for i in range(0, len(gaps), 2)]
    return Slide(
        "participation",
        c.t("deck.participation.title"),
        # "Ahead" only when every published rate is; otherwise the plain comparison.
        c.t(
            "deck.participation.message"
            if gap and all(g > 0 for g in gap)
            else "deck.participation.message_mixed",
            a=f"{gap[0]:+.1f}" if gap else "–",
            b=f"{gap[1]:+.1f}" if len(gap) > 1 else "–",
        ),
        figures=tuple(figures),
        chart=ChartSpec(
            "hbar", tuple(rows), "measure", "pct", c.t("deck.participation.rate"), series="who"
        )
        if rows
        else None,
        source=c.t("deck.source.participation", docs=_cited(figs, c.lang)),
        as_of=c.t("deck.published_as_of", at=format_datetime(c.now, c.lang)),
    )


def _budget(c: _Ctx) -> Slide:
    lines = budget_lines(c.conn, "goyang")
    totals = lines[
        lines["is_total"].astype(bool)
        & (lines["unit_project"] == "계")
        & (lines["period"] == "total")
    ]
    amount = {
        m: float(totals.loc[totals["measure"] == m, "amount"].sum())
        for m in ("plan", "secured", "executed")
    }
    rate = amount["executed"] / amount["secured"] * 100 if amount["secured"] else None
    found = findings(c.conn)
    rows = tuple(
        {"measure": translate(f"measure.{m}", c.lang), "amount": v} for m, v in amount.items()
    )
    bullets = tuple(
        c.t(
            "deck.budget.finding",
            doc=publisher(r["source_doc"]),
            table=r["table"],
            kind=translate_or(f"deck.budget.kind_{r['kind']}", r["kind"], c.lang),
            expected="–"
            if r["expected"] is None or math.isnan(r["expected"])
            else format_number(r["expected"], 0),
            printed="–"
            if r["printed"] is None or math.isnan(r["printed"])
            else format_number(r["printed"], 0),
            unit=translate_or(f"unitname.{r['unit']}", r["unit"], c.lang),
        )
        for r in found.to_dict("records")
    )
    return Slide(
        "budget",
        c.t("deck.budget.title"),
        c.t("deck.budget.message", rate=format_percent(rate), n=len(found)),
        figures=(
            Figure(
                translate("budget.secured_total", c.lang),
                format_amount(amount["secured"], "백만원", c.lang),
            ),
            Figure(
                translate("budget.executed_total", c.lang),
                format_amount(amount["executed"], "백만원", c.lang),
            ),
            Figure(translate("budget.execution_rate", c.lang), format_percent(rate)),
            Figure(c.t("deck.budget.findings"), format_number(len(found))),
        ),
        chart=ChartSpec("hbar", rows, "measure", "amount", c.t("deck.budget.amount")),
        bullets=bullets,
        source=c.t(
            "deck.source.budget",
            docs=", ".join(
                publisher(d) for d in sorted({*lines["source_doc"], *found["source_doc"]})
            ),
        ),
        as_of=c.t("deck.published_as_of", at=format_datetime(c.now, c.lang)),
    )


def build_deck(
    conn: Connection,
    period: Period,
    lang: str,
    now: datetime,
    *,
    boundaries: dict | None = None,
    complaint_effect: ComplaintEffect | None = None,
) -> list[Slide]:
    """Every slide of the briefing for ``period``, in ``lang``, as of ``now``.

    ``boundaries``: dong polygons (GeoJSON, ``adm_cd2``) for the map slides; without them the
    deck has no map. ``complaint_effect``: an effect estimate to show on the complaints slide.
    """
    c = _Ctx(conn, period, now, lang)
    c.alerts = alerts_in_period(conn, period.start, period.end, None, None)
    builders: list[Callable[[], Slide | list[Slide]]] = [
        lambda: _cover(c),
        lambda: _reach(c),
        lambda: _checks(c),
        lambda: _standards(c),
        lambda: _detection(c),
        lambda: _wandering(c),
        lambda: _maps(c, boundaries),
        lambda: _complaints(c, complaint_effect),
        lambda: _participation(c),
        lambda: _budget(c),
    ]
    slides: list[Slide] = []
    for build in builders:
        made = build()
        slides.extend(made if isinstance(made, list) else [made])
    return slides


def load_boundaries() -> dict | None:
    """Every dong polygon of the configured (or shipped) boundary file, or None without one."""
    from dashboard.settings import get_settings

    path = get_settings().resolved_boundary_geojson
    if path is None or not path.is_file():
        return None
    return _boundaries_at(str(path))


@lru_cache(maxsize=2)
def _boundaries_at(path: str) -> dict:
    import json

    with open(path, encoding="utf-8") as fh:
        return json.load(fh)


def complaint_effect(conn: Connection, period: Period, lang: str) -> ComplaintEffect | None:
    """The smoking detectors' effect on complaints up to the period's end, as the 민원 추이 page
    estimates it (``dashboard.analysis``): the interrupted time series over all monitored sites.
    None when there are no sites or the data are too few to conclude (the slide says so)."""
    from dashboard.analysis.complaints import complaint_effects
    from dashboard.analysis.effects import sentence

    effects = complaint_effects(
        complaints_q.monthly(conn), complaints_q.sites(conn), period.last_day + timedelta(days=1)
    )
    its = effects.overall
    if its is None or not its.conclusive:
        return None
    where = translate("complaints.where_sites", lang, n=its.units)
    method = sentence(its, lang, where)
    return ComplaintEffect(its.change * 100, its.low * 100, its.high * 100, method)


def live_deck(conn: Connection, period: Period, lang: str, now: datetime) -> list[Slide]:
    """:func:`build_deck` with the configured dong boundaries and the complaint effect estimate
    (what the page and CLI show)."""
    return build_deck(
        conn,
        period,
        lang,
        now,
        boundaries=load_boundaries(),
        complaint_effect=complaint_effect(conn, period, lang),
    )
