"""The demo's responders: the real police-box list (placed at dong centroids, approximate) and a
few fictitious partner places around Baekseok station for the wandering search."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Connection, insert

from dashboard.db.schema import Responder
from dashboard.responders.police import import_police_boxes, read_police_boxes

ACTOR = "system:demo"
SOURCE = "demo"
# (kind, name, lat, lon): invented positions near 백석역; "(데모)" marks invented shops.
PLACES = (
    ("welfare_center", "백석1동 행정복지센터", 37.6468, 126.7912),
    ("welfare_center", "백석2동 행정복지센터", 37.6417, 126.7852),
    ("welfare_center", "일산동구 치매안심센터", 37.6586, 126.7733),
    ("dementia_partner", "백석역 안심약국 (데모)", 37.6437, 126.7872),
    ("dementia_partner", "흰돌마을 안심편의점 (데모)", 37.6470, 126.7880),
    ("bus_stop", "백석역 버스정류장", 37.6428, 126.7890),
    ("bus_stop", "백석동 업무지구 정류장", 37.6405, 126.7930),
)


def generate(conn: Connection, now: datetime) -> dict[str, int]:
    """Insert the police boxes and the demo places; returns row counts."""
    report = import_police_boxes(conn, read_police_boxes(), now, ACTOR)
    rows = [
        {
            "kind": kind,
            "name": name,
            "subtype": None,
            "address": None,
            "phone": None,
            "region_id": None,
            "lat": lat,
            "lon": lon,
            "approximate": False,
            "source": SOURCE,
            "source_ref": f"demo-{i}",
            "active": True,
            "updated_at": now,
            "updated_by": ACTOR,
        }
        for i, (kind, name, lat, lon) in enumerate(PLACES, start=1)
    ]
    conn.execute(insert(Responder), rows)
    return {"responders": report.inserted + len(rows)}
