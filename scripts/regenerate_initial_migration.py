"""Regenerate migration 0001 from the models.

Only valid before the first release: once a database exists in the field, schema changes get a
new revision instead (``alembic revision --autogenerate`` via dashboard.db.migrate.alembic_config).
"""

from __future__ import annotations

import subprocess
import tempfile
from pathlib import Path

from alembic import command

from dashboard.db.migrate import MIGRATIONS_DIR, alembic_config


def main() -> None:
    target = MIGRATIONS_DIR / "versions" / "0001_initial_schema.py"
    target.unlink(missing_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        cfg = alembic_config(f"sqlite:///{Path(tmp) / 'empty.sqlite3'}")
        command.revision(cfg, message="initial schema", autogenerate=True, rev_id="0001")
    subprocess.run(["ruff", "check", "--fix", "-q", str(target)], check=False)
    subprocess.run(["ruff", "format", "-q", str(target)], check=True)


if __name__ == "__main__":
    main()
