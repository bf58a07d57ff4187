"""외출·부재 등록: marking a person away (first day, return date, optional note) and cancelling,
on the person panel and on a person alert's detail.

Offered to roles with ``mark_away`` for this person's district (operators in their districts,
leads); the callbacks call :mod:`dashboard.detection.away` with the session user, which checks
again and writes the audit row in the same transaction. A refusal (:class:`AwayError`: field and
message, or :class:`NotPermitted`) is shown translated next to the form and nothing is written.
"""

from __future__ import annotations

from datetime import date, timedelta

import pandas as pd
import streamlit as st
from sqlalchemy import Connection

from dashboard import clock
from dashboard.auth import SessionUser
from dashboard.auth.permissions import NotPermitted, may
from dashboard.auth.users import current_account
from dashboard.detection.away import ACTION, MAX_DAYS, NOTE_LIMIT, AwayError, cancel_away, mark_away
from dashboard.formatting import format_date, format_number
from dashboard.settings import LOCAL_TZ
from dashboard.ui.auth import STAMP_KEY, USER_KEY
from dashboard.ui.components import table
from dashboard.ui.data import clear_loads, get_engine
from dashboard.ui.i18n import current_lang, t
from dashboard.ui.safe_text import md_escape
from dashboard.ui.watch import clear_watch
from queries.away import away_periods_of, away_until

_FIELDS = {
    "starts_on": "away.starts_on",
    "ends_on": "away.ends_on",
    "note": "away.note",
    "recipient_id": "card.ref",
    "away_id": "away.period",
}


def key(where: str, part: str, recipient_id: int) -> str:
    """Session key of a widget or state of this section (``where``: people or alerts)."""
    return f"{where}_away_{part}_{recipient_id}"


def _today() -> date:
    return clock.now().astimezone(LOCAL_TZ).date()


def _actor(conn: Connection) -> SessionUser | None:
    """The session's account as it is now: a callback runs before the page re-reads it, and a
    role or district changed meanwhile must already count (a callback is a second door)."""
    user = st.session_state.get(USER_KEY)
    if not isinstance(user, SessionUser):
        return None
    return current_account(conn, user.username, st.session_state.get(STAMP_KEY))


def error_text(err: Exception) -> str:
    """A refusal in the session's language; a message the page does not know is escaped."""
    if isinstance(err, NotPermitted):
        return t("away.not_permitted", reason=t(f"card.refused.{err.reason}"))
    if not isinstance(err, AwayError):
        return t("away.err.other", message=md_escape(str(err)))
    message = err.message
    known = (
        ("must be after the first day", "away.err.order"),
        ("must be in the future", "away.err.past"),
        ("at most 7 days ago", "away.err.too_early"),
        ("longer absence", "away.err.too_long"),
        ("control codes", "away.err.control_codes"),
        ("characters", "away.err.note"),
        ("enrollment has ended", "away.err.ended"),
        ("already cancelled", "away.err.cancelled"),
        ("no away period", "away.err.not_found"),
    )
    text = next(
        (
            t(k, days=format_number(MAX_DAYS), n=format_number(NOTE_LIMIT))
            for hint, k in known
            if hint in message
        ),
        None,
    )
    text = text or t("away.err.other", message=md_escape(message))
    label = t(_FIELDS[err.field]) if err.field in _FIELDS else md_escape(err.field)
    return t("away.refused", field=label, message=text)


def _on_mark(where: str, recipient_id: int) -> None:
    st.session_state.pop(key(where, "error", recipient_id), None)
    starts = st.session_state.get(key(where, "starts", recipient_id))
    ends = st.session_state.get(key(where, "ends", recipient_id))
    note = st.session_state.get(key(where, "note", recipient_id))
    if not isinstance(starts, date) or not isinstance(ends, date):
        st.session_state[key(where, "error", recipient_id)] = t("away.err.dates")
        return
    try:
        with get_engine().begin() as conn:  # the period and its audit row, or neither
            user = _actor(conn)
            if user is None:
                raise NotPermitted(None, ACTION, "role")
            mark_away(conn, user, clock.now(), recipient_id, starts, ends, note)
    except (AwayError, NotPermitted) as err:
        st.session_state[key(where, "error", recipient_id)] = error_text(err)
        return
    st.session_state.pop(key(where, "note", recipient_id), None)
    clear_loads()
    clear_watch()
    lang = current_lang()
    st.session_state[key(where, "flash", recipient_id)] = t(
        "away.saved", starts=format_date(starts, lang), ends=format_date(ends, lang)
    )


def _on_cancel(where: str, recipient_id: int, away_id: int) -> None:
    st.session_state.pop(key(where, "error", recipient_id), None)
    try:
        with get_engine().begin() as conn:
            user = _actor(conn)
            if user is None:
                raise NotPermitted(None, ACTION, "role")
            cancel_away(conn, user, clock.now(), away_id)
    except (AwayError, NotPermitted) as err:
        st.session_state[key(where, "error", recipient_id)] = error_text(err)
        return
    clear_loads()
    clear_watch()
    st.session_state[key(where, "flash", recipient_id)] = t("away.cancelled")


def away_badge(recipient_id: int) -> None:
    """``외출·부재 중: DATE에 돌아옴`` when the person is marked away today (read fresh)."""
    with get_engine().connect() as conn:
        until = away_until(conn, recipient_id, _today())
    if until is not None:
        st.warning(
            t("away.marked_until", date=format_date(until, current_lang())),
            icon=":material/luggage:",
        )


def _note_text(note: object, revealed: bool) -> str:
    if not isinstance(note, str) or not note.strip():
        return "–"
    return note if revealed else t("person.notes_hidden")


def away_section(
    user: SessionUser,
    recipient_id: int,
    region_code: str | None,
    where: str,
    *,
    revealed: bool = False,
) -> None:
    """The away periods and the form, for roles that may mark this person away. A period's
    note is free text about the person (a stay in hospital), personal data like the staff
    notes: its text shows only once the person is ``revealed`` (the audited reveal of the page
    it is on), before that only that there is one."""
    if not may(user, ACTION, region_code):
        return
    lang = current_lang()
    today = _today()
    with get_engine().connect() as conn:  # fresh: what a cancel acts on
        periods = away_periods_of(conn, recipient_id, today)
    error = st.session_state.get(key(where, "error", recipient_id))
    flash = st.session_state.pop(key(where, "flash", recipient_id), None)
    with st.expander(
        t("away.title"), icon=":material/luggage:", expanded=bool(error or flash or len(periods))
    ):
        st.caption(t("away.help", days=format_number(MAX_DAYS)))
        if flash:
            st.success(flash)
        if periods.empty:
            st.caption(t("away.none"))
        else:
            shown = pd.DataFrame(
                {
                    "starts": [format_date(d, lang) for d in periods["starts_on"]],
                    "ends": [format_date(d, lang) for d in periods["ends_on"]],
                    "state": [
                        t("away.state.current" if c else "away.state.planned")
                        for c in periods["current"]
                    ],
                    "note": [_note_text(n, revealed) for n in periods["note"]],
                    "by": periods["created_by"],
                }
            )
            table(
                shown,
                {
                    "starts": "away.starts_on",
                    "ends": "away.ends_on",
                    "state": "col.status",
                    "note": "away.note",
                    "by": "away.created_by",
                },
            )
            for row in periods.itertuples(index=False):
                st.button(
                    t(
                        "away.cancel",
                        starts=format_date(row.starts_on, lang),
                        ends=format_date(row.ends_on, lang),
                    ),
                    key=key(where, f"cancel_{row.id}", recipient_id),
                    icon=":material/event_busy:",
                    on_click=_on_cancel,
                    args=(where, recipient_id, int(row.id)),
                )
        with st.form(key(where, "form", recipient_id), enter_to_submit=False, border=False):
            left, right = st.columns(2)
            left.date_input(
                t("away.starts_on"),
                value=today,
                format="YYYY-MM-DD",
                key=key(where, "starts", recipient_id),
            )
            right.date_input(
                t("away.ends_on"),
                value=today + timedelta(days=1),
                format="YYYY-MM-DD",
                help=t("away.ends_help"),
                key=key(where, "ends", recipient_id),
            )
            st.text_input(
                t("away.note"),
                max_chars=NOTE_LIMIT,
                help=t("away.note_help"),
                key=key(where, "note", recipient_id),
            )
            st.form_submit_button(
                t("away.save"),
                type="primary",
                icon=":material/event_available:",
                on_click=_on_mark,
                args=(where, recipient_id),
                key=key(where, "save", recipient_id),
            )
        if error:
            st.error(error, icon=":material/block:")
