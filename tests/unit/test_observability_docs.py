"""docs/operations.md names every metric the processes export and states the status page's
thresholds exactly as dashboard.ops.health has them."""

from __future__ import annotations

import re

import pytest
from prometheus_client import Counter

from dashboard.ingest.metrics import BridgeMetrics, IngestMetrics
from dashboard.ops import health
from dashboard.ops.metrics import WorkerMetrics
from dashboard.settings import PROJECT_ROOT
from queries.system import LAST_TICK_KEY, LEADER_LOCK_KEY

DOC = (PROJECT_ROOT / "docs" / "operations.md").read_text(encoding="utf-8")


def _names(registry_owner) -> set[str]:
    names = set()
    for collector in registry_owner.registry._collector_to_names:
        suffix = "_total" if isinstance(collector, Counter) else ""
        names.add(collector._name + suffix)
    return names


@pytest.mark.parametrize("owner", [IngestMetrics, WorkerMetrics, BridgeMetrics])
def test_every_metric_is_documented(owner) -> None:
    documented = set(re.findall(r"^\| `(anbu_[a-z_]+)` \|", DOC, re.MULTILINE))
    missing = _names(owner()) - documented
    assert not missing, f"docs/operations.md lacks {sorted(missing)}"


def _row(line: str) -> str:
    match = re.search(rf"^\| {re.escape(line)} \|.*$", DOC, re.MULTILINE)
    assert match, f"no row {line!r} in the status table"
    return match.group(0)


def _min(delta) -> str:
    return f"{delta.total_seconds() / 60:g} min"


def test_status_thresholds_match_the_code() -> None:
    tick = _row("rule tick (last tick a worker ran)")
    assert f"at most {_min(health.TICK_WARNING)} old" in tick
    assert f"over {_min(health.TICK_CRITICAL)}, or none recorded" in tick
    ingest = _row("event ingest (last 5 min and hour, per vendor)")
    assert f"{health.VENDOR_REJECTED_WARNING * 100:g} % or more" in ingest
    assert f"{health.VENDOR_REJECTED_CRITICAL * 100:g} % or more refused" in ingest
    dead = _row("dead letters (last hour)")
    assert (
        f"| {health.DEAD_LETTERS_WARNING} or more | {health.DEAD_LETTERS_CRITICAL} or more |"
        in dead
    )
    outbox = _row("notification delivery (oldest undelivered)")
    assert f"under {_min(health.OUTBOX_WARNING)}" in outbox
    assert f"| {_min(health.OUTBOX_CRITICAL)} or more |" in outbox
    db = _row("database (SQLite)")
    assert f"under {health.DISK_FREE_WARNING * 100:g} % of the volume free" in db
    assert f"under {health.DISK_FREE_CRITICAL * 100:g} % free" in db
    assert f"WAL file {health.WAL_WARNING_BYTES // 1024**2} MB or more" in db
    assert f"WAL {health.WAL_CRITICAL_BYTES // 1024**3} GB or more" in db
    assert f"`{LEADER_LOCK_KEY}`" in DOC and f"`{LAST_TICK_KEY}`" in DOC
