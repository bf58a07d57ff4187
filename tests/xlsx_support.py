"""Workbooks of any size, fast: written with zipfile, the sheet XML streamed in blocks.

Not openpyxl row by row, so a 400,000-row sheet or one that unpacks to 1 GB takes the tests
about a second to make and little memory.
"""

from __future__ import annotations

import io
import zipfile
from collections.abc import Iterable
from pathlib import Path

MB = 1024 * 1024
MAIN = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"
PARTS = {
    "[Content_Types].xml": (
        '<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
        '<Default Extension="rels" ContentType="application/vnd.openxmlformats-package.'
        'relationships+xml"/><Default Extension="xml" ContentType="application/xml"/>'
        '<Override PartName="/xl/workbook.xml" ContentType="application/vnd.openxmlformats-'
        'officedocument.spreadsheetml.sheet.main+xml"/><Override PartName="/xl/worksheets/'
        'sheet1.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.'
        'worksheet+xml"/></Types>'
    ),
    "_rels/.rels": (
        '<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
        '<Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/'
        'relationships/officeDocument" Target="xl/workbook.xml"/></Relationships>'
    ),
    "xl/workbook.xml": (
        f'<workbook xmlns="{MAIN}" xmlns:r="http://schemas.openxmlformats.org/officeDocument/'
        '2006/relationships"><sheets><sheet name="Sheet1" sheetId="1" r:id="rId1"/></sheets>'
        "</workbook>"
    ),
    "xl/_rels/workbook.xml.rels": (
        '<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
        '<Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/'
        'relationships/worksheet" Target="worksheets/sheet1.xml"/></Relationships>'
    ),
}
HEADER = ["event_id", "device_id", "ts", "type", "watts"]


def _row(number: int, values: list[object]) -> str:
    cells = []
    for column, value in zip("ABCDEFGHIJ", values, strict=False):
        ref = f"{column}{number}"
        if isinstance(value, str):
            cells.append(f'<c r="{ref}" t="inlineStr"><is><t>{value}</t></is></c>')
        else:
            cells.append(f'<c r="{ref}"><v>{value}</v></c>')
    return f'<row r="{number}">{"".join(cells)}</row>'


def write_workbook(target: Path | io.BytesIO, blocks: Iterable[str | bytes]) -> None:
    """An .xlsx whose one sheet's XML is ``blocks``, streamed into the archive (never whole)."""
    with zipfile.ZipFile(target, "w", zipfile.ZIP_DEFLATED, compresslevel=1) as archive:
        for name, text in PARTS.items():
            archive.writestr(name, text)
        with archive.open("xl/worksheets/sheet1.xml", "w") as sheet:
            sheet.write(f'<worksheet xmlns="{MAIN}"><sheetData>'.encode())
            for block in blocks:
                sheet.write(block.encode() if isinstance(block, str) else block)
            sheet.write(b"</sheetData></worksheet>")


def sheet_rows(n: int, start: int = 2) -> Iterable[str]:
    """The header, then ``n`` power rows, in blocks of 5,000 rows."""
    yield _row(1, HEADER)
    block = []
    for number in range(start, start + n):
        block.append(
            _row(number, [f"e{number}", "plug-1", "2024-12-01T08:00:00+09:00", "power", 1])
        )
        if len(block) == 5000:
            yield "".join(block)
            block = []
    yield "".join(block)


def expanding_sheet(megabytes: int) -> Iterable[bytes]:
    """One cell of ``megabytes`` MB of the same letter: compresses ~250:1."""
    yield b'<row r="1"><c r="A1" t="inlineStr"><is><t>'
    block = b"A" * MB
    for _ in range(megabytes):
        yield block
    yield b"</t></is></c></row>"
