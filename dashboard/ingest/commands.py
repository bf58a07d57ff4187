"""CLI: ``serve-ingest``, ``apikey``, ``vendors``, ``mqtt-bridge``, ``import-events``,
``ingest-openapi``."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from dashboard import clock
from dashboard.ops.options import add_metrics_options

OPENAPI_PATH = Path(__file__).resolve().parents[2] / "docs" / "openapi.json"


def _engine():
    from dashboard.db.engine import make_engine
    from dashboard.settings import get_settings

    return make_engine(get_settings().resolved_database_url)


def _require_schema(engine) -> bool:
    from sqlalchemy import inspect

    if not inspect(engine).has_table("device_events"):
        print(
            "error: the database has no tables yet; run `python -m dashboard db upgrade` "
            "(or `python -m dashboard init` on the embedded file) first",
            file=sys.stderr,
        )
        return False
    return True


def cmd_serve(args: argparse.Namespace) -> int:
    import uvicorn

    from dashboard.ingest.api import create_app

    engine = _engine()
    if not _require_schema(engine):
        return 2
    from dashboard.ops.logs import configure_logging

    configure_logging()  # uvicorn's own loggers propagate to it (log_config=None)
    uvicorn.run(
        create_app(engine),
        host=args.host,
        port=args.port,
        log_level=args.log_level,
        log_config=None,
    )
    return 0


def cmd_apikey(args: argparse.Namespace) -> int:
    from dashboard.auth.principal import cli_principal
    from dashboard.ingest import apikeys

    engine = _engine()
    if not _require_schema(engine):
        return 2
    if args.action == "add":
        try:
            apikeys.check_vendor(args.vendor)
        except ValueError as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 2
        with engine.begin() as conn:
            key, prefix = apikeys.create_key(
                conn, args.vendor, principal=cli_principal(), now=clock.now()
            )
        print(f"vendor: {args.vendor}\nprefix: {prefix}\nkey:    {key}")
        print("This key is shown once and stored only as a hash: give it to the vendor now.")
        return 0
    if args.action == "list":
        with engine.connect() as conn:
            keys = apikeys.list_keys(conn)
        print(f"{'prefix':10} {'vendor':24} {'created (UTC)':20} revoked (UTC)")
        for k in keys:
            revoked = k.revoked_at.strftime("%Y-%m-%d %H:%M") if k.revoked_at else "-"
            print(f"{k.prefix:10} {k.vendor:24} {k.created_at:%Y-%m-%d %H:%M}     {revoked}")
        return 0
    with engine.begin() as conn:
        revoked = apikeys.revoke_key(conn, args.prefix, principal=cli_principal(), now=clock.now())
    if not revoked:
        print(f"error: no active key with prefix {args.prefix!r}", file=sys.stderr)
        return 1
    print(f"revoked key {args.prefix}")
    return 0


def cmd_vendors(args: argparse.Namespace) -> int:
    from dashboard.auth.principal import cli_principal
    from dashboard.ingest import vendors

    engine = _engine()
    if not _require_schema(engine):
        return 2
    if args.action == "list":
        with engine.connect() as conn:
            rows = vendors.list_vendors(conn)
        print(f"{'vendor':24} {'time zone':20} {'declared':10} name")
        for v in rows:
            declared = "yes" if v.declared else "default"
            print(f"{v.code:24} {v.timezone:20} {declared:10} {v.name or '-'}")
        return 0
    try:
        with engine.begin() as conn:
            if args.action == "add":
                info = vendors.add_vendor(
                    conn,
                    args.code,
                    name=args.name,
                    timezone=args.timezone,
                    principal=cli_principal(),
                    now=clock.now(),
                )
            else:
                info = vendors.set_timezone(
                    conn, args.code, args.zone, principal=cli_principal(), now=clock.now()
                )
    except vendors.VendorError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(f"vendor {info.code}: naive timestamps are read in {info.timezone}")
    return 0


def cmd_mqtt(args: argparse.Namespace) -> int:
    from dashboard.ingest.mqtt import run_bridge
    from dashboard.settings import get_settings

    settings = get_settings()
    if args.share_group is None:
        args.share_group = settings.mqtt_share_group
    if args.url is None:  # from the environment: a password stays out of the process list
        args.url = settings.mqtt_url.get_secret_value()
    engine = _engine()
    if not _require_schema(engine):
        return 2
    from dashboard.settings import get_settings

    port = args.metrics_port
    if port is None:
        port = get_settings().bridge_metrics_port
    if port is not None and not 0 <= port <= 65535:
        print(f"error: --metrics-port {port}: expected 0-65535 (0: any free port)", file=sys.stderr)
        return 2
    return run_bridge(
        engine,
        args.url,
        client_id=args.client_id,
        root=args.root,
        share_group=args.share_group,
        metrics_port=port,
        metrics_host=args.metrics_host,
    )


def cmd_import(args: argparse.Namespace) -> int:
    from dashboard.auth.principal import cli_principal
    from dashboard.ingest.files import MAX_FILE_BYTES
    from dashboard.ingest.imports import import_and_audit

    engine = _engine()
    if not _require_schema(engine):
        return 2
    path = Path(args.file)
    if not path.is_file():
        print(f"error: no file at {path}", file=sys.stderr)
        return 2
    with path.open("rb") as file:  # a file over the limit is refused without reading it all
        data = file.read(MAX_FILE_BYTES + 1)
    # Checked and audited like the import page; the actor is cli:<the OS user who ran it>.
    report = import_and_audit(
        engine, data, path.name, args.vendor, cli_principal(), now=clock.now()
    )
    print(report.summary())
    return 0 if report.ok else 1


def cmd_openapi(args: argparse.Namespace) -> int:
    from dashboard.ingest.api import openapi_document

    document = openapi_document()
    if args.check:
        current = (
            Path(args.output).read_text(encoding="utf-8") if Path(args.output).exists() else ""
        )
        if current != document:
            print(f"{args.output} is out of date: run `python -m dashboard ingest-openapi`")
            return 1
        print(f"{args.output} is up to date")
        return 0
    Path(args.output).write_text(document, encoding="utf-8")
    print(f"wrote {args.output}")
    return 0


def register(sub: argparse._SubParsersAction) -> None:
    serve = sub.add_parser("serve-ingest", help="run the vendor HTTP ingest API (uvicorn)")
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=8765)
    serve.add_argument("--log-level", default="info", choices=["debug", "info", "warning"])
    serve.set_defaults(func=cmd_serve)

    key = sub.add_parser("apikey", help="vendor API keys (shown once, stored hashed)")
    key_sub = key.add_subparsers(dest="action", required=True)
    add = key_sub.add_parser("add", help="create a key for a vendor and print it once")
    add.add_argument("vendor")
    key_sub.add_parser("list", help="list keys (prefix, vendor, created, revoked)")
    revoke = key_sub.add_parser("revoke", help="revoke a key by its prefix")
    revoke.add_argument("prefix")
    key.set_defaults(func=cmd_apikey)

    vend = sub.add_parser("vendors", help="vendors and the time zone of their naive timestamps")
    vend_sub = vend.add_subparsers(dest="action", required=True)
    vadd = vend_sub.add_parser("add", help="declare a vendor (code as in its API keys and devices)")
    vadd.add_argument("code")
    vadd.add_argument("--name", help="display name")
    vadd.add_argument(
        "--timezone", default="Asia/Seoul", help="IANA zone of its naive timestamps (Asia/Seoul)"
    )
    vzone = vend_sub.add_parser("set-timezone", help="change a vendor's time zone")
    vzone.add_argument("code")
    vzone.add_argument("zone", help="IANA time zone name, e.g. Asia/Seoul or Europe/Berlin")
    vend_sub.add_parser("list", help="list vendors with their time zones")
    vend.set_defaults(func=cmd_vendors)

    mqtt = sub.add_parser("mqtt-bridge", help="ingest events from MQTT topics anbu/+/events")
    mqtt.add_argument(
        "--url",
        default=None,
        help="mqtt://[user:pass@]host:port (default: ANBU_MQTT_URL or mqtt://127.0.0.1:1883)",
    )
    mqtt.add_argument(
        "--client-id",
        default="anbu-ingest-bridge",
        help="MQTT client id; the broker keeps this session's queued messages while it is away",
    )
    mqtt.add_argument("--root", default="anbu", help="first topic level (default: anbu)")
    mqtt.add_argument(
        "--share-group",
        default=None,
        help="shared subscription group of the bridges ($share/GROUP/...); default "
        "ANBU_MQTT_SHARE_GROUP or 'anbu'; '' subscribes without sharing",
    )
    add_metrics_options(mqtt, "ANBU_BRIDGE_METRICS_PORT")
    mqtt.set_defaults(func=cmd_mqtt)

    imp = sub.add_parser(
        "import-events", help="import a vendor export (CSV or .xlsx), all or nothing"
    )
    imp.add_argument("file")
    imp.add_argument("--vendor", required=True)
    imp.set_defaults(func=cmd_import)

    spec = sub.add_parser("ingest-openapi", help="write the ingest API's OpenAPI document")
    spec.add_argument("--output", default=str(OPENAPI_PATH))
    spec.add_argument("--check", action="store_true", help="only check the file is up to date")
    spec.set_defaults(func=cmd_openapi)
