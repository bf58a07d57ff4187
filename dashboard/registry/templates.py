"""Template files for the roster import: the Korean headers and one obviously fictional row."""

from __future__ import annotations

from dashboard.registry.roster import DEVICES, PEOPLE, RosterKind

# 홍길동 is Korea's "John Doe"; 010-0000-0000 is no one's number; 1111053000 is 사직동 (Seoul).
EXAMPLES: dict[str, dict[str, object]] = {
    "people": {
        "external_ref": "P-0001",
        "name": "홍길동",
        "birth_year": 1945,
        "sex": "M",
        "phone": "010-0000-0000",
        "address": "서울특별시 종로구 예시로 1",
        "dong_code": "1111053000",
        "home_lat": 37.5759,
        "home_lon": 126.9688,
        "guardian_name": "홍길순",
        "guardian_phone": "010-0000-0001",
        "program": "seoul_smart_plug",
        "enrolled_on": "2025-01-02",
        "no_change_hours": 36,
        "safe_zone_m": "",
    },
    "devices": {
        "device_id": "PLUG-0001",
        "vendor": "example-vendor",
        "type": "smart_plug",
        "program": "seoul_smart_plug",
        "external_ref": "P-0001",
        "dong_code": "1111053000",
        "installed_on": "2025-01-02",
    },
}


def template_csv(kind: RosterKind) -> bytes:
    """The template for ``kind`` (PEOPLE or DEVICES) as CSV bytes (UTF-8 with BOM, for Excel)."""
    import pandas as pd  # here, not above: pandas costs 0.3 s to every importer of the package

    from dashboard.exports import to_csv_bytes

    example = EXAMPLES[kind.name]
    frame = pd.DataFrame(
        [[example[c.key] for c in kind.columns]], columns=[c.ko for c in kind.columns]
    )
    return to_csv_bytes(frame)


def people_template() -> bytes:
    return template_csv(PEOPLE)


def devices_template() -> bytes:
    return template_csv(DEVICES)
