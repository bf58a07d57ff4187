"""``budget import`` and ``incentives import`` through ``dashboard.cli.main``: exit 0 stored,
a valid dry run or nothing to change; 1 refused with row and column; 2 a usage problem."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import func, select

from dashboard import cli
from dashboard.db.engine import make_engine
from dashboard.db.schema import AuditLog, BudgetExecution, IncentiveLedger
from dashboard.settings import PROJECT_ROOT, get_settings

SAMPLES = PROJECT_ROOT / "data" / "samples"


@pytest.fixture
def configured(db_url, monkeypatch):
    monkeypatch.setenv("ANBU_DATABASE_URL", db_url)
    monkeypatch.setenv("ANBU_DEMO", "false")
    get_settings.cache_clear()
    yield db_url
    get_settings.cache_clear()


def _run(capsys, *argv: str) -> tuple[int, str]:
    code = cli.main(list(argv))
    captured = capsys.readouterr()
    return code, captured.out + captured.err


def _count(url: str, model) -> int:
    engine = make_engine(url)
    with engine.connect() as conn:
        count = conn.scalar(select(func.count()).select_from(model))
    engine.dispose()
    return count


def test_exit_codes(configured, tmp_path: Path, capsys):
    sample = str(SAMPLES / "budget-execution-sample.csv")
    code, out = _run(capsys, "budget", "import", sample)
    assert code == 2 and "no budget tables yet" in out
    assert _run(capsys, "db", "upgrade")[0] == 0
    assert _run(capsys, "init")[0] == 0
    assert _run(capsys, "budget", "import", str(tmp_path / "missing.csv"))[0] == 2
    broken = tmp_path / "broken.xlsx"  # not a workbook: the file cannot be read as a table
    broken.write_bytes(b"PK\x03\x04 not really a zip")
    assert _run(capsys, "incentives", "import", str(broken))[0] == 2

    code, out = _run(capsys, "budget", "import", sample, "--dry-run")
    assert code == 0 and "9 new" in out and "dry run" in out
    assert _count(configured, BudgetExecution) == 0

    code, out = _run(capsys, "budget", "import", sample)
    assert code == 0 and "stored" in out
    assert _count(configured, BudgetExecution) == 9
    code, out = _run(capsys, "budget", "import", sample)
    assert code == 0 and "nothing to change" in out

    bad = tmp_path / "bad.csv"
    bad.write_text(
        "(단위: 천원)\n회계연도,월,구,단위사업,재원,예산액,집행액\n2024,1,강남구,p,시비,1,x\n"
    )
    code, out = _run(capsys, "budget", "import", str(bad))
    assert code == 1 and "row 3, column 집행액" in out and "nothing was stored" in out

    points = str(SAMPLES / "incentive-statement-sample.csv")
    code, out = _run(capsys, "incentives", "import", points)
    assert code == 0 and "12 new" in out
    assert _count(configured, IncentiveLedger) == 12
    engine = make_engine(configured)
    with engine.connect() as conn:
        actions = list(conn.execute(select(AuditLog.action, AuditLog.actor)).all())
    engine.dispose()
    assert [a for a, _ in actions if a.endswith("_import")] == [
        "budget_execution_import",
        "incentive_ledger_import",
    ]
    assert all(actor.startswith("cli") for a, actor in actions if a.endswith("_import"))
