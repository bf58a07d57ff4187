"""Replaying labelled histories through the product's own replay command.

Many histories go into one replay as separate devices (one person each). Labelled copies are
first moved by a whole number of weeks so that they overlap in time: the replay's clock then
runs over weeks instead of years, and a week shift keeps every weekday and wall-clock hour. The
transitions' times are moved back afterwards (their explanations keep the replay's dates).

Two methods: ``model`` replays with the rules file as it is but ``[plug_routine] enabled =
true``; ``fixed`` with ``enabled = false`` (only the fixed 24/36/48 h ladder). A tree without a
``[plug_routine]`` section has only the fixed rule, and both runs use the same file.
"""

from __future__ import annotations

import csv
import io
import json
import re
import tempfile
from collections.abc import Iterator, Sequence
from contextlib import contextmanager, redirect_stdout
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from dashboard.evaluation.datasets import Trace
from dashboard.evaluation.metrics import Transition, parse_transitions

WEEK = 7 * 86_400
ANCHOR = 1_704_034_800  # 2024-01-01 00:00 Seoul, a Monday: histories are moved near it
METHODS = ("model", "fixed")
TICK_MIN = 10


class ReplayFailed(RuntimeError):
    """The replay command refused the input or failed; the message carries what it said."""


@dataclass(frozen=True)
class Job:
    """Histories replayed together: (device id, trace, week shift in seconds) each."""

    method: str
    rules_text: str
    devices: tuple[tuple[str, Trace, int], ...]


def routine_section_exists() -> bool:
    from dashboard.rules.config import Thresholds

    return "plug_routine" in Thresholds.model_fields


def rules_text(method: str, base: Path | None = None) -> str:
    """The rules file for ``method``: the shipped one with the routine model on or off."""
    from dashboard.rules import config

    text = Path(base or config.DEFAULT_PATH).read_text(encoding="utf-8")
    if not routine_section_exists():
        return text
    return with_routine(text, enabled=method == "model")


def with_routine(text: str, enabled: bool) -> str:
    """``text`` (a rules file) with ``[plug_routine] enabled`` set, the section added if absent."""
    value = "true" if enabled else "false"
    section = re.search(r"(?ms)^\[plug_routine\][^\n]*\n.*?(?=^\[|\Z)", text)
    if section is None:
        return text.rstrip("\n") + f"\n\n[plug_routine]\nenabled = {value}\n"
    body = section.group(0)
    if re.search(r"(?m)^enabled\s*=", body):
        new = re.sub(r"(?m)^enabled\s*=\s*\w+", f"enabled = {value}", body)
    else:
        new = body.replace("[plug_routine]\n", f"[plug_routine]\nenabled = {value}\n", 1)
    return text[: section.start()] + new + text[section.end() :]


def week_shift(onset: int) -> int:
    """Whole weeks that bring ``onset`` nearest to the anchor."""
    return round((ANCHOR - onset) / WEEK) * WEEK


def write_csv(path: Path, devices: Sequence[tuple[str, Trace, int]]) -> int:
    """The replay's input file; returns its number of readings."""
    with_lux = any(t.lux is not None for _, t, _ in devices)
    rows = 0
    with path.open("w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh)
        w.writerow(["device_id", "ts", "watts", *(["lux"] if with_lux else [])])
        for device_id, trace, shift in devices:
            stamps = (trace.ts + shift + 9 * 3600).astype("datetime64[s]").astype(str)
            watts = np.char.mod("%.1f", trace.watts)
            if with_lux:
                lux = (
                    np.char.mod("%.1f", trace.lux)
                    if trace.lux is not None
                    else np.full(len(stamps), "")
                )
                w.writerows(zip([device_id] * len(stamps), stamps, watts, lux, strict=True))
            else:
                w.writerows(zip([device_id] * len(stamps), stamps, watts, strict=True))
            rows += len(stamps)
    return rows


@contextmanager
def rules_file(path: Path) -> Iterator[None]:
    """Every reader of the thresholds reads ``path`` meanwhile (``config.DEFAULT_PATH`` is
    the one place that names the rules file; see ``dashboard.rules.config``)."""
    from dashboard.rules import config

    before = config.DEFAULT_PATH
    config.DEFAULT_PATH = path
    try:
        yield
    finally:
        config.DEFAULT_PATH = before


def _replay_cli(input_csv: Path, rules: Path, out: Path) -> None:
    """``python -m dashboard replay`` in this process, with ``rules`` as the rules file."""
    from dashboard import cli

    argv = ["replay", "--type", "plug", "--input", str(input_csv), "--tz", "Asia/Seoul"]
    argv += ["--tick-min", str(TICK_MIN), "--json", str(out)]
    with rules_file(rules), redirect_stdout(io.StringIO()) as said:
        try:
            code = cli.main(argv)
        except SystemExit as exc:  # argparse: no such command in this tree
            code = exc.code
    if code != 0 or not out.is_file():
        raise ReplayFailed(
            f"`python -m dashboard replay` exited with {code} on {input_csv} "
            f"(does this tree have issue #9's replay command?) {said.getvalue().strip()}"
        )


def run_job(job: Job) -> list[Transition]:
    """Replay ``job`` and return its transitions, moved back to each history's own time."""
    with tempfile.TemporaryDirectory(prefix="anbu-eval-") as tmp:
        tmpdir = Path(tmp)
        rules = tmpdir / "rules.toml"
        rules.write_text(job.rules_text, encoding="utf-8")
        csv_path, out = tmpdir / "input.csv", tmpdir / "out.json"
        write_csv(csv_path, job.devices)
        _replay_cli(csv_path, rules, out)
        transitions = parse_transitions(json.loads(out.read_text(encoding="utf-8")))
    shifts = {d: s for d, _, s in job.devices}
    return [
        Transition(
            t.device_id, t.rule, t.kind, t.stage, t.at - shifts.get(t.device_id, 0), t.explanation
        )
        for t in transitions
    ]


def split_jobs(
    method: str, text: str, devices: Sequence[tuple[str, Trace, int]], parts: int
) -> list[Job]:
    """``devices`` in ``parts`` jobs of about equal numbers of readings (largest first)."""
    buckets: list[list[tuple[str, Trace, int]]] = [[] for _ in range(max(parts, 1))]
    sizes = [0] * len(buckets)
    for dev in sorted(devices, key=lambda d: -len(d[1].ts)):
        k = sizes.index(min(sizes))
        buckets[k].append(dev)
        sizes[k] += len(dev[1].ts)
    return [Job(method, text, tuple(b)) for b in buckets if b]
