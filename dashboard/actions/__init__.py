"""Operator actions on alerts: a pure transition table and one transactional function per action.

See docs/alert-actions.md.
"""

from dashboard.actions.errors import AlertNotFound, ConflictError, LastChange
from dashboard.actions.routing import (
    Route,
    RoutingConfig,
    RoutingConfigError,
    current_routing,
    load_routing,
    route_check_request,
)
from dashboard.actions.service import (
    ACTION_FUNCTIONS,
    ActionResult,
    acknowledge,
    ai_recall,
    check_request_route,
    close,
    dong_center,
    emergency_119,
    field_visit,
    guardian_call,
    last_change,
    notify_responder,
    perform,
)
from dashboard.actions.transitions import (
    ACTIONS,
    NEEDS_CONFIRMATION,
    TRANSITIONS,
    ActionError,
    ConfirmationRequired,
    ForbiddenTransition,
    Request,
    allowed_actions,
    next_status,
)
from dashboard.auth.permissions import NotPermitted  # what every refused action raises

__all__ = [
    "ACTIONS",
    "ACTION_FUNCTIONS",
    "NEEDS_CONFIRMATION",
    "TRANSITIONS",
    "ActionError",
    "ActionResult",
    "AlertNotFound",
    "ConfirmationRequired",
    "ConflictError",
    "ForbiddenTransition",
    "LastChange",
    "NotPermitted",
    "Request",
    "Route",
    "RoutingConfig",
    "RoutingConfigError",
    "acknowledge",
    "ai_recall",
    "allowed_actions",
    "check_request_route",
    "close",
    "current_routing",
    "dong_center",
    "emergency_119",
    "field_visit",
    "guardian_call",
    "last_change",
    "load_routing",
    "next_status",
    "notify_responder",
    "perform",
    "route_check_request",
]
