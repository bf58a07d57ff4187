"""File import as the leads' page and the CLI run it: one transaction, and an audit record
either way (``import_file`` itself does not audit; the caller says who imported what).

A stored import commits its events and its audit row together; a refused one stores nothing but
the audit row, so refused attempts are on record as well. Importing needs ``import_data``
(checked before the file is read; a principal without it gets ``NotPermitted`` and nothing is
written, not even an audit row).
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Connection, Engine

from dashboard.audit import write_audit
from dashboard.auth.permissions import require
from dashboard.auth.principal import SessionUser
from dashboard.ingest.files import ImportConflict, ImportReport, RowError, import_file

ENTITY = "event_import"


def import_and_audit(
    engine: Engine,
    data: bytes,
    filename: str,
    vendor: str,
    principal: SessionUser,
    now: datetime,
) -> ImportReport:
    """Import ``data`` all or nothing and audit the attempt with the principal's name."""
    actor = require(principal, "import_data").username
    try:
        with engine.begin() as conn:
            report = import_file(conn, data, filename, vendor, now)
            _audit(conn, report, vendor, actor, now, len(data))
    except ImportConflict as exc:  # rolled back: record the refusal on its own
        report = ImportReport(filename, errors=[RowError(0, None, str(exc), "conflict")])
        with engine.begin() as conn:
            _audit(conn, report, vendor, actor, now, len(data))
    return report


def _audit(
    conn: Connection, report: ImportReport, vendor: str, actor: str, now: datetime, size: int
) -> None:
    write_audit(
        conn,
        at=now,
        actor=actor,
        action="import_events" if report.ok else "import_refused",
        entity_type=ENTITY,
        entity_id=report.filename,
        detail={
            "vendor": vendor,
            "filename": report.filename,
            "bytes": size,
            "rows": report.rows,
            "accepted": report.accepted,
            "duplicates": report.duplicates,
            "errors": len(report.errors),
        },
    )
