"""The person panel's geofence form: leads edit a wanderer's radius, polygon and quiet hours
(validated, audited); operators and other programs' people get no form."""

from __future__ import annotations

import json
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
    assert translate("geofence.field.polygon") in shown
    assert translate("enrollment_error.home_outside") in shown
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
    # In the page's language, quoting what was typed (escaped: the text is Markdown).
    assert translate("geofence.field.quiet_start", "en") in shown
    assert translate("enrollment_error.clock_format", "en", value="9pm") in shown


def test_operators_get_no_form(db: Engine) -> None:
    _, ref, *_ = _wanderer(db)
    at = _person("operator", ref)
    assert translate("geofence.title") not in [e.label for e in at.expander]


def _drawn_square(lat: float, lon: float, d: float) -> dict:
    """A polygon as Leaflet.draw reports it through streamlit-folium: a GeoJSON Feature with
    [lon, lat] corners and the ring closed."""
    ring = [[lon - d, lat - d], [lon + d, lat - d], [lon + d, lat + d], [lon - d, lat + d]]
    return {
        "type": "Feature",
        "properties": {},
        "geometry": {"type": "Polygon", "coordinates": [[*ring, ring[0]]]},
    }


def test_a_polygon_drawn_on_the_map_fills_the_field_and_saves_validated(db: Engine) -> None:
    """AppTest cannot click a map: the drawing arrives as the map component's value would."""
    rid, ref, lat, lon = _wanderer(db)
    at = _person("lead", ref)
    map_key = f"geofence_{rid}_draw_map"
    at.session_state[map_key] = {"last_active_drawing": _drawn_square(lat, lon, 0.002)}
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    field = at.text_area(key=f"geofence_{rid}_polygon")
    corners = [tuple(map(float, line.split(","))) for line in field.value.splitlines()]
    want = (round(lat - 0.002, 6), round(lon - 0.002, 6))
    assert len(corners) == 4 and want in [(round(a, 6), round(b, 6)) for a, b in corners]
    assert translate("geofence.drawn").split("(")[0] in "\n".join(texts(at))
    # The polygon tool comes from the app's own static folder: no CDN on a closed network.
    maps = [json.loads(c.proto.json_args) for c in at.get("component_instance")]
    (draw,) = [m for m in maps if any("leaflet.draw" in u for u in m.get("js_links", []))]
    assert "/app/static/leaflet-draw/leaflet.draw.js" in draw["js_links"]
    assert not [u for u in draw["js_links"] + draw["css_links"] if u.startswith("http")]
    assert draw["returned_objects"] == ["last_active_drawing"]
    at = _save(at, rid)
    assert translate("geofence.saved") in "\n".join(texts(at))
    with db.connect() as conn:
        stored = conn.scalar(select(CareRecipient.pii_zone_polygon).where(CareRecipient.id == rid))
        last = conn.scalars(
            select(AuditLog.detail)
            .where(AuditLog.action == "person_geofence", AuditLog.entity_id == str(rid))
            .order_by(AuditLog.id.desc())
        ).first()
    assert len(stored) == 4
    assert last["polygon_corners"] == 4  # audited as a pasted polygon is


def test_a_drawn_polygon_that_leaves_the_home_outside_is_refused_at_once(db: Engine) -> None:
    rid, ref, lat, lon = _wanderer(db)
    at = _person("lead", ref)
    at.session_state[f"geofence_{rid}_draw_map"] = {
        "last_active_drawing": _drawn_square(lat + 0.05, lon, 0.002)
    }
    at.run()
    assert translate("enrollment_error.home_outside") in "\n".join(texts(at))


def test_a_refusal_quotes_what_was_typed_without_rendering_it(db: Engine) -> None:
    """Typed text once came back in the refusal as Markdown: bold text and a live link."""
    rid, ref, _lat, _lon = _wanderer(db)
    at = _save(_person("lead", ref), rid, polygon="**굵게** [링크](http://example.com/x)")
    errors = [e.value for e in at.error]
    assert errors, "the polygon was not refused"
    assert not [e for e in errors if "](http://example.com/x)" in e or "**굵게**" in e]
    assert any(r"\*\*굵게\*\*" in e for e in errors), errors


@pytest.mark.parametrize("radius", [10, 20_000])
def test_a_stored_radius_outside_the_forms_range_still_opens_the_panel(
    db: Engine, radius: int
) -> None:
    """A roster once accepted 안심반경 1–50,000 m while this form's widget took 50–5,000: the
    person panel of a wanderer imported with 20,000 (or 10) crashed with Streamlit's
    StreamlitValueAboveMaxError. The stored value is shown as it is; saving an out-of-range
    radius is refused by the domain with the range, as any other refusal."""
    from sqlalchemy import update

    rid, ref, _lat, _lon = _wanderer(db)
    with db.begin() as conn:
        before = conn.scalar(select(CareRecipient.safe_zone_m).where(CareRecipient.id == rid))
        conn.execute(
            update(CareRecipient).where(CareRecipient.id == rid).values(safe_zone_m=radius)
        )
    try:
        at = _person("lead", ref)
        widget = next(w for w in at.number_input if w.key == f"geofence_{rid}_radius")
        assert widget.value == radius
        at = _save(at, rid)
        refusal = translate("enrollment_error.out_of_range", low=50, high=5000, value=radius)
        assert refusal in "\n".join(texts(at))
    finally:
        with db.begin() as conn:
            conn.execute(
                update(CareRecipient).where(CareRecipient.id == rid).values(safe_zone_m=before)
            )
