"""Device ingestion: one validating function behind the HTTP API, the MQTT bridge and file import.

Only the core is imported here; the HTTP app (FastAPI), the MQTT bridge (paho) and the file
importer (openpyxl) are imported from their modules so the rest of the product does not load them.
"""

from dashboard.ingest.core import (
    FUTURE_TOLERANCE,
    Clock,
    IngestResult,
    check_events,
    ingest_events,
)

__all__ = [
    "FUTURE_TOLERANCE",
    "Clock",
    "IngestResult",
    "check_events",
    "ingest_events",
]
