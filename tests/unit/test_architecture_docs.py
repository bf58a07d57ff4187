"""docs/architecture.md names every read-side module that reads raw events."""

from __future__ import annotations

import re

from dashboard.settings import PROJECT_ROOT


def test_the_queries_reading_raw_events_are_the_documented_ones() -> None:
    doc = (PROJECT_ROOT / "docs" / "architecture.md").read_text(encoding="utf-8")
    start = doc.index("raw events are read in ")
    bullet = doc[start : doc.index("\n\n", start)]
    documented = set(re.findall(r"`queries\.([a-z_]+)\.[a-z_]+`", bullet))
    reading = {
        path.stem
        for path in (PROJECT_ROOT / "queries").glob("*.py")
        if re.search(r"\bDeviceEvent\b|\bdevice_events\b", path.read_text(encoding="utf-8"))
    }
    assert reading == documented, (
        f"queries modules reading device_events: {sorted(reading)}; "
        f"docs/architecture.md names {sorted(documented)}"
    )
