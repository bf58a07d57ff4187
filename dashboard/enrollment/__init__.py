"""Enrollment lifecycle: people's settings and home, devices, end of enrollment, privacy purge.

Domain functions only (no Streamlit): each takes the transaction's ``conn``, the acting
``principal`` and ``now``, requires ``manage_roster`` and writes one audit row without personal
values. See docs/enrollment.md.
"""

from dashboard.enrollment.devices import (
    assign_device,
    register_device,
    replace_device,
    set_device_status,
)
from dashboard.enrollment.duplicates import (
    OtherOpenAlerts,
    duplicate_open_alerts,
    mark_different,
    suspected_duplicates,
    unmark_different,
)
from dashboard.enrollment.ending import EndImpact, end_enrollment, end_impact
from dashboard.enrollment.errors import EnrollmentError, NotFound
from dashboard.enrollment.people import set_home_position, update_person_settings
from dashboard.enrollment.privacy import PurgeReport, purge_ended

__all__ = [
    "EndImpact",
    "EnrollmentError",
    "NotFound",
    "OtherOpenAlerts",
    "PurgeReport",
    "assign_device",
    "duplicate_open_alerts",
    "end_enrollment",
    "end_impact",
    "mark_different",
    "purge_ended",
    "register_device",
    "replace_device",
    "set_device_status",
    "set_home_position",
    "suspected_duplicates",
    "unmark_different",
    "update_person_settings",
]
