"""The wandering page against the session's demo city, and its fragment's data function called
directly (AppTest never fires run_every)."""

from __future__ import annotations

import json
import math
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from dashboard.db.schema import CareRecipient, Device, DeviceState, Program
from dashboard.formatting import format_number
from dashboard.i18n import translate
from queries.wandering import DEFAULT_SAFE_ZONE_M, NO_POSITION_AFTER, snapshot
from tests.apptest.conftest import (
    DEMO_END,
    metric,
    open_page,
    private_copy,
    texts,
    without_live_loop,
)


def _db_counts(engine) -> dict[str, int]:
    """Counted straight from the tables, not through queries.wandering."""
    stmt = (
        select(
            DeviceState.last_lat,
            DeviceState.last_lon,
            DeviceState.last_seen_at,
            DeviceState.battery_pct,
            CareRecipient.pii_home_lat,
            CareRecipient.pii_home_lon,
            CareRecipient.safe_zone_m,
        )
        .select_from(Device)
        .join(Program, Program.id == Device.program_id)
        .outerjoin(DeviceState, DeviceState.device_id == Device.id)
        .outerjoin(CareRecipient, CareRecipient.id == Device.recipient_id)
        .where(Program.code == "goyang_wandering", Device.status == "active")
    )
    with engine.connect() as conn:
        rows = conn.execute(stmt).all()
    outside = 0
    for lat, lon, _seen, _bat, hlat, hlon, zone in rows:
        if None in (lat, lon, hlat, hlon):
            continue
        # Equirectangular is exact enough at a few hundred metres.
        dy = (lat - hlat) * 111_195
        dx = (lon - hlon) * 111_195 * math.cos(math.radians(hlat))
        outside += math.hypot(dx, dy) > (zone or DEFAULT_SAFE_ZONE_M)
    newest = max(r.last_seen_at for r in rows if r.last_seen_at is not None)
    return {
        "detectors": len(rows),
        "outside": outside,
        "low_battery": sum(1 for r in rows if r.battery_pct is not None and r.battery_pct < 20),
        "newest": newest.replace(tzinfo=UTC) if newest.tzinfo is None else newest,
    }


@pytest.mark.parametrize("lang", ["ko", "en"])
def test_wandering_page_counts_match_database(demo_db, lang: str) -> None:
    db = _db_counts(demo_db)
    # The demo ended in 2024, so at the real "now" every position is old: whoever is not
    # outside is grey (no position for 30 min), and nobody is calm or near the edge.
    assert datetime.now(UTC) - db["newest"] > NO_POSITION_AFTER
    at = open_page("wandering", **({"lang": "en"} if lang == "en" else {}))
    tr = lambda key, **kw: translate(key, lang, **kw)  # noqa: E731
    assert metric(at, tr("wandering.detectors")) == format_number(db["detectors"])
    assert metric(at, tr("wandering.outside")) == format_number(db["outside"])
    assert metric(at, tr("wandering.edge")) == "0"
    silent = metric(at, tr("wandering.no_position", m=30))
    assert silent == format_number(db["detectors"] - db["outside"])
    assert metric(at, tr("wandering.low_battery")) == format_number(db["low_battery"])
    assert db["outside"] >= 1  # the demo always has one person outside right now

    # The outside list: one row per person outside, masked, under translated headers.
    outside_table = next(
        d.value for d in at.dataframe if tr("wandering.col_outside_for") in d.value.columns
    )
    assert len(outside_table) == db["outside"]
    assert tr("wandering.col_outside_for") in outside_table.columns
    assert all("*" in name for name in outside_table[tr("col.recipient")])

    # The map is one component whose moving layer names the same masked person.
    # (a lead also gets the responders' placement map, which has no moving layer)
    maps = [json.loads(c.proto.json_args) for c in at.get("component_instance")]
    (args,) = [a for a in maps if a.get("feature_group")]
    assert args["returned_objects"] == []
    masked = outside_table[tr("col.recipient")].iloc[0]
    assert json.dumps(masked)[1:-1] in args["feature_group"] or masked in args["feature_group"]
    assert "/app/static/leaflet/leaflet.js" in args["js_links"]


def test_wandering_page_shows_no_full_names(demo_db) -> None:
    with demo_db.connect() as conn:
        names = conn.execute(
            select(CareRecipient.pii_name)
            .join(Program, Program.id == CareRecipient.program_id)
            .where(Program.code == "goyang_wandering")
        ).scalars()
        names = [n for n in names if n and len(n) >= 3]
    shown = "\n".join(texts(open_page("wandering")))
    leaked = [n for n in names if n in shown]
    assert not leaked


def test_fragment_data_at_the_demo_end(demo_db) -> None:
    """What one tick reads: at the demo's own end the walkers are live, one person is out."""
    from dashboard.ui.wandering import fetch_wandering

    now = DEMO_END
    df = fetch_wandering(now)
    with demo_db.connect() as conn:
        direct = snapshot(conn, now)
    assert df["status"].tolist() == direct["status"].tolist()
    counts = df["status"].value_counts()
    assert counts.get("outside", 0) == _db_counts(demo_db)["outside"]
    assert counts.get("inside", 0) > len(df) // 2  # live positions: mostly calm green
    out = df[df["status"] == "outside"]
    assert out["outside_since"].notna().all()  # the rules opened a left-the-zone alert
    assert (out["outside_since"] <= now).all()
    assert not any(c.startswith("pii_") for c in df.columns)
    # Half an hour later with no new data, everyone not outside has gone grey.
    later = fetch_wandering(now + NO_POSITION_AFTER + timedelta(minutes=10))
    assert set(later.loc[~later["outside"], "status"]) <= {"no_position"}
    assert (later["status"] == "outside").sum() == len(out)


def test_a_wearer_without_a_zone_is_counted_listed_and_linked(demo_db, tmp_path) -> None:
    """A wearer with no home and no polygon sending fresh fixes: the map counted them as 위치
    끊김 and listed them nowhere, while the rules could raise nothing for them. Now a count of
    their own, a list linking to the person panel, and a warning there."""
    from sqlalchemy import update

    # The fresh fix makes the demo city look live: no live loop may start for it.
    with (
        without_live_loop("test_a_wearer_without_a_zone_is_counted_listed_and_linked"),
        private_copy(demo_db, tmp_path) as engine,
    ):
        with engine.begin() as conn:
            device_id, recipient_id, ref = conn.execute(
                select(Device.id, CareRecipient.id, CareRecipient.external_ref)
                .join(Program, Program.id == Device.program_id)
                .join(CareRecipient, CareRecipient.id == Device.recipient_id)
                .where(Program.code == "goyang_wandering", Device.status == "active")
                .order_by(Device.id)
            ).first()
            conn.execute(
                update(CareRecipient)
                .where(CareRecipient.id == recipient_id)
                .values(pii_home_lat=None, pii_home_lon=None, pii_zone_polygon=None)
            )
            seen = datetime.now(UTC) - timedelta(minutes=1)  # a fresh fix
            conn.execute(
                update(DeviceState)
                .where(DeviceState.device_id == device_id)
                .values(last_seen_at=seen, last_event_type="position", last_lat=37.645,
                        last_lon=126.788)
            )  # fmt: skip
        db = _db_counts(engine)  # the zoneless person is not outside (no home to measure)
        at = open_page("wandering")
        tr = lambda key, **kw: translate(key, "ko", **kw)  # noqa: E731
        assert metric(at, tr("wandering.no_zone")) == "1"
        silent = metric(at, tr("wandering.no_position", m=30))
        assert silent == format_number(db["detectors"] - db["outside"] - 1)
        assert tr("wandering.no_zone_list") in [s.value for s in at.subheader]
        assert any(w.value == tr("wandering.no_zone_help") for w in at.warning)
        links = [m.value for m in at.markdown if f"(people?person={ref})" in m.value]
        assert len(links) == 1 and links[0].count("\n- ") == 0  # one person, one line
        # The map draws them in their own colour, named in the legend.
        maps = [json.loads(c.proto.json_args) for c in at.get("component_instance")]
        (args,) = [a for a in maps if a.get("feature_group")]
        assert '"no_zone"' in args["feature_group"]
        label = tr("wandering.status_no_zone")
        assert json.dumps(label)[1:-1] in args["script"] or label in args["script"]  # legend

        # The link's target says the same, to whoever may see the person.
        person = open_page("people", role="operator", person=ref)
        assert tr("geofence.no_zone") in [w.value for w in person.warning]
