"""The council deck on the demo city: no personal value in any slide, the PDF's text or the
PPTX's XML, whatever the language; the page's slides, buttons and projector sizes."""

from __future__ import annotations

import io
import re
import shutil
import subprocess
import zipfile

import pytest
from sqlalchemy import select

from dashboard.briefing import export
from dashboard.briefing.period import parse_period
from dashboard.briefing.slides import SUPPRESS_BELOW, live_deck
from dashboard.db.schema import CareRecipient, Region
from dashboard.i18n import translate
from dashboard.ui.briefing_deck import PROJECTOR_DECK_CSS
from tests.apptest.conftest import DEMO_END, open_page, texts


def _personal_values(engine) -> set[str]:
    """Every name, phone and address of the demo city (guardians' too), minus place names."""
    with engine.connect() as conn:
        rows = conn.execute(
            select(
                CareRecipient.pii_name,
                CareRecipient.pii_phone,
                CareRecipient.pii_address,
                CareRecipient.pii_guardian_name,
                CareRecipient.pii_guardian_phone,
            )
        ).all()
        places = {n for row in conn.execute(select(Region.name_ko, Region.name_en)) for n in row}
    values = {str(v) for row in rows for v in row if v is not None and len(str(v)) >= 2}
    assert len(values) > 1000  # the check is against the whole city, not a sample
    return values - places


@pytest.fixture(scope="module")
def decks(demo_db):
    with demo_db.connect() as conn:
        return {
            lang: live_deck(conn, parse_period("2024-11", DEMO_END), lang, DEMO_END)
            for lang in ("ko", "en")
        }


def test_no_personal_value_in_slides_pdf_or_pptx(demo_db, decks, tmp_path) -> None:
    values = _personal_values(demo_db)
    for lang, slides in decks.items():
        assert any(s.map is not None for s in slides)
        pptx = export.render_pptx(slides, "src")
        with zipfile.ZipFile(io.BytesIO(pptx)) as z:
            xml = "\n".join(z.read(n).decode() for n in z.namelist() if n.endswith(".xml"))
        shown = {"spec": repr(slides), "pptx": xml}
        assert "⟦" not in shown["spec"]  # every text translated
        if shutil.which("pdftotext"):
            (tmp_path / "d.pdf").write_bytes(export.render_pdf(slides, "src"))
            subprocess.run(["pdftotext", str(tmp_path / "d.pdf")], check=True)
            shown["pdf"] = (tmp_path / "d.txt").read_text(encoding="utf-8")
            assert slides[1].title in shown["pdf"]  # the text is real, searchable text
        for where, text in shown.items():
            leaked = sorted(v for v in values if v in text)
            assert not leaked, (lang, where, leaked[:5])
        # Phone numbers in any spelling, and home coordinates: none at all.
        assert not re.search(r"01[016789]-?\d{3,4}-?\d{4}", shown["spec"] + xml)


def test_detection_slide_carries_the_live_gain(decks) -> None:
    """The detection slide reports the routine's lead over the fixed rule from the city's own
    alerts (a share and a median, or 측정 중), says it is live data only, and names no person
    or device: its figures are formatted aggregates."""
    for lang, deck in decks.items():
        slide = next(s for s in deck if s.key == "detection")
        values = {f.label: f.value for f in slide.figures}
        share = values[translate("deck.detection.share", lang)]
        lead = values[translate("deck.detection.lead", lang)]
        measuring = translate("deck.detection.measuring", lang)
        assert share == measuring or re.fullmatch(r"\d+\.\d%", share), share
        assert lead == measuring or re.search(r"\d", lead), lead
        assert slide.bullets[0] == translate("deck.detection.method", lang)
        assert "evaluate-detection" in slide.bullets[0]  # named as elsewhere, not quoted


def test_map_shows_no_small_dong_count(decks) -> None:
    dongs = [d for s in decks["ko"] if s.map for d in s.map.dongs]
    assert dongs and any(d.suppressed for d in dongs)
    for d in dongs:
        assert d.people is None or d.people == 0 or d.people >= SUPPRESS_BELOW
        assert d.alerts is None or d.alerts == 0 or d.alerts >= SUPPRESS_BELOW
        if d.suppressed:
            assert d.people is None and d.alerts is None


def _position(at) -> str:
    return next(m.value for m in at.markdown if "deck-position" in m.value)


def test_deck_page_moves_between_slides(demo_db, decks) -> None:
    at = open_page("briefing", role="council")
    at.text_input(key="deck_period").set_value("2024-11").run()
    n = len(decks["ko"])
    assert f"{n}장 중 1장" in _position(at) and not at.metric  # the cover
    at.button(key="deck_next").click().run()
    assert f"{n}장 중 2장" in _position(at)
    assert [m.label for m in at.metric] == ["대상자", "기기", "구"]
    at.button(key="deck_last").click().run()
    assert f"{n}장 중 {n}장" in _position(at) and at.button(key="deck_next").disabled
    at.button(key="deck_prev").click().run()
    assert f"{n}장 중 {n - 1}장" in _position(at)
    at.text_input(key="deck_period").set_value("2024-13").run()
    assert "month 13" in at.error[0].value and not at.exception


def test_projector_deck_is_large(demo_db) -> None:
    shown = "\n".join(texts(open_page("briefing", role="council", projector="1")))
    assert "anbu-slide-title { font-size: 51px" in shown
    plain = "\n".join(texts(open_page("briefing", role="council")))
    assert "font-size: 51px" not in plain
    # Every projector size is at least 21.6 px (1.35 rem at the usual 16 px root), the deck's
    # smallest text (the source line); in px, as the projector's root font size is larger.
    sizes = [float(x) for x in re.findall(r"font-size: ([0-9.]+)px", PROJECTOR_DECK_CSS)]
    assert sizes and min(sizes) >= 21.6


def test_complaints_slide_carries_the_effect_estimate(decks) -> None:
    """The 민원 추이 page's interrupted time series reaches the complaints slide, with its
    interval and its sentence (issue 11's estimate in issue 12's deck)."""
    for lang, deck in decks.items():
        slide = next(s for s in deck if s.key == "complaints")
        labels = [f.label for f in slide.figures]
        effect = translate("deck.complaints.effect", lang)
        assert effect in labels, (lang, labels)
        value = slide.figures[labels.index(effect)].value
        assert "…" in value and "%" in value
        assert any(("95" in b) for b in slide.bullets), slide.bullets  # the 95 % interval
