"""Device states per dong as map features: colour of the worst state, small counts hidden."""

from __future__ import annotations

from collections.abc import Mapping

import pandas as pd

# Worst first: what a wall screen must show for a dong with any of it.
SEVERITY = ("severe", "risk", "attention", "offline", "normal")
# Aggregate views (a council briefing) never show how many devices a dong has below this.
SUPPRESS_BELOW = 5


def worst_state(states: Mapping[str, int]) -> str | None:
    """The most serious state with at least one device."""
    return next((s for s in SEVERITY if states.get(s, 0) > 0), None)


def dong_features(
    by_dong: pd.DataFrame,
    boundaries: dict | None,
    colors: Mapping[str, str],
    *,
    names: Mapping[str, str],
    suppress_below: int | None = None,
) -> list[dict]:
    """One GeoJSON feature per dong in ``by_dong`` (region_code, state, devices) that has a
    boundary: properties name, worst, devices (None when suppressed), color [r, g, b, a]
    and height. With ``suppress_below`` a dong with fewer devices shows no count and no state
    colour beyond grey (a small count in a small dong could identify a person)."""
    if boundaries is None or by_dong.empty:
        return []
    counts: dict[str, dict[str, int]] = {}
    for row in by_dong.to_dict("records"):
        code = str(row["region_code"])
        counts.setdefault(code, {})[row["state"]] = int(row["devices"])
    out = []
    for f in boundaries.get("features", []):
        code = str(f["properties"].get("adm_cd2"))
        states = counts.get(code)
        if not states:
            continue
        total = sum(states.values())
        hidden = suppress_below is not None and total < suppress_below
        worst = None if hidden else worst_state(states)
        rgb = _rgb(colors[worst]) if worst else [128, 128, 128]
        out.append(
            {
                "type": "Feature",
                "geometry": f["geometry"],
                "properties": {
                    "code": code,
                    "name": names.get(code, f["properties"].get("adm_nm", code)),
                    "worst": worst,
                    "devices": None if hidden else total,
                    "color": [*rgb, 200 if worst and worst != "normal" else 90],
                },
            }
        )
    return out


def _rgb(hex_color: str) -> list[int]:
    h = hex_color.lstrip("#")
    return [int(h[i : i + 2], 16) for i in (0, 2, 4)]
