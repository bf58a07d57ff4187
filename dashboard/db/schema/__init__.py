"""All tables, grouped by domain. Importing this package registers every table on ``Base``."""

from collections.abc import Callable

from sqlalchemy import event as _event

from dashboard.db.base import Base
from dashboard.db.schema.alerts import Alert, AuditLog, Dispatch, NotificationOutbox
from dashboard.db.schema.detection import AwayPeriod, DeviceRoutine, PlugReachRecord
from dashboard.db.schema.devices import (
    DIALECT_ONLY,
    Device,
    DeviceAssignment,
    DeviceCount,
    DeviceDaily,
    DeviceEvent,
    DeviceState,
    DeviceType,
)
from dashboard.db.schema.finance import BudgetExecution, DataImport
from dashboard.db.schema.ingest import DeadLetter, Vendor
from dashboard.db.schema.participation import (
    Complaint,
    ComplaintSite,
    Enrolment,
    IncentiveLedger,
    ParticipationPeriod,
    ParticipationWeek,
)
from dashboard.db.schema.people import ApiKey, CareRecipient, DifferentPeople, User
from dashboard.db.schema.places import Program, Region
from dashboard.db.schema.reference import BudgetLine, PublishedFigure
from dashboard.db.schema.responders import Responder
from dashboard.db.schema.system import AppMeta

metadata = Base.metadata


def _device_counts_triggers(target, connection, **kw) -> None:
    """``create_all`` also builds the triggers that keep ``device_counts`` (as migration 0013
    does); imported here, since that module imports the tables."""
    from dashboard.db.device_counts import create_all_hook

    create_all_hook(target, connection, **kw)


_event.listen(metadata, "after_create", _device_counts_triggers)


def include_object_for(dialect: str) -> Callable[..., bool]:
    """Alembic's ``include_object`` for comparing the models with a database of ``dialect``:
    leaves out the partitions of ``device_events`` (tables PostgreSQL makes, not models) and
    the constraints that exist on the other backend only (``DIALECT_ONLY``)."""
    from dashboard.db.partitions import is_partition_name

    def include(obj, name, type_, reflected, compare_to) -> bool:
        if type_ == "table" and name and is_partition_name(name):
            return False
        return DIALECT_ONLY.get(name or "", dialect) == dialect

    return include


__all__ = [
    "Alert",
    "ApiKey",
    "AppMeta",
    "AuditLog",
    "AwayPeriod",
    "Base",
    "BudgetExecution",
    "BudgetLine",
    "CareRecipient",
    "Complaint",
    "ComplaintSite",
    "DataImport",
    "DeadLetter",
    "Device",
    "DeviceAssignment",
    "DeviceCount",
    "DeviceDaily",
    "DeviceEvent",
    "DeviceRoutine",
    "DeviceState",
    "DeviceType",
    "DifferentPeople",
    "Dispatch",
    "Enrolment",
    "IncentiveLedger",
    "NotificationOutbox",
    "ParticipationPeriod",
    "ParticipationWeek",
    "PlugReachRecord",
    "Program",
    "PublishedFigure",
    "Region",
    "Responder",
    "User",
    "Vendor",
    "include_object_for",
    "metadata",
]
