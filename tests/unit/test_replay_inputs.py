"""``replay``'s bad input: a clear error naming file, row and column, exit 2, nothing written."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest

from dashboard.cli import main
from tests.replay_support import HOME, write_csv

PLUG = ("device_id", "ts", "watts")
WALK = ("device_id", "ts", "lat", "lon")
OK_ROW = ("p", "2024-03-01T09:00:00+09:00", 3.0)


def _run(tmp_path, capsys, argv, previous: str | None = None):
    out = tmp_path / "out.json"
    if previous is not None:
        out.write_text(previous, encoding="utf-8")
    code = main(["replay", *argv, "--json", str(out)])
    err = capsys.readouterr().err
    return code, err, out


@pytest.mark.parametrize(
    ("header", "rows", "where", "message"),
    [
        (("device_id", "ts"), [("p", "2024-03-01T09:00")], "row 1, column watts", "missing column"),
        ((*PLUG, "luxx"), [(*OK_ROW, 1)], "row 1, column luxx", "unknown column"),
        (PLUG, [OK_ROW, ("p", "yesterday", 3)], "row 3, column ts", "not an ISO-8601 time"),
        (PLUG, [OK_ROW, ("p", "2024-03-01", 3)], "row 3, column ts", "a date without a time"),
        (PLUG, [OK_ROW, ("p", "2024-03-01T10:00", "3,5")], "row 3, column watts", "number"),
        (PLUG, [OK_ROW, ("p", "2024-03-01T10:00", "NaNx")], "row 3, column watts", "number"),
        # a row without a reading is skipped, but its time must still be one
        (PLUG, [OK_ROW, ("p", "yesterday", "")], "row 3, column ts", "not an ISO-8601 time"),
        (PLUG, [OK_ROW, ("", "2024-03-01T10:00", "NA")], "row 3, column device_id", ""),
        (
            PLUG,
            [("p", "2024-03-01T10:00", ""), ("p", "2024-03-01T10:30", "Null")],
            "plug.csv: no readings below the header (2 row(s) with every value missing)",
            "",
        ),
        (PLUG, [OK_ROW, ("p", "2024-03-01T10:00", -1)], "row 3, column watts", "greater than"),
        (PLUG, [OK_ROW, ("", "2024-03-01T10:00", 1)], "row 3, column device_id", ""),
        (PLUG, [OK_ROW, ("p", "1970-01-01T10:00", 1)], "row 3, column ts", "before 2000"),
        ((*PLUG, "lux"), [(*OK_ROW, "dark")], "row 2, column lux", "number"),
        (PLUG, [OK_ROW, ("p",)], "row 3, column ts", "not an ISO-8601 time"),  # a short row
        (PLUG, [OK_ROW, (*OK_ROW, "extra")], "row 3", "a value in a column without a header"),
        (PLUG, [], "plug.csv: no readings", ""),
    ],
)
def test_plug_input_errors(tmp_path, capsys, header, rows, where, message):
    src = write_csv(tmp_path / "plug.csv", header, rows)
    code, err, out = _run(tmp_path, capsys, ["--type", "plug", "--input", str(src)])
    assert code == 2
    assert str(src) in err and where in err and message in err, err
    assert not out.exists()


def test_every_bad_row_is_listed_and_an_existing_output_is_left_as_it_was(tmp_path, capsys):
    rows = [OK_ROW] + [("p", f"2024-03-01T1{i}:00", "x") for i in range(5)]
    src = write_csv(tmp_path / "plug.csv", PLUG, rows)
    code, err, out = _run(tmp_path, capsys, ["--type", "plug", "--input", str(src)], "old\n")
    assert code == 2
    assert [f"row {n}, column watts" in err for n in range(3, 8)] == [True] * 5
    assert out.read_text() == "old\n"


def test_a_missing_file_and_a_missing_output_folder(tmp_path, capsys):
    code, err, _ = _run(tmp_path, capsys, ["--type", "plug", "--input", str(tmp_path / "no.csv")])
    assert code == 2 and "no.csv: cannot read the file" in err
    src = write_csv(tmp_path / "plug.csv", PLUG, [OK_ROW])
    argv = ["replay", "--type", "plug", "--input", str(src), "--json"]
    assert main([*argv, str(tmp_path / "nowhere" / "out.json")]) == 2
    assert "does not exist or is not writable" in capsys.readouterr().err


def test_a_bad_time_zone_is_a_usage_error(tmp_path, capsys):
    src = write_csv(tmp_path / "plug.csv", PLUG, [OK_ROW])
    code, err, out = _run(tmp_path, capsys, ["--type", "plug", "--input", str(src), "--tz", "KST"])
    assert code == 2 and "'KST' is not an IANA time zone name" in err
    assert not out.exists()


def _walk(tmp_path, rows, homes, header=WALK):
    src = write_csv(tmp_path / "walk.csv", header, rows)
    home_file = write_csv(tmp_path / "homes.csv", ("device_id", "lat", "lon", "radius_m"), homes)
    return ["--type", "wandering", "--input", str(src), "--homes", str(home_file)]


WALK_OK = ("w", "2024-05-10T13:00:00+09:00", *HOME)


@pytest.mark.parametrize(
    ("rows", "homes", "where", "message"),
    [
        ([WALK_OK, ("w", "2024-05-10T13:01", 91.0, 126.7)], [("w", *HOME, 300)],
         "walk.csv row 3, column lat", "less than or equal to 90"),
        ([WALK_OK, ("w", "2024-05-10T13:01", 37.6, "east")], [("w", *HOME, 300)],
         "walk.csv row 3, column lon", "number"),
        ([WALK_OK], [("w", *HOME, 300), ("v", *HOME, 300)],
         "homes.csv row 3, column device_id", "unknown device 'v'"),
        ([WALK_OK], [("w", *HOME, 300), ("w", *HOME, 200)],
         "homes.csv row 3, column device_id", "has a home already"),
        ([WALK_OK], [("w", 37.6, 200.0, 300)], "homes.csv row 2, column lon", "out of range"),
        ([WALK_OK], [("w", *HOME, 0)], "homes.csv row 2, column radius_m", "out of range"),
        ([WALK_OK], [("w", *HOME, "")], "homes.csv row 2, column radius_m", "required"),
        ([WALK_OK, ("w", "2024-05-10T13:01", "", 126.7)], [("w", *HOME, 300)],
         "walk.csv row 3, column lat", "required"),
        ([WALK_OK, ("v", "2024-05-10T13:01", *HOME)], [("w", *HOME, 300)],
         "homes.csv: device 'v' of the input has no home here", ""),
    ],
)  # fmt: skip
def test_wandering_input_errors(tmp_path, capsys, rows, homes, where, message):
    code, err, out = _run(tmp_path, capsys, _walk(tmp_path, rows, homes))
    assert code == 2
    assert where in err and message in err, err
    assert not out.exists()


def test_wandering_needs_homes_and_plug_takes_none(tmp_path, capsys):
    src = write_csv(tmp_path / "walk.csv", WALK, [WALK_OK])
    code, err, _ = _run(tmp_path, capsys, ["--type", "wandering", "--input", str(src)])
    assert code == 2 and "a wandering replay needs --homes FILE.csv" in err
    argv = ["--type", "plug", "--input", str(src), "--homes", str(src)]
    code, err, _ = _run(tmp_path, capsys, argv)
    assert code == 2 and "--homes is for --type wandering" in err


def test_a_good_wandering_file_with_blank_lines_and_optional_accuracy(tmp_path, capsys):
    header = (*WALK, "accuracy_m")
    rows = [(*WALK_OK, 12), ("", "", "", "", ""), ("w", "2024-05-10T13:05:00+09:00", *HOME, "")]
    code, err, out = _run(tmp_path, capsys, _walk(tmp_path, rows, [("w", *HOME, 300)], header))
    assert code == 0, err
    assert json.loads(out.read_text()) == {"transitions": []}


def test_a_missing_value_is_no_reading_and_the_rows_without_any_are_skipped(tmp_path, capsys):
    """Recorders drop readings: an empty cell, NaN / NA (pandas, R) or Null (the London data)
    is no reading, not a bad one; the replay is the one of the file without those values."""
    start = datetime(2024, 3, 1, tzinfo=UTC)
    stamps = [(start + timedelta(minutes=30 * i)).isoformat() for i in range(48 * 20)]
    watts = [40.0 + (i % 7) * 30 for i in range(len(stamps))]
    gaps = {5: "", 77: "NaN", 300: "null", 301: "NA", 640: "n/a", 641: "None"}
    light_only = 900  # no power on this row, a light reading: one reading
    rows = [
        ("p", ts, gaps.get(i, w), "") for i, (ts, w) in enumerate(zip(stamps, watts, strict=True))
    ]
    rows[light_only] = ("p", stamps[light_only], "", 15.0)
    src = write_csv(tmp_path / "gaps.csv", (*PLUG, "lux"), rows)
    assert (
        main(["replay", "--type", "plug", "--input", str(src), "--json", str(tmp_path / "a")]) == 0
    )
    said = capsys.readouterr().out
    assert f"replayed {len(stamps) - len(gaps):,} readings" in said
    assert said.rstrip().endswith(f"; {len(gaps)} row(s) without a reading skipped")
    kept = [r for i, r in enumerate(rows) if i not in gaps]
    clean = write_csv(tmp_path / "clean.csv", (*PLUG, "lux"), kept)
    assert (
        main(["replay", "--type", "plug", "--input", str(clean), "--json", str(tmp_path / "b")])
        == 0
    )
    assert "skipped" not in capsys.readouterr().out
    a, b = (json.loads((tmp_path / n).read_text()) for n in "ab")
    assert a == b and a["transitions"]


def test_a_wandering_row_without_a_fix_is_skipped(tmp_path, capsys):
    rows = [WALK_OK, ("w", "2024-05-10T13:01:00+09:00", "", ""), ("w", "2024-05-10T13:02", *HOME)]
    code, err, out = _run(tmp_path, capsys, _walk(tmp_path, rows, [("w", *HOME, 300)]))
    assert code == 0, err
    assert json.loads(out.read_text()) == {"transitions": []}


def test_docs_state_the_contract_the_code_implements():
    from dashboard.bench.commands import TARGETS
    from dashboard.replay.inputs import (
        COLUMNS,
        HOME_COLUMNS,
        MAX_PROBLEMS,
        MAX_RADIUS_M,
        MISSING,
    )
    from dashboard.replay.output import KEYS
    from dashboard.settings import PROJECT_ROOT

    doc = (PROJECT_ROOT / "docs" / "replay.md").read_text(encoding="utf-8")
    assert f"`{', '.join(KEYS)}`" in doc
    for kind, (required, optional) in COLUMNS.items():
        columns = ", ".join(required) + "".join(f"[, {c}]" for c in optional)
        assert f"| `{kind}` | `{columns}` |" in doc
    assert f"| `--homes` | `{', '.join(HOME_COLUMNS)}` |" in doc
    assert f"`radius_m` 1–{MAX_RADIUS_M:,}" in doc
    assert f"(the first {MAX_PROBLEMS}, then a" in doc
    said = doc.split("**A missing value is no reading")[1].split("(any case;")[0]
    assert sorted(t.strip("`, or").lower() for t in said.split("`")[1::2]) == sorted(MISSING - {""})
    assert "default `Asia/Seoul`" in doc and "(default 10)" in doc
    assert TARGETS["replay_year_s"] == (10.0, "max") and "Target: under 10 s" in doc
    readme = (PROJECT_ROOT / "README.md").read_text(encoding="utf-8")
    assert "[docs/replay.md](docs/replay.md)" in readme


def test_the_output_example_quotes_the_ladder_sentence_the_rule_writes():
    from dashboard.detection.explain import explain_plug
    from dashboard.settings import PROJECT_ROOT

    doc = (PROJECT_ROOT / "docs" / "replay.md").read_text(encoding="utf-8")
    evidence = {
        "basis": "ladder",
        "ladder_clock": "change",
        "since": "2024-03-02T12:00:00+09:00",
        "change_since": "2024-03-02T12:00:00+09:00",
        "change_hours": 24.0,
        "threshold_h": 24.0,
        "risk_at_h": 36.0,
        "severe_at_h": 48.0,
        "scored_at": "2024-03-03T12:00:00+09:00",
    }
    sentence = explain_plug(evidence, "en")
    assert f'"explanation": "{sentence}"' in doc


def test_the_defaults_are_the_documented_ones():
    from dashboard.cli import build_parser

    args = build_parser().parse_args(["replay", "--type", "plug", "--input", "x", "--json", "y"])
    assert (args.tz, args.tick_min, args.exact) == ("Asia/Seoul", 10, False)
