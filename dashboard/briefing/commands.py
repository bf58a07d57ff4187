"""``python -m dashboard briefing --out FILE.pdf|FILE.pptx [--period P] [--lang ko|en]``.

Exit codes: 0 written; 2 a usage error (a file name not ending in .pdf or .pptx, a period that
is not one of the forms in dashboard/briefing/period.py, an unknown language, a folder that
does not exist), printed as ``error: …`` without a traceback.
"""

from __future__ import annotations

import argparse
import time
from datetime import datetime
from pathlib import Path

from dashboard.briefing.period import FORMS, PeriodError, parse_period


def write_deck(engine, out: Path, period_text: str | None, lang: str, now: datetime) -> int:
    """Build the deck from the database and write it to ``out``; returns the slide count."""
    from dashboard.briefing import export
    from dashboard.briefing.slides import live_deck
    from dashboard.i18n import translate

    fmt = export.export_format(out)
    period = parse_period(period_text, now)
    with engine.connect() as conn:
        slides = live_deck(conn, period, lang, now)
    data = export.render(slides, fmt, translate("deck.source_label", lang))
    out.write_bytes(data)
    return len(slides)


def cmd_briefing(args: argparse.Namespace) -> int:
    from dashboard import clock
    from dashboard.briefing import export
    from dashboard.cli import UsageError, _schema_ready_engine

    out = Path(args.out)
    try:
        export.export_format(out)
        now = clock.now()
        parse_period(args.period, now)  # before any database work: a typo fails at once
    except (ValueError, PeriodError) as exc:
        raise UsageError(str(exc)) from None
    if not out.parent.is_dir():
        raise UsageError(f"{out}: the folder {out.parent} does not exist")
    started = time.perf_counter()
    try:
        n = write_deck(_schema_ready_engine(), out, args.period, args.lang, now)
    except OSError as exc:  # a read-only folder, a full disk: say so, no traceback
        raise UsageError(f"{out}: cannot write: {exc.strerror or exc}") from None
    print(f"wrote {out}: {n} slides in {time.perf_counter() - started:.1f} s")
    return 0


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "briefing",
        help="the council briefing deck as PDF or PPTX (aggregates only, no personal data)",
    )
    p.add_argument("--out", required=True, help="FILE.pdf or FILE.pptx: the extension picks")
    p.add_argument("--period", default=None, help=f"the window: {FORMS}; default 30d")
    p.add_argument("--lang", choices=["ko", "en"], default="ko")
    p.set_defaults(func=cmd_briefing)
