"""The source documents that published figures and budget tables cite, named for a reader.

Pages and slides show the publisher and the document's title from
``data/reference/source_documents.csv``, never the internal id (``seed-000``) the reference rows
use to point at it: a council member cannot look an id up.
"""

from __future__ import annotations

import csv
import re
from dataclasses import dataclass
from functools import lru_cache

from dashboard.reference.csvdata import SOURCES_CSV


@dataclass(frozen=True)
class SourceDocument:
    source_doc: str
    publisher: str
    title_ko: str
    title_en: str


@lru_cache(maxsize=1)
def source_documents() -> dict[str, SourceDocument]:
    """The documents by id, as the reference data lists them (read once)."""
    with SOURCES_CSV.open(encoding="utf-8", newline="") as f:
        return {
            row["source_doc"]: SourceDocument(
                row["source_doc"], row["publisher"], row["title_ko"], row["title_en"]
            )
            for row in csv.DictReader(f)
        }


def publisher(source_doc: str) -> str:
    """The publishing office without its team in brackets: 고양시 일산동구보건소."""
    doc = source_documents().get(source_doc)
    if doc is None:
        return source_doc  # not in the reference data: nothing better to name it by
    return re.sub(r"\s*\([^)]*\)$", "", doc.publisher)


def cite(source_doc: str, lang: str) -> str:
    """Publisher and title: 고양시 일산동구보건소 《공약 추진상황: …》 (or in English)."""
    doc = source_documents().get(source_doc)
    if doc is None:
        return source_doc
    if lang == "ko":
        return f"{publisher(source_doc)} 《{doc.title_ko}》"
    return f"{publisher(source_doc)}, “{doc.title_en}”"


def cite_message(message: str, source_doc: str, lang: str) -> str:
    """A reference check's message (``seed-001 「산출근거」 …``) with its leading id cited."""
    if message.startswith(f"{source_doc} "):
        return f"{publisher(source_doc)}{message[len(source_doc) :]}"
    return message
