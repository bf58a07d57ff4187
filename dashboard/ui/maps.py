"""Folium maps. Text placed in popups and tooltips is escaped: folium injects it as HTML and
evaluates ``${…}`` as a JavaScript template, so ``$`` and backticks are neutralised too.

The wandering map comes in two parts so a wall screen can refresh without remounting:
``base_map`` (tiles, dong boundaries, legend) depends on nothing that moves, so its script and
therefore streamlit-folium's component key stay the same between refreshes; ``positions_layer``
(markers, zone outlines, the fit to the bounds) goes through ``st_folium(feature_group_to_add=…)``,
which swaps the layer in the running map.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from pathlib import Path

import folium
import pandas as pd
from branca.element import MacroElement
from jinja2 import Template

from dashboard.mapping.trail import Fix, bearing_deg, label_indices
from dashboard.ui.safe_text import html_escape as escape_text
from dashboard.ui.theme import ACCENT, STATE_COLORS

BAEKSEOK_CENTER = (37.6435, 126.7870)
# Leaflet from our own static folder, not a CDN: control networks often have no internet.
LEAFLET_JS = [("leaflet", "/app/static/leaflet/leaflet.js")]
LEAFLET_CSS = [("leaflet_css", "/app/static/leaflet/leaflet.css")]
OUTSIDE_COLOR = STATE_COLORS["severe"]
EDGE_COLOR = STATE_COLORS["attention"]
INSIDE_COLOR = STATE_COLORS["normal"]
NO_POSITION_COLOR = STATE_COLORS["offline"]
# No safe zone: not a stage (nothing is known to be wrong with the person) but not calm either;
# the neutral accent, drawn as a ring, reads apart from every stage colour and the grey.
NO_ZONE_COLOR = ACCENT
BOUNDARY_COLOR = "#9C8ADE"
# Drawn bottom to top: the calm majority first, the one person who matters last.
DRAW_ORDER = ("inside", "no_position", "no_zone", "edge", "outside")
LEGEND_ORDER = ("outside", "edge", "no_zone", "no_position", "inside")
# Marker look per status. Outside is large, solid red with a thick white ring (no animation: a
# pulse distracts on a wall screen and is invisible in a screenshot handed to a field team).
MARKER_STYLE: dict[str, dict] = {
    "inside": {"radius": 4, "color": INSIDE_COLOR, "weight": 0, "fill_opacity": 0.75},
    "edge": {"radius": 7, "color": "#1B2633", "weight": 1.5, "fill_opacity": 0.95},
    "no_position": {"radius": 5, "color": NO_POSITION_COLOR, "weight": 1.5, "fill_opacity": 0.3},
    "no_zone": {"radius": 6, "color": NO_ZONE_COLOR, "weight": 3, "fill_opacity": 0.25},
    "outside": {"radius": 13, "color": "#FFFFFF", "weight": 4, "fill_opacity": 1.0},
}
FILL_COLOR = {
    "inside": INSIDE_COLOR,
    "edge": EDGE_COLOR,
    "no_position": NO_POSITION_COLOR,
    "no_zone": NO_ZONE_COLOR,
    "outside": OUTSIDE_COLOR,
}
# More grey labels than this would bury the map (a feed outage): then they show on hover only.
MAX_GREY_LABELS = 20
FIT_PADDING_PX = 40
FIT_MAX_ZOOM = 17
MAP_CSS = (
    "<style>"
    # Dark wall screen: darken the light OSM tiles and the empty background instead of
    # depending on a dark tile provider that needs an API key.
    ".leaflet-container{background:#1b2633}"
    ".leaflet-tile-pane{filter:invert(1) hue-rotate(180deg) brightness(.8) contrast(.85)}"
    ".anbu-legend{background:rgba(14,22,33,.88);color:#E8EEF4;padding:8px 12px;"
    "border-radius:6px;font:14px/1.6 sans-serif;box-shadow:0 1px 4px rgba(0,0,0,.5)}"
    ".anbu-legend i{display:inline-block;border-radius:50%;margin-right:8px;"
    "vertical-align:middle;box-sizing:border-box}"
    ".leaflet-tooltip.anbu-outside{background:#FF3344;color:#fff;border:2px solid #fff;"
    "font:700 15px/1.3 sans-serif;box-shadow:0 1px 6px rgba(0,0,0,.6)}"
    ".leaflet-tooltip.anbu-outside:before{border-right-color:#fff}"
    ".leaflet-tooltip.anbu-grey{background:rgba(14,22,33,.85);color:#C9D2DB;"
    "border:1px solid #7D8894;font:12px/1.2 sans-serif;box-shadow:none}"
    ".leaflet-tooltip.anbu-grey:before{border-right-color:#7D8894}"
    ".leaflet-tooltip.anbu-trail{background:rgba(14,22,33,.9);color:#7FE3FF;"
    "border:1px solid #3FC1FF;font:600 12px/1.2 sans-serif;box-shadow:none;padding:1px 5px}"
    ".leaflet-tooltip.anbu-trail:before{border-right-color:#3FC1FF}"
    ".leaflet-tooltip.anbu-resp{background:#FFFFFF;color:#12202E;border:2px solid #2F6FEB;"
    "font:600 12px/1.2 sans-serif;padding:1px 5px}"
    ".anbu-arrow{color:#3FC1FF;font:700 15px/1 sans-serif;text-shadow:0 0 2px #000}"
    ".anbu-resp-icon{display:flex;align-items:center;justify-content:center;border-radius:5px;"
    "border:2px solid #fff;color:#fff;font:700 12px/1 sans-serif;box-shadow:0 1px 4px #000}"
    ".anbu-resp-icon.approx{border-style:dashed;opacity:.8}"
    "</style>"
)


def load_boundaries(path: Path | None, codes: set[str]) -> dict | None:
    """Dong polygons from a GeoJSON (properties adm_cd2), kept to ``codes`` (regions.code)."""
    if path is None:
        return None
    with Path(path).open(encoding="utf-8") as fh:
        data = json.load(fh)
    features = [
        f
        for f in data.get("features", [])
        if str(f.get("properties", {}).get("adm_cd2", "")) in codes
    ]
    return {"type": "FeatureCollection", "features": features} if features else None


class _Legend(MacroElement):
    """A Leaflet control with the marker key (static: part of the base map)."""

    _template = Template(
        """{% macro script(this, kwargs) %}
(function (map) {
  var legend = L.control({position: "bottomright"});
  legend.onAdd = function () {
    var div = L.DomUtil.create("div", "anbu-legend");
    div.innerHTML = {{ this.inner_json }};
    return div;
  };
  legend.addTo(map);
})({{ this._parent.get_name() }});
{% endmacro %}"""
    )

    def __init__(self, inner_html: str) -> None:
        super().__init__()
        self._name = "Legend"
        # JSON gives a valid JS string literal; "</" is split so it cannot close a <script>.
        self.inner_json = json.dumps(inner_html).replace("</", "<\\/")


class _FitWhenCutOff(MacroElement):
    """Fit the map to everyone on the first draw, and again whenever someone outside their
    zone is out of view. Otherwise the operator's own zoom and pan survive a refresh."""

    _template = Template(
        """{% macro script(this, kwargs) %}
(function (map) {
  var all = L.latLngBounds({{ this.bounds_json }});
  var urgent = {{ this.urgent_json }};
  var view = map.getBounds();
  var cut = urgent.some(function (p) { return !view.contains(L.latLng(p)); });
  if (!map._anbuFitted || cut) {
    map.fitBounds(all, {padding: [{{ this.padding }}, {{ this.padding }}],
                        maxZoom: {{ this.max_zoom }}});
    map._anbuFitted = true;
  }
})({{ this._parent._parent.get_name() }});
{% endmacro %}"""
    )

    def __init__(self, bounds: list[list[float]], urgent: list[list[float]]) -> None:
        super().__init__()
        self._name = "FitWhenCutOff"
        self.bounds_json = json.dumps(bounds)
        self.urgent_json = json.dumps(urgent)
        self.padding = FIT_PADDING_PX
        self.max_zoom = FIT_MAX_ZOOM


def legend_html(labels: Mapping[str, str]) -> str:
    """Legend rows: a swatch drawn like the marker, then the translated label."""
    rows = [f"<b>{escape_text(labels['legend'])}</b>"]
    for status in LEGEND_ORDER:
        style = MARKER_STYLE[status]
        size = 2 * style["radius"] + 2
        ring = style["color"] if style["weight"] else FILL_COLOR[status]
        swatch = (
            f'<i style="width:{size}px;height:{size}px;background:{FILL_COLOR[status]};'
            f'border:{max(1, min(3, style["weight"]))}px solid {ring}"></i>'
        )
        rows.append(f"{swatch}{escape_text(labels[status])}")
    rows.append(
        f'<i style="width:18px;height:18px;border:2px solid {OUTSIDE_COLOR}"></i>'
        f"{escape_text(labels['zone'])}"
    )
    return "<br>".join(rows)


def base_map(
    labels: Mapping[str, str],
    boundaries: dict | None = None,
    tiles: str | None = "OpenStreetMap",
    attribution: str | None = None,
) -> folium.Map:
    """Tiles, dong boundaries and legend: nothing that moves, so refreshes never remount it.

    ``tiles=None`` draws no base map so the page renders without a network; a URL template
    (``ANBU_TILE_URL``) needs its ``attribution``.
    """
    fmap = folium.Map(
        location=BAEKSEOK_CENTER,
        zoom_start=15,
        tiles=tiles,
        attr=attribution,
        control_scale=True,
        prefer_canvas=True,
        # Fractional zoom lets the fit fill the screen instead of the next whole level out.
        zoom_snap=0.25,
        zoom_delta=0.5,
    )
    fmap.default_js = LEAFLET_JS
    fmap.default_css = LEAFLET_CSS
    fmap.get_root().header.add_child(folium.Element(MAP_CSS))
    if boundaries:
        folium.GeoJson(
            boundaries,
            name="dong",
            style_function=lambda _f: {
                "color": BOUNDARY_COLOR,
                "weight": 2,
                "fillOpacity": 0,
                "dashArray": "8 6",
            },
            tooltip=folium.GeoJsonTooltip(fields=["adm_nm"], labels=False),
        ).add_to(fmap)
    legend = legend_html(labels)
    if "trail" in labels:  # the search layers are drawn too: explain their symbols
        legend += "<br>" + responder_legend_html(labels)
    fmap.add_child(_Legend(legend))
    return fmap


def map_bounds(df: pd.DataFrame) -> list[list[float]] | None:
    """[[south, west], [north, east]] over every drawn position and, for people outside their
    zone, also their home (the zone outline and the line from home must be on screen)."""
    located = df.dropna(subset=["last_lat", "last_lon"])
    if located.empty:
        return None
    lats = located["last_lat"].astype(float).tolist()
    lons = located["last_lon"].astype(float).tolist()
    away = located[located["status"] == "outside"].dropna(subset=["home_lat", "home_lon"])
    lats += away["home_lat"].astype(float).tolist()
    lons += away["home_lon"].astype(float).tolist()
    return [[min(lats), min(lons)], [max(lats), max(lons)]]


def _tooltip(row: Mapping, labels: Mapping[str, str]) -> str:
    lines = [
        f"<b>{escape_text(row['recipient_masked'])}</b> · {escape_text(row['device_uid'])}",
        f"{escape_text(labels[row['status']])} · {escape_text(labels['distance'])} "
        f"{escape_text(row['distance_text'])}",
    ]
    if row["status"] == "outside":
        lines.append(f"{escape_text(labels['outside_for'])}: {escape_text(row['outside_text'])}")
    lines.append(f"{escape_text(labels['last_seen'])}: {escape_text(row['age_text'])}")
    lines.append(f"{escape_text(labels['battery'])}: {escape_text(row['battery_text'])}")
    return "<br>".join(lines)


# Drawn as one GeoJSON layer: the calm majority, the silent (whose labels are drawn apart) and
# the zoneless (no outline to draw; after a roster import without homes they can be many).
# One Leaflet element per detector cost ~2 ms each to render and a script block each in the page.
CALM_STATUSES = ("inside", "no_position", "no_zone")


def calm_features(df: pd.DataFrame, labels: Mapping[str, str]) -> dict:
    """The calm, the silent and the zoneless as one GeoJSON FeatureCollection, drawn bottom to
    top in ``DRAW_ORDER``: properties ``status`` (for the style) and ``tip`` (the tooltip,
    escaped HTML: folium's GeoJSON tooltip puts a property into the page as HTML)."""
    rank = {s: i for i, s in enumerate(DRAW_ORDER)}
    calm = df[df["status"].isin(CALM_STATUSES)].dropna(subset=["last_lat", "last_lon"])
    calm = calm.assign(_rank=calm["status"].map(rank)).sort_values("_rank", kind="stable")
    return {
        "type": "FeatureCollection",
        "features": [
            {
                "type": "Feature",
                # folium's style switch keys on the id; without one it would pick the tooltip.
                "id": i,
                "geometry": {
                    "type": "Point",
                    "coordinates": [float(row["last_lon"]), float(row["last_lat"])],
                },
                "properties": {"status": row["status"], "tip": _tooltip(row, labels)},
            }
            for i, row in enumerate(calm.to_dict("records"))
        ],
    }


def _calm_style(feature: dict) -> dict:
    status = feature["properties"]["status"]
    style = MARKER_STYLE[status]
    return {
        "radius": style["radius"],
        "color": style["color"],
        "weight": style["weight"],
        "stroke": style["weight"] > 0,
        "fillColor": FILL_COLOR[status],
        "fillOpacity": style["fill_opacity"],
    }


def _calm_layer(df: pd.DataFrame, labels: Mapping[str, str]) -> folium.GeoJson | None:
    data = calm_features(df, labels)
    if not data["features"]:
        return None
    return folium.GeoJson(
        data,
        name="calm",
        marker=folium.CircleMarker(radius=4, fill=True),
        style_function=_calm_style,
        tooltip=folium.GeoJsonTooltip(fields=["tip"], labels=False),
    )


def positions_layer(df: pd.DataFrame, labels: Mapping[str, str]) -> folium.FeatureGroup:
    """Everything that moves: the calm, silent and zoneless detectors as one GeoJSON layer, a
    marker of its own for each person at the edge or outside, zone outlines for them, a line
    home for people outside, always-on labels, and the fit to the bounds.

    ``df`` needs the columns of ``queries.wandering.snapshot`` plus the display texts
    distance_text, age_text, battery_text and outside_text (already formatted).
    """
    layer = folium.FeatureGroup(name="positions")
    located = df.dropna(subset=["last_lat", "last_lon"])
    calm = _calm_layer(located, labels)
    if calm is not None:
        calm.add_to(layer)
    # Zone outlines only where they say something; 200 filled circles hid everyone. The zone
    # drawn is the one that decides: the person's polygon when there is one, else the circle.
    zoned = located[located["status"].isin(["edge", "outside"])]
    for row in zoned.to_dict("records"):
        outside = row["status"] == "outside"
        has_home = not (pd.isna(row["home_lat"]) or pd.isna(row["home_lon"]))
        look = {
            "color": OUTSIDE_COLOR if outside else EDGE_COLOR,
            "weight": 2.5 if outside else 1.5,
            "opacity": 0.9 if outside else 0.7,
            "dash_array": None if outside else "5 5",
            "fill": False,
        }
        polygon = row.get("zone_polygon")
        if isinstance(polygon, tuple | list) and len(polygon) >= 3:
            folium.Polygon(locations=[tuple(p) for p in polygon], **look).add_to(layer)
        elif has_home:
            home = (row["home_lat"], row["home_lon"])
            folium.Circle(location=home, radius=float(row["safe_zone_m"]), **look).add_to(layer)
        if outside and has_home:
            folium.PolyLine(
                [(row["home_lat"], row["home_lon"]), (row["last_lat"], row["last_lon"])],
                color=OUTSIDE_COLOR,
                weight=2,
                opacity=0.8,
                dash_array="4 6",
            ).add_to(layer)
    grey_labels = int((located["status"] == "no_position").sum()) <= MAX_GREY_LABELS
    rank = {s: i for i, s in enumerate(DRAW_ORDER)}
    ordered = located.assign(_rank=located["status"].map(rank)).sort_values("_rank", kind="stable")
    for row in ordered.to_dict("records"):
        status = row["status"]
        style = MARKER_STYLE[status]
        if status not in CALM_STATUSES:  # the calm ones are in the GeoJSON layer
            folium.CircleMarker(
                location=(row["last_lat"], row["last_lon"]),
                radius=style["radius"],
                color=style["color"],
                weight=style["weight"],
                stroke=style["weight"] > 0,
                fill=True,
                fill_color=FILL_COLOR[status],
                fill_opacity=style["fill_opacity"],
                tooltip=folium.Tooltip(_tooltip(row, labels)),
            ).add_to(layer)
        # Always-on labels for what an operator must read from across the room.
        label = None
        if status == "outside":
            label = (
                f"{escape_text(row['recipient_masked'])} · {escape_text(row['outside_text'])}"
                f" · {escape_text(row['distance_text'])}"
            )
            css = "anbu-outside"
        elif status == "no_position" and grey_labels:
            label, css = escape_text(row["age_text"]), "anbu-grey"
        if label:
            folium.Marker(
                location=(row["last_lat"], row["last_lon"]),
                icon=folium.DivIcon(html="", icon_size=(0, 0)),
                tooltip=folium.Tooltip(
                    label,
                    permanent=True,
                    direction="right",
                    offset=(style["radius"] + 6, 0),
                    sticky=False,
                    class_name=css,
                ),
            ).add_to(layer)
    bounds = map_bounds(df)
    if bounds is not None:
        urgent = located.loc[located["status"] == "outside", ["last_lat", "last_lon"]]
        layer.add_child(_FitWhenCutOff(bounds, urgent.astype(float).values.tolist()))
    return layer


# --- trail and responders ----------------------------------------------------------------------

TRAIL_COLOR = "#3FC1FF"
MAX_ARROWS = 24
# Responders: colour and one-letter badge per kind (the legend spells them out).
RESPONDER_STYLE: dict[str, tuple[str, str]] = {
    "police_box": ("#2F6FEB", "P"),
    "welfare_center": ("#12A37A", "W"),
    "dementia_partner": ("#B4499D", "+"),
    "bus_stop": ("#8A6D1F", "B"),
    "other": ("#55606B", "•"),
}


def trail_layer(
    fixes: list[Fix], time_label: Callable[[Fix], str], name: str = "trail"
) -> folium.FeatureGroup:
    """A trail drawn oldest to newest: the line, a dot per fix with its time on hover, arrows
    along it for the direction, and always-on numbered time labels at a few points
    (``time_label`` formats a fix's time; its text is escaped here)."""
    layer = folium.FeatureGroup(name=name)
    if not fixes:
        return layer
    points = [(f.lat, f.lon) for f in fixes]
    if len(points) > 1:
        folium.PolyLine(points, color=TRAIL_COLOR, weight=4, opacity=0.85).add_to(layer)
        step = max(1, (len(points) - 1) // MAX_ARROWS)
        for i in range(0, len(points) - 1, step):
            a, b = fixes[i], fixes[i + 1]
            # ➤ points east; CSS rotates clockwise, a compass bearing counts from north.
            angle = bearing_deg(a, b) - 90
            folium.Marker(
                location=((a.lat + b.lat) / 2, (a.lon + b.lon) / 2),
                icon=folium.DivIcon(
                    html=f'<div class="anbu-arrow" style="transform:rotate({angle:.0f}deg)">'
                    "&#10148;</div>",
                    icon_size=(16, 16),
                    icon_anchor=(8, 8),
                ),
            ).add_to(layer)
    # Every fix as one GeoJSON blob with its (escaped) time on hover: a Leaflet object per fix
    # would triple the page for a long trail.
    texts = [escape_text(time_label(f)) for f in fixes]
    folium.GeoJson(
        {
            "type": "FeatureCollection",
            "features": [
                {
                    "type": "Feature",
                    "geometry": {"type": "Point", "coordinates": [f.lon, f.lat]},
                    "properties": {"t": text},
                }
                for f, text in zip(fixes[:-1], texts[:-1], strict=True)
            ],
        },
        name="trail_fixes",
        marker=folium.CircleMarker(
            radius=3, weight=0, fill=True, fill_color=TRAIL_COLOR, fill_opacity=1.0
        ),
        tooltip=folium.GeoJsonTooltip(fields=["t"], labels=False),
    ).add_to(layer)
    last = fixes[-1]
    folium.CircleMarker(
        location=(last.lat, last.lon),
        radius=6,
        color="#FFFFFF",
        weight=2,
        fill=True,
        fill_color=TRAIL_COLOR,
        fill_opacity=1.0,
        tooltip=folium.Tooltip(texts[-1]),
    ).add_to(layer)
    for number, i in enumerate(label_indices(len(fixes)), start=1):
        folium.Marker(
            location=(fixes[i].lat, fixes[i].lon),
            icon=folium.DivIcon(html="", icon_size=(0, 0)),
            tooltip=folium.Tooltip(
                f"{number} · {texts[i]}",
                permanent=True,
                direction="left",
                offset=(-6, 0),
                class_name="anbu-trail",
            ),
        ).add_to(layer)
    return layer


def responder_tooltip(row: Mapping, labels: Mapping[str, str]) -> str:
    lines = [f"<b>{escape_text(row['name'])}</b>", escape_text(labels[f"kind.{row['kind']}"])]
    if row.get("distance_text"):
        lines.append(f"{escape_text(labels['straight'])} {escape_text(row['distance_text'])}")
    if row.get("phone") and isinstance(row["phone"], str):
        lines.append(escape_text(row["phone"]))
    if row.get("approximate"):
        lines.append(escape_text(labels["approximate"]))
    return "<br>".join(lines)


def responders_layer(
    df: pd.DataFrame, labels: Mapping[str, str], *, named: int = 0
) -> folium.FeatureGroup:
    """A square badge per responder (dashed when its position is approximate); the first
    ``named`` rows (the nearest, when ``df`` is sorted) carry an always-on name."""
    layer = folium.FeatureGroup(name="responders")
    placed = df.dropna(subset=["lat", "lon"])
    for i, row in enumerate(placed.to_dict("records")):
        color, badge = RESPONDER_STYLE.get(row["kind"], RESPONDER_STYLE["other"])
        approx = " approx" if row.get("approximate") else ""
        tooltip = folium.Tooltip(responder_tooltip(row, labels))
        if i < named:
            near = escape_text(row["name"])
            if row.get("distance_text"):
                near += f" · {escape_text(row['distance_text'])}"
            tooltip = folium.Tooltip(
                near, permanent=True, direction="right", offset=(12, 0), class_name="anbu-resp"
            )
        folium.Marker(
            location=(float(row["lat"]), float(row["lon"])),
            icon=folium.DivIcon(
                html=f'<div class="anbu-resp-icon{approx}" style="width:20px;height:20px;'
                f'background:{color}">{escape_text(badge)}</div>',
                icon_size=(20, 20),
                icon_anchor=(10, 10),
            ),
            tooltip=tooltip,
        ).add_to(layer)
    return layer


def responder_legend_html(labels: Mapping[str, str]) -> str:
    rows = []
    for kind, (color, badge) in RESPONDER_STYLE.items():
        rows.append(
            f'<i style="width:16px;height:16px;border-radius:3px;background:{color};'
            f'color:#fff;font:700 10px/16px sans-serif;text-align:center">{escape_text(badge)}'
            f"</i>{escape_text(labels[f'kind.{kind}'])}"
        )
    rows.append(
        f'<i style="width:18px;height:4px;border-radius:0;background:{TRAIL_COLOR}"></i>'
        f"{escape_text(labels['trail'])}"
    )
    return "<br>".join(rows)
