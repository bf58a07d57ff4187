"""Device states per dong as map features: colour of the worst state, small counts hidden."""

from __future__ import annotations

from collections.abc import Mapping
from itertools import pairwise

import pandas as pd

from dashboard.mapping.suppression import SUPPRESS_BELOW, suppress_small_counts

__all__ = ["SUPPRESS_BELOW", "dong_features", "dong_totals", "label_point", "worst_state"]

# Worst first: what a wall screen must show for a dong with any of it.
SEVERITY = ("severe", "risk", "attention", "offline", "normal")


def worst_state(states: Mapping[str, int]) -> str | None:
    """The most serious state with at least one device."""
    return next((s for s in SEVERITY if states.get(s, 0) > 0), None)


def dong_totals(
    by_dong: pd.DataFrame, *, suppress_below: int | None = None, complementary: bool = False
) -> pd.DataFrame:
    """Per dong from ``by_dong`` (region_code, state, devices; names and district names kept
    when present): devices (the total), worst, devices_text and suppressed. With ``suppress_below``
    a dong with 1 to ``suppress_below - 1`` devices shows neither its count nor its worst
    state (``suppress_small_counts``); a dong with none shows 0. When ``by_dong`` has a
    ``people`` column (the people its devices watch, on each row of the dong), a dong of 1 to
    ``suppress_below - 1`` people is hidden too, however many devices they have."""
    names = [
        c
        for c in ("name_ko", "name_en", "district_code", "district_ko", "district_en")
        if c in by_dong.columns
    ]
    if by_dong.empty:
        return pd.DataFrame(
            columns=["region_code", *names, "devices", "worst", "devices_text", "suppressed"]
        )
    rows = []
    for code, group in by_dong.groupby(by_dong["region_code"].astype(str), sort=True):
        states = group.groupby("state")["devices"].sum().astype(int).to_dict()
        first = group.iloc[0]
        people = {"people": int(group["people"].max())} if "people" in group else {}
        rows.append(
            {"region_code": code, **{c: first[c] for c in names},
             "devices": sum(states.values()), "worst": worst_state(states), **people}
        )  # fmt: skip
    out = pd.DataFrame(rows)
    out = suppress_small_counts(
        out,
        "devices",
        suppress_below or 1,
        complementary=complementary,
        people="people" if "people" in out else None,
    )
    worst = [None if h else w for w, h in zip(out["worst"], out["suppressed"], strict=True)]
    out["worst"] = pd.Series(worst, index=out.index, dtype=object)
    return out


def dong_features(
    by_dong: pd.DataFrame,
    boundaries: dict | None,
    colors: Mapping[str, str],
    *,
    names: Mapping[str, str],
    suppress_below: int | None = None,
    complementary: bool = False,
) -> list[dict]:
    """One GeoJSON feature per dong in ``by_dong`` (region_code, state, devices) that has a
    boundary: properties code, name, worst, devices (None when suppressed), devices_text,
    color [r, g, b, a] and label ([lon, lat] inside the dong, for its count). With
    ``suppress_below`` a dong with fewer devices shows "<5" and no state colour beyond grey
    (a small count in a small dong could identify a person)."""
    if boundaries is None or by_dong.empty:
        return []
    totals = dong_totals(by_dong, suppress_below=suppress_below, complementary=complementary)
    per_code = {r["region_code"]: r for r in totals.to_dict("records")}
    out = []
    for f in boundaries.get("features", []):
        code = str(f["properties"].get("adm_cd2"))
        row = per_code.get(code)
        if row is None:
            continue
        worst = row["worst"] if isinstance(row["worst"], str) else None
        rgb = _rgb(colors[worst]) if worst else [128, 128, 128]
        devices = row["devices"]
        out.append(
            {
                "type": "Feature",
                "geometry": f["geometry"],
                "properties": {
                    "code": code,
                    "name": names.get(code, f["properties"].get("adm_nm", code)),
                    "worst": worst,
                    "devices": None if pd.isna(devices) else int(devices),
                    "devices_text": row["devices_text"],
                    # Hidden: next to no fill, so it cannot pass for the grey of 장애.
                    "color": [*rgb, 25 if worst is None else 90 if worst == "normal" else 200],
                    "label": label_point(f["geometry"]),
                },
            }
        )
    return out


def label_point(geometry: dict) -> list[float]:
    """[lon, lat] for a dong's label: the area-weighted centroid of its largest outer ring
    (the vertex mean for a degenerate ring)."""
    rings = (
        [geometry["coordinates"][0]]
        if geometry["type"] == "Polygon"
        else [poly[0] for poly in geometry["coordinates"]]
    )
    best, best_area = None, -1.0
    for ring in rings:
        a = cx = cy = 0.0
        for (x0, y0, *_), (x1, y1, *_) in pairwise([*ring, ring[0]]):
            cross = x0 * y1 - x1 * y0
            a += cross
            cx += (x0 + x1) * cross
            cy += (y0 + y1) * cross
        if abs(a) > best_area:
            best_area = abs(a)
            if abs(a) < 1e-15:
                best = [sum(p[0] for p in ring) / len(ring), sum(p[1] for p in ring) / len(ring)]
            else:
                best = [cx / (3 * a), cy / (3 * a)]
    return [round(best[0], 6), round(best[1], 6)]


def _rgb(hex_color: str) -> list[int]:
    h = hex_color.lstrip("#")
    return [int(h[i : i + 2], 16) for i in (0, 2, 4)]
