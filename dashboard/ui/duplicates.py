"""동일인 의심 on 대상자 관리: the people the duplicate check suspects to be one person.

For the roster's managers (``manage_roster``: leads, and admins by 대상자번호 only). The panel
of a person names the others by 대상자번호 (linked), dong, program, open alerts and which keys
matched, never a value; a lead (``resolve_duplicates``) marks a pair as different people, or
undoes it, in a callback through ``dashboard.enrollment`` (checked again there, audited). The
list above the table shows every suspected pair the user may see.
"""

from __future__ import annotations

import pandas as pd
import streamlit as st

from dashboard import clock
from dashboard.auth import SessionUser, can
from dashboard.auth.permissions import NotPermitted
from dashboard.enrollment import (
    EnrollmentError,
    NotFound,
    mark_different,
    suspected_duplicates,
    unmark_different,
)
from dashboard.formatting import format_datetime, format_number
from dashboard.i18n import localized
from dashboard.registry.duplicates import HOME_RADIUS_M
from dashboard.ui.auth import acting_user
from dashboard.ui.data import clear_loads, get_engine, load
from dashboard.ui.enrollment_errors import error_text
from dashboard.ui.i18n import current_lang, t
from dashboard.ui.person_actions import FLASH_KEY
from dashboard.ui.safe_text import md_escape
from queries.duplicates import suspected_list

SEE = "manage_roster"
JUDGE = "resolve_duplicates"
LIST_SHOWN = 200  # pairs listed; more says so


def key_names(keys: tuple[str, ...] | list[str]) -> str:
    """The matched second keys in the session's language, e.g. "연락처, 자택 위치(30 m 이내)"."""
    return ", ".join(t(f"duplicate.key.{k}", m=format_number(HOME_RADIUS_M)) for k in keys)


def _link(ref: str) -> str:
    suffix = "&lang=en" if current_lang() == "en" else ""
    return f"[{md_escape(ref)}](people?person={ref}{suffix})"


def _judge(mark: bool, recipient_id: int, other_id: int, other_ref: str) -> None:
    user = acting_user()
    if user is None or not can(user.role, JUDGE):
        st.session_state[FLASH_KEY] = ("error", t("person_edit.not_permitted"))
        return
    act = mark_different if mark else unmark_different
    try:
        with get_engine().begin() as conn:
            act(conn, user, clock.now(), recipient_id, other_id)
    except (EnrollmentError, NotFound, NotPermitted) as err:
        st.session_state[FLASH_KEY] = ("error", error_text(err))
        return
    clear_loads()
    done = "duplicate.done_mark" if mark else "duplicate.done_unmark"
    st.session_state[FLASH_KEY] = ("success", t(done, ref=md_escape(other_ref)))


def duplicate_section(user: SessionUser, person: dict) -> None:
    """The person panel's notice: the suspected others, for the roster's managers, with a
    lead's 다른 사람 button per pair (and 표시 취소 for pairs marked before)."""
    if not can(user.role, SEE) or person["status"] != "active":
        return
    rid = int(person["id"])
    with get_engine().connect() as conn:  # fresh: a mark shows at once
        suspects = suspected_duplicates(conn, user, rid)
    if not suspects:
        return
    lang = current_lang()
    judge = can(user.role, JUDGE)
    open_ = [s for s in suspects if not s.different]
    marked = [s for s in suspects if s.different]
    if open_:
        with st.container(border=True):
            st.warning(t("duplicate.banner", n=len(open_)), icon=":material/group:")
            for s in open_:
                line = t(
                    "duplicate.row",
                    link=_link(s.external_ref),
                    dong=md_escape(localized(s, "region", lang)),
                    program=md_escape(localized(s, "program", lang)),
                    alerts=format_number(s.open_alerts),
                    keys=key_names(s.keys),
                )
                if judge:
                    text, button = st.columns([4, 1], vertical_alignment="center")
                    text.markdown(line)
                    button.button(
                        t("duplicate.mark"),
                        key=f"people_dup_mark_{rid}_{s.id}",
                        help=t("duplicate.mark_help"),
                        on_click=_judge,
                        args=(True, rid, s.id, s.external_ref),
                    )
                else:
                    st.markdown(line)
            if not judge:
                st.caption(t("duplicate.not_for_role"))
    for s in marked:
        at = format_datetime(s.marked_at, lang)
        text = t("duplicate.marked", link=_link(s.external_ref), by=md_escape(s.marked_by), at=at)
        if judge:
            left, right = st.columns([4, 1], vertical_alignment="center")
            left.caption(text)
            right.button(
                t("duplicate.unmark"),
                key=f"people_dup_unmark_{rid}_{s.id}",
                on_click=_judge,
                args=(False, rid, s.id, s.external_ref),
            )
        else:
            st.caption(text)


def duplicates_list(user: SessionUser, areas: tuple[str, ...] | None) -> None:
    """Every suspected pair not marked different, within ``areas`` (the page's scope), for
    the roster's managers: a folded list above the table, each 대상자번호 linked."""
    if not can(user.role, SEE):
        return
    pairs = load(suspected_list, areas=areas)
    lang = current_lang()
    with st.expander(
        t("duplicate.list_title", n=format_number(len(pairs))),
        icon=":material/group:",
        expanded=False,
    ):
        st.caption(t("duplicate.list_help", m=format_number(HOME_RADIUS_M)))
        if pairs.empty:
            st.caption(t("duplicate.list_none"))
            return
        shown = pairs.head(LIST_SHOWN)
        suffix = "&lang=en" if lang == "en" else ""

        def side(row: dict, n: str) -> str:
            return f"{localized(row, f'{n}_region', lang)} · {localized(row, f'{n}_program', lang)}"

        rows = shown.to_dict("records")
        st.dataframe(
            pd.DataFrame(
                {
                    t("duplicate.col_first"): [
                        f"people?person={r['first_ref']}{suffix}" for r in rows
                    ],
                    t("duplicate.col_first_where"): [side(r, "first") for r in rows],
                    t("duplicate.col_second"): [
                        f"people?person={r['second_ref']}{suffix}" for r in rows
                    ],
                    t("duplicate.col_second_where"): [side(r, "second") for r in rows],
                    t("duplicate.col_keys"): [key_names(r["keys"]) for r in rows],
                    t("people.open_alerts"): [int(r["open_alerts"]) for r in rows],
                }
            ),
            hide_index=True,
            width="stretch",
            column_config={
                t("duplicate.col_first"): st.column_config.LinkColumn(
                    display_text=r"people\?person=([^&]+)"
                ),
                t("duplicate.col_second"): st.column_config.LinkColumn(
                    display_text=r"people\?person=([^&]+)"
                ),
            },
        )
        if len(pairs) > LIST_SHOWN:
            st.caption(t("duplicate.list_more", n=format_number(LIST_SHOWN)))
