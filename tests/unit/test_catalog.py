"""The catalog CSVs and their loader."""

from __future__ import annotations

import csv
import json
import re
import shutil
from pathlib import Path

import pytest
from sqlalchemy import func, select, update

from dashboard.catalog import (
    DATA_DIR,
    CatalogError,
    load_catalog,
    pairing_refusal,
    program_device_types,
    read_program_device_types,
    read_regions,
)
from dashboard.db.schema import DeviceType, Program, Region

GEO = Path("/work/shared/realdata/geo")


def test_regions_cover_the_required_areas() -> None:
    regions = read_regions()
    by_code = {r.code: r for r in regions}
    assert all(len(r.code) == 10 and r.code.isdigit() for r in regions)

    def children(code: str) -> list:
        return [r for r in regions if r.parent_code == code]

    assert len(children("1100000000")) == 25
    seoul_dongs = [r for d in children("1100000000") for r in children(d.code)]
    assert len(seoul_dongs) == 425
    ilsan = {r.code: r.name_ko for r in children("4128500000")}
    assert len(ilsan) == 11
    assert ilsan["4128555100"] == "백석1동" and ilsan["4128555200"] == "백석2동"
    assert by_code["4128555100"].name_en == "Baekseok 1-dong"
    assert by_code["4128500000"].parent_code == "4128000000"
    assert by_code["4128000000"].parent_code == "4100000000"
    assert len(children("3023000000")) == 12
    assert by_code["3023000000"].parent_code == "3000000000"
    for r in regions:
        assert r.lat is not None and r.lon is not None
        assert round(r.lat, 4) == r.lat and round(r.lon, 4) == r.lon


def test_load_catalog_is_idempotent_and_never_rewrites(db_engine) -> None:
    with db_engine.begin() as conn:
        added = load_catalog(conn)
    assert added["regions"] == len(read_regions())
    assert added["programs"] == 12 and added["device_types"] == 7
    with db_engine.begin() as conn:
        conn.execute(update(Region).where(Region.code == "4128555100").values(name_en="edited"))
        conn.execute(
            update(DeviceType).where(DeviceType.code == "smart_plug").values(heartbeat_timeout_s=99)
        )
        again = load_catalog(conn)
    assert again == {"regions": 0, "programs": 0, "device_types": 0}
    with db_engine.connect() as conn:
        assert conn.scalar(select(Region.name_en).where(Region.code == "4128555100")) == "edited"
        assert (
            conn.scalar(
                select(DeviceType.heartbeat_timeout_s).where(DeviceType.code == "smart_plug")
            )
            == 99
        )
        assert conn.scalar(select(func.count()).select_from(Program)) == 12
        dong = conn.scalar(select(Region.parent_id).where(Region.code == "3023051000"))
        assert conn.scalar(select(Region.code).where(Region.id == dong)) == "3023000000"


def _copy_data(tmp_path: Path) -> Path:
    for name in ("regions.csv", "programs.csv", "device_types.csv"):
        shutil.copy(DATA_DIR / name, tmp_path / name)
    return tmp_path


def _edit(path: Path, line: int, column: str, value: str) -> None:
    with path.open(encoding="utf-8", newline="") as fh:
        rows = list(csv.DictReader(fh))
    fields = list(rows[0])
    rows[line - 2][column] = value
    with path.open("w", encoding="utf-8", newline="") as fh:
        w = csv.DictWriter(fh, fieldnames=fields, lineterminator="\n")
        w.writeheader()
        w.writerows(rows)


@pytest.mark.parametrize(
    ("file", "line", "column", "value", "message"),
    [
        ("regions.csv", 7, "code", "123", "10-digit"),
        ("regions.csv", 40, "parent_code", "9999999999", "not defined above"),
        ("regions.csv", 5, "lat", "north", "could not convert"),
        ("programs.csv", 3, "kind", "gadget", "must be one of"),
        ("programs.csv", 4, "region_code", "1234567890", "unknown region"),
        ("device_types.csv", 2, "heartbeat_timeout_s", "-5", "positive"),
    ],
)
def test_bad_csv_names_file_line_and_column(
    tmp_path, sqlite_url, file, line, column, value, message
) -> None:
    from dashboard.db.engine import make_engine
    from dashboard.db.schema import metadata

    data = _copy_data(tmp_path)
    _edit(data / file, line, column, value)
    engine = make_engine(sqlite_url)
    metadata.create_all(engine)
    with pytest.raises(CatalogError) as err, engine.begin() as conn:
        load_catalog(conn, data)
    text = str(err.value)
    assert f"{file}, line {line}, column {column!r}" in text and message in text
    with engine.connect() as conn:  # validation happens before any write
        assert conn.scalar(select(func.count()).select_from(Region)) == 0
    engine.dispose()


def test_dong_codes_exist_in_real_boundaries() -> None:
    if not GEO.is_dir():
        pytest.skip(f"{GEO} not present (real boundary files live outside the repository)")
    real: dict[str, str] = {}
    for path in GEO.glob("*.geojson"):
        for f in json.loads(path.read_text(encoding="utf-8"))["features"]:
            real[f["properties"]["adm_cd2"]] = f["properties"]["adm_nm"].split()[-1]
    regions = read_regions()
    checked = 0
    for r in regions:
        if r.level == "dong" and r.parent_code in ("4128500000", "3023000000"):
            assert r.code in real, r.code
            assert real[r.code] == r.name_ko
            checked += 1
    assert checked == 23


def test_each_device_program_names_the_device_types_it_uses() -> None:
    pairing = read_program_device_types()
    assert pairing == {
        "seoul_smart_plug": ("smart_plug",),
        "daedeok_call_monitor": ("phone_line",),
        "goyang_ai_call": ("ai_call_line",),
        "goyang_care_robot": ("care_robot",),
        "goyang_wandering": ("wandering_detector",),
        "goyang_smoking": ("smoking_detector",),
        "goyang_health_park": ("park_machine",),
    }
    assert program_device_types("goyang_smoking") == ("smoking_detector",)
    assert program_device_types("goyang_walkon") is None  # participation: not a device program
    assert program_device_types("busan_plug") is None  # not in the catalog file: no pairing
    assert pairing_refusal("goyang_smoking", "smoking_detector") is None
    assert pairing_refusal("busan_plug", "smart_plug") is None
    assert pairing_refusal("seoul_smart_plug", "wandering_detector") == (
        "program 'seoul_smart_plug' does not use 'wandering_detector' devices (it uses: smart_plug)"
    )


def test_a_program_may_use_several_device_types(tmp_path) -> None:
    data = _copy_data(tmp_path)
    _edit(data / "programs.csv", 6, "device_types", "wandering_detector; smart_plug")
    assert read_program_device_types(data)["goyang_wandering"] == (
        "wandering_detector",
        "smart_plug",
    )


@pytest.mark.parametrize(
    ("line", "value", "message"),
    [
        (2, "", "a device program names its device types"),
        (2, "toaster", "unknown device type 'toaster' (not in device_types.csv)"),
        (2, "smart_plug;smart_plug", "a device type is named twice"),
        (9, "smart_plug", "a participation program has no devices"),
    ],
)
def test_a_bad_pairing_names_file_line_and_column(tmp_path, sqlite_url, line, value, message):
    from dashboard.db.engine import make_engine
    from dashboard.db.schema import metadata

    data = _copy_data(tmp_path)
    _edit(data / "programs.csv", line, "device_types", value)
    engine = make_engine(sqlite_url)
    metadata.create_all(engine)
    with pytest.raises(CatalogError) as err, engine.begin() as conn:
        load_catalog(conn, data)
    text = str(err.value)
    assert f"programs.csv, line {line}, column 'device_types'" in text and message in text
    with engine.connect() as conn:
        assert conn.scalar(select(func.count()).select_from(Region)) == 0
    engine.dispose()


def test_the_roster_doc_states_the_shipped_pairing() -> None:
    """docs/roster.md lists which device types each program uses: it must be the catalog's."""
    doc = (DATA_DIR.parent / "docs" / "roster.md").read_text(encoding="utf-8")
    table = re.findall(r"^\| `([a-z_]+)` \| ((?:`[a-z_]+`(?:, )?)+) \|$", doc, flags=re.M)
    stated = {program: tuple(re.findall(r"`([a-z_]+)`", types)) for program, types in table}
    assert stated == read_program_device_types()
