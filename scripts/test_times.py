"""Where the test suite's time goes, from the JUnit file `.ci/run` writes.

    python scripts/test_times.py test-artifacts/junit.xml [--top 25]

Prints the total test time (setup, call and teardown as pytest-xdist reports them, summed over
every worker), then the files that take most of it. A file runs on one worker (`--dist
loadfile`), so a file's sum is also the least wall time the run can take: the suite cannot end
before its slowest file does.
"""

from __future__ import annotations

import argparse
import sys
import xml.etree.ElementTree as ET
from collections import defaultdict
from pathlib import Path


def file_times(junit: Path) -> dict[str, tuple[float, int]]:
    """file path → (seconds, tests) from a JUnit XML report."""
    per_file: dict[str, list[float]] = defaultdict(list)
    for case in ET.parse(junit).getroot().iter("testcase"):
        # classname is the test's module as a dotted path (and class): tests.unit.test_x[.Class]
        parts = case.get("classname", "").split(".")
        module = next(
            (".".join(parts[: i + 1]) for i, p in enumerate(parts) if p.startswith("test_")),
            case.get("classname", "?"),
        )
        per_file[module.replace(".", "/") + ".py"].append(float(case.get("time", 0) or 0))
    return {name: (sum(times), len(times)) for name, times in per_file.items()}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("junit", type=Path)
    parser.add_argument("--top", type=int, default=25)
    args = parser.parse_args(argv)
    if not args.junit.is_file():
        print(f"{args.junit}: no such file (run .ci/run first)", file=sys.stderr)
        return 2
    times = file_times(args.junit)
    total = sum(s for s, _ in times.values())
    print(f"{len(times)} files, {sum(n for _, n in times.values())} tests, {total:,.0f} s of tests")
    ranked = sorted(times.items(), key=lambda kv: kv[1][0], reverse=True)
    for name, (seconds, n) in ranked[: args.top]:
        print(f"{seconds:8.1f} s {100 * seconds / total:5.1f} % {n:5d} tests  {name}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
