"""An alert belongs to its person's district, on the queue as in the actions.

The actions and the reveal are scoped by the person's own dong (a device ticket: the alert's
place). An alert's ``region_id`` is its device's dong, which can lie elsewhere: a device
registered in another dong on purpose (``register_device(region_code=…)``), or a person who
moved while the alert was open (the roster moves the devices, not the open alerts). The queue,
the deep link, the live ticker and its counts must list such an alert for the operator who may
act on it, and not for the one who may not (who would also read the person's masked name).
"""

from __future__ import annotations

import pytest
from sqlalchemy import Engine, update
from test_actions_support import T0, add_alert, seed, who

from dashboard.actions import NotPermitted, perform
from dashboard.db.schema import Alert
from queries import alerts

GOYANG_OP = who("goyang", role="operator", districts=("4128000000",))
JONGNO_OP = who("jongno", role="operator", districts=("1111000000",))
GOYANG_DISTRICT, JONGNO_DISTRICT = 1, 3  # region ids of test_actions_support.seed
JONGNO_DONG = 4


@pytest.fixture
def moved(db_engine: Engine) -> tuple[Engine, int]:
    """A person of 백석1동 (Goyang) whose alert lies in 청운효자동 (Jongno), its device's dong."""
    seed(db_engine)
    alert_id = add_alert(db_engine, status="open", stage="severe")
    with db_engine.begin() as conn:
        conn.execute(update(Alert).where(Alert.id == alert_id).values(region_id=JONGNO_DONG))
    return db_engine, alert_id


def test_the_queue_lists_the_alert_for_the_operator_who_may_act(moved):
    engine, alert_id = moved
    with engine.connect() as conn:
        assert alerts.open_alerts(conn, T0, areas=GOYANG_OP.district_codes)["id"].tolist() == [
            alert_id
        ]
        assert not alerts.alert_by_id(conn, alert_id, T0, GOYANG_OP.district_codes).empty
        assert alerts.open_alerts(conn, T0, areas=JONGNO_OP.district_codes).empty
        assert alerts.alert_by_id(conn, alert_id, T0, JONGNO_OP.district_codes).empty
    # The same answer as the domain's: Goyang's operator acts, Jongno's may not.
    with pytest.raises(NotPermitted):
        perform(engine, "acknowledge", alert_id, principal=JONGNO_OP, seen_version=1, now=T0)
    result = perform(engine, "acknowledge", alert_id, principal=GOYANG_OP, seen_version=1, now=T0)
    assert result.status == "acknowledged"


def test_the_live_ticker_and_counts_follow_the_person(moved):
    engine, alert_id = moved
    with engine.connect() as conn:
        ticker = alerts.newest_open_alerts(conn, T0, districts=[GOYANG_DISTRICT])
        assert ticker["id"].tolist() == [alert_id]
        assert alerts.newest_open_alerts(conn, T0, districts=[JONGNO_DISTRICT]).empty
        assert alerts.open_alerts_by_stage(conn, districts=[GOYANG_DISTRICT]) == {"severe": 1}
        assert alerts.open_alerts_by_stage(conn, districts=[JONGNO_DISTRICT]) == {}
        queue = alerts.open_alerts(conn, T0, districts=[GOYANG_DISTRICT])
        assert queue["id"].tolist() == [alert_id]


def test_a_device_ticket_stays_with_its_own_place(db_engine: Engine):
    seed(db_engine)
    ticket = add_alert(db_engine, kind="device_fault", rule="device_silent", region_id=4)
    with db_engine.connect() as conn:
        assert alerts.open_alerts(conn, T0, areas=JONGNO_OP.district_codes)["id"].tolist() == [
            ticket
        ]
        assert alerts.open_alerts(conn, T0, areas=GOYANG_OP.district_codes).empty
        assert alerts.newest_open_alerts(conn, T0, districts=[JONGNO_DISTRICT])["id"].tolist() == [
            ticket
        ]
