"""The council deck without a database: the period, small-count suppression, Korean glyphs in
the exported PDF, projection text sizes, and the CLI's errors."""

from __future__ import annotations

import shutil
import subprocess
from datetime import UTC, date, datetime
from pathlib import Path

import pandas as pd
import pytest

from dashboard.briefing import export
from dashboard.briefing.period import PeriodError, parse_period
from dashboard.briefing.slides import Figure, Slide, suppress_reach_counts
from dashboard.cli import main

NOW = datetime(2026, 12, 2, 3, 0, tzinfo=UTC)  # 12:00 in Seoul
NO_HANGUL = Path("/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf")


def test_period_forms() -> None:
    p = parse_period("30d", NOW)
    assert p.end == NOW and p.days == 30
    m = parse_period("2026-11", NOW)
    assert (m.first_day, m.last_day) == (date(2026, 11, 1), date(2026, 11, 30))
    assert m.start == datetime(2026, 10, 31, 15, 0, tzinfo=UTC)  # Seoul midnight
    r = parse_period("2026-01-01..2026-11-30", NOW)
    assert (r.first_day, r.last_day) == (date(2026, 1, 1), date(2026, 11, 30))
    current = parse_period("2026-12", NOW)
    assert current.end == NOW  # the month so far
    assert parse_period(None, NOW).text == "30d"


@pytest.mark.parametrize(
    ("text", "says"),
    [
        ("2026-13", "month 13"),
        ("0d", "1 to"),
        ("2026-11-31..2026-12-01", "not a calendar date"),
        ("2026-11-30..2026-11-01", "before the first"),
        ("2027-01", "future"),
        ("last month", "not understood"),
    ],
)
def test_period_errors_say_what(text: str, says: str) -> None:
    with pytest.raises(PeriodError, match=says):
        parse_period(text, NOW)


def test_small_counts_are_suppressed() -> None:
    df = pd.DataFrame(
        {"code": ["11a", "11b", "11c", "11d"], "people": [3, 12, 0, 5], "alerts": [7, 2, 0, 9]}
    )
    out = suppress_reach_counts(df).set_index("code")
    assert out.loc["11a", "people"] is None and out.loc["11a", "alerts"] is None  # small dong
    assert bool(out.loc["11a", "suppressed"])
    assert out.loc["11b", "people"] == 12 and out.loc["11b", "alerts"] is None  # 2 alerts
    assert out.loc["11c", "people"] == 0 and not bool(out.loc["11c", "suppressed"])
    # 11a's people hidden alone would come back from the total: 11d's 5 go with them.
    assert out.loc["11d", "people"] is None and out.loc["11d", "alerts"] == 9
    assert not bool(out.loc["11d", "suppressed"])
    shown = [v for v in out["people"].tolist() + out["alerts"].tolist() if v is not None]
    assert all(v == 0 or v >= 5 for v in shown)


def _syllable_bitmaps(pdf: bytes, tmp_path: Path) -> list[bytes]:
    """Render the title of page 1 and cut it into its inked glyphs (column runs)."""
    from PIL import Image

    (tmp_path / "t.pdf").write_bytes(pdf)
    subprocess.run(
        ["pdftoppm", "-r", "100", "-f", "1", "-l", "1", "-png", "-singlefile",
         str(tmp_path / "t.pdf"), str(tmp_path / "t")],
        check=True,
    )  # fmt: skip
    img = Image.open(tmp_path / "t.png").convert("L")
    box = export.layout(Slide("k", "t", "m")).title
    title = img.crop(
        (int(box.x * 100), int(box.y * 100), int((box.x + 6) * 100), int(0.85 * 100 + box.y * 100))
    )
    ink = title.point(lambda v: 255 if v > 128 else 0)
    w, h = ink.size
    cols = [any(ink.getpixel((x, y)) for y in range(h)) for x in range(w)]
    glyphs, start = [], None
    for x, on in enumerate([*cols, False]):
        if on and start is None:
            start = x
        elif not on and start is not None:
            glyphs.append(ink.crop((start, 0, x, h)).tobytes())
            start = None
    return glyphs


def hangul_renders(pdf: bytes, tmp_path: Path, n: int) -> bool:
    """True when the title's ``n`` syllables come out as ``n`` different glyphs: a font
    without Hangul draws one and the same box (or nothing) for each."""
    glyphs = _syllable_bitmaps(pdf, tmp_path)
    return len(glyphs) == n and len(set(glyphs)) == n


@pytest.mark.skipif(shutil.which("pdftoppm") is None, reason="pdftoppm (poppler-utils) missing")
def test_pdf_shows_korean_glyphs_not_boxes(tmp_path, monkeypatch) -> None:
    slide = Slide("k", "안 부 돌 봄 경 보", "의회 보고", figures=(Figure("대상자", "7"),))
    pdf = export.render_pdf([slide], "출처")
    assert hangul_renders(pdf, tmp_path, 6)
    # The same check fails with a font that has no Hangul: it can tell boxes from glyphs.
    if NO_HANGUL.is_file():
        monkeypatch.setattr(export, "FONT_REGULAR", NO_HANGUL)
        monkeypatch.setattr(export, "FONT_BOLD", NO_HANGUL)
        boxes = export.render_pdf([slide], "출처")
        assert not hangul_renders(boxes, tmp_path, 6)


def test_pptx_text_is_never_below_18_pt() -> None:
    import io
    import re
    import zipfile

    slide = Slide(
        "k", "제목", "메시지", figures=(Figure("라벨", "1,234"),), bullets=("하나",),
        source="출처", as_of="기준",
    )  # fmt: skip
    data = export.render_pptx([slide], "출처")
    with zipfile.ZipFile(io.BytesIO(data)) as z:
        xml = z.read("ppt/slides/slide1.xml").decode()
    sizes = [int(s) for s in re.findall(r'\bsz="(\d+)"', xml)]
    assert sizes and min(sizes) >= export.MIN_PT * 100
    assert 'typeface="NanumGothic"' in xml and "<a:ea " in xml


def test_each_image_is_rendered_once_for_both_formats(monkeypatch) -> None:
    """The PDF and the PPTX of one deck share their images (the page's two buttons): vl-convert
    runs once per chart, and again only for a chart whose figures changed."""
    import vl_convert

    from dashboard.briefing import charts
    from dashboard.briefing.slides import ChartSpec

    real, calls = vl_convert.vegalite_to_png, []

    def counted(spec, **kw):
        calls.append(1)
        return real(spec, **kw)

    monkeypatch.setattr(vl_convert, "vegalite_to_png", counted)
    charts.clear_png_cache()
    chart = ChartSpec("hbar", ({"k": "가", "n": 3}, {"k": "나", "n": 5}), "k", "n", "건수")
    slides = [Slide("a", "제목", "메시지", chart=chart), Slide("b", "둘", "메시지", chart=chart)]
    other = Slide(
        "c", "셋", "메시지", chart=ChartSpec("hbar", ({"k": "가", "n": 4},), "k", "n", "건수")
    )
    export.render_pdf(slides, "출처")
    assert len(calls) == 1  # two slides, one and the same chart
    export.render_pptx(slides, "출처")
    assert len(calls) == 1
    export.render_pptx([*slides, other], "출처")
    assert len(calls) == 2  # other figures, another image
    charts.clear_png_cache()


def test_cli_refuses_a_bad_extension_and_a_bad_period(tmp_path, capsys) -> None:
    assert main(["briefing", "--out", str(tmp_path / "deck.docx")]) == 2
    assert ".pdf or .pptx" in capsys.readouterr().err
    assert main(["briefing", "--out", str(tmp_path / "deck.pdf"), "--period", "2026-13"]) == 2
    assert "month 13" in capsys.readouterr().err
    assert not (tmp_path / "deck.pdf").exists()
    with pytest.raises(SystemExit) as exc:
        main(["briefing", "--out", str(tmp_path / "deck.pdf"), "--lang", "fr"])
    assert exc.value.code == 2


def test_deck_code_reads_no_personal_column() -> None:
    """The deck's own code and its queries never name a personal (pii_*) column."""
    from dashboard.settings import PROJECT_ROOT

    sources = [PROJECT_ROOT / "queries" / "briefing.py"]
    sources += sorted((PROJECT_ROOT / "dashboard" / "briefing").glob("*.py"))
    sources += [PROJECT_ROOT / "dashboard" / "ui" / "briefing_deck.py"]
    sources += [PROJECT_ROOT / "pages" / "briefing.py"]
    assert len(sources) >= 9 and any(p.name == "gain.py" for p in sources)
    for path in sources:
        assert "pii_" not in path.read_text(encoding="utf-8"), path


def test_docs_state_the_gain_minimum() -> None:
    """docs/briefing.md names the minimum under which the detection slide says 측정 중."""
    from dashboard.briefing.gain import MIN_GAIN_ALERTS
    from dashboard.settings import PROJECT_ROOT

    doc = (PROJECT_ROOT / "docs" / "briefing.md").read_text(encoding="utf-8")
    assert f"`MIN_GAIN_ALERTS` = {MIN_GAIN_ALERTS}" in doc


def test_one_hidden_alert_count_is_not_given_back_by_the_total() -> None:
    """The checks slide shows the period's person alerts in total and the map slides the
    alerts of the dongs shown: with one dong hidden, the difference was its count."""
    df = pd.DataFrame(
        {"code": ["11a", "11b", "11c", "11d"], "people": [3, 40, 12, 9], "alerts": [2, 30, 11, 0]}
    )
    out = suppress_reach_counts(df).set_index("code")
    assert out.loc["11a", "alerts"] is None
    assert out.loc["11c", "alerts"] is None  # the smallest shown non-zero count goes with it
    assert out.loc["11b", "alerts"] == 30 and out.loc["11d", "alerts"] == 0
    assert out.loc["11c", "people"] == 12 and not bool(out.loc["11c", "suppressed"])
    total, shown = int(df["alerts"].sum()), sum(v for v in out["alerts"] if v is not None)
    assert total - shown == 2 + 11  # two dongs together, never one alone
