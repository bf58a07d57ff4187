"""The deployment recipe in deploy/ cannot rot: its units run, its files match the code."""

from __future__ import annotations

import importlib.util
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from pydantic import SecretStr

from dashboard.cli import build_parser
from dashboard.settings import Settings
from tests.conftest import missing_service
from tests.integration.test_mqtt import HOST, PORT, reachable

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "deploy"


def load_verify():
    spec = importlib.util.spec_from_file_location("anbu_deploy_verify", DEPLOY / "verify.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up
    spec.loader.exec_module(module)
    return module


verify = load_verify()


def test_verify_starts_the_units_processes_on_postgresql(postgres_schema_url, tmp_path):
    """deploy/verify.py on a fresh schema: migrate, start app, ingest, worker and bridge from
    the units' ExecStart lines, check their health, stop them cleanly."""
    if not reachable(HOST, PORT):
        missing_service(f"no MQTT broker at {HOST}:{PORT}")
    done = subprocess.run(
        [
            sys.executable,
            str(DEPLOY / "verify.py"),
            "--database-url",
            postgres_schema_url,
            "--migrate",
            "--env-file",
            str(DEPLOY / "env" / "anbu.env"),
            "--mqtt-url",
            f"mqtt://{HOST}:{PORT}",
            "--log-dir",
            str(tmp_path),
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=280,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    checks = re.findall(r"^(ok  |FAIL) (.+)$", done.stdout, re.MULTILINE)
    assert {c for _s, c in checks} >= {
        "db upgrade",
        "ingest /healthz",
        "ingest /readyz (database)",
        "app /_stcore/health",
        "worker first pass",
        "bridge subscribed",
        "anbu-worker.service stops on SIGTERM",
    }
    assert all(s == "ok  " for s, _c in checks)
    assert "worker leadership acquired" in (tmp_path / "anbu-worker.log").read_text()


def test_every_unit_runs_a_command_the_cli_knows():
    units = verify.load_units()
    assert set(units) == {
        "anbu-app@.service",
        "anbu-ingest@.service",
        "anbu-worker.service",
        "anbu-bridge@.service",
    }
    env = {"LISTEN": "127.0.0.1"}
    for name, unit in units.items():
        argv = verify.command(unit, "8501", env)
        assert argv[0] == sys.executable
        assert "/etc/anbu/anbu.env" in unit.environment_files, name
        if argv[1:3] == ["-m", "dashboard"]:
            build_parser().parse_args(argv[3:])  # exits on an unknown command or option
        else:
            assert argv[1:5] == ["-m", "streamlit", "run", "dashboard/app.py"], name
            assert (ROOT / argv[4]).is_file()
    bridge = verify.command(units["anbu-bridge@.service"], "7", env)
    assert bridge[-1].endswith("-7")  # each instance its own MQTT client id


def test_a_missing_variable_in_exec_start_is_named():
    unit = verify.Unit(
        "x.service", "/opt/anbu/venv/bin/python -m dashboard ${NOPE}", {}, "/opt/anbu/app"
    )
    with pytest.raises(ValueError, match=r"x.service: ExecStart uses \$\{NOPE\}"):
        verify.command(unit, "", {})


def _code_default(value: object) -> str:
    if isinstance(value, SecretStr):
        value = value.get_secret_value()
    if value is None:
        return ""
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def test_the_environment_file_lists_every_setting_with_its_default():
    """deploy/env/anbu.env names every ANBU_* setting of dashboard/settings.py (set, or
    commented out with the code's default) and nothing else."""
    text = (DEPLOY / "env" / "anbu.env").read_text(encoding="utf-8")
    active = verify.read_env_file(DEPLOY / "env" / "anbu.env")
    commented = dict(re.findall(r"^# (ANBU_[A-Z0-9_]+)=(.*)$", text, re.MULTILINE))
    names = {f"ANBU_{f.upper()}" for f in Settings.model_fields}
    assert set(active) | set(commented) == names
    assert not set(active) & set(commented)
    for field, info in Settings.model_fields.items():
        name = f"ANBU_{field.upper()}"
        if name in commented:
            assert commented[name] == _code_default(info.default), name
    Settings(**{k.removeprefix("ANBU_").lower(): v for k, v in active.items()})  # valid values


def test_the_nginx_configuration_is_valid(tmp_path):
    nginx, openssl = shutil.which("nginx") or "/usr/sbin/nginx", shutil.which("openssl")
    if not Path(nginx).exists() or openssl is None:
        missing_service("nginx or openssl is not installed (apt-get install nginx-light openssl)")
    key, cert = tmp_path / "privkey.pem", tmp_path / "fullchain.pem"
    subprocess.run(
        [openssl, "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
         "-subj", "/CN=anbu.example.go.kr", "-keyout", str(key), "-out", str(cert)],
        check=True, capture_output=True,
    )  # fmt: skip
    site = (DEPLOY / "nginx" / "anbu.conf").read_text(encoding="utf-8")
    site = site.replace("/etc/ssl/anbu/", f"{tmp_path}/")
    (tmp_path / "anbu.conf").write_text(site, encoding="utf-8")
    (tmp_path / "nginx.conf").write_text(
        f"pid {tmp_path}/nginx.pid;\nerror_log {tmp_path}/error.log;\nevents {{}}\n"
        f"http {{\n access_log off;\n include {tmp_path}/anbu.conf;\n}}\n",
        encoding="utf-8",
    )
    done = subprocess.run(
        [nginx, "-t", "-p", str(tmp_path), "-c", str(tmp_path / "nginx.conf")],
        capture_output=True,
        text=True,
    )
    assert done.returncode == 0, done.stderr
    assert "ip_hash" in site and "proxy_set_header Upgrade $http_upgrade" in site


def test_systemd_accepts_the_units(tmp_path):
    """``systemd-analyze verify`` on each unit (templates instantiated), with this Python in
    place of /opt/anbu/venv/bin/python: no warning at all (a misspelt key or value is one)."""
    analyze = shutil.which("systemd-analyze")
    if analyze is None:
        missing_service("systemd-analyze is not installed (apt-get install systemd)")
    instances = {
        "anbu-app@.service": "8501",
        "anbu-ingest@.service": "8765",
        "anbu-bridge@.service": "1",
    }
    paths = []
    for unit in sorted((DEPLOY / "systemd").glob("*.service")):
        text = unit.read_text(encoding="utf-8").replace(verify.VENV_PYTHON, sys.executable)
        name = (
            unit.name.replace("@.", f"@{instances[unit.name]}.") if "@." in unit.name else unit.name
        )
        (tmp_path / unit.name).write_text(text, encoding="utf-8")  # the template itself
        if name != unit.name:
            (tmp_path / name).write_text(text, encoding="utf-8")
        paths.append(str(tmp_path / name))
    done = subprocess.run(
        [analyze, "verify", "--man=no", *paths], capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0 and not (done.stdout + done.stderr).strip(), (
        done.stdout + done.stderr
    )
