"""Complaints from the city's complaint system: import (CSV/.xlsx), site matching, duplicates.

No Streamlit here: the CLI (``complaints import``) and the 민원 추이 page call the same
function, which checks ``import_data`` and writes the audit row itself.
"""

from dashboard.complaints.importer import (
    COLUMNS,
    ComplaintReport,
    check_complaints,
    import_complaints,
)

__all__ = ["COLUMNS", "ComplaintReport", "check_complaints", "import_complaints"]
