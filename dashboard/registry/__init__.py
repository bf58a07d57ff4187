"""The city's own roster: bulk import of people and devices (CSV or .xlsx) and its templates.

No Streamlit here: the CLI (``recipients import``, ``devices import``) and, later, a page call
the same functions, which check ``manage_roster`` themselves.
"""

from dashboard.registry.roster import (
    DEVICES,
    KINDS,
    PEOPLE,
    RosterReport,
    check_roster,
    import_devices,
    import_people,
    import_roster,
)
from dashboard.registry.templates import devices_template, people_template, template_csv

__all__ = [
    "DEVICES",
    "KINDS",
    "PEOPLE",
    "RosterReport",
    "check_roster",
    "devices_template",
    "import_devices",
    "import_people",
    "import_roster",
    "people_template",
    "template_csv",
]
