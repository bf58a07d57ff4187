#!/usr/bin/env python3
"""Check the deployment recipe: start what the systemd units start, without systemd.

Reads every unit in deploy/systemd/, takes its ``ExecStart`` line, expands it as systemd would
(``%i`` the instance, ``%H`` the host name, ``${VAR}`` from the unit's ``Environment=`` lines and
the environment), and runs it from the repository with this Python instead of
/opt/anbu/venv/bin/python. Then it checks that each process came up (the ingest server's
``/healthz`` and ``/readyz``, the app's HTTP port, the worker's first pass, the bridge's
subscription), stops them all with SIGTERM as systemd does and checks they stopped cleanly.

    python deploy/verify.py --database-url postgresql+psycopg://anbu@127.0.0.1:5432/anbu_verify

The database must be one ``db upgrade`` may migrate (empty, or already at the code's revision):
``--migrate`` runs it first, as the first start does (docs/deployment.md). ``--env-file`` reads
an environment file such as deploy/env/anbu.env (its ANBU_DATABASE_URL is replaced by
``--database-url``). Exit code 0 when every check passed, 1 otherwise.
"""

from __future__ import annotations

import argparse
import os
import re
import shlex
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
UNITS = ROOT / "deploy" / "systemd"
VENV_PYTHON = "/opt/anbu/venv/bin/python"
APP_DIR = "/opt/anbu/app"
STARTUP_S = 120.0
# The worker's first pass logs its leadership (PostgreSQL) or that there is no election (SQLite).
WORKER_UP = r"worker leadership acquired|another worker leads|no leader election"


@dataclass
class Unit:
    """What verify needs of a systemd service file."""

    name: str
    exec_start: str
    environment: dict[str, str] = field(default_factory=dict)
    working_directory: str = ""
    environment_files: list[str] = field(default_factory=list)

    @property
    def template(self) -> bool:
        return self.name.endswith("@.service")


def parse_unit(path: Path) -> Unit:
    """The [Service] section's ExecStart, Environment, EnvironmentFile and WorkingDirectory."""
    section, values = "", {"ExecStart": "", "WorkingDirectory": ""}
    env: dict[str, str] = {}
    env_files: list[str] = []
    for raw in path.read_text(encoding="utf-8").splitlines():
        line = raw.strip()
        if not line or line.startswith(("#", ";")):
            continue
        if line.startswith("["):
            section = line
            continue
        key, _, value = line.partition("=")
        if section != "[Service]":
            continue
        if key == "Environment":
            for item in shlex.split(value):
                name, _, val = item.partition("=")
                env[name] = val
        elif key == "EnvironmentFile":
            env_files.append(value.lstrip("-"))
        elif key in values:
            values[key] = value
    if not values["ExecStart"]:
        raise ValueError(f"{path.name}: no ExecStart in [Service]")
    return Unit(path.name, values["ExecStart"], env, values["WorkingDirectory"], env_files)


def load_units(directory: Path = UNITS) -> dict[str, Unit]:
    return {p.name: parse_unit(p) for p in sorted(directory.glob("*.service"))}


def read_env_file(path: Path) -> dict[str, str]:
    """KEY=VALUE lines as systemd's EnvironmentFile reads them (comments and blanks skipped)."""
    env: dict[str, str] = {}
    for number, raw in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        line = raw.strip()
        if not line or line.startswith(("#", ";")):
            continue
        key, sep, value = line.partition("=")
        if not sep or not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", key.strip()):
            raise ValueError(f"{path}: line {number} is not KEY=VALUE: {raw!r}")
        env[key.strip()] = value.strip()
    return env


def command(unit: Unit, instance: str, env: dict[str, str]) -> list[str]:
    """The unit's ExecStart as argv, expanded as systemd would, runnable from this checkout."""
    specifiers = {"%i": instance, "%H": socket.gethostname(), "%%": "%"}
    line = re.sub(r"%[iH%]", lambda m: specifiers[m.group(0)], unit.exec_start)
    scope = {**env, **unit.environment}

    def variable(match: re.Match) -> str:
        name = match.group(1)
        if name not in scope:
            raise ValueError(f"{unit.name}: ExecStart uses ${{{name}}}, which is not set")
        return scope[name]

    line = re.sub(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}", variable, line)
    argv = shlex.split(line)
    if argv[0] != VENV_PYTHON:
        raise ValueError(f"{unit.name}: ExecStart must start with {VENV_PYTHON}, not {argv[0]}")
    if unit.working_directory != APP_DIR:
        raise ValueError(f"{unit.name}: WorkingDirectory must be {APP_DIR}")
    return [sys.executable, *argv[1:]]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def http_status(url: str, timeout: float = 2.0) -> int:
    try:
        with urllib.request.urlopen(url, timeout=timeout) as reply:
            return reply.status
    except urllib.error.HTTPError as exc:
        return exc.code


class Service:
    def __init__(self, label: str, argv: list[str], env: dict[str, str], log_dir: Path) -> None:
        self.label, self.argv = label, argv
        self.log_path = log_dir / f"{label}.log"
        self._log = self.log_path.open("wb")
        self.proc = subprocess.Popen(
            argv, cwd=ROOT, env=env, stdout=self._log, stderr=subprocess.STDOUT
        )

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def wait_for(self, ready: Callable[[], bool], timeout: float = STARTUP_S) -> str | None:
        """None when ``ready()`` held in time; otherwise why not."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                return f"exited with {self.proc.returncode}"
            try:
                if ready():
                    return None
            except OSError:
                pass  # not listening yet
            time.sleep(0.3)
        return f"not within {timeout:.0f} s"

    def stop(self, timeout: float = 60) -> int | None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)  # systemd's KillSignal
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
                self._log.close()
                return None
        self._log.close()
        return self.proc.returncode


def run_checks(args: argparse.Namespace) -> list[tuple[str, str | None]]:
    """Start the units' processes, check them, stop them; [(check, None or the failure)]."""
    env = dict(os.environ)
    if args.env_file:
        env.update(read_env_file(Path(args.env_file)))
    env["ANBU_DATABASE_URL"] = args.database_url
    if args.mqtt_url:
        env["ANBU_MQTT_URL"] = args.mqtt_url
    env["PYTHONUNBUFFERED"] = "1"
    units = load_units(Path(args.units))
    expected = {"anbu-app@.service", "anbu-ingest@.service", "anbu-worker.service"}
    if not args.no_bridge:
        expected.add("anbu-bridge@.service")
    missing = expected - set(units)
    if missing:
        return [("unit files", f"missing {sorted(missing)}")]
    results: list[tuple[str, str | None]] = []
    if args.migrate:
        done = subprocess.run(
            [sys.executable, "-m", "dashboard", "db", "upgrade"],
            cwd=ROOT,
            env=env,
            capture_output=True,
            text=True,
        )
        results.append(("db upgrade", None if done.returncode == 0 else done.stdout + done.stderr))
        if done.returncode != 0:
            return results
    app_port, ingest_port = free_port(), free_port()
    instances = {
        "anbu-app@.service": str(app_port),
        "anbu-ingest@.service": str(ingest_port),
        "anbu-worker.service": "",
        "anbu-bridge@.service": f"verify{os.getpid()}",
    }
    log_dir = Path(args.log_dir or tempfile.mkdtemp(prefix="anbu-verify-"))
    services: dict[str, Service] = {}
    try:
        for name in sorted(expected):
            argv = command(units[name], instances[name], env)
            services[name] = Service(name.split(".")[0].rstrip("@"), argv, env, log_dir)
        ingest = f"http://127.0.0.1:{ingest_port}"
        app = f"http://127.0.0.1:{app_port}"
        checks: list[tuple[str, str, Callable[[], bool]]] = [
            (
                "ingest /healthz",
                "anbu-ingest@.service",
                lambda: http_status(f"{ingest}/healthz") == 200,
            ),
            (
                "ingest /readyz (database)",
                "anbu-ingest@.service",
                lambda: http_status(f"{ingest}/readyz") == 200,
            ),
            (
                "app /_stcore/health",
                "anbu-app@.service",
                lambda: http_status(f"{app}/_stcore/health") == 200,
            ),
            ("app page /", "anbu-app@.service", lambda: http_status(f"{app}/") == 200),
            (
                "worker first pass",
                "anbu-worker.service",
                lambda: bool(re.search(WORKER_UP, services["anbu-worker.service"].log())),
            ),
        ]
        if not args.no_bridge:
            checks.append(
                (
                    "bridge subscribed",
                    "anbu-bridge@.service",
                    lambda: "subscribing to" in services["anbu-bridge@.service"].log(),
                )
            )
        for label, unit, ready in checks:
            failure = services[unit].wait_for(ready)
            results.append((label, failure and f"{failure}\n{services[unit].log()[-3000:]}"))
    finally:
        for name, service in services.items():
            code = service.stop()
            # Like systemd: exit 0 or death by the SIGTERM it sent is a clean stop (uvicorn
            # re-raises the signal after its graceful shutdown).
            clean = code in (0, -signal.SIGTERM)
            failure = None if clean else f"exit code {code} (None: had to be killed)"
            tail = service.log()[-3000:]
            results.append((f"{name} stops on SIGTERM", failure and f"{failure}\n{tail}"))
    print(f"logs in {log_dir}")
    return results


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--database-url", required=True, help="PostgreSQL URL to run against")
    parser.add_argument("--mqtt-url", help="broker for the bridge (default: ANBU_MQTT_URL)")
    parser.add_argument("--env-file", help="an environment file such as deploy/env/anbu.env")
    parser.add_argument("--migrate", action="store_true", help="run db upgrade first")
    parser.add_argument("--no-bridge", action="store_true", help="skip the MQTT bridge")
    parser.add_argument("--units", default=str(UNITS), help="folder of the unit files")
    parser.add_argument("--log-dir", help="where the processes' logs go (default: a temp dir)")
    args = parser.parse_args(argv)
    results = run_checks(args)
    for label, failure in results:
        print(f"{'ok  ' if failure is None else 'FAIL'} {label}")
        if failure is not None:
            print("     " + failure.replace("\n", "\n     "))
    return 0 if all(f is None for _l, f in results) else 1


if __name__ == "__main__":
    sys.exit(main())
