"""CLI: ``python -m dashboard users add|list|disable|enable|unlock|passwd``."""

from __future__ import annotations

import argparse
import getpass
import sys
from collections.abc import Callable
from datetime import datetime

from dashboard import clock
from dashboard.db.schema.people import ROLES


def _engine():
    from dashboard.db.engine import make_engine
    from dashboard.settings import get_settings

    return make_engine(get_settings().resolved_database_url)


def _now() -> datetime:
    return clock.now()


def read_new_password(args: argparse.Namespace, prompt: Callable[[str], str] | None = None) -> str:
    """From stdin (one line) with ``--password-stdin``, else typed twice without echo."""
    if args.password_stdin:
        return sys.stdin.readline().rstrip("\r\n")
    prompt = prompt or getpass.getpass
    try:
        first = prompt("password: ")
        again = prompt("again: ")
    except EOFError:  # run from a script: nothing to type the password into
        raise ValueError(
            "no password given: type it at a terminal, or pipe it in with --password-stdin"
        ) from None
    if first != again:
        raise ValueError("the two passwords differ")
    return first


def cmd_users(args: argparse.Namespace) -> int:
    from sqlalchemy import inspect

    from dashboard.auth import users
    from dashboard.auth.passwords import WeakPasswordError
    from dashboard.auth.permissions import NotPermitted
    from dashboard.auth.principal import cli_principal

    engine = _engine()
    if not inspect(engine).has_table("users"):
        print("error: no tables yet; run `python -m dashboard db upgrade` first", file=sys.stderr)
        return 2
    now, actor = _now(), cli_principal()
    try:
        if args.action == "list":
            with engine.connect() as conn:
                _print_users(users.list_users(conn), now)
            return 0
        if args.action in ("add", "passwd"):
            password = read_new_password(args)
        with engine.begin() as conn:
            if args.action == "add":
                info = users.create_user(
                    conn,
                    args.name,
                    args.role,
                    password,
                    now,
                    actor,
                    display_name=args.display_name,
                    district_codes=args.district or (),
                )
                print(f"created {info.role} {info.username}")
                if info.role == "operator" and not info.district_codes:
                    print("note: an operator without --district sees no personal data")
            elif args.action == "passwd":
                users.set_password(conn, args.name, password, now, actor)
                print(f"password changed for {users.normalize_username(args.name)}")
            elif args.action in ("disable", "enable"):
                users.set_active(conn, args.name, args.action == "enable", now, actor)
                print(f"{args.action}d {users.normalize_username(args.name)}")
            elif args.action == "unlock":
                users.unlock_user(conn, args.name, now, actor)
                print(f"unlocked {users.normalize_username(args.name)}")
    except (users.UserError, WeakPasswordError, ValueError, NotPermitted) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    return 0


def _print_users(rows, now: datetime) -> None:
    print(f"{'username':<20} {'role':<9} {'state':<8} {'districts':<24} display name")
    for u in rows:
        state = "disabled" if not u.active else "active"
        if u.locked_until is not None and u.locked_until > now:
            state = "locked"
        tags = " (demo)" if u.is_demo else ""
        districts = ",".join(u.district_codes) or ("all" if u.role == "lead" else "-")
        print(f"{u.username:<20} {u.role:<9} {state:<8} {districts:<24} {u.display_name}{tags}")


def register(sub: argparse._SubParsersAction) -> None:
    users = sub.add_parser("users", help="local accounts (roles, lockout, passwords)")
    actions = users.add_subparsers(dest="action", required=True)

    add = actions.add_parser("add", help="create an account; asks for the password twice")
    add.add_argument("name")
    add.add_argument("--role", required=True, choices=ROLES)
    add.add_argument(
        "--district",
        action="append",
        metavar="CODE",
        help="operators: 10-digit code of a 시·군·구 whose people they may see (repeatable)",
    )
    add.add_argument("--display-name", help="name shown in the app (default: the username)")
    add.add_argument("--password-stdin", action="store_true", help="read the password from stdin")

    actions.add_parser("list", help="list accounts with role, state and districts")
    for name, text in [
        ("disable", "disable an account (it can no longer log in)"),
        ("enable", "enable a disabled account"),
        ("unlock", "lift a lockout after repeated failed logins"),
    ]:
        actions.add_parser(name, help=text).add_argument("name")
    passwd = actions.add_parser("passwd", help="set a new password (also lifts a lockout)")
    passwd.add_argument("name")
    passwd.add_argument("--password-stdin", action="store_true", help="read it from stdin")
    users.set_defaults(func=cmd_users)
