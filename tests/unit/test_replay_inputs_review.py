"""``replay`` on files as outside evaluators write them (the input review of 2026-12-07): the
spellings that mean the same recording give the same transitions; the ones it cannot read are
refused with what to do; daylight-saving times written without an offset are not misread."""

from __future__ import annotations

import gzip
import json
import random
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from dashboard.cli import main
from tests.replay_support import SEOUL, plug_rows, write_csv

LONDON = ZoneInfo("Europe/London")
PLUG = ("device_id", "ts", "watts")


def _replay(tmp_path, capsys, src, *extra) -> tuple[int, str, str, list | None]:
    out = tmp_path / "out.json"
    out.unlink(missing_ok=True)
    code = main(["replay", "--type", "plug", "--input", str(src), "--json", str(out), *extra])
    said = capsys.readouterr()
    body = json.loads(out.read_text())["transitions"] if out.exists() else None
    return code, said.out, said.err, body


def _two_homes() -> list[tuple[str, str, float]]:
    """Two plugs over three days, both going flat for 40 h: the ladder opens and closes."""
    start = datetime(2024, 3, 1, 9, 0, tzinfo=SEOUL)
    rows = []
    for uid, seed in (("home-1", 1), ("home-2", 2)):
        active = plug_rows(uid, start, start + timedelta(hours=6), start + timedelta(days=2))
        again = plug_rows(
            uid,
            start + timedelta(days=2, hours=0, minutes=30),
            start + timedelta(days=3),
            start + timedelta(days=3),
            seed=seed,
        )
        rows += active + again
    return rows


def _utc_z(ts: str) -> str:
    return datetime.fromisoformat(ts).astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _naive_space(ts: str) -> str:
    return datetime.fromisoformat(ts).strftime("%Y-%m-%d %H:%M:%S")


def _fraction(ts: str) -> str:
    return datetime.fromisoformat(ts).strftime("%Y-%m-%dT%H:%M:%S.000%z")


def test_the_same_recording_spelled_as_evaluators_write_it_gives_the_same_transitions(
    tmp_path, capsys
):
    rows = _two_homes()
    reference = _replay(tmp_path, capsys, write_csv(tmp_path / "ref.csv", PLUG, rows))
    assert reference[0] == 0 and len(reference[3]) >= 4
    text = (tmp_path / "ref.csv").read_text(encoding="utf-8")
    shuffled = rows[:]
    random.Random(5).shuffle(shuffled)
    variants = {
        # Excel's "CSV UTF-8": a BOM and CRLF line ends
        "excel.csv": ("\ufeff" + text.replace("\n", "\r\n")).encode(),
        # columns in another order, headers in capitals and with spaces
        "order.csv": (
            "WATTS , Device_ID, ts\n" + "".join(f"{w},{d},{t}\n" for d, t, w in rows)
        ).encode(),
        **{
            name: (
                "device_id,ts,watts\n" + "".join(f"{d},{spell(t)},{w}\n" for d, t, w in rows)
            ).encode()
            for name, spell in (
                ("utc.csv", _utc_z),
                ("space.csv", _naive_space),
                ("fraction.csv", _fraction),
            )
        },
        "unsorted.csv": (
            "device_id,ts,watts\n" + "".join(f"{d},{t},{w}\n" for d, t, w in shuffled)
        ).encode(),
        "packed.csv.gz": gzip.compress(text.encode()),
    }
    for name, data in variants.items():
        (tmp_path / name).write_bytes(data)
        code, said, err, body = _replay(tmp_path, capsys, tmp_path / name)
        assert code == 0, (name, err)
        assert body == reference[3], name
        assert said.split(" in ")[0] == reference[1].split(" in ")[0], name  # readings, span


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        ("device_id;ts;watts\np;2024-03-01T09:00;3\n", "separated by ';', not commas"),
        ("device_id\tts\twatts\np\t2024-03-01T09:00\t3\n", "separated by '\\t', not commas"),
        ("device_id,ts,watts\np,1709251200,3\n", "Unix epoch times are not read"),
    ],
)
def test_a_file_replay_cannot_read_says_what_to_do(tmp_path, capsys, content, expected):
    src = tmp_path / "plug.csv"
    src.write_text(content, encoding="utf-8")
    code, _, err, body = _replay(tmp_path, capsys, src)
    assert code == 2 and body is None
    assert str(src) in err and expected in err and "Traceback" not in err
    assert len(err.strip().splitlines()) == 2  # one problem, not one per missing column


def test_a_damaged_gzip_file_is_an_input_error(tmp_path, capsys):
    src = tmp_path / "plug.csv.gz"
    src.write_bytes(gzip.compress(b"device_id,ts,watts\n" + b"p,2024-03-01T09:00,3\n" * 500)[:60])
    code, _, err, body = _replay(tmp_path, capsys, src)
    assert code == 2 and body is None
    assert f"{src}: not a readable gzip file" in err


def test_lat_and_lon_swapped_are_named(tmp_path, capsys):
    src = write_csv(
        tmp_path / "walk.csv",
        ("device_id", "ts", "lat", "lon"),
        [("w", "2024-05-10T09:00", 126.77, 37.65)],
    )
    homes = write_csv(
        tmp_path / "homes.csv", ("device_id", "lat", "lon", "radius_m"), [("w", 37.65, 126.77, 300)]
    )
    out = tmp_path / "out.json"
    argv = ["replay", "--type", "wandering", "--input", str(src), "--homes", str(homes)]
    assert main([*argv, "--json", str(out)]) == 2
    err = capsys.readouterr().err
    assert "walk.csv row 2, column lat" in err and "are lat and lon swapped?" in err


def test_kwh_read_as_watts_is_warned_not_refused(tmp_path, capsys):
    rows = [(d, t, round(w / 2000, 3)) for d, t, w in _two_homes()]
    code, said, err, body = _replay(tmp_path, capsys, write_csv(tmp_path / "kwh.csv", PLUG, rows))
    assert code == 0 and body is not None and said.startswith("replayed")
    assert "warning:" in err and "every watts value of 2 device(s) is below 5 W" in err
    assert "kWh per half hour × 2,000" in err
    code, _, err, _ = _replay(tmp_path, capsys, write_csv(tmp_path / "w.csv", PLUG, _two_homes()))
    assert code == 0 and "warning" not in err


def _around_the_change(day: datetime) -> list[tuple[datetime, float]]:
    """Half-hourly readings (UTC) over four days around a clock change: a flat spell from the
    second day to the fourth, so alerts open and close across it."""
    rows, ts = [], day
    while ts < day + timedelta(days=4):
        quiet = day + timedelta(days=1, hours=1) <= ts < day + timedelta(days=3)
        rows.append((ts, 40.0 if quiet else (300.0 if ts.minute else 40.0)))
        ts += timedelta(minutes=30)
    return rows


def test_a_local_clock_file_repeating_the_autumn_hour_is_read_as_the_same_file_in_utc(
    tmp_path, capsys
):
    """A recorder on London's wall clock writes 01:00 and 01:30 twice on 27 October; read in
    --tz Europe/London both used to take the first occurrence's offset, so the second hour's
    readings were replayed at the same moments as the first's, interleaved. In file order the
    second is now the second occurrence, dropped as the same readings stamped in UTC are."""
    readings = _around_the_change(datetime(2024, 10, 25, 0, 0, tzinfo=UTC))
    utc = [("p", ts.strftime("%Y-%m-%dT%H:%M:%SZ"), w) for ts, w in readings]
    wall = [("p", ts.astimezone(LONDON).strftime("%Y-%m-%dT%H:%M:%S"), w) for ts, w in readings]
    assert len({t for _, t, _ in wall}) == len(wall) - 2  # 01:00 and 01:30 twice
    a = _replay(
        tmp_path, capsys, write_csv(tmp_path / "utc.csv", PLUG, utc), "--tz", "Europe/London"
    )
    b = _replay(
        tmp_path, capsys, write_csv(tmp_path / "wall.csv", PLUG, wall), "--tz", "Europe/London"
    )
    assert a[0] == b[0] == 0 and a[3] and a[3] == b[3]
    dropped = "; 2 reading(s) of the repeated hour at a clock change dropped"
    assert a[1].rstrip().endswith(dropped) and b[1].rstrip().endswith(dropped)
    assert f"replayed {len(readings) - 2:,} readings" in b[1]


def test_a_naive_time_the_spring_change_skips_is_read_and_warned(tmp_path, capsys):
    """Times in UTC all year written without an offset, read in --tz Europe/London: 01:00 and
    01:30 on 31 March do not exist there (the London smart-meter data holds them). Refused, a
    whole year's file could not be replayed at all; they are read as standard time and the
    warning names the first row and the fix."""
    readings = _around_the_change(datetime(2024, 3, 29, 0, 0, tzinfo=UTC))
    naive = [("p", ts.strftime("%Y-%m-%dT%H:%M:%S"), w) for ts, w in readings]
    src = write_csv(tmp_path / "naive.csv", PLUG, naive)
    code, out, err, body = _replay(tmp_path, capsys, src, "--tz", "Europe/London")
    assert code == 0 and body is not None
    row = 2 + [t for _, t, _ in naive].index("2024-03-31T01:00:00")
    assert "warning: " in err and "2 naive time(s) do not exist in Europe/London" in err
    assert f"first: row {row}, 2024-03-31 01:00" in err
    assert "2024-03-31T01:00:00Z or +00:00" in err
    assert f"replayed {len(readings):,} readings" in out
    with_z = [(d, t + "Z", w) for d, t, w in naive]  # the fix the message gives: no warning
    src = write_csv(tmp_path / "z.csv", PLUG, with_z)
    code, _, err, _ = _replay(tmp_path, capsys, src, "--tz", "Europe/London")
    assert code == 0 and "warning" not in err
    # In Seoul (no daylight saving) the same naive file is fine
    assert _replay(tmp_path, capsys, tmp_path / "naive.csv")[0] == 0
