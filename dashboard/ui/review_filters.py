"""Sidebar filters shared by the review pages (대응 지표, 이번 주, 업체 성과), kept in the URL
(``?program=code,code&district=code,code``) so a copied link reproduces the view."""

from __future__ import annotations

import streamlit as st

from dashboard.i18n import localized
from dashboard.ui.data import load
from dashboard.ui.i18n import current_lang, t
from dashboard.ui.url_filters import url_multiselect
from queries.filters import districts_with_devices, programs


def program_district_filters() -> tuple[tuple[str, ...] | None, tuple[int, ...] | None]:
    """Program codes and district ids chosen (None: all), from and to the URL."""
    lang = current_lang()
    device_programs = load(programs, kind="device")
    names = {r["code"]: localized(r, "name", lang) for r in device_programs.to_dict("records")}
    chosen_programs = url_multiselect(
        t("filter.program"),
        list(device_programs["code"]),
        param="program",
        format_func=lambda code: names.get(code, code),
        placeholder=t("filter.all"),
        container=st.sidebar,
    )
    districts = load(districts_with_devices)
    ids = dict(zip(districts["code"], districts["id"], strict=True))
    district_names = {r["code"]: localized(r, "name", lang) for r in districts.to_dict("records")}
    chosen_districts = url_multiselect(
        t("filter.district"),
        list(ids),
        param="district",
        format_func=lambda code: district_names.get(code, code),
        placeholder=t("filter.all"),
        container=st.sidebar,
    )
    return (
        tuple(chosen_programs) or None,
        tuple(int(ids[c]) for c in chosen_districts) or None,
    )
