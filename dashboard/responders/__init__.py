"""Responders: police boxes, welfare centers and partner places that can help search for a
person; their registration, and the police-box reference import (the notice to one is
``dashboard.actions.notify_responder``).
See docs/reference-data.md (import) and docs/pages.md (배회 지도)."""

from dashboard.responders.police import ImportReport, load_police_boxes, read_police_boxes
from dashboard.responders.registry import (
    ResponderError,
    move_responder,
    register_responder,
    set_responder_active,
)

__all__ = [
    "ImportReport",
    "ResponderError",
    "load_police_boxes",
    "move_responder",
    "read_police_boxes",
    "register_responder",
    "set_responder_active",
]
