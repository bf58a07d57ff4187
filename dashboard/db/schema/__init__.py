"""All tables, grouped by domain. Importing this package registers every table on ``Base``."""

from dashboard.db.base import Base
from dashboard.db.schema.alerts import Alert, AuditLog, Dispatch, NotificationOutbox
from dashboard.db.schema.detection import AwayPeriod, DeviceRoutine
from dashboard.db.schema.devices import (
    Device,
    DeviceAssignment,
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
from dashboard.db.schema.people import ApiKey, CareRecipient, User
from dashboard.db.schema.places import Program, Region
from dashboard.db.schema.reference import BudgetLine, PublishedFigure
from dashboard.db.schema.responders import Responder
from dashboard.db.schema.system import AppMeta

metadata = Base.metadata

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
    "DeviceDaily",
    "DeviceEvent",
    "DeviceRoutine",
    "DeviceState",
    "DeviceType",
    "Dispatch",
    "Enrolment",
    "IncentiveLedger",
    "NotificationOutbox",
    "ParticipationPeriod",
    "ParticipationWeek",
    "Program",
    "PublishedFigure",
    "Region",
    "Responder",
    "User",
    "Vendor",
    "metadata",
]
