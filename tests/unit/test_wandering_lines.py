"""The 배회 지도's list of wearers without a safe zone: one line each, readable for a detector
that never reported (the usual case right after a city's first roster import)."""

from __future__ import annotations

from datetime import UTC, datetime

import pandas as pd

from dashboard.i18n import translate
from dashboard.ui.wandering import no_zone_lines


def _row(last_seen_at, age_text: str) -> dict:
    return {
        "status": "no_zone",
        "last_seen_at": last_seen_at,
        "external_ref": "IS-00006",
        "recipient_masked": "신*수",
        "dong": "백석2동",
        "age_text": age_text,
        "device_uid": "SAFESTEP-00006",
    }


def test_a_detector_never_heard_from_reads_once_not_last_seen_never_seen():
    """It read "마지막 수신 수신 기록 없음" ("last seen never seen")."""
    never = translate("age.never", "ko")
    (line,) = no_zone_lines(pd.DataFrame([_row(pd.NaT, never)]), "ko")
    assert never in line
    assert translate("col.last_seen", "ko") not in line
    seen = datetime(2026, 12, 7, 9, 0, tzinfo=UTC)
    (line,) = no_zone_lines(pd.DataFrame([_row(seen, "3분 전")]), "ko")
    assert f"{translate('col.last_seen', 'ko')} 3분 전" in line


def test_the_caption_names_no_demo_dong():
    """A city's own detectors were captioned as the demo's 백석1·2동 living lab."""
    assert "백석" not in translate("wandering.caption", "ko")
    assert "Baekseok" not in translate("wandering.caption", "en")
