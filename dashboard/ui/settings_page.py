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
from dashboard.auth.permissions import NotPermitted
from dashboard.detection.preview import Preview, preview_district
from dashboard.i18n import translate_or
from dashboard.rules import config
from dashboard.rules import districts as district_rules
from dashboard.rules.edit import ThresholdsInvalid, changes, flatten, unit_of, update_thresholds
from dashboard.settings import LOCAL_TZ
from dashboard.ui.auth import acting_user
from dashboard.ui.data import get_engine
from dashboard.ui.i18n import current_lang, t
from dashboard.ui.safe_text import md_escape
from queries.filters import districts_with_devices, known_districts

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


def input_label(key: str) -> str:
    """The input's label: the setting, and its unit once (none for a plain number)."""
    unit = unit_of(key)
    return setting_label(key) + (f" ({unit_label(key)})" if unit != "none" else "")


# Problem parameters that name a setting (flat keys): shown as the setting's label.
_SETTING_PARAMS = frozenset({"a", "b", "c", "setting"})


def _problem_param(name: str, value: Any) -> str:
    if name in _SETTING_PARAMS:
        return md_escape(setting_label(str(value)))
    if isinstance(value, float):
        return md_escape(f"{value:g}")
    if isinstance(value, list | tuple):
        return md_escape(", ".join(str(v) for v in value))
    return md_escape(value)


def problem_text(problem: str) -> str:
    """A validation problem in the session's language (``settings_page.error.<key>``); the
    English text, escaped, for a problem without a translation. Values are escaped: a typed
    value may come back in a parameter."""
    key = getattr(problem, "key", None)
    if not key:
        return md_escape(problem)
    params = {k: _problem_param(k, v) for k, v in getattr(problem, "params", {}).items()}
    return translate_or(f"settings_page.error.{key}", md_escape(problem), current_lang(), **params)


def show_value(key: str, value: Any) -> str:
    if value is None and key in district_rules.CHOICE_KEYS:  # a district following the city
        return t("settings_page.district.follows_city")
    if key == "ai_call.concern_stage":
        return t(f"settings_page.stage.{value}")
    if isinstance(value, bool):
        return t("settings_page.on" if value else "settings_page.off")
    if isinstance(value, float):
        return f"{value:g}"
    return str(value)


def _actor() -> SessionUser | None:
    """The account as it is now if still allowed to edit: a callback is a second door and
    runs before the page's gate re-reads the account (``acting_user``)."""
    user = acting_user()
    if user is None or not can_open(user.role, PAGE):
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
    label = input_label(key)
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
        st.error(t("settings_page.problem", message=problem_text(message)), icon=":material/error:")


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
    district_view(user)


# Per-district thresholds and the 30-day preview ------------------------------------------------
DISTRICT = "settings_district"  # the selected district code
D_PREVIEW = "settings_district_preview_btn"
D_SAVE = "settings_district_save_btn"
D_FORM = "settings_district_form"
_D_ERRORS = "settings_district_errors"
_D_FLASH = "settings_district_flash"
_D_ASKED = "settings_district_asked"  # (code, values) the lead asked a preview for
_D_RESULT = "settings_district_result"  # (code, values, Preview) of the last preview


def district_key(code: str, key: str) -> str:
    """Session key of the district input for flat setting ``key`` (tests use it)."""
    return f"settings_district__{code}__{key}"


# A district's choice for a ``CHOICE_KEYS`` switch: the city's value (None), on or off.
CHOICES: dict[str, bool | None] = {"city": None, "on": True, "off": False}


def _district_values(code: str) -> dict[str, Any]:
    state = st.session_state
    values = {
        key: state[district_key(code, key)]
        for key in district_rules.FIELDS
        if district_key(code, key) in state
    }
    for key in district_rules.CHOICE_KEYS & values.keys():
        values[key] = CHOICES.get(values[key])
    return values


def _on_district_preview() -> None:
    code = st.session_state.get(DISTRICT)
    if _actor() is None or not code:
        return
    st.session_state[_D_ASKED] = (code, _district_values(code))


def _on_district_save() -> None:
    state = st.session_state
    actor, code = _actor(), state.get(DISTRICT)
    if actor is None or not code:
        return
    state[_D_ERRORS] = {}
    try:
        with get_engine().begin() as conn:
            diff = district_rules.update_district_thresholds(
                conn, actor, code, _district_values(code), rules_path(), _now()
            )
    except ThresholdsInvalid as exc:
        state[_D_ERRORS] = exc.problems
        state[_D_FLASH] = ("error", t("settings_page.invalid"), [])
        return
    except NotPermitted:
        state[_D_FLASH] = ("error", t("auth.forbidden"), [])
        return
    except OSError as exc:
        state[_D_FLASH] = ("error", t("settings_page.failed", message=exc.strerror or exc), [])
        return
    if not diff:
        state[_D_FLASH] = ("info", t("settings_page.no_change"), [])
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
    state[_D_FLASH] = ("success", t("settings_page.district.saved"), lines)


def overrides_frame(th: config.Thresholds, names: dict[str, str]) -> pd.DataFrame:
    """Every district override: district, setting, key, city value, district value."""
    city = district_rules.city_values(th)
    rows = []
    for code, override in th.districts.items():
        for key, value in override.values().items():
            rows.append(
                {
                    t("settings_page.district.col_district"): names.get(code, code),
                    t("settings_page.col_setting"): setting_label(key),
                    t("settings_page.col_key"): key,
                    t("settings_page.district.col_city"): show_value(key, city[key]),
                    t("settings_page.district.col_value"): show_value(key, value),
                }
            )
    return pd.DataFrame(rows)


def preview_frame(preview: Preview) -> pd.DataFrame:
    """Rows 관심/위험/심각/alerts/people/homes (and, with the level test on in either set, the
    alerts it raised; the stillness, left-on and band tests', where they raised any); columns
    current and proposed."""
    rows = [
        *((t(f"settings_page.stage.{s}"), s) for s in STAGES),
        (t("settings_page.district.row_alerts"), "alerts"),
        (t("settings_page.district.row_people"), "people"),
        (t("settings_page.district.row_homes"), "homes"),
    ]
    now, new = preview.current.as_dict(), preview.proposed.as_dict()
    if preview.level_test:
        rows.append((t("settings_page.district.row_level"), "level"))
        now["level"] = preview.current.by_basis.get("level", 0)
        new["level"] = preview.proposed.by_basis.get("level", 0)
    for basis in ("still", "on", "band"):  # a run test's row, where it raised any
        counts = preview.current.by_basis.get(basis, 0), preview.proposed.by_basis.get(basis, 0)
        if any(counts):
            rows.append((t(f"settings_page.district.row_{basis}"), basis))
            now[basis], new[basis] = counts
    return pd.DataFrame(
        {
            t("settings_page.district.col_count"): [label for label, _ in rows],
            t("settings_page.district.col_current"): [now[k] for _, k in rows],
            t("settings_page.district.col_proposed"): [new[k] for _, k in rows],
            t("settings_page.district.col_delta"): [f"{new[k] - now[k]:+d}" for _, k in rows],
        }
    )


def _run_preview(code: str, values: dict[str, Any]) -> None:
    """Validate the proposal and replay the district's last 30 days under both sets."""
    state = st.session_state
    state[_D_ERRORS] = {}
    try:
        th = config.load_thresholds(rules_path())
        proposed = district_rules.proposed_thresholds(th, code, values)
    except ThresholdsInvalid as exc:
        state[_D_ERRORS] = exc.problems
        state[_D_FLASH] = ("error", t("settings_page.district.preview_invalid"), [])
        return
    with st.spinner(t("settings_page.district.previewing")), get_engine().connect() as conn:
        preview = preview_district(
            conn, code, th.for_region(code), proposed.for_region(code), _now()
        )
    state[_D_RESULT] = (code, values, preview)


def _show_preview(code: str) -> None:
    result = st.session_state.get(_D_RESULT)
    if not result or result[0] != code:
        st.caption(t("settings_page.district.preview_hint"))
        return
    _code, values, preview = result
    st.markdown(f"**{t('settings_page.district.preview_title')}**")
    st.dataframe(preview_frame(preview), hide_index=True, key="settings_district_preview")
    local = preview.start.astimezone(LOCAL_TZ), preview.end.astimezone(LOCAL_TZ)
    st.caption(
        t(
            "settings_page.district.preview_scope",
            start=local[0].strftime("%Y-%m-%d %H:%M"),
            end=local[1].strftime("%Y-%m-%d %H:%M"),
            plugs=preview.plugs,
            with_routine=preview.with_routine,
            seconds=f"{preview.seconds:.1f}",
        )
    )
    st.caption(t("settings_page.district.preview_counts"))
    if preview.level_test:  # what the level test's replay can and cannot judge
        st.caption(
            t(
                "settings_page.district.preview_levels",
                plugs=preview.plugs,
                with_levels=preview.with_levels,
            )
        )
    st.caption(t("settings_page.district.preview_limits"))
    if values != _district_values(code):
        st.warning(t("settings_page.district.preview_stale"), icon=":material/update:")


def district_view(user: SessionUser) -> None:
    """The district overrides (everyone who may open the page) and, for leads, the editor with
    the 30-day preview."""
    st.subheader(t("settings_page.district.title"))
    st.caption(t("settings_page.district.caption"))
    try:
        th = config.load_thresholds(rules_path())
    except config.RulesConfigError:
        return  # the page already said the file is invalid
    with get_engine().connect() as conn:
        found = districts_with_devices(conn)
        known = known_districts(conn, th.districts)
    # A hand-edited table for a code no district has (a typo) changes nobody's thresholds.
    unknown = sorted(set(th.districts) - known)
    if unknown:
        st.warning(t("settings_page.district.unknown", codes=", ".join(unknown)))
    name_col = "name_en" if current_lang() == "en" else "name_ko"
    names = dict(zip(found["code"], found[name_col], strict=True))
    if th.districts:
        st.dataframe(overrides_frame(th, names), hide_index=True, width="stretch")
    else:
        st.caption(t("settings_page.district.none"))
    if not can(user.role, ACTION) or not names:
        return
    asked = st.session_state.pop(_D_ASKED, None)
    if asked and asked[0] == st.session_state.get(DISTRICT):
        _run_preview(*asked)  # before the notices: an invalid proposal is reported at once
    _show_district_flash()
    code = st.selectbox(
        t("settings_page.district.choose"),
        options=list(names),
        format_func=lambda c: f"{names[c]} ({c})",
        key=DISTRICT,
    )
    errors: dict[str, list[str]] = st.session_state.get(_D_ERRORS, {})
    current = district_rules.editor_values(th, code)
    city = district_rules.city_values(th)
    with st.form(D_FORM, enter_to_submit=False):
        for key in district_rules.FIELDS:
            label = input_label(key)
            hint = t("settings_page.district.city_value", value=show_value(key, city[key]))
            if key in district_rules.CHOICE_KEYS:
                _choice_input(code, key, current[key], city[key], f"{key} · {hint}")
            else:
                st.number_input(
                    label,
                    value=float(current[key]),
                    step=0.01 if key.endswith("min_share") else 1.0,
                    key=district_key(code, key),
                    help=f"{key} · {hint}",
                )
            for message in errors.get(key, []):
                st.error(
                    t("settings_page.problem", message=problem_text(message)),
                    icon=":material/error:",
                )
        for message in errors.get("district", []):
            st.error(t("settings_page.problem", message=problem_text(message)))
        left, right = st.columns(2)
        left.form_submit_button(
            t("settings_page.district.preview"), on_click=_on_district_preview, key=D_PREVIEW
        )
        right.form_submit_button(
            t("settings_page.district.save"), type="primary", on_click=_on_district_save, key=D_SAVE
        )
    _show_preview(code)
    st.caption(t("settings_page.district.floor"))


def _choice_input(code: str, key: str, chosen: bool | None, city: bool, help_text: str) -> None:
    """The three-state switch: the city's value (named, and followed when the city changes),
    on or off for this district."""
    labels = {
        "city": t("settings_page.district.choice_city", value=show_value(key, city)),
        "on": t("settings_page.district.choice_on"),
        "off": t("settings_page.district.choice_off"),
    }
    options = list(CHOICES)
    st.radio(
        setting_label(key),
        options=options,
        index=[CHOICES[o] for o in options].index(chosen),
        format_func=labels.__getitem__,
        horizontal=True,
        key=district_key(code, key),
        help=help_text,
    )


def _show_district_flash() -> None:
    notice = st.session_state.pop(_D_FLASH, None)
    if not notice:
        return
    kind, message, lines = notice
    {"success": st.success, "error": st.error}.get(kind, st.info)(message)
    if lines:
        st.markdown("\n".join(f"- {line}" for line in lines))
