"""The first start's background job: its phases, and the guard that keeps a second process from
building the same database twice."""

from __future__ import annotations

import subprocess
import sys
import textwrap
import threading
from pathlib import Path

import pytest
from sqlalchemy import func, select

from dashboard.bootstrap import ensure_database
from dashboard.db import migrate
from dashboard.db.engine import make_engine
from dashboard.settings import PROJECT_ROOT, Settings
from dashboard.setup_job import (
    AdvisoryGuard,
    FileGuard,
    Phase,
    SetupJob,
    SetupStatus,
    guard_for,
    setup_job,
)
from tests.waiting import wait_until

TIMEOUT_S = 30


class Recorder:
    """A setup step that reports progress and finishes (or fails) when the test says so."""

    def __init__(self, fail_times: int = 0) -> None:
        self.calls = 0
        self.fail_times = fail_times
        self.go = threading.Event()

    def __call__(self, progress) -> None:
        self.calls += 1
        progress(0.4, "writing daily rollups")
        assert self.go.wait(TIMEOUT_S), "the test never let the step finish"
        if self.calls <= self.fail_times:
            raise RuntimeError("disk full")


def _phase(job: SetupJob, phase: Phase) -> bool:
    return wait_until(lambda: job.status().phase is phase, timeout=TIMEOUT_S, interval=0.05)


def test_the_job_runs_once_reports_progress_and_publishes_it(tmp_path):
    step = Recorder()
    job = SetupJob(step, lambda: False, FileGuard(tmp_path / "anbu.sqlite3"), poll_s=0.05)
    assert job.status().phase is Phase.IDLE
    job.start()
    assert wait_until(lambda: job.status().step == "writing daily rollups", timeout=TIMEOUT_S)
    assert job.start().phase is Phase.RUNNING  # a second visit starts nothing new
    status = job.status()
    assert (status.fraction, status.started_at is not None) == (0.4, True)
    # Another process reads the same progress from the status file.
    seen = FileGuard(tmp_path / "anbu.sqlite3").read()
    assert (seen.phase, seen.fraction, seen.step) == (Phase.RUNNING, 0.4, "writing daily rollups")
    step.go.set()
    assert job.join(TIMEOUT_S).phase is Phase.READY
    assert job.start().phase is Phase.READY
    assert step.calls == 1
    assert FileGuard(tmp_path / "anbu.sqlite3").read().phase is Phase.READY


def test_a_failure_is_kept_until_retried(tmp_path):
    step = Recorder(fail_times=1)
    step.go.set()
    job = SetupJob(step, lambda: False, FileGuard(tmp_path / "anbu.sqlite3"), poll_s=0.05)
    failed = job.start() and job.join(TIMEOUT_S)
    assert failed.phase is Phase.FAILED
    assert failed.error == "RuntimeError: disk full"
    assert (failed.fraction, failed.step) == (0.4, "writing daily rollups")  # where it stopped
    assert job.start().phase is Phase.FAILED  # a reload does not hammer a broken setup
    assert step.calls == 1
    job.retry()
    assert job.join(TIMEOUT_S).phase is Phase.READY
    assert step.calls == 2


HOLDER = textwrap.dedent(
    """
    import sys, time
    from pathlib import Path
    from dashboard.setup_job import FileGuard, Phase, SetupStatus
    guard, end = FileGuard(Path(sys.argv[1])), sys.argv[2]
    assert guard.acquire()
    guard.publish(SetupStatus(Phase.RUNNING, 0.75, "writing raw events", pid=1))
    print("holding", flush=True)
    sys.stdin.readline()  # the test says how to end
    if end == "failed":
        guard.publish(SetupStatus(Phase.FAILED, 0.75, "writing raw events", error="OSError: x"))
    elif end == "ready":
        Path(sys.argv[1]).with_suffix(".built").touch()
        guard.publish(SetupStatus(Phase.READY, 1.0, "ready"))
    else:
        time.sleep(60)  # killed by the test
    """
)


@pytest.fixture
def holder(tmp_path):
    """Another process holding the guard of ``tmp_path/anbu.sqlite3``; ``holder(end)``."""
    procs = []

    def start(end: str) -> subprocess.Popen:
        proc = subprocess.Popen(
            [sys.executable, "-c", HOLDER, str(tmp_path / "anbu.sqlite3"), end],
            cwd=PROJECT_ROOT,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        procs.append(proc)
        assert proc.stdout.readline().strip() == "holding"
        return proc

    yield start
    for proc in procs:
        proc.kill()
        proc.wait()


def _waiting_job(tmp_path, holder, end: str):
    other = holder(end)
    step = Recorder()
    step.go.set()
    built = (tmp_path / "anbu.sqlite3").with_suffix(".built")
    job = SetupJob(step, built.exists, FileGuard(tmp_path / "anbu.sqlite3"), poll_s=0.05)
    job.start()
    assert _phase(job, Phase.WAITING)
    status = job.status()  # the other process's progress, shown here
    assert (status.fraction, status.step) == (0.75, "writing raw events")
    assert step.calls == 0
    return other, job, step


def test_a_second_process_waits_and_does_not_build_again(tmp_path, holder):
    other, job, step = _waiting_job(tmp_path, holder, "ready")
    other.communicate("go\n", timeout=TIMEOUT_S)
    assert job.join(TIMEOUT_S).phase is Phase.READY
    assert step.calls == 0


def test_a_waiting_process_builds_when_the_holder_died(tmp_path, holder):
    other, job, step = _waiting_job(tmp_path, holder, "killed")
    other.kill()  # the OS drops its lock; the half-done work rolled back with it
    other.wait()
    assert job.join(TIMEOUT_S).phase is Phase.READY
    assert step.calls == 1


def test_a_waiting_process_shows_the_holders_failure(tmp_path, holder):
    other, job, step = _waiting_job(tmp_path, holder, "failed")
    other.communicate("go\n", timeout=TIMEOUT_S)
    failed = job.join(TIMEOUT_S)
    assert (failed.phase, failed.error) == (Phase.FAILED, "OSError: x")
    assert step.calls == 0
    job.retry()  # here, a retry builds
    assert job.join(TIMEOUT_S).phase is Phase.READY
    assert step.calls == 1


def test_status_survives_the_file_round_trip():
    from dashboard import clock

    status = SetupStatus(Phase.FAILED, 0.5, "alert history", "ValueError: x", clock.now(), None, 7)
    assert SetupStatus.from_json(status.to_json()) == status


def test_postgresql_guard_is_one_holder_per_schema(postgres_schema_url):
    engine = make_engine(postgres_schema_url)
    first, second = guard_for(engine), AdvisoryGuard(postgres_schema_url)
    try:
        assert isinstance(first, AdvisoryGuard)
        assert first.acquire()
        assert not second.acquire()
        first.release()
        assert second.acquire()
    finally:
        first.release()
        second.release()
        engine.dispose()


def _settings(url: str, demo: bool) -> Settings:
    return Settings(database_url=url, demo=demo)


def test_the_real_setup_prepares_a_new_file(tmp_path):
    """Without the demo city (fast): schema, catalog and figures through the job."""
    url = f"sqlite:///{tmp_path / 'var' / 'anbu.sqlite3'}"
    engine = make_engine(url)
    try:
        job = setup_job(engine, _settings(url, demo=False))
        assert setup_job(engine, _settings(url, demo=False)) is job  # one per database
        job.start()
        assert job.join(120).phase is Phase.READY, job.status().error
        assert migrate.current_revision(engine) == migrate.head_revision()
        assert Path(f"{tmp_path / 'var' / 'anbu.sqlite3'}.setup.json").exists()
    finally:
        engine.dispose()


def test_a_failed_demo_build_leaves_no_half_built_city(tmp_path, monkeypatch):
    """The city is written in one transaction: a failure after people and devices were
    written keeps none of them, and the phase says what failed."""
    from dashboard.db.schema import CareRecipient, Device, PublishedFigure
    from dashboard.demo import build as demo_build

    def broken(*_args, **_kwargs):
        raise OSError("disk full while writing daily rollups")

    monkeypatch.setattr(demo_build, "_write_daily", broken)
    url = f"sqlite:///{tmp_path / 'anbu.sqlite3'}"
    engine = make_engine(url)
    try:
        job = SetupJob(
            run=lambda progress: ensure_database(engine, _settings(url, demo=True), progress),
            is_ready=lambda: False,
            guard=guard_for(engine),
        )
        job.start()
        failed = job.join(300)
        assert failed.phase is Phase.FAILED
        assert failed.error == "OSError: disk full while writing daily rollups"
        assert failed.step == "writing daily rollups"
        with engine.connect() as conn:
            assert conn.execute(select(func.count()).select_from(CareRecipient)).scalar() == 0
            assert conn.execute(select(func.count()).select_from(Device)).scalar() == 0
            # The steps before the city stay done: a retry goes on from there.
            assert conn.execute(select(func.count()).select_from(PublishedFigure)).scalar() > 0
        assert migrate.current_revision(engine) == migrate.head_revision()
    finally:
        engine.dispose()


def test_the_docs_say_what_the_code_does():
    """The quick start stays two commands; the first-start section names the guard's files and
    the page's refresh as the code has them."""
    import re

    from dashboard.ui.setup import REFRESH_S

    readme = (PROJECT_ROOT / "README.md").read_text(encoding="utf-8")
    quick = readme.split("## Quick start", 1)[1].split("\n## ", 1)[0]
    first_block = re.search(r"```bash\n(.*?)```", quick, re.S).group(1)
    assert first_block.strip() == (
        "pip install -r requirements.txt && streamlit run dashboard/app.py"
    )
    assert "docs/configuration.md#first-start" in quick
    config = (PROJECT_ROOT / "docs" / "configuration.md").read_text(encoding="utf-8")
    assert "\n### First start\n" in config
    guard = FileGuard(Path("var/anbu.sqlite3"))
    assert f"`{guard.lock_path.as_posix()}`" in config
    assert f"`{guard.status_path.as_posix()}`" in config
    assert f"every {REFRESH_S:g} s" in config


def test_init_waits_for_a_first_start_under_way(tmp_path, holder, monkeypatch, capsys):
    """`python -m dashboard init` on a file the app is preparing waits, then finishes it."""
    from dashboard import cli
    from dashboard.settings import get_settings

    monkeypatch.setenv("ANBU_DATABASE_URL", f"sqlite:///{tmp_path / 'anbu.sqlite3'}")
    monkeypatch.setenv("ANBU_DEMO", "false")
    get_settings.cache_clear()
    other = holder("ready")
    result: list[int] = []
    init = threading.Thread(target=lambda: result.append(cli.main(["init"])))
    try:
        init.start()
        assert wait_until(lambda: "waiting" in capsys.readouterr().out, timeout=TIMEOUT_S)
        assert init.is_alive() and not (tmp_path / "anbu.sqlite3").exists()
        other.communicate("go\n", timeout=TIMEOUT_S)
        init.join(120)
        assert result == [0]
        assert FileGuard(tmp_path / "anbu.sqlite3").read().phase is Phase.READY
    finally:
        init.join(120)
        get_settings.cache_clear()
