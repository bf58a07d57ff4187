"""The checks that count: every domain function that changes state calls one of these first.

Pages check as well, to offer only what a user may do, but a page is a convenience: a callback,
the CLI or a test reaching the domain directly meets the same rule here. A refusal raises
:class:`NotPermitted` before anything is written, and is logged (not audited: the audit log
records changes, and a refusal changes nothing).
"""

from __future__ import annotations

import logging

from dashboard.auth.principal import SessionUser, can_see_personal_data
from dashboard.auth.roles import can, can_grant

log = logging.getLogger(__name__)

# Why a request was refused; the UI translates the reasons it shows.
REASONS = {
    "role": "the role does not allow it",
    "district": "the person lives outside the account's districts",
    "target_role": "the role may not manage accounts of that role",
    "own_account": "an account cannot disable itself",
    "ended_enrollment": "the enrollment ended: only a lead may reveal its personal data",
}


class NotPermitted(PermissionError):
    """``principal`` may not take ``action`` (on that person or account); nothing was written."""

    def __init__(self, principal: SessionUser | None, action: str, reason: str) -> None:
        self.username = principal.username if principal else None
        self.role = principal.role if principal else None
        self.action, self.reason = action, reason
        who = f"{self.username} ({self.role})" if principal else "nobody"
        super().__init__(f"{who} may not {action}: {REASONS.get(reason, reason)}")


def _refuse(principal: SessionUser | None, action: str, reason: str) -> NotPermitted:
    err = NotPermitted(principal, action, reason)
    log.warning("refused: %s", err)
    return err


def _checked(principal: object, action: str) -> SessionUser:
    if not isinstance(principal, SessionUser):
        raise TypeError(
            f"{action}: the acting principal must be a SessionUser, not {type(principal).__name__}"
        )
    return principal


def may(principal: SessionUser | None, action: str, region_code: str | None = None) -> bool:
    """Would ``require`` (or ``require_in_scope`` when a region is given) allow it?"""
    if principal is None or not can(principal.role, action):
        return False
    return region_code is None or can_see_personal_data(principal, region_code)


def require(principal: SessionUser, action: str) -> SessionUser:
    """The role may take ``action`` (one of ``roles.ACTIONS``), else :class:`NotPermitted`."""
    user = _checked(principal, action)
    if not can(user.role, action):
        raise _refuse(user, action, "role")
    return user


def require_in_scope(principal: SessionUser, action: str, region_code: str | None) -> SessionUser:
    """The role may take ``action`` and the person's region is in the principal's districts
    (leads everywhere, operators in their districts; a missing region is outside)."""
    user = require(principal, action)
    if not can_see_personal_data(user, region_code):
        raise _refuse(user, action, "district")
    return user


def require_grant(principal: SessionUser, target_role: str) -> SessionUser:
    """``manage_users`` for an account of ``target_role`` (a lead never touches an admin)."""
    user = require(principal, "manage_users")
    if not can_grant(user.role, target_role):
        raise _refuse(user, "manage_users", "target_role")
    return user
