"""docs/roster.md states how far down a roster's header is looked for: the code decides it."""

from pathlib import Path

from dashboard.registry.header import MIN_KNOWN, SEARCH_ROWS

DOC = Path(__file__).resolve().parents[2] / "docs" / "roster.md"
WORDS = {3: "three", 4: "four", 5: "five"}


def test_the_header_search_is_the_one_the_docs_describe() -> None:
    text = " ".join(DOC.read_text(encoding="utf-8").split())
    assert f"the first of the first {SEARCH_ROWS} rows" in text  # fails if either constant moves
    assert f"names at least {WORDS[MIN_KNOWN]} columns" in text
