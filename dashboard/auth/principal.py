"""The logged-in user as the app keeps it, and what that user may see of people's data."""

from __future__ import annotations

import getpass
from dataclasses import dataclass
from typing import Any

from dashboard.auth.regions import region_in_any
from dashboard.auth.roles import ALL_DISTRICT_ROLES, DISTRICT_SCOPED_ROLES


@dataclass(frozen=True)
class SessionUser:
    """Immutable snapshot of an account at login; safe to keep in a session (no hash)."""

    username: str
    display_name: str
    role: str
    district_codes: tuple[str, ...] = ()

    @classmethod
    def from_row(cls, row: Any) -> SessionUser:
        return cls(
            username=row.username,
            display_name=row.display_name,
            role=row.role,
            district_codes=tuple(row.district_codes or ()),
        )


def personal_data_scope(user: SessionUser) -> tuple[str, ...] | None:
    """Area codes whose people ``user`` may see: ``None`` means every area, ``()`` none.

    Queries can filter in SQL with this; ``can_see_personal_data`` answers for one region.
    """
    if user.role in ALL_DISTRICT_ROLES:
        return None
    if user.role in DISTRICT_SCOPED_ROLES:
        return user.district_codes
    return ()


def can_see_personal_data(user: SessionUser, region_code: str | None) -> bool:
    """May ``user`` see names, phones, addresses and positions of a person in ``region_code``
    (a dong's or any lower or higher administrative code)?"""
    scope = personal_data_scope(user)
    if scope is None:
        return True
    return region_in_any(region_code, scope)


# The command line runs on the server, started by someone who holds the database credentials
# and could change any row anyway. It acts as an admin (accounts, API keys, imports), under a
# name of its own so the audit log tells it apart, and through the same checks as the pages.
CLI_ROLE = "admin"


def cli_principal() -> SessionUser:
    """``cli:<os user>`` with the CLI's role (see docs/access-control.md)."""
    try:
        name = f"cli:{getpass.getuser()}"
    except Exception:  # no login name in some containers
        name = "cli"
    return SessionUser(username=name, display_name=name, role=CLI_ROLE)


def system_principal(part: str, role: str = CLI_ROLE) -> SessionUser:
    """A part of the system acting on its own (demo accounts, the simulator's vendor keys)."""
    name = f"system:{part}"
    return SessionUser(username=name, display_name=name, role=role)
