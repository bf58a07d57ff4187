"""Login, roles and permissions. No streamlit here: ``dashboard.ui.auth`` is the UI side.

See ``docs/access-control.md`` for the roles, the permission matrix and operations.
"""

from dashboard.auth.demo import DEMO_ACCOUNTS, DEMO_PASSWORD, sync_demo_accounts
from dashboard.auth.login import AuthResult, AuthStatus, authenticate, record_logout
from dashboard.auth.permissions import NotPermitted, may, require, require_grant, require_in_scope
from dashboard.auth.policy import AuthPolicy, session_expired
from dashboard.auth.principal import (
    SessionUser,
    can_see_personal_data,
    cli_principal,
    personal_data_scope,
    system_principal,
)
from dashboard.auth.roles import (
    ACTIONS,
    ACTIONS_BY_ROLE,
    PAGES,
    PAGES_BY_ROLE,
    allowed_pages,
    can,
    can_grant,
    can_open,
    default_page,
)
from dashboard.db.schema.people import ROLES

__all__ = [
    "ACTIONS",
    "ACTIONS_BY_ROLE",
    "DEMO_ACCOUNTS",
    "DEMO_PASSWORD",
    "PAGES",
    "PAGES_BY_ROLE",
    "ROLES",
    "AuthPolicy",
    "AuthResult",
    "AuthStatus",
    "NotPermitted",
    "SessionUser",
    "allowed_pages",
    "authenticate",
    "can",
    "can_grant",
    "can_open",
    "can_see_personal_data",
    "cli_principal",
    "default_page",
    "may",
    "personal_data_scope",
    "record_logout",
    "require",
    "require_grant",
    "require_in_scope",
    "session_expired",
    "sync_demo_accounts",
    "system_principal",
]
