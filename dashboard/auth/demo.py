"""Demo accounts: ``operator``, ``lead``, ``council`` and ``admin`` with password ``anbu-demo``.

They exist only in demo mode. ``sync_demo_accounts`` runs at every start: in demo mode it
creates missing ones; outside demo mode it deletes every account marked ``is_demo``. Even a
leftover row could not log in (``authenticate`` ignores demo accounts outside demo mode).
A real account that happens to carry one of these names is never touched.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import Connection, delete, select

from dashboard.audit import audit_account
from dashboard.auth.principal import system_principal
from dashboard.auth.users import create_user, get_user
from dashboard.db.schema import User

DEMO_PASSWORD = "anbu-demo"
# Demo accounts are managed by the start-up itself, through the same checks as an admin.
PRINCIPAL = system_principal("demo")
# username -> (display name, districts). The demo operator works in Goyang's control center
# (고양시 with its three 구): Seoul and Daedeok people stay masked for that account.
DEMO_ACCOUNTS: dict[str, tuple[str, tuple[str, ...]]] = {
    "operator": ("관제 요원 (데모)", ("4128000000",)),
    "lead": ("팀장 (데모)", ()),
    "council": ("의회 브리핑 (데모)", ()),
    "admin": ("시스템 관리자 (데모)", ()),
}


@dataclass
class DemoSync:
    created: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)


def sync_demo_accounts(conn: Connection, demo: bool, now: datetime) -> DemoSync:
    result = DemoSync()
    if not demo:
        names = conn.execute(select(User.username).where(User.is_demo.is_(True))).scalars().all()
        if names:
            conn.execute(delete(User).where(User.is_demo.is_(True)))
            for name in names:
                audit_account(
                    conn, now, PRINCIPAL.username, "user_delete", name, {"reason": "demo mode off"}
                )
        result.removed = sorted(names)
        return result
    for name, (display_name, districts) in DEMO_ACCOUNTS.items():
        if get_user(conn, name) is not None:
            continue
        create_user(
            conn,
            name,
            role=name,
            password=DEMO_PASSWORD,
            now=now,
            principal=PRINCIPAL,
            display_name=display_name,
            district_codes=districts,
            is_demo=True,
            check_rule=False,  # a published demo password; real accounts follow the rule
        )
        result.created.append(name)
    return result
