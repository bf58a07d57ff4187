"""Altair charts of the deck's specs, for the page and (through vl-convert) for PDF and PPTX.

Projector rules: large type (axis and legend text ≥ 20 px; an exported image is laid out at
1 px = 1 pt, so ≥ 20 pt on the slide), high contrast on the dark slide, and the Okabe–Ito
colour-blind-safe palette; the map uses the perceptually uniform, colour-blind-safe cividis.
"""

from __future__ import annotations

import hashlib
import json
import threading
from collections import OrderedDict
from functools import lru_cache

import altair as alt
import pandas as pd

from dashboard.briefing.slides import ChartSpec, DongMap
from dashboard.settings import PROJECT_ROOT

FONT_DIR = PROJECT_ROOT / "dashboard" / "static" / "fonts"
FONT = "NanumGothic"
BACKGROUND = "#0E1621"
TEXT = "#F4F7FA"
GRID = "#3A4756"
HIDDEN = "#1F2B38"  # a suppressed dong: near the background, outlined, no number
HIDDEN_STROKE = "#A9B4C0"
# Okabe & Ito (2008), without black (the background is dark): safe for every common colour
# vision deficiency.
OKABE_ITO = ["#56B4E9", "#E69F00", "#009E73", "#F0E442", "#0072B2", "#D55E00", "#CC79A7"]
DONGS = "dongs"
LABEL_PX = 20
TITLE_PX = 22


def _config(chart: alt.TopLevelMixin, font: str = FONT) -> alt.TopLevelMixin:
    return (
        chart.configure(background=BACKGROUND, font=font)
        .configure_view(stroke=None)
        .configure_axis(
            labelFontSize=LABEL_PX,
            titleFontSize=TITLE_PX,
            labelColor=TEXT,
            titleColor=TEXT,
            gridColor=GRID,
            domainColor=GRID,
            tickColor=GRID,
            labelLimit=420,
        )
        .configure_legend(
            labelFontSize=LABEL_PX,
            titleFontSize=TITLE_PX,
            labelColor=TEXT,
            titleColor=TEXT,
            orient="top",
            labelLimit=420,
        )
        .configure_text(fontSize=LABEL_PX, color=TEXT)
    )


def chart_of(spec: ChartSpec, width: int, height: int, font: str = FONT) -> alt.TopLevelMixin:
    """The spec as a configured Altair chart of ``width`` × ``height`` px (plot area)."""
    data = pd.DataFrame(list(spec.rows))
    value_format = ".0%" if spec.percent else ",~f"
    if spec.kind == "line":
        data[spec.category] = pd.to_datetime(data[spec.category])
        chart = (
            alt.Chart(data)
            .mark_line(point=alt.OverlayMarkDef(size=90), strokeWidth=4, color=OKABE_ITO[0])
            .encode(
                x=alt.X(
                    f"{spec.category}:T",
                    title=spec.category_title or None,
                    axis=alt.Axis(format="%Y-%m", labelAngle=0, tickCount=6),
                ),
                y=alt.Y(f"{spec.value}:Q", title=spec.value_title),
            )
        )
        return _config(chart.properties(width=width, height=height), font)
    categories = list(dict.fromkeys(data[spec.category]))
    enc = {
        "y": alt.Y(f"{spec.category}:N", title=None, sort=categories),
        "x": alt.X(
            f"{spec.value}:Q",
            title=spec.value_title,
            # Fewer ticks on a narrow chart, so "1,000" and "1,500" never run together.
            axis=alt.Axis(format=value_format, tickCount=max(2, min(5, width // 110))),
            scale=alt.Scale(domain=[0, 1]) if spec.percent else alt.Undefined,
        ),
    }
    if spec.series:
        series = list(dict.fromkeys(data[spec.series]))
        enc["yOffset"] = alt.YOffset(f"{spec.series}:N", sort=series)
        enc["color"] = alt.Color(
            f"{spec.series}:N",
            title=None,
            sort=series,
            scale=alt.Scale(domain=series, range=OKABE_ITO[: len(series)]),
        )
    else:
        enc["color"] = alt.value(OKABE_ITO[0])
    bars = alt.Chart(data).mark_bar().encode(**enc)
    labels = (
        alt.Chart(data)
        .mark_text(align="left", dx=6, fontSize=LABEL_PX, color=TEXT)
        .encode(
            y=enc["y"],
            x=alt.X(f"{spec.value}:Q"),
            text=alt.Text(f"{spec.value}:Q", format=value_format),
            **({"yOffset": enc["yOffset"]} if spec.series else {}),
        )
    )
    layers = [bars, labels]
    if spec.percent and "target" in data:
        layers.append(
            alt.Chart(data)
            .mark_tick(color=OKABE_ITO[5], thickness=5, size=40)
            .encode(y=enc["y"], x=alt.X("target:Q"))
        )
    return _config(alt.layer(*layers).properties(width=width, height=height), font)


def map_of(m: DongMap, width: int, height: int) -> dict:
    """Two choropleths side by side (people, alerts); suppressed dongs dark without a value.

    A Vega-Lite dict: the polygons go in once as a named dataset, after Altair has built the
    spec (Altair would copy and validate thousands of vertices for each of the four layers).
    """
    features = [
        {
            "type": "Feature",
            "geometry": d.geometry,
            "properties": {
                "name": d.name,
                "people": d.people,
                "alerts": d.alerts,
                "hidden": d.suppressed,
            },
        }
        for d in m.dongs
    ]
    each = max(200, (width - 200) // 2)

    def panel(column: str, title: str) -> alt.LayerChart:
        base = alt.Chart(alt.Data(name=DONGS)).project(type="mercator")
        shown = (
            base.mark_geoshape(stroke=BACKGROUND, strokeWidth=0.6)
            .encode(
                color=alt.Color(
                    f"properties.{column}:Q",
                    title=None,
                    scale=alt.Scale(scheme="cividis"),
                    legend=alt.Legend(
                        orient="right", gradientLength=max(80, height - 90), format=",~f"
                    ),
                ),
            )
            .transform_filter(f"isValid(datum.properties.{column})")
        )
        hidden = base.mark_geoshape(
            fill=HIDDEN, stroke=HIDDEN_STROKE, strokeWidth=0.6, strokeDash=[2, 2]
        ).transform_filter(f"!isValid(datum.properties.{column})")
        return alt.layer(hidden, shown).properties(
            width=each, height=height - 40, title=alt.Title(title, fontSize=TITLE_PX, color=TEXT)
        )

    chart = alt.hconcat(panel("people", m.people_title), panel("alerts", m.alerts_title))
    # Not validated against the Vega-Lite schema on every export (≈ 0.2 s a map): the specs
    # are ours and fixed, the tests render each kind, and vl-convert rejects a broken one.
    spec = _config(chart.resolve_scale(color="independent")).to_dict(validate=False)
    spec["datasets"] = {DONGS: features}
    return spec


@lru_cache(maxsize=1)
def register_fonts() -> None:
    """The bundled Korean font for vl-convert (its own fonts have no Hangul)."""
    import vl_convert as vlc

    vlc.register_font_directory(str(FONT_DIR))


_png_cache: OrderedDict[str, bytes] = OrderedDict()
_png_lock = threading.Lock()
PNG_CACHE_SIZE = 48  # a deck has about a dozen images; ≈ 100–350 KB each


def to_png(chart: alt.TopLevelMixin | dict, scale: float = 2.0) -> bytes:
    """A crisp PNG of ``chart`` (``scale`` × its pixel size) rendered offline by vl-convert.

    Rendered once per spec: the PDF and the PPTX of one deck (the page's two buttons) share
    their images through a small cache keyed by the spec's digest, which holds whatever the
    data are (the figures themselves are in the spec).
    """
    import vl_convert as vlc

    spec = chart if isinstance(chart, dict) else chart.to_dict(validate=False)
    text = json.dumps(spec, sort_keys=True, ensure_ascii=False, default=str)
    key = hashlib.sha256(f"{scale}|{text}".encode()).hexdigest()
    with _png_lock:
        if key in _png_cache:
            _png_cache.move_to_end(key)
            return _png_cache[key]
    register_fonts()
    png = vlc.vegalite_to_png(spec, scale=scale)
    with _png_lock:
        _png_cache[key] = png
        while len(_png_cache) > PNG_CACHE_SIZE:
            _png_cache.popitem(last=False)
    return png


def clear_png_cache() -> None:
    """Forget rendered images (the bench times each format as a fresh process would)."""
    with _png_lock:
        _png_cache.clear()
