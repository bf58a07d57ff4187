"""event partitions: device_events partitioned by time on PostgreSQL (SQLite unchanged)

PostgreSQL: the plain ``device_events`` is renamed, a table partitioned by ``RANGE (ts)`` takes
its name (primary key ``(id, ts)``, unique ``(vendor, event_uid, ts)``: a partitioned table's
unique keys must contain the partition key), every row is copied into it and the old table is
dropped, all in the migration's one transaction: a failure leaves the database as it was.
The history before the migration gets one partition per Asia/Seoul calendar month (the current
month's up to today), today and the next 7 days one partition each, and a default partition
takes whatever no partition covers. The id sequence moves to the new table, so ids go on.

The copy needs free space of the table's size and holds an exclusive lock on ``device_events``
until it commits: ingest waits (HTTP callers get their reply late or retry). Run it while
ingest is stopped or quiet; see docs/operations.md#partitions.

Revision ID: 0011_event_partitions
Revises: 0010_participation
Create Date: 2026-12-02 17:00:00
"""

from collections.abc import Sequence
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from alembic import op
from sqlalchemy import text

from dashboard import clock

revision: str = "0011_event_partitions"
down_revision: str | None = "0010_participation"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

SEOUL = ZoneInfo("Asia/Seoul")  # written out: a migration must not change with the app's code
AHEAD_DAYS = 7
COLUMNS = "id, vendor, event_uid, device_id, ts, received_at, type, value, data"
RENAMES = (  # constraints and indexes of the plain table, freed for the new one
    ("CONSTRAINT", "pk_device_events"),
    ("CONSTRAINT", "uq_device_events_vendor_event_uid"),
    ("CONSTRAINT", "fk_device_events_device_id_devices"),
    ("INDEX", "ix_device_events_device_ts"),
)


def _midnight(day: date) -> datetime:
    return datetime.combine(day, time(0), tzinfo=SEOUL)


def _partition(name: str, lower: datetime, upper: datetime) -> None:
    op.execute(
        f'CREATE TABLE "{name}" PARTITION OF device_events'
        f" FOR VALUES FROM ('{lower.isoformat()}') TO ('{upper.isoformat()}')"
    )


def _rename_old(table: str) -> None:
    op.execute(f"ALTER TABLE device_events RENAME TO {table}")
    for kind, name in RENAMES:
        if kind == "INDEX":
            op.execute(f"ALTER INDEX IF EXISTS {name} RENAME TO {name}_old")
        else:
            exists = (
                op.get_bind()
                .execute(
                    text(
                        "SELECT 1 FROM pg_constraint c JOIN pg_class t ON t.oid = c.conrelid"
                        " JOIN pg_namespace n ON n.oid = t.relnamespace"
                        " WHERE c.conname = :c AND t.relname = :t AND n.nspname = current_schema()"
                    ),
                    {"c": name, "t": table},
                )
                .first()
            )
            if exists:
                op.execute(f"ALTER TABLE {table} RENAME CONSTRAINT {name} TO {name}_old")


def upgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return  # SQLite: no partitions; retention deletes in small batches there
    bind = op.get_bind()
    op.execute("LOCK TABLE device_events IN ACCESS EXCLUSIVE MODE")
    _rename_old("device_events_plain")
    op.execute(
        """
        CREATE TABLE device_events (
            id BIGINT NOT NULL DEFAULT nextval('device_events_id_seq'),
            vendor VARCHAR(60) NOT NULL,
            event_uid VARCHAR(80) NOT NULL,
            device_id INTEGER NOT NULL,
            ts TIMESTAMP WITH TIME ZONE NOT NULL,
            received_at TIMESTAMP WITH TIME ZONE NOT NULL,
            type VARCHAR(20) NOT NULL,
            value FLOAT,
            data JSONB,
            CONSTRAINT pk_device_events PRIMARY KEY (id, ts),
            CONSTRAINT uq_device_events_vendor_event_uid_ts UNIQUE (vendor, event_uid, ts),
            CONSTRAINT fk_device_events_device_id_devices
                FOREIGN KEY (device_id) REFERENCES devices (id)
        ) PARTITION BY RANGE (ts)
        """
    )
    op.execute("ALTER SEQUENCE device_events_id_seq OWNED BY device_events.id")
    op.execute("CREATE INDEX ix_device_events_device_ts ON device_events (device_id, ts)")
    op.execute("CREATE TABLE device_events_default PARTITION OF device_events DEFAULT")

    today = clock.now().astimezone(SEOUL).date()
    first = bind.execute(text("SELECT min(ts) FROM device_events_plain")).scalar()
    if first is not None and first.astimezone(SEOUL).date() < today:
        # The history: one partition per Seoul month, the current month's up to today.
        month = first.astimezone(SEOUL).date().replace(day=1)
        while month < today:
            following = (month + timedelta(days=32)).replace(day=1)
            upper = min(following, today)
            _partition(f"device_events_p{month:%Y%m%d}", _midnight(month), _midnight(upper))
            month = following
    for offset in range(AHEAD_DAYS + 1):
        day = today + timedelta(days=offset)
        _partition(f"device_events_p{day:%Y%m%d}", _midnight(day), _midnight(day + timedelta(1)))

    op.execute(
        f"INSERT INTO device_events ({COLUMNS}) SELECT {COLUMNS} FROM device_events_plain"
        " ORDER BY ts"
    )
    op.execute("DROP TABLE device_events_plain")


def downgrade() -> None:
    """Back to one plain table. Ids stored twice with different times (possible only on the
    partitioned table, further apart than ingest's 24-hour look-up) keep their first row."""
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute("LOCK TABLE device_events IN ACCESS EXCLUSIVE MODE")
    _rename_old("device_events_parted")
    op.execute(
        """
        CREATE TABLE device_events (
            id BIGINT NOT NULL DEFAULT nextval('device_events_id_seq'),
            vendor VARCHAR(60) NOT NULL,
            event_uid VARCHAR(80) NOT NULL,
            device_id INTEGER NOT NULL,
            ts TIMESTAMP WITH TIME ZONE NOT NULL,
            received_at TIMESTAMP WITH TIME ZONE NOT NULL,
            type VARCHAR(20) NOT NULL,
            value FLOAT,
            data JSONB,
            CONSTRAINT pk_device_events PRIMARY KEY (id),
            CONSTRAINT uq_device_events_vendor_event_uid UNIQUE (vendor, event_uid),
            CONSTRAINT fk_device_events_device_id_devices
                FOREIGN KEY (device_id) REFERENCES devices (id)
        )
        """
    )
    op.execute("ALTER SEQUENCE device_events_id_seq OWNED BY device_events.id")
    op.execute(
        f"INSERT INTO device_events ({COLUMNS}) SELECT {COLUMNS} FROM device_events_parted"
        " ORDER BY id ON CONFLICT (vendor, event_uid) DO NOTHING"
    )
    op.execute("CREATE INDEX ix_device_events_device_ts ON device_events (device_id, ts)")
    op.execute("DROP TABLE device_events_parted")
