"""The deck as a PDF (fpdf2) and as a PowerPoint file (python-pptx): the same slides, same layout.

16:9 pages of 13.333 × 7.5 in. Text is real text (selectable and searchable in the PDF) in
the bundled NanumGothic TrueType font (OFL, dashboard/static/fonts): Debian's Noto Sans CJK
is CFF-flavoured OpenType, which fpdf2 cannot embed, and a PDF viewer or PowerPoint on a
council member's laptop may have no Korean font at all. PPTX runs name it as the Latin and
the East Asian font. No text is smaller than :data:`MIN_PT` (18 pt); charts and maps are
PNG images from vl-convert laid out at 1 px = 1 pt, rendered at twice that resolution.
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from dashboard.briefing import charts
from dashboard.briefing.slides import Slide

FORMATS = {".pdf": "pdf", ".pptx": "pptx"}
PAGE_W, PAGE_H = 13.333, 7.5  # inches, 16:9
MARGIN = 0.5
MIN_PT = 18
TITLE_PT, MESSAGE_PT, VALUE_PT, LABEL_PT, BODY_PT, FOOT_PT = 34, 24, 36, 18, 20, 18
IMAGE_SCALE = 2.0
FONT_REGULAR = charts.FONT_DIR / "NanumGothic.ttf"
FONT_BOLD = charts.FONT_DIR / "NanumGothicBold.ttf"
BG = (14, 22, 33)
FG = (244, 247, 250)
MUTED = (190, 200, 212)
ACCENT = (86, 180, 233)  # Okabe–Ito sky blue


@dataclass(frozen=True)
class Box:
    x: float
    y: float
    w: float
    h: float


@dataclass(frozen=True)
class Layout:
    title: Box
    message: Box
    figures: list[Box]
    image: Box | None
    bullets: Box | None
    source: Box
    as_of: Box


def layout(slide: Slide) -> Layout:
    """Where each part of ``slide`` goes (inches). The PDF and the PPTX share it."""
    inner = PAGE_W - 2 * MARGIN
    n = len(slide.figures)
    bottom = 6.45
    if slide.map is not None:
        # A map needs the room: its figures stack in a column on the left.
        col = 3.0
        figures = [Box(MARGIN, 2.15 + i * 1.08, col, 1.0) for i in range(n)]
        return Layout(
            title=Box(MARGIN, 0.35, inner, 0.75),
            message=Box(MARGIN, 1.1, inner, 0.9),
            figures=figures,
            image=Box(MARGIN + col + 0.2, 2.1, inner - col - 0.2, bottom - 2.1),
            bullets=None,
            source=Box(MARGIN, 6.6, inner * 0.62, 0.8),
            as_of=Box(MARGIN + inner * 0.64, 6.6, inner * 0.36, 0.8),
        )
    figures = [Box(MARGIN + i * inner / n, 2.05, inner / n - 0.15, 1.15) for i in range(n)]
    top = 3.35 if n else 2.15
    has_image = slide.chart is not None or slide.map is not None
    text = sum(len(b) for b in slide.bullets)
    if has_image and slide.bullets:
        # Long explanations get the wide column, short notes the narrow one.
        split = 4.6 if text > 140 else 8.0
        image = Box(MARGIN, top, split, bottom - top)
        bullets = Box(MARGIN + split + 0.25, top, inner - split - 0.25, bottom - top)
    elif has_image:
        image, bullets = Box(MARGIN, top, inner, bottom - top), None
    else:
        image, bullets = None, Box(MARGIN, top, inner, bottom - top) if slide.bullets else None
    return Layout(
        title=Box(MARGIN, 0.35, inner, 0.75),
        message=Box(MARGIN, 1.1, inner, 0.9),
        figures=figures,
        image=image,
        bullets=bullets,
        source=Box(MARGIN, 6.6, inner * 0.62, 0.8),
        as_of=Box(MARGIN + inner * 0.64, 6.6, inner * 0.36, 0.8),
    )


def image_png(slide: Slide, box: Box) -> bytes | None:
    """The slide's chart or map for ``box``, as PNG (None without one)."""
    w, h = int(box.w * 72), int(box.h * 72)
    if slide.map is not None:
        return charts.to_png(charts.map_of(slide.map, w, h), IMAGE_SCALE)
    if slide.chart is not None:
        # Room for the axes, labels and legend around the plot area (laid out at 1 px = 1 pt).
        label_px = max((len(str(r[slide.chart.category])) for r in slide.chart.rows), default=4)
        axis_w = 90 if slide.chart.kind == "line" else min(int(w * 0.45), 40 + label_px * 15)
        bars = len(slide.chart.rows) if slide.chart.kind == "hbar" else 0
        plot_h = max(100, h - 110, 30 * bars)  # never squeeze bars: the image shrinks instead
        chart = charts.chart_of(slide.chart, max(120, w - axis_w - 60), plot_h)
        return charts.to_png(chart, IMAGE_SCALE)
    return None


def _fit(png: bytes, box: Box) -> Box:
    """The largest box of the image's aspect ratio inside ``box``, centred horizontally."""
    from PIL import Image

    with Image.open(io.BytesIO(png)) as img:
        pw, ph = img.size
    scale = min(box.w / pw, box.h / ph)
    w, h = pw * scale, ph * scale
    return Box(box.x + (box.w - w) / 2, box.y, w, h)


def _text_width_in(value: str, pt: float) -> float:
    """A generous width estimate: a Hangul syllable is about 1 em, anything else about 0.6."""
    ems = sum(1.0 if ord(ch) >= 0x1100 else 0.6 for ch in value)
    return ems * pt / 72


def value_pt(value: str, width_in: float) -> int:
    """Big numbers at full size; a long value ("896.9 million won") smaller so it stays on one
    line of its box, never under the projection minimum."""
    for pt in (VALUE_PT, 32, 28, 24, 22, 20):
        if _text_width_in(value, pt) <= width_in:
            return pt
    return MIN_PT


def _footer(slide: Slide, source_label: str) -> str:
    return f"{source_label}: {slide.source}" if slide.source else ""


def render_pdf(slides: Sequence[Slide], source_label: str) -> bytes:
    """The deck as PDF bytes, one 16:9 page per slide, text selectable."""
    import logging

    from fpdf import FPDF

    # fontTools names every hinting table it drops while subsetting: noise, not a problem.
    logging.getLogger("fontTools.subset").setLevel(logging.ERROR)

    pdf = FPDF(orientation="landscape", unit="in", format=(PAGE_H, PAGE_W))
    pdf.set_auto_page_break(False)
    pdf.set_margins(0, 0, 0)
    pdf.add_font("Nanum", "", str(FONT_REGULAR))
    pdf.add_font("Nanum", "B", str(FONT_BOLD))
    pdf.set_title(slides[0].title if slides else "")
    pt = 1 / 72  # inches per point

    def text(box: Box, value: str, size: int, *, bold: bool = False, color=FG, align="L"):
        pdf.set_font("Nanum", "B" if bold else "", size)
        pdf.set_text_color(*color)
        pdf.set_xy(box.x, box.y)
        pdf.multi_cell(box.w, size * pt * 1.3, value, align=align)

    for slide in slides:
        pdf.add_page()
        pdf.set_fill_color(*BG)
        pdf.rect(0, 0, PAGE_W, PAGE_H, style="F")
        lay = layout(slide)
        pdf.set_fill_color(*ACCENT)
        pdf.rect(MARGIN, 0.25, 1.2, 0.06, style="F")
        text(lay.title, slide.title, TITLE_PT, bold=True)
        text(lay.message, slide.message, MESSAGE_PT, color=MUTED)
        for fig, box in zip(slide.figures, lay.figures, strict=True):
            text(
                Box(box.x, box.y, box.w, 0.6),
                fig.value,
                value_pt(fig.value, box.w),
                bold=True,
                color=ACCENT,
            )
            text(Box(box.x, box.y + 0.62, box.w, 0.5), fig.label, LABEL_PT, color=MUTED)
        if lay.image is not None and (png := image_png(slide, lay.image)) is not None:
            at = _fit(png, lay.image)
            pdf.image(io.BytesIO(png), x=at.x, y=at.y, w=at.w, h=at.h)
        if lay.bullets is not None:
            pdf.set_xy(lay.bullets.x, lay.bullets.y)
            for bullet in slide.bullets:
                pdf.set_x(lay.bullets.x)
                pdf.set_font("Nanum", "", BODY_PT)
                pdf.set_text_color(*FG)
                pdf.multi_cell(lay.bullets.w, BODY_PT * pt * 1.35, f"• {bullet}", align="L")
                pdf.set_y(pdf.get_y() + 0.1)
        text(lay.source, _footer(slide, source_label), FOOT_PT, color=MUTED)
        text(lay.as_of, slide.as_of, FOOT_PT, color=MUTED, align="R")
    return bytes(pdf.output())


def render_pptx(slides: Sequence[Slide], source_label: str) -> bytes:
    """The deck as PPTX bytes: text boxes (Latin and East Asian font NanumGothic), images."""
    from pptx import Presentation
    from pptx.dml.color import RGBColor
    from pptx.enum.text import MSO_ANCHOR, PP_ALIGN
    from pptx.oxml.ns import qn
    from pptx.util import Inches, Pt

    prs = Presentation()
    prs.slide_width, prs.slide_height = Inches(PAGE_W), Inches(PAGE_H)
    blank = prs.slide_layouts[6]

    def run_font(run, size: int, bold: bool, color) -> None:
        run.font.size = Pt(size)
        run.font.bold = bold
        run.font.name = charts.FONT
        run.font.color.rgb = RGBColor(*color)
        rpr = run._r.get_or_add_rPr()
        for tag in ("a:ea", "a:cs"):  # Korean text takes the East Asian font
            el = rpr.find(qn(tag))
            if el is None:
                el = rpr.makeelement(qn(tag), {})
                rpr.append(el)
            el.set("typeface", charts.FONT)

    def text(
        s, box: Box, paragraphs: Sequence[str], size: int, *, bold=False, color=FG, align=None
    ):
        shape = s.shapes.add_textbox(Inches(box.x), Inches(box.y), Inches(box.w), Inches(box.h))
        frame = shape.text_frame
        frame.word_wrap = True
        frame.vertical_anchor = MSO_ANCHOR.TOP
        for side in ("margin_left", "margin_right", "margin_top", "margin_bottom"):
            setattr(frame, side, 0)
        for i, value in enumerate(paragraphs):
            para = frame.paragraphs[0] if i == 0 else frame.add_paragraph()
            if align is not None:
                para.alignment = align
            if i:
                para.space_before = Pt(6)
            run = para.add_run()
            run.text = value
            run_font(run, size, bold, color)

    for slide in slides:
        s = prs.slides.add_slide(blank)
        fill = s.background.fill
        fill.solid()
        fill.fore_color.rgb = RGBColor(*BG)
        lay = layout(slide)
        bar = s.shapes.add_shape(1, Inches(MARGIN), Inches(0.25), Inches(1.2), Inches(0.06))
        bar.fill.solid()
        bar.fill.fore_color.rgb = RGBColor(*ACCENT)
        bar.line.fill.background()
        text(s, lay.title, [slide.title], TITLE_PT, bold=True)
        text(s, lay.message, [slide.message], MESSAGE_PT, color=MUTED)
        for fig, box in zip(slide.figures, lay.figures, strict=True):
            text(
                s,
                Box(box.x, box.y, box.w, 0.6),
                [fig.value],
                value_pt(fig.value, box.w),
                bold=True,
                color=ACCENT,
            )
            text(s, Box(box.x, box.y + 0.62, box.w, 0.5), [fig.label], LABEL_PT, color=MUTED)
        if lay.image is not None and (png := image_png(slide, lay.image)) is not None:
            at = _fit(png, lay.image)
            s.shapes.add_picture(
                io.BytesIO(png), Inches(at.x), Inches(at.y), Inches(at.w), Inches(at.h)
            )
        if lay.bullets is not None:
            text(s, lay.bullets, [f"• {b}" for b in slide.bullets], BODY_PT)
        text(s, lay.source, [_footer(slide, source_label)], FOOT_PT, color=MUTED)
        text(s, lay.as_of, [slide.as_of], FOOT_PT, color=MUTED, align=PP_ALIGN.RIGHT)
    out = io.BytesIO()
    prs.save(out)
    return out.getvalue()


def export_format(path: Path | str) -> str:
    """``pdf`` or ``pptx`` from the file name; a ValueError naming the file otherwise."""
    suffix = Path(path).suffix.lower()
    if suffix not in FORMATS:
        raise ValueError(
            f"{path}: the file name must end in .pdf or .pptx (the extension picks the format)"
        )
    return FORMATS[suffix]


def render(slides: Sequence[Slide], fmt: str, source_label: str) -> bytes:
    if fmt == "pdf":
        return render_pdf(slides, source_label)
    if fmt == "pptx":
        return render_pptx(slides, source_label)
    raise ValueError(f"unknown deck format {fmt!r}: pdf or pptx")
