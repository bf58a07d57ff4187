"""Imports do bounded work: oversized sheets, zip bombs, long reads and broken CSV are refused
quickly with a message that says what is wrong, from the CLI and the code the page uses alike."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
import zipfile
from datetime import UTC, datetime
from pathlib import Path

import pytest
from openpyxl import Workbook

from dashboard.db.engine import make_engine
from dashboard.db.schema import metadata
from dashboard.ingest import files
from dashboard.ingest.files import import_file, read_head
from dashboard.settings import PROJECT_ROOT
from tests.ingest_support import VENDOR, seed_catalog
from tests.xlsx_support import HEADER, MAIN, expanding_sheet, sheet_rows, write_workbook

NOW = datetime(2024, 12, 1, 3, 0, tzinfo=UTC)


def refusal(data: bytes, filename: str) -> str:
    report = import_file(None, data, filename, VENDOR, NOW)  # refused before the database
    assert not report.ok and report.rows == 0
    (error,) = report.errors
    return str(error)


def measured_cli(tmp_path: Path, path: Path) -> dict:
    """Run ``python -m dashboard import-events`` in a fresh process; its CPU time (not wall
    time: a loaded machine stretches that, not the work done) and peak memory."""
    url = f"sqlite:///{tmp_path / 'limits.sqlite3'}"
    engine = make_engine(url)
    metadata.create_all(engine)
    with engine.begin() as conn:
        seed_catalog(conn)
    engine.dispose()
    script = (
        "import json, sys, time\n"
        "from dashboard import cli\n"
        "start = time.process_time()\n"
        "code = cli.main(['import-events', sys.argv[1], '--vendor', sys.argv[2]])\n"
        "seconds = time.process_time() - start\n"
        "from dashboard.bench.memory import own_peak_mb\n"
        "mb = own_peak_mb()\n"
        "print(json.dumps({'code': code, 'seconds': seconds, 'mb': mb}))\n"
    )
    env = os.environ | {"ANBU_DATABASE_URL": url, "PYTHONPATH": str(PROJECT_ROOT)}
    done = subprocess.run(
        [sys.executable, "-c", script, str(path), VENDOR],
        capture_output=True, text=True, env=env, timeout=300, check=False,
    )  # fmt: skip
    *output, figures = done.stdout.strip().splitlines()
    result = json.loads(figures) | {"output": "\n".join(output)}
    print(f"{path.name}: refused in {result['seconds']:.2f} s of CPU, peak {result['mb']:.0f} MB")
    return result


def test_a_400k_row_workbook_is_refused_by_the_cli_quickly(tmp_path: Path) -> None:
    path = tmp_path / "rows-400k.xlsx"
    write_workbook(path, sheet_rows(400_000))
    result = measured_cli(tmp_path, path)
    assert result["code"] == 1
    assert "more than 100,000 rows with values; at most 100,000 per file" in result["output"]
    # Generous bounds (measured: ~0.5 s of reading, ~100 MB with the interpreter and imports):
    # the unbounded reader needed minutes and over 500 MB for this file.
    assert result["seconds"] < 30 and result["mb"] < 300


def test_a_workbook_expanding_to_1_gb_is_refused_by_the_cli_before_parsing(tmp_path) -> None:
    path = tmp_path / "bomb.xlsx"
    write_workbook(path, expanding_sheet(1024))
    assert path.stat().st_size < 6 * files.MB  # ~4.5 MB on disk
    result = measured_cli(tmp_path, path)
    assert result["code"] == 1
    assert "the workbook expands to 1,024 MB when unpacked; at most 200 MB" in result["output"]
    assert result["seconds"] < 30 and result["mb"] < 300


def test_a_part_compressed_out_of_proportion_is_refused() -> None:
    buffer = io.BytesIO()
    write_workbook(buffer, expanding_sheet(20))  # under the size bound, but ~250:1
    message = refusal(buffer.getvalue(), "dense.xlsx")
    assert message.startswith("file: the workbook part xl/worksheets/sheet1.xml is compressed")
    assert "(at most 100:1); not a vendor export" in message


def test_too_many_archive_parts_are_refused() -> None:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for i in range(files.MAX_XLSX_MEMBERS + 1):
            archive.writestr(f"xl/media/{i}.bin", b"")
    assert refusal(buffer.getvalue(), "many.xlsx") == (
        "file: not a plain .xlsx workbook: 1,001 parts (at most 1,000)"
    )


@pytest.mark.parametrize("suffix", [".csv", ".xlsx"])
def test_the_row_limit_counts_rows_with_values(monkeypatch, suffix: str) -> None:
    """Exactly the limit is read; one more is refused; blank rows never count."""
    monkeypatch.setattr(files, "MAX_ROWS", 5)
    rows = [[f"e{i}", "plug-1", "2024-12-01T08:00:00+09:00", "power", 1] for i in range(6)]
    blank = [None] * 5 if suffix == ".xlsx" else [""] * 5

    def encode(table: list[list]) -> bytes:
        if suffix == ".csv":
            lines = [",".join("" if c is None else str(c) for c in r) for r in table]
            return "\n".join(lines).encode()
        book = Workbook()
        for r in table:
            book.active.append(r)
        out = io.BytesIO()
        book.save(out)
        return out.getvalue()

    header, kept = read_head(encode([HEADER, *rows[:5], blank, blank]), "f" + suffix, 100)
    assert header == HEADER and [r[0] for r in kept] == [f"e{i}" for i in range(5)]
    with pytest.raises(ValueError, match="more than 5 rows with values; at most 5 per file"):
        read_head(encode([HEADER, *rows[:3], blank, *rows[3:]]), "f" + suffix, 100)


def test_the_row_count_is_exact_across_chunk_boundaries(monkeypatch) -> None:
    """Prefixed tags, self-closing rows and rows of styled empty cells, cut at every offset."""
    xml = (
        f'<x:worksheet xmlns:x="{MAIN}"><x:sheetData>'
        '<x:row r="1"><x:c r="A1" t="inlineStr"><x:is><x:t>id</x:t></x:is></x:c></x:row>'
        '<x:row r="2" spans="1:3"/>'
        '<x:row r="3"><x:c r="A3" s="1"/><x:c r="B3" s="1"/></x:row>'
        '<x:row r="4"><x:c r="A4"><x:v>4</x:v></x:c></x:row>'
        '<x:row r="5"><x:c r="A5" s="2"/></x:row><x:rowBreaks count="0"/>'
        '<x:row r="6"><x:c r="A6" s="2"/><x:c r="B6"><x:v>1</x:v></x:c></x:row>'
        "</x:sheetData></x:worksheet>"
    ).encode()
    for size in (7, 13, 64, 100, len(xml)):
        monkeypatch.setattr(files, "_CHUNK", size)
        assert files._rows_with_values(io.BytesIO(xml), 100, float("inf")) == 3, size


def test_reading_past_the_time_budget_is_refused(monkeypatch) -> None:
    monkeypatch.setattr(files, "READ_BUDGET_S", 0.0)
    buffer = io.BytesIO()
    write_workbook(buffer, sheet_rows(10))
    assert refusal(buffer.getvalue(), "slow.xlsx") == (
        "file: reading the file took longer than 0 s; split it into smaller files"
    )


def test_a_file_over_the_size_limit_is_refused(monkeypatch) -> None:
    monkeypatch.setattr(files, "MAX_FILE_BYTES", 100)
    assert (
        refusal(b"x" * 101, "big.csv") == "file: the file is larger than 0 MB, the limit per file"
    )


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        (
            b"event_id,device_id,ts,type\n\xff\xfe\xfa,plug-1,x,sos\n",
            "file: the CSV file is neither UTF-8 nor CP949 text (line 2 is not UTF-8);"
            " save it as CSV UTF-8",
        ),
        (
            b"event_id,device_id,ts,type\na,b,c," + b"x" * 200_000 + b"\n",
            "file: line 2 is not valid CSV (field larger than field limit (131072))",
        ),
    ],
)
def test_broken_csv_is_refused_with_the_line(data: bytes, expected: str) -> None:
    assert refusal(data, "broken.csv").startswith(expected)


def test_the_page_preview_uses_the_same_bounded_reader() -> None:
    buffer = io.BytesIO()
    write_workbook(buffer, expanding_sheet(300))
    with pytest.raises(ValueError, match="expands to 300 MB"):
        read_head(buffer.getvalue(), "bomb.xlsx", 10)
