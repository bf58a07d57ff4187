"""시스템 상태 (issue 13): admins see the system's health read from the database, with a status
per line; nobody else can open the page."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import Engine, insert, select
from streamlit.testing.v1 import AppTest

from dashboard.db.schema import Device, DeviceEvent, NotificationOutbox
from dashboard.formatting import format_number
from dashboard.i18n import state_label, translate
from dashboard.ingest.deadletters import record_message
from dashboard.ops.heartbeat import record_tick
from dashboard.rules.engine import TickSummary
from dashboard.settings import PROJECT_ROOT
from queries.system import STAGES, open_alerts_by_stage, outbox_backlog
from tests.apptest.conftest import TIMEOUT, login_as, open_page, private_copy, texts


@pytest.fixture(scope="module")
def system_db(demo_db: Engine, tmp_path_factory) -> Iterator[Engine]:
    """The demo city (its data ends in 2024) plus, relative to the real clock: 3 events of a
    vendor 2 minutes ago, one dead letter 10 minutes ago, a notification waiting 40 minutes,
    and a rule tick a minute ago."""
    now = datetime.now(UTC)
    with private_copy(demo_db, tmp_path_factory.mktemp("system_page")) as engine:
        with engine.begin() as conn:
            device_id = conn.scalar(select(Device.id).limit(1))
            conn.execute(
                insert(DeviceEvent),
                [
                    {
                        "vendor": "zz-vendor",
                        "event_uid": f"sys-{i}",
                        "device_id": device_id,
                        "ts": now - timedelta(minutes=2),
                        "received_at": now - timedelta(minutes=2),
                        "type": "heartbeat",
                    }
                    for i in range(3)
                ],
            )
            record_message(
                conn,
                source="http",
                vendor="zz-vendor",
                topic=None,
                reason="not JSON",
                payload=b"{",
                now=now - timedelta(minutes=10),
            )
            conn.execute(
                insert(NotificationOutbox).values(
                    idempotency_key="system-page-test",
                    channel="sms",
                    recipient="010-0000-0000",
                    payload={"action": "test"},
                    status="pending",
                    next_attempt_at=now + timedelta(days=1),
                    created_at=now - timedelta(minutes=40),
                )
            )
            record_tick(
                conn, TickSummary(now=now - timedelta(minutes=1), candidates=4321, seconds=0.25)
            )
        yield engine


def _open(lang: str = "ko") -> AppTest:
    return open_page("system", role="admin", **({"lang": "en"} if lang == "en" else {}))


def _table(at: AppTest, header_key: str, lang: str):
    header = translate(header_key, lang)
    return next(df.value for df in at.dataframe if header in df.value.columns)


@pytest.mark.parametrize("lang", ["ko", "en"])
def test_admin_sees_each_line_with_its_status(system_db: Engine, lang: str) -> None:
    at = _open(lang)
    assert [t.value for t in at.title] == [translate("page.system", lang)]
    lines = _table(at, "system.col_check", lang)
    by_check = {row[translate("system.col_check", lang)]: row for row in lines.to_dict("records")}
    status = translate("system.col_status", lang)

    def line(key: str) -> dict:
        return by_check[translate(f"system.check.{key}", lang)]

    def level(name: str) -> str:
        return translate(f"system.level.{name}", lang)

    assert line("tick")[status].endswith(level("ok"))
    assert format_number(4321) in line("tick")[translate("system.col_value", lang)]
    assert line("outbox")[status].endswith(level("critical"))  # waiting 40 min ≥ 30
    assert line("dead_letters")[status].endswith(level("warning"))  # 1 in the hour
    assert line("leader")[translate("system.col_why", lang)] == translate(
        "system.reason.leader_single", lang
    )
    with system_db.connect() as conn:
        alerts, outbox = open_alerts_by_stage(conn), outbox_backlog(conn)
    assert format_number(outbox.pending) in line("outbox")[translate("system.col_value", lang)]
    assert line("alerts")[status].endswith(level("warning" if alerts["severe"] else "ok"))

    vendors = _table(at, "system.col_vendor", lang)
    row = vendors[vendors[translate("system.col_vendor", lang)] == "zz-vendor"].iloc[0]
    assert row[translate("system.col_events_5m", lang)] == 3
    assert row[translate("system.col_events_1h", lang)] == 3
    assert row[translate("system.col_dead_5m", lang)] == 0
    assert row[translate("system.col_dead_1h", lang)] == 1
    assert row[status].endswith(level("warning"))  # 1 of 4 in the hour refused: 25 % ≥ 5 %

    metrics = {m.label: m.value for m in at.metric}
    for stage in STAGES:
        assert metrics[state_label(stage, lang)] == format_number(alerts[stage])
    assert metrics[translate("system.m_outbox", lang)] == format_number(outbox.pending)
    assert metrics[translate("system.m_events_5m", lang)] == "3"
    assert translate("system.leader_single", lang) in texts(at)


@pytest.mark.parametrize("role", ["operator", "lead", "council"])
def test_only_admins_can_open_it(system_db: Engine, role: str) -> None:
    at = open_page(role=role)
    with pytest.raises(ValueError, match="Could not find a navigation page"):
        at.switch_page("../pages/system.py")
    assert translate("page.system") not in texts(at)
    # And the script itself stops before reading anything, should it ever run for them.
    page = AppTest.from_file(str(PROJECT_ROOT / "pages" / "system.py"), default_timeout=TIMEOUT)
    login_as(page, role).run()
    assert [e.value for e in page.error] == [translate("auth.forbidden")]
    assert not page.dataframe and not page.metric
