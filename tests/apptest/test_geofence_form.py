"""The person panel's geofence form: leads edit a wanderer's radius, polygon and quiet hours
(validated, audited); operators and other programs' people get no form."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from sqlalchemy import Engine, select
from streamlit.testing.v1 import AppTest

from dashboard.db.schema import AuditLog, CareRecipient, Device
from dashboard.i18n import translate
from tests.apptest.conftest import open_page, private_copy, texts


@pytest.fixture(scope="module")
def db(demo_db: Engine, tmp_path_factory) -> Iterator[Engine]:
    with private_copy(demo_db, tmp_path_factory.mktemp("geofence")) as engine:
        yield engine


def _wanderer(engine: Engine) -> tuple[int, str, float, float]:
    """A demo person wearing an active wandering detector: (id, ref, home lat, home lon)."""
    with engine.connect() as conn:
        row = conn.execute(
            select(
                CareRecipient.id,
                CareRecipient.external_ref,
                CareRecipient.pii_home_lat,
                CareRecipient.pii_home_lon,
            )
            .join(Device, Device.recipient_id == CareRecipient.id)
            .where(
                Device.type_code == "wandering_detector",
                Device.status == "active",
                CareRecipient.ended_on.is_(None),
                CareRecipient.pii_home_lat.is_not(None),
            )
            .order_by(CareRecipient.id)
            .limit(1)
        ).one()
    return row.id, row.external_ref, row.pii_home_lat, row.pii_home_lon


def _person(role: str, ref: str) -> AppTest:
    at = open_page(role=role, person=ref)
    at.switch_page("../pages/people.py").run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def _save(at: AppTest, rid: int, lang: str = "ko", **values: str) -> AppTest:
    for name, value in values.items():
        widget = next(
            w for w in (*at.text_area, *at.text_input) if w.key == f"geofence_{rid}_{name}"
        )
        widget.set_value(value)
    # The panel has other save buttons (settings, home): the safe-zone form's, by its key.
    save = at.button(key=f"geofence_{rid}_save")
    assert save.label == translate("geofence.save", lang)
    save.click().run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def test_a_lead_sets_quiet_hours_and_a_polygon_and_it_is_audited(db: Engine) -> None:
    rid, ref, lat, lon = _wanderer(db)
    at = _person("lead", ref)
    assert translate("geofence.title") in [e.label for e in at.expander]
    # A polygon that leaves the home outside is refused, naming the field; nothing is written.
    far = "\n".join(f"{lat + 0.05 + d}, {lon + e}" for d, e in ((0, 0), (0.01, 0), (0.01, 0.01)))
    at = _save(at, rid, polygon=far)
    shown = "\n".join(texts(at))
    assert translate("geofence.field.polygon") in shown and "home is outside" in shown
    # A square around the home and the night as quiet hours: saved.
    square = "\n".join(
        f"{lat + dy}, {lon + dx}"
        for dy, dx in ((-0.003, -0.004), (0.003, -0.004), (0.003, 0.004), (-0.003, 0.004))
    )
    at = _save(at, rid, polygon=square, quiet_start="21:30", quiet_end="07:00")
    assert translate("geofence.saved") in "\n".join(texts(at))
    with db.connect() as conn:
        person = conn.execute(select(CareRecipient).where(CareRecipient.id == rid)).one()
        entries = conn.scalars(
            select(AuditLog.detail).where(
                AuditLog.action == "person_geofence", AuditLog.entity_id == str(rid)
            )
        ).all()
    assert (person.quiet_start_min, person.quiet_end_min) == (21 * 60 + 30, 7 * 60)
    assert len(person.pii_zone_polygon) == 4
    assert [e["polygon_corners"] for e in entries] == [4]


def test_bad_quiet_hours_are_refused_in_english_too(db: Engine) -> None:
    rid, ref, *_ = _wanderer(db)
    at = open_page(role="lead", person=ref, lang="en")
    at.switch_page("../pages/people.py").run()
    at = _save(at, rid, "en", quiet_start="9pm", quiet_end="06:00")
    shown = "\n".join(texts(at))
    assert translate("geofence.field.quiet_start", "en") in shown and "22:00" in shown


def test_operators_get_no_form(db: Engine) -> None:
    _, ref, *_ = _wanderer(db)
    at = _person("operator", ref)
    assert translate("geofence.title") not in [e.label for e in at.expander]
