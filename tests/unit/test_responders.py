"""Responders: the police-box import (approximate at the dong centroid, unmatched reported,
idempotent, corrections kept), registration and moves (validated, permission, audit), the
nearest-first order, and the notice to one of them through the outbox."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import func, select

from dashboard.actions import ConflictError, ForbiddenTransition, NotPermitted, notify_responder
from dashboard.db.schema import Alert, AuditLog, Dispatch, NotificationOutbox, Region, Responder
from dashboard.responders import (
    ResponderError,
    load_police_boxes,
    move_responder,
    read_police_boxes,
    register_responder,
)
from dashboard.responders.police import POLICE_CSV, PoliceFileError
from queries.responders import responders_near
from queries.wandering import haversine_m
from tests.unit.test_actions_support import T0, add_alert, seed, who

LEAD = who("lee", "lead")
OPERATOR_IN = who("park", "operator", ("4128500000",))
OPERATOR_OUT = who("choi", "operator", ("1111000000",))
COUNCIL = who("kang", "council")
# The fixture's catalog: 일산동구 (4128500000) with 백석1동 (4128552000, id 2) and 종로구 with
# 청운효자동 (1111051500, id 4); centroids added here.
CSV_HEADER = "연번,시도청,경찰서,관서명,구분,주소\n"


def _catalog(engine) -> None:
    seed(engine)
    with engine.begin() as conn:
        conn.execute(Region.__table__.update().where(Region.id == 2).values(lat=37.68, lon=126.78))
        conn.execute(Region.__table__.update().where(Region.id == 4).values(lat=37.58, lon=126.97))


def _csv(tmp_path: Path, rows: list[str]) -> Path:
    path = tmp_path / "police.csv"
    path.write_text(CSV_HEADER + "\n".join(rows) + "\n", encoding="utf-8")
    return path


def _count(engine, model, *where) -> int:
    with engine.connect() as conn:
        return conn.scalar(select(func.count()).select_from(model).where(*where))


ROWS = [
    "1,경기북부청,일산동부,백석,지구대,경기도 고양시 일산동구 장백로 76",  # by name
    "2,경기북부청,일산동부,풍사,파출소,경기도 고양시 일산동구 숲속마을로 54",  # no dong: unmatched
    "3,서울청,서울종로,효자,파출소,서울특별시 종로구 자하문로 1 (청운효자동)",  # dong in address
    "4,대전청,대전대덕,신탄진,지구대,대전광역시 대덕구 대덕대로 1427",  # district not in catalog
]


def test_import_places_at_dong_centroids_and_reports_unmatched(db_engine, tmp_path) -> None:
    _catalog(db_engine)
    path = _csv(tmp_path, ROWS)
    with db_engine.begin() as conn:
        report = load_police_boxes(conn, LEAD, T0, path)
    assert (report.inserted, report.approximate, report.outside_catalog) == (3, 2, 1)
    assert report.unmatched == ["line 3: 풍사 파출소 (경기도 고양시 일산동구 숲속마을로 54)"]
    with db_engine.connect() as conn:
        rows = {
            r.source_ref: r
            for r in conn.execute(select(Responder).where(Responder.source == "police_boxes"))
        }
    assert (rows["1"].lat, rows["1"].lon, rows["1"].region_id) == (37.68, 126.78, 2)
    assert (rows["3"].lat, rows["3"].region_id) == (37.58, 4)
    assert rows["1"].approximate and rows["3"].approximate
    assert rows["2"].lat is None and rows["2"].region_id == 1  # its district, no position
    assert rows["1"].name == "백석 지구대" and rows["1"].kind == "police_box"
    assert _count(db_engine, AuditLog, AuditLog.action == "responders_import") == 1

    # Again: nothing changes. A lead's correction survives a later edition of the file.
    with db_engine.begin() as conn:
        again = load_police_boxes(conn, LEAD, T0, path)
        move_responder(conn, LEAD, T0, rows["1"].id, 37.6858, 126.7848)
    assert (again.inserted, again.updated, again.unchanged) == (0, 0, 3)
    edition = _csv(tmp_path, [ROWS[0].replace("장백로 76", "장백로 77"), ROWS[2]])
    with db_engine.begin() as conn:
        later = load_police_boxes(conn, LEAD, T0 + timedelta(days=1), edition)
    assert (later.updated, later.retired) == (1, 1)
    with db_engine.connect() as conn:
        moved = conn.execute(select(Responder).where(Responder.id == rows["1"].id)).one()
        gone = conn.execute(select(Responder.active).where(Responder.id == rows["2"].id))
        assert gone.scalar_one() is False
    assert (moved.lat, moved.lon, moved.approximate) == (37.6858, 126.7848, False)
    assert moved.address.endswith("77")


def test_the_shipped_file_reads_and_bad_files_say_where(tmp_path) -> None:
    boxes = read_police_boxes(POLICE_CSV)
    assert len(boxes) > 200 and {b.subtype for b in boxes} == {"지구대", "파출소"}
    bad = _csv(tmp_path, ["1,서울청,서울중부,을지,초소,서울특별시 중구 을지로 234"])
    with pytest.raises(PoliceFileError, match=r"line 2, column '구분'"):
        read_police_boxes(bad)
    (tmp_path / "x.csv").write_text("a,b\n1,2\n", encoding="utf-8")
    with pytest.raises(PoliceFileError, match="missing column"):
        read_police_boxes(tmp_path / "x.csv")


def test_registration_is_validated_permitted_and_audited(db_engine) -> None:
    _catalog(db_engine)
    with db_engine.begin() as conn:
        new = register_responder(
            conn, LEAD, T0, kind="dementia_partner", name="  안심  약국 ", lat=37.64, lon=126.78,
            phone="031-123-4567",
        )  # fmt: skip
    with db_engine.connect() as conn:
        row = conn.execute(select(Responder).where(Responder.id == new)).one()
    assert (row.name, row.approximate, row.source) == ("안심 약국", False, "registered")
    assert _count(db_engine, AuditLog, AuditLog.action == "responder_add") == 1
    cases = [
        ({"lat": 126.78, "lon": 37.64}, "position"),  # swapped
        ({"name": " "}, "name"),
        ({"kind": "hospital"}, "kind"),
        ({"phone": "call me"}, "phone"),
        ({"name": "약국\x00"}, "name"),  # PostgreSQL failed the insert: an internal error
    ]
    for change, field in cases:
        args = {"kind": "bus_stop", "name": "정류장", "lat": 37.64, "lon": 126.78} | change
        with pytest.raises(ResponderError) as err, db_engine.begin() as conn:
            register_responder(conn, LEAD, T0, **args)
        assert err.value.field == field
    for refused in (OPERATOR_IN, COUNCIL):
        with pytest.raises(NotPermitted), db_engine.begin() as conn:
            register_responder(conn, refused, T0, kind="bus_stop", name="x", lat=37.6, lon=126.7)
        with pytest.raises(NotPermitted), db_engine.begin() as conn:
            move_responder(conn, refused, T0, new, 37.6, 126.7)
    assert _count(db_engine, Responder) == 1


def test_nearest_first_with_straight_line_distance(db_engine) -> None:
    _catalog(db_engine)
    here = (37.6435, 126.7870)
    # Distances built east of the person: 900 m, 150 m, 400 m, 150 m (tie: by name), 30 km.
    spots = [("다", 900), ("나", 150), ("라", 400), ("가", 150), ("먼곳", 30_000)]
    with db_engine.begin() as conn:
        for name, metres in spots:
            lon = here[1] + metres / (111_195 * 0.7913)
            register_responder(conn, LEAD, T0, kind="other", name=name, lat=here[0], lon=lon)
        gone = register_responder(conn, LEAD, T0, kind="other", name="닫힘", lat=here[0],
                                  lon=here[1])  # fmt: skip
        conn.execute(Responder.__table__.update().where(Responder.id == gone).values(active=False))
    with db_engine.connect() as conn:
        near = responders_near(conn, *here, limit=5)
        two = responders_near(conn, *here, limit=2)
    assert near["name"].tolist() == ["가", "나", "라", "다"]  # 30 km is outside the search
    assert near["distance_m"].is_monotonic_increasing
    assert near["distance_m"].iloc[0] == pytest.approx(150, abs=2)
    first = near.iloc[0]
    assert first["distance_m"] == pytest.approx(haversine_m(*here, first["lat"], first["lon"]))
    assert two["name"].tolist() == ["가", "나"]


def _partner(engine) -> int:
    with engine.begin() as conn:
        return register_responder(
            conn, LEAD, T0, kind="police_box", name="중산 지구대", lat=37.68, lon=126.78
        )


def test_notify_responder_is_a_dispatch_through_the_outbox(db_engine) -> None:
    _catalog(db_engine)
    place = _partner(db_engine)
    alert = add_alert(db_engine, rule="wander_left_zone", stage="severe")
    with db_engine.begin() as conn:
        done = notify_responder(
            conn, alert, responder_id=place, principal=OPERATOR_IN, seen_version=1, now=T0
        )
    assert (done.status, done.version, done.target) == ("dispatched", 2, "중산 지구대")
    with db_engine.connect() as conn:
        (notice,) = conn.execute(select(NotificationOutbox)).all()
        (dispatch,) = conn.execute(select(Dispatch)).all()
        audit = conn.execute(
            select(AuditLog).where(AuditLog.action == "alert_notify_responder")
        ).one()
        row = conn.execute(select(Alert).where(Alert.id == alert)).one()
    assert (notice.channel, notice.recipient) == ("responder", f"responder:{place}")
    assert (
        notice.payload["resolve"] == "responder_phone"
        and "중산 지구대" in notice.payload["message"]
    )
    assert (dispatch.kind, dispatch.target, dispatch.requested_by) == (
        "responder",
        "중산 지구대",
        "park",
    )
    assert audit.actor == "park" and audit.detail["responder_id"] == place
    assert row.acknowledged_by == "park" and row.dispatched_at is not None

    # A double click replays; a stale version is a conflict; closing tells the police box.
    with db_engine.begin() as conn:
        again = notify_responder(
            conn, alert, responder_id=place, principal=OPERATOR_IN, seen_version=1, now=T0
        )
    assert again.replayed and _count(db_engine, NotificationOutbox) == 1
    with pytest.raises(ConflictError), db_engine.begin() as conn:
        notify_responder(conn, alert, responder_id=place, principal=LEAD, seen_version=1, now=T0)
    from dashboard.actions import close

    with db_engine.begin() as conn:
        close(conn, alert, principal=LEAD, seen_version=2, now=T0, outcome="safe", confirmed=True)
    with db_engine.connect() as conn:
        told = conn.execute(
            select(NotificationOutbox.recipient).where(NotificationOutbox.channel == "responder")
        ).scalars().all()  # fmt: skip
    assert told == [f"responder:{place}", f"responder:{place}"]


def test_notify_responder_is_refused_out_of_scope_and_on_closed_alerts(db_engine) -> None:
    _catalog(db_engine)
    place = _partner(db_engine)
    alert = add_alert(db_engine, rule="wander_left_zone")
    for refused in (OPERATOR_OUT, COUNCIL, who("root", "admin")):
        with pytest.raises(NotPermitted), db_engine.begin() as conn:
            notify_responder(conn, alert, responder_id=place, principal=refused, seen_version=1,
                             now=T0)  # fmt: skip
    closed = add_alert(db_engine, rule="wander_left_zone", status="closed")
    with pytest.raises(ForbiddenTransition), db_engine.begin() as conn:
        notify_responder(conn, closed, responder_id=place, principal=LEAD, seen_version=1, now=T0)
    with pytest.raises(ForbiddenTransition), db_engine.begin() as conn:
        notify_responder(conn, alert, responder_id=999, principal=LEAD, seen_version=1, now=T0)
    assert _count(db_engine, NotificationOutbox) == 0 and _count(db_engine, Dispatch) == 0
