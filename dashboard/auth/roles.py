"""Roles and the permission matrix: which pages and which actions each role may use.

Pure data and functions. The app gives ``allowed_pages(role)`` to ``st.navigation`` (a page not
registered for a session cannot be reached by URL); pages re-check ``can(role, action)`` as a
convenience, and the domain functions decide (:mod:`dashboard.auth.permissions`).
``docs/access-control.md`` shows this matrix and a test keeps the two in step.
"""

from __future__ import annotations

from dashboard.db.schema.people import ROLES

# Page url paths, in menu order.
CONTROL_PAGES = ("live", "alerts", "wandering")
# Response metrics, the weekly review (which includes them) and vendor performance review the
# control center's own work and its contracts: its staff, not the council.
REVIEW_PAGES = ("week", "response", "vendors")
AGGREGATE_PAGES = ("complaints", "participation", "budget", "briefing")
# The roster: operators read their districts' people, leads and admins manage it (admins without
# any personal data: the pages leave names out for them). Never the council.
ROSTER_PAGES = ("people", "devices")
ADMIN_PAGES = ("users", "settings", "import")
# The system's health (ingest, worker, outbox, database, leader): the people who run it. It shows
# no personal data, but leads and operators have the care pages; this one is about machines.
SYSTEM_PAGES = ("system",)
PAGES = (
    *CONTROL_PAGES,
    *REVIEW_PAGES,
    *AGGREGATE_PAGES,
    *ROSTER_PAGES,
    *ADMIN_PAGES,
    *SYSTEM_PAGES,
)

ALERT_ACTIONS = (
    "acknowledge",
    "ai_recall",
    "dong_center",
    "field_visit",
    "emergency_119",
    "guardian_call",
    "close",
    "notify_responder",  # ask a police box or partner place to look out (a dispatch)
)
ACTIONS = (
    *ALERT_ACTIONS,
    "reveal_personal_data",
    "export",
    "edit_thresholds",
    "manage_users",
    "manage_api_keys",
    "import_data",
    "manage_roster",
    "mark_away",
    "manage_responders",  # register partner places, correct positions, import police boxes
    # Mark two people the duplicate check suspects as different persons (or undo it): it takes
    # seeing both people's data, so leads, not admins, who manage the roster without any.
    "resolve_duplicates",
)

# Control pages show people (names, homes, positions); the aggregate pages select no personal
# column (complaints are per detector site, participation and budget per program), so the
# council may see them. Admins run the system, not the care: no control pages, no personal data.
PAGES_BY_ROLE: dict[str, tuple[str, ...]] = {
    "operator": (*CONTROL_PAGES, *REVIEW_PAGES, *AGGREGATE_PAGES, *ROSTER_PAGES),
    "lead": (
        *CONTROL_PAGES,
        *REVIEW_PAGES,
        *AGGREGATE_PAGES,
        *ROSTER_PAGES,
        "users",
        "settings",
        "import",
    ),
    "council": ("briefing", "complaints", "participation", "budget"),
    "admin": (*AGGREGATE_PAGES, *ROSTER_PAGES, *ADMIN_PAGES, *SYSTEM_PAGES),
}

ACTIONS_BY_ROLE: dict[str, frozenset[str]] = {
    "operator": frozenset({*ALERT_ACTIONS, "reveal_personal_data", "mark_away"}),
    "lead": frozenset(
        {
            *ALERT_ACTIONS,
            "reveal_personal_data",
            "export",
            "edit_thresholds",
            "manage_users",
            "import_data",
            "manage_roster",
            "mark_away",
            "manage_responders",
            "resolve_duplicates",
        }
    ),
    "council": frozenset(),
    "admin": frozenset(
        {"manage_users", "manage_api_keys", "import_data", "manage_roster", "manage_responders"}
    ),
}

# Who may give which role with manage_users: a lead may not create admins (API keys, settings).
GRANTABLE_ROLES: dict[str, tuple[str, ...]] = {
    "lead": ("operator", "lead", "council"),
    "admin": tuple(ROLES),
}

# Roles whose personal-data access is limited to the districts assigned to the account.
DISTRICT_SCOPED_ROLES = frozenset({"operator"})
# Roles that see personal data in every district.
ALL_DISTRICT_ROLES = frozenset({"lead"})


def allowed_pages(role: str) -> list[str]:
    """Url paths of the pages ``role`` may open, in menu order; unknown roles get none."""
    return list(PAGES_BY_ROLE.get(role, ()))


def default_page(role: str) -> str | None:
    """The page a role lands on at ``/`` (its first allowed page)."""
    pages = allowed_pages(role)
    return pages[0] if pages else None


def can_open(role: str, page: str) -> bool:
    return page in PAGES_BY_ROLE.get(role, ())


def can(role: str, action: str) -> bool:
    """May ``role`` perform ``action``? Unknown actions raise: a typo must not silently deny."""
    if action not in ACTIONS:
        raise ValueError(f"unknown action {action!r}; known: {', '.join(ACTIONS)}")
    return action in ACTIONS_BY_ROLE.get(role, frozenset())


def can_grant(role: str, target_role: str) -> bool:
    """May a user with ``role`` create or change an account with ``target_role``?"""
    return can(role, "manage_users") and target_role in GRANTABLE_ROLES.get(role, ())


def _check_matrix() -> None:
    assert set(PAGES_BY_ROLE) == set(ROLES) == set(ACTIONS_BY_ROLE)
    for role, pages in PAGES_BY_ROLE.items():
        assert set(pages) <= set(PAGES), role
    for role, actions in ACTIONS_BY_ROLE.items():
        assert actions <= set(ACTIONS), role
        # Whoever may import may open the import page, and only they (no dead button, no door).
        assert ("import_data" in actions) == ("import" in PAGES_BY_ROLE[role]), role


_check_matrix()
