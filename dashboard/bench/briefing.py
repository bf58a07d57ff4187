"""``briefing_export_s``: the council deck of the city's last 30 days built from the database
and written as PDF and as PPTX, as `python -m dashboard briefing` does it (issue 12: under
30 s at Seoul scale). One run each, in Korean; the slower of the two formats is the figure.
Each format starts without rendered images, as a separate ``python -m dashboard briefing``
process would (the page's two buttons share them; ``both_s`` times that: one deck, both files).
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Engine


@dataclass(frozen=True)
class ExportFigures:
    seconds: float  # the slower of PDF and PPTX, deck building included
    pdf_s: float
    pptx_s: float
    slides: int
    pdf_kb: float
    pptx_kb: float
    both_s: float  # one deck built, then the PDF and the PPTX with their images shared


def measure_briefing_export(engine: Engine, now: datetime, lang: str = "ko") -> ExportFigures:
    from dashboard.briefing import charts, export
    from dashboard.briefing.period import parse_period
    from dashboard.briefing.slides import live_deck
    from dashboard.i18n import translate

    label = translate("deck.source_label", lang)
    timings, sizes, n = {}, {}, 0
    for fmt in ("pdf", "pptx"):
        charts.clear_png_cache()
        started = time.perf_counter()
        with engine.connect() as conn:
            slides = live_deck(conn, parse_period("30d", now), lang, now)
        data = export.render(slides, fmt, label)
        timings[fmt] = time.perf_counter() - started
        sizes[fmt] = len(data) / 1024
        n = len(slides)
    charts.clear_png_cache()
    started = time.perf_counter()
    with engine.connect() as conn:
        slides = live_deck(conn, parse_period("30d", now), lang, now)
    for fmt in ("pdf", "pptx"):
        export.render(slides, fmt, label)
    both = time.perf_counter() - started
    return ExportFigures(
        max(timings.values()),
        timings["pdf"],
        timings["pptx"],
        n,
        sizes["pdf"],
        sizes["pptx"],
        both,
    )
