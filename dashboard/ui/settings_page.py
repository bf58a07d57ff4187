"""설정 page parts: the rule thresholds of ``data/rules.toml``, shown to leads and admins and
edited by leads (``edit_thresholds``).

The save happens in an ``on_click`` callback that re-checks the role, validates every value with
the rules' own model (:mod:`dashboard.rules.edit`) and, only when all are valid, writes the file
atomically and one ``audit_log`` row (``thresholds_update``) in one transaction
(``dashboard.rules.edit.update_thresholds``, which checks the permission again). The file is
read through ``dashboard.rules.config.DEFAULT_PATH`` at call time (tests point it at a copy).
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Any

import pandas as pd
import streamlit as st

from dashboard import clock
from dashboard.auth import SessionUser, can, can_open
from dashboard.i18n import translate_or
from dashboard.rules import config
from dashboard.rules.edit import ThresholdsInvalid, changes, flatten, unit_of, update_thresholds
from dashboard.ui.auth import USER_KEY
from dashboard.ui.data import get_engine
from dashboard.ui.i18n import current_lang, t
from dashboard.ui.safe_text import md_escape

PAGE = "settings"
ACTION = "edit_thresholds"
SAVE = "settings_save"
FORM = "settings_form"
_ERRORS = "settings_errors"  # {key: [message]} from the last save attempt
_FLASH = "settings_flash"  # (kind, message, [changed lines]) shown once after a save
STAGES = ("attention", "risk", "severe")


def widget_key(key: str) -> str:
    """Session key of the input for flat setting ``key`` (tests use it)."""
    return f"settings__{key}"


def rules_path() -> Path:
    return Path(config.DEFAULT_PATH)


def _now() -> datetime:
    return clock.now()


def section_label(section: str) -> str:
    return translate_or(f"settings_page.section.{section}", section, current_lang())


def setting_label(key: str) -> str:
    return translate_or(f"settings_page.field.{key}", key.split(".")[-1], current_lang())


def unit_label(key: str) -> str:
    return t(f"settings_page.unit.{unit_of(key)}")


def show_value(key: str, value: Any) -> str:
    if key == "ai_call.concern_stage":
        return t(f"settings_page.stage.{value}")
    if isinstance(value, bool):
        return t("settings_page.on" if value else "settings_page.off")
    if isinstance(value, float):
        return f"{value:g}"
    return str(value)


def _actor() -> SessionUser | None:
    """The session user if still allowed to edit: a callback is a second door."""
    user = st.session_state.get(USER_KEY)
    if not isinstance(user, SessionUser) or not can_open(user.role, PAGE):
        return None
    return user if can(user.role, ACTION) else None


def _on_save() -> None:
    state = st.session_state
    actor = _actor()
    if actor is None:
        return
    path = rules_path()
    try:
        old = flatten(config.load_thresholds(path))
    except config.RulesConfigError:
        old = {}
    values = {key: state[widget_key(key)] for key in old if widget_key(key) in state}
    diff = changes(old, values)
    state[_ERRORS] = {}
    if not diff:
        state[_FLASH] = ("info", t("settings_page.no_change"), [])
        return
    try:
        with get_engine().begin() as conn:
            # Checks edit_thresholds and audits; an invalid value or a failed write rolls back.
            diff = update_thresholds(conn, actor, values, path, _now())
    except ThresholdsInvalid as exc:
        state[_ERRORS] = exc.problems
        state[_FLASH] = ("error", t("settings_page.invalid"), [])
        return
    except OSError as exc:
        state[_FLASH] = ("error", t("settings_page.failed", message=exc.strerror or exc), [])
        return
    lines = [
        t(
            "settings_page.changed",
            label=f"{setting_label(k)} ({k})",
            old=show_value(k, a),
            new=show_value(k, b),
        )
        for k, (a, b) in diff.items()
    ]
    state[_FLASH] = ("success", t("settings_page.saved"), lines)


def _show_flash() -> None:
    notice = st.session_state.pop(_FLASH, None)
    if not notice:
        return
    kind, message, lines = notice
    {"success": st.success, "error": st.error}.get(kind, st.info)(message)
    if lines:
        st.markdown("\n".join(f"- {line}" for line in lines))


def settings_frame(values: dict[str, Any]) -> pd.DataFrame:
    """Every setting, grouped by rule: rule, setting, key, unit, current value."""
    return pd.DataFrame(
        [
            {
                t("settings_page.col_rule"): section_label(key.split(".")[0]),
                t("settings_page.col_setting"): setting_label(key),
                t("settings_page.col_key"): key,
                t("settings_page.col_unit"): unit_label(key),
                t("settings_page.col_value"): show_value(key, value),
            }
            for key, value in values.items()
        ]
    )


def _input(key: str, value: Any, errors: dict[str, list[str]]) -> None:
    label = f"{setting_label(key)} ({unit_label(key)})"
    if key == "ai_call.concern_stage":
        stage_labels = {s: t(f"settings_page.stage.{s}") for s in STAGES}
        st.selectbox(
            label,
            options=list(STAGES),
            index=STAGES.index(value) if value in STAGES else 0,
            format_func=stage_labels.__getitem__,
            key=widget_key(key),
            help=key,
        )
    elif isinstance(value, bool):
        st.toggle(setting_label(key), value=value, key=widget_key(key), help=key)
    elif isinstance(value, int):
        st.number_input(label, value=value, step=1, key=widget_key(key), help=key)
    else:
        st.number_input(label, value=float(value), step=1.0, key=widget_key(key), help=key)
    for message in errors.get(key, []):
        st.error(t("settings_page.problem", message=md_escape(message)), icon=":material/error:")


def edit_form(values: dict[str, Any]) -> None:
    errors: dict[str, list[str]] = st.session_state.get(_ERRORS, {})
    with st.form(FORM, enter_to_submit=False):
        st.subheader(t("settings_page.form_title"))
        section = None
        for key, value in values.items():
            if key.split(".")[0] != section:
                section = key.split(".")[0]
                st.markdown(f"**{section_label(section)}**")
            _input(key, value, errors)
        st.form_submit_button(t("settings_page.save"), type="primary", on_click=_on_save, key=SAVE)


def settings_view(user: SessionUser) -> None:
    _show_flash()
    path = rules_path()
    try:
        values = flatten(config.load_thresholds(path))
    except config.RulesConfigError as exc:
        st.error(t("settings_page.load_error", message=md_escape(exc)))
        return
    st.dataframe(settings_frame(values), hide_index=True, width="stretch")
    st.caption(t("settings_page.file", path=path.name))
    if can(user.role, ACTION):
        edit_form(values)
        st.caption(t("settings_page.audited"))
    else:
        st.info(t("settings_page.read_only"), icon=":material/visibility:")
