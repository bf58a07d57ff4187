"""Participation programs' own records, imported from the systems cities use: enrolment,
completion and weekly activity (docs/participation-import.md).

No Streamlit here: the 참여 page and the CLI (``participation import``) call the same function,
which checks ``import_data`` itself.
"""

from dashboard.participation.importer import import_participation

__all__ = ["import_participation"]
