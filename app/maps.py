"""Offline Leaflet maps built with folium: region picker, synchronised LR/SR/HR panels, swipe map.

Offline by construction: :class:`OfflineMap` loads Leaflet from ``/app/static`` (vendored, served by
Streamlit with ``server.enableStaticServing``) instead of folium's CDNs, has no basemap unless asked,
and rasters are in-memory PNG ``ImageOverlay``s. Plugins (Leaflet.draw, Leaflet.Sync,
leaflet-side-by-side) are vendored too, see ``app/static/README.md``.

Data never becomes markup: every string that comes from data (region names, panel titles, credits)
is HTML-escaped (:func:`text_html`) before Leaflet inserts it into the DOM (tooltips, the title
control and the attribution insert HTML), and travels as a JS literal (:func:`js_literal`) so it can
neither close the ``<script>`` element nor become template code. A region named
``<img src=x onerror=...>`` shows as that text.

Selecting on the map: the HTML runs in the map frame component (:mod:`app.map_view`). A click on a
region or a drawn rectangle/polygon goes back to Streamlit as the component's value (``region`` or
``aoi``), the script reruns without reloading the page, and the selection is written to the URL so a
view can be shared. Shown in a plain iframe instead, a click rewrites the URL and reloads.
"""

from __future__ import annotations

import hashlib
import html
import json
import math
from dataclasses import dataclass

import branca.element
import folium
import geopandas as gpd
import leafmap.foliumap
import numpy as np
from folium.elements import JSCSSMixin
from jinja2 import Template

from app.tiles import TILE_PX
from app.overlay import Overlay, palette_overlay
from app.settings import STATIC_URL

LEAFLET_JS = [("leaflet", f"{STATIC_URL}/leaflet/leaflet.js")]
LEAFLET_CSS = [("leaflet_css", f"{STATIC_URL}/leaflet/leaflet.css")]
OSM_ATTRIBUTION = '&copy; <a href="https://www.openstreetmap.org/copyright">OpenStreetMap</a> contributors'


class OfflineMap(leafmap.foliumap.Map):
    """A leafmap (folium) map whose Leaflet JS/CSS come from ``/app/static`` (set on the class:
    idempotent). leafmap's own controls stay off: each loads its plugin from a CDN, so offline it would
    be a blank control; the dashboard adds its vendored plugins (sync, swipe, draw) itself."""

    default_js = LEAFLET_JS
    default_css = LEAFLET_CSS

    def __init__(self, **kwargs) -> None:
        for control in ("fullscreen_control", "draw_control", "measure_control", "latlon_control",
                        "locate_control", "minimap_control", "search_control"):
            kwargs.setdefault(control, False)
        # leafmap moves width/height onto a wrapping Figure and sizes the map 100%; keep folium's
        # meaning (the map element's own size), which the panels' layout relies on
        size = {key: kwargs.pop(key) for key in ("width", "height") if key in kwargs}
        super().__init__(**kwargs)
        for key, value in size.items():
            setattr(self, key, folium.utilities._parse_size(value))


def js_literal(value) -> str:
    """JSON safe inside a ``<script>`` of a branca/folium template.

    ``<``, ``>``, ``&`` are escaped so no data can close the script element, and the Jinja openers
    ``{{``, ``{%``, ``{#`` (which compact JSON structure never produces, so they can only come from
    strings) are escaped because branca parses a MacroElement's rendered script once more as a
    template: data must never become template code.
    """
    text = json.dumps(value).replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")
    return text.replace("{{", "{\\u007b").replace("{%", "{\\u0025").replace("{#", "{\\u0023")


class _Script(JSCSSMixin, branca.element.MacroElement):
    """A script with the vendored plugin files it needs, attached to a map.

    ``script`` is a trusted Jinja template written in this module; anything that comes from data
    (region names, titles, credits, image URLs) goes through ``data`` as JS literals and is referenced
    as ``{{ this.data.<key> }}``, so it is never parsed as template source (no template injection) and
    cannot close the ``<script>`` element (see :func:`js_literal`).
    """

    def __init__(
        self,
        script: str,
        js: list[tuple[str, str]] | None = None,
        css: list[tuple[str, str]] | None = None,
        data: dict | None = None,
    ) -> None:
        super().__init__()
        self._name = "DeepLightScript"
        self.default_js = js or []
        self.default_css = css or []
        self.data = {key: js_literal(value) for key, value in (data or {}).items()}
        self._template = Template("{% macro script(this, kwargs) %}" + script + "{% endmacro %}")


NAVIGATE_JS = """
function deeplightNavigate(updates) {
  // In the dashboard's map frame (app/map_view.py): hand the choice to Streamlit, no reload.
  try {
    if (window.parent && typeof window.parent.deeplightSelect === 'function') {
      window.parent.deeplightSelect(updates);
      return;
    }
  } catch (err) { /* not same-origin: fall through */ }
  // Elsewhere (a plain iframe): rewrite the app's query parameters and reload it.
  var top = window.parent;
  var url = new URL(top.location.href);
  Object.keys(updates).forEach(function (k) {
    if (updates[k] === null) { url.searchParams.delete(k); } else { url.searchParams.set(k, updates[k]); }
  });
  try {
    var s = top.document.createElement('script');
    s.textContent = 'window.location.assign(' + JSON.stringify(url.toString()) + ');';
    top.document.body.appendChild(s);
  } catch (err) {
    window.open(url.toString(), '_blank');
  }
}
"""


@dataclass(frozen=True)
class Panel:
    """One synchronised map panel.

    Attributes:
        title: caption drawn on the map (e.g. "SR - DeepLightSR").
        overlay: the raster, or None to show the region outlines only.
        element_id: DOM-friendly id used by tests (``panel-lr``...).
    """

    title: str
    overlay: Overlay | None
    element_id: str


def text_html(value: object) -> str:
    """``value`` as HTML text: every data string (region names, titles, credits) goes through this
    before Leaflet puts it into the DOM (tooltips, controls and attributions insert HTML)."""
    return html.escape(str(value), quote=True)


def _regions_geojson(regions: gpd.GeoDataFrame) -> dict:
    """Regions as GeoJSON (EPSG:4326): ``name`` is the raw name (compared and put into the URL, never
    into HTML), ``label`` its HTML-escaped text for the tooltip."""
    frame = regions[["name", "geometry"]].to_crs("EPSG:4326")
    frame = frame.assign(
        label=[text_html(name) for name in frame["name"]],
        geometry=frame.geometry.simplify(0.0005, preserve_topology=True),
    )
    return json.loads(frame.to_json())


def _add_regions(fmap: folium.Map, regions: gpd.GeoDataFrame, selected: str | None, clickable: bool) -> None:
    click = (
        "layer.on('click', function () { deeplightNavigate({region: feature.properties.name, aoi: null}); });"
        if clickable
        else ""
    )
    script = (
        NAVIGATE_JS
        + f"""
var regions_{{{{ this.get_name() }}}} = L.geoJSON({{{{ this.data.geojson }}}}, {{
  style: function (f) {{ return f.properties.name === {{{{ this.data.selected }}}}
      ? {{color: '#00e5ff', weight: 3, fill: false}}
      : {{color: '#9aa0a6', weight: 1, fill: true, fillOpacity: 0.0, opacity: 0.8}}; }},
  onEachFeature: function (feature, layer) {{
    layer.bindTooltip(feature.properties.label, {{sticky: true}});  // HTML-escaped in Python
    {click}
  }}
}}).addTo({{{{ this._parent.get_name() }}}});
"""
    )
    fmap.add_child(_Script(script, data={"geojson": _regions_geojson(regions), "selected": selected}))


def _add_title(fmap: folium.Map, title: str, element_id: str) -> None:
    text = f'<b id="{text_html(element_id)}">{text_html(title)}</b>'
    script = """
var title_{{ this.get_name() }} = L.control({position: 'topright'});
title_{{ this.get_name() }}.onAdd = function () {
  var d = L.DomUtil.create('div', 'deeplight-title');
  d.style.cssText = 'background:rgba(14,17,23,0.85);color:#fff;padding:3px 8px;border-radius:4px;font:13px sans-serif;white-space:nowrap;overflow:hidden;text-overflow:ellipsis';
  d.innerHTML = {{ this.data.text }};
  d.title = d.textContent;  // the whole title on hover when it is cut short
  var map = {{ this._parent.get_name() }};
  // one line, never under the zoom buttons (top left): as wide as the map less the buttons' room
  function fit() { d.style.maxWidth = Math.max(60, map.getSize().x - 70) + 'px'; }
  fit(); map.on('resize', fit);
  return d; };
title_{{ this.get_name() }}.addTo({{ this._parent.get_name() }});
"""
    fmap.add_child(_Script(script, data={"text": text}))


def _add_overlay(
    fmap: folium.Map,
    overlay: Overlay,
    pane: str | None = None,
    url_js: str | None = None,
    register: bool = False,
) -> str:
    """Add the PNG overlay, and over it its full-resolution tiles if any; returns the JS variable
    name of the overlay layer.

    ``url_js`` is a JS expression giving the image URL (to share one data URL between maps); by
    default the data URL is written inline. Without ``pane`` the overlay and its tiles go to panes
    under the region outlines (``overlayPane``, z-index 400), tiles above the overlay. ``register``
    lists the layer in ``window.deeplightLayers`` (in call order) for :func:`compare_maps`' in-place
    update.
    """
    if pane is not None and pane not in ("swipeLeft", "swipeRight"):
        raise ValueError(f"unknown pane {pane!r}")
    tiles = overlay.tiles
    element = _Script(
        "",
        data={
            "url": overlay.url,
            "bounds": overlay.bounds,
            "pane": pane or "deeplightRaster",
            "tilePane": pane or "deeplightTiles",
            **(
                {}
                if tiles is None
                else {"tilesUrl": tiles.url, "tilesMin": tiles.min_zoom, "tilesMax": tiles.max_zoom,
                      "tilesBounds": tiles.bounds, "tilesPx": TILE_PX}
            ),
        },
    )
    name = f"overlay_{element.get_name()}"
    if pane:
        pane_js = (
            "{{ this._parent.get_name() }}.createPane({{ this.data.pane }});"
            "{{ this._parent.get_name() }}.getPane({{ this.data.pane }}).style.zIndex = 450;"
        )
    else:
        pane_js = (
            "if (!{{ this._parent.get_name() }}.getPane('deeplightRaster')) { "
            "{{ this._parent.get_name() }}.createPane('deeplightRaster').style.zIndex = 380;"
            "{{ this._parent.get_name() }}.createPane('deeplightTiles').style.zIndex = 390; }"
        )
    opts = "{opacity: 1.0, interactive: false, className: 'deeplight-raster', pane: {{ this.data.pane }}}"
    url = url_js if url_js is not None else "{{ this.data.url }}"
    tiles_js = ""
    if tiles is not None:
        # drawn only from the zoom where the overlay would be enlarged; Leaflet enlarges the native
        # level beyond (pixelated, see MAP_CSS); no request outside the raster's bounds
        tiles_js = (
            f"{name}.tiles = L.tileLayer({{{{ this.data.tilesUrl }}}}, {{minZoom: {{{{ this.data.tilesMin }}}},"
            " maxNativeZoom: {{ this.data.tilesMax }}, maxZoom: 24, tileSize: {{ this.data.tilesPx }},"
            " bounds: L.latLngBounds({{ this.data.tilesBounds }}), pane: {{ this.data.tilePane }},"
            " className: 'deeplight-tiles', keepBuffer: 1})"
            ".addTo({{ this._parent.get_name() }});"
        )
    element._template = Template(
        "{% macro script(this, kwargs) %}"
        + pane_js
        + f"var {name} = L.imageOverlay({url}, {{{{ this.data.bounds }}}}, {opts})"
        ".addTo({{ this._parent.get_name() }});"
        + tiles_js
        + (
            f"(window.deeplightLayers = window.deeplightLayers || []).push("
            f"{{overlay: {name}, tiles: {name}.tiles || null}});"
            if register
            else ""
        )
        + "{% endmacro %}"
    )
    fmap.add_child(element)
    return name


def _attribution(fmap: folium.Map, credits: list[str]) -> None:
    text = " | ".join(text_html(c) for c in credits)
    fmap.add_child(
        _Script(
            "{{ this._parent.get_name() }}.attributionControl.setPrefix('Leaflet');"
            "{{ this._parent.get_name() }}.attributionControl.addAttribution({{ this.data.text }});",
            data={"text": text},
        )
    )


def _data_element(template: str, value) -> branca.element.Element:
    """An Element whose trusted ``template`` shows ``value`` as a safe JS literal via ``{{ this.data }}``."""
    element = branca.element.Element(template)
    element.data = js_literal(value)
    return element


MAP_CSS = (
    "<style>.leaflet-container{background:#1b1e25 !important}"
    # one line beside the scale bar (the full credits on hover, and in the sidebar), so the boxes
    # no longer cover the panels and scale bars
    ".leaflet-control-attribution{font-size:10px !important;line-height:1.3 !important;max-width:55%;"
    "white-space:nowrap;overflow:hidden;text-overflow:ellipsis}"
    ".leaflet-control-attribution:hover{white-space:normal;max-width:90%}"
    ".leaflet-bottom.leaflet-left .leaflet-control-scale{margin-bottom:18px !important}"
    # full-resolution tiles and overlays show their pixels when enlarged, not a blur
    ".deeplight-tiles img,img.deeplight-raster{image-rendering:pixelated}"
    "html,body{margin:0;background:#0e1117}</style>"
)


def _new_map(bounds: list[list[float]], basemap: bool, **kwargs) -> OfflineMap:
    fmap = OfflineMap(
        location=[(bounds[0][0] + bounds[1][0]) / 2, (bounds[0][1] + bounds[1][1]) / 2],
        tiles=None,
        control_scale=True,
        prefer_canvas=False,
        zoom_snap=0.25,
        **kwargs,
    )
    # the map's own zoom limits: without them Leaflet takes the limits from the layers, so a tile
    # layer's minZoom would stop the map zooming out to the whole region
    fmap.options.update(minZoom=1, maxZoom=20)
    if basemap:
        folium.TileLayer("OpenStreetMap", attr=OSM_ATTRIBUTION, opacity=0.6).add_to(fmap)
    fmap.fit_bounds(bounds)
    fmap.get_root().header.add_child(branca.element.Element(MAP_CSS), name="deeplight_css")
    return fmap


def picker_map(
    regions: gpd.GeoDataFrame,
    selected: str | None,
    credits: list[str],
    *,
    overlay: Overlay | None = None,
    basemap: bool = False,
    allow_draw: bool = True,
    height_px: int = 520,
) -> str:
    """HTML of the region picker: region outlines (click selects), optional raster and draw tools.

    Args:
        regions: regions with a ``name`` column (any CRS).
        selected: name of the selected region (highlighted).
        credits: attributions shown on the map.
        overlay: a raster shown under the outlines.
        basemap: add the online OpenStreetMap basemap (only when reachable).
        allow_draw: add Leaflet.draw rectangle/polygon tools; a drawing selects that area.
        height_px: map height.
    """
    minx, miny, maxx, maxy = regions.to_crs("EPSG:4326").total_bounds
    bounds = overlay.bounds if overlay is not None else [[miny, minx], [maxy, maxx]]
    fmap = _new_map(bounds, basemap, height=f"{height_px}px")
    if overlay is not None:
        _add_overlay(fmap, overlay)
    _add_regions(fmap, regions, selected, clickable=True)
    if allow_draw:
        fmap.add_child(
            _Script(
                """
var drawn_{{ this.get_name() }} = new L.FeatureGroup().addTo({{ this._parent.get_name() }});
{{ this._parent.get_name() }}.addControl(new L.Control.Draw({
  draw: {polyline: false, circle: false, marker: false, circlemarker: false,
         polygon: {allowIntersection: false}, rectangle: {}},
  edit: {featureGroup: drawn_{{ this.get_name() }}, edit: false, remove: false}}));
{{ this._parent.get_name() }}.on(L.Draw.Event.CREATED, function (e) {
  drawn_{{ this.get_name() }}.addLayer(e.layer);
  var ring = e.layer.toGeoJSON().geometry.coordinates[0];
  var aoi = ring.map(function (p) { return p[0].toFixed(5) + ',' + p[1].toFixed(5); }).join(';');
  deeplightNavigate({aoi: aoi, region: null});
});
""",
                js=[("leaflet_draw", f"{STATIC_URL}/leaflet-draw/leaflet.draw.js")],
                css=[("leaflet_draw_css", f"{STATIC_URL}/leaflet-draw/leaflet.draw.css")],
            )
        )
    _attribution(fmap, credits)
    return fmap.get_root().render()


def compare_maps(
    panels: list[Panel],
    swipe: tuple[Panel, Panel] | None,
    regions: gpd.GeoDataFrame,
    selected: str | None,
    credits: list[str],
    legend: str,
    *,
    basemap: bool = False,
    panel_height_px: int = 380,
) -> str:
    """HTML of the side-by-side synchronised panels plus an optional swipe map, one shared legend.

    Args:
        panels: 2-4 panels shown side by side (e.g. LR, SR, HR), all synchronised (Leaflet.Sync).
        swipe: (left, right) panels for the swipe map under them (leaflet-side-by-side), or None.
        regions: region outlines drawn on every panel (click selects).
        selected: highlighted region name.
        credits: attributions on every map.
        legend: HTML of the shared colour legend (see :func:`app.colors.legend_html`).
        basemap: add the online basemap to every panel.
        panel_height_px: height of each row of maps.
    """
    figure = branca.element.Figure()
    figure.header.add_child(branca.element.Element(MAP_CSS), name="deeplight_css")
    bounds = next(p.overlay.bounds for p in panels if p.overlay is not None)
    n = len(panels)
    rows = 2 if swipe else 1
    total = panel_height_px * rows + 4 * rows
    maps: list[OfflineMap] = []
    # Each PNG is written once (swipe and panel maps share it) to keep the page small: in the page's
    # state (JSON), which is also what the map frame hands to deeplightUpdate on a time step.
    urls: list[str] = list(dict.fromkeys(p.overlay.url for p in panels if p.overlay is not None))
    layers: list[dict] = []

    def url_js(overlay: Overlay) -> str:
        tiles = overlay.tiles
        layers.append(
            {
                "image": urls.index(overlay.url),
                "tiles": None if tiles is None else tiles.url,
                "grid": None if tiles is None else [tiles.min_zoom, tiles.max_zoom, tiles.bounds],
            }
        )
        return f"DEEPLIGHT_IMAGES[{urls.index(overlay.url)}]"

    for index, panel in enumerate(panels):
        fmap = _new_map(
            bounds,
            basemap,
            # the panels are synchronised: zoom buttons on the first one only, so titles have room
            zoom_control=index == 0,
            width=f"{100 / n:.4f}%",
            height=f"{panel_height_px}px",
            left=f"{100 * index / n:.4f}%",
            top="0px",
            position="absolute",
        )
        if panel.overlay is not None:
            _add_overlay(fmap, panel.overlay, url_js=url_js(panel.overlay), register=True)
        _add_regions(fmap, regions, selected, clickable=True)
        _add_title(fmap, panel.title, panel.element_id)
        _attribution(fmap, credits)
        figure.add_child(fmap)
        maps.append(fmap)
    if swipe:
        left, right = swipe
        fmap = _new_map(
            bounds,
            basemap,
            width="100%",
            height=f"{panel_height_px}px",
            left="0%",
            top=f"{panel_height_px + 4}px",
            position="absolute",
        )
        left_name = _add_overlay(fmap, left.overlay, pane="swipeLeft", url_js=url_js(left.overlay), register=True)
        right_name = _add_overlay(
            fmap, right.overlay, pane="swipeRight", url_js=url_js(right.overlay), register=True
        )
        _add_regions(fmap, regions, selected, clickable=False)
        _add_title(fmap, f"Swipe: {left.title}  |  {right.title}", "panel-swipe")
        _attribution(fmap, credits)
        fmap.add_child(
            _Script(
                # leaflet-side-by-side clips layer containers; an ImageOverlay's container is its pane.
                f"{left_name}.getContainer = function () {{ return {{{{ this._parent.get_name() }}}}.getPane('swipeLeft'); }};"
                f"{right_name}.getContainer = function () {{ return {{{{ this._parent.get_name() }}}}.getPane('swipeRight'); }};"
                f"window.deeplightSwipe = L.control.sideBySide({left_name}, {right_name}).addTo({{{{ this._parent.get_name() }}}});",
                js=[("side_by_side", f"{STATIC_URL}/leaflet-side-by-side/leaflet-side-by-side.js")],
                css=[
                    ("side_by_side_layout", f"{STATIC_URL}/leaflet-side-by-side/layout.css"),
                    ("side_by_side_range", f"{STATIC_URL}/leaflet-side-by-side/range.css"),
                ],
            )
        )
        figure.add_child(fmap)
        maps.append(fmap)
    names = [m.get_name() for m in maps]
    pairs = "".join(f"{a}.sync({b});" for a in names for b in names if a != b)
    # Fit the region in the first (narrowest) panel and give every map that view. Done now, on load
    # and once more a little later: a map's own late 'zoomend'/'resize' would otherwise re-sync the
    # others to the wide swipe map's tighter zoom.
    # A view kept in the URL (the map frame's window.deeplightInitialView, [lat, lon, zoom]) replaces
    # the fit; once settled, the first map reports its view back (app/map_view.py) on every move.
    others = ", ".join(names[1:])
    first = names[0]
    fit_js = (
        "function deeplightStartView() { try { var v = window.parent.deeplightInitialView;"
        " return (v && v.length === 3) ? v : null; } catch (e) { return null; } }"
        f"function deeplightFit() {{ {first}.invalidateSize(); var v = deeplightStartView();"
        f" if (v) {{ {first}.setView([v[0], v[1]], v[2], {{animate: false}}); }}"
        f" else {{ {first}.fitBounds({{{{ this.data.bounds }}}}, {{animate: false}}); }}"
        f" var c = {first}.getCenter(), z = {first}.getZoom();"
        f" [{others}].forEach(function (m) {{ m.setView(c, z, {{animate: false}}); }}); }}"
        f"function deeplightReport() {{ var c = {first}.getCenter();"
        " try { if (typeof window.parent.deeplightView === 'function') {"
        f" window.parent.deeplightView(c.lat.toFixed(5) + ',' + c.lng.toFixed(5) + ',' + {first}.getZoom()); }} }}"
        " catch (e) { /* not in the map frame */ } }"
    )
    fit = (
        f"{fit_js} deeplightFit(); window.addEventListener('load', function () {{ deeplightFit();"
        f" setTimeout(function () {{ deeplightFit(); {first}.on('moveend', deeplightReport); }}, 600); }});"
    )
    maps[-1].add_child(
        _Script(
            pairs + fit,
            js=[("leaflet_sync", f"{STATIC_URL}/leaflet-sync/L.Map.Sync.js")],
            data={"bounds": bounds},
        )
    )
    # What must be equal for a new page to be shown by swapping images in place (a time step on the
    # same region, layout and scale grid): everything but the images, the tile URLs and the legend.
    signature = json.dumps(
        {
            "panels": [[p.element_id, p.title] for p in panels],
            "swipe": None if swipe is None else [swipe[0].element_id, swipe[1].element_id],
            "bounds": [[round(v, 7) for v in corner] for corner in bounds],
            "grids": [[layer["tiles"] is not None, layer["grid"]] for layer in layers],
            "regions": _regions_geojson(regions),
            "selected": selected,
            "credits": credits,
            "basemap": basemap,
            "height": panel_height_px,
        },
        sort_keys=True,
        default=str,
    )
    state = {
        "signature": hashlib.sha256(signature.encode("utf-8")).hexdigest(),
        "images": urls,
        "layers": [{"image": layer["image"], "tiles": layer["tiles"]} for layer in layers],
        "legend": legend,
    }
    figure.header.add_child(
        _data_element(
            '<script id="deeplight-state" type="application/json">{{ this.data }}</script>'
            "<script>var DEEPLIGHT_STATE = JSON.parse(document.getElementById('deeplight-state').textContent);"
            "var DEEPLIGHT_IMAGES = DEEPLIGHT_STATE.images;</script>",
            state,
        ),
        name="deeplight_state",
    )
    figure.html.add_child(
        branca.element.Element(
            f'<div style="position:relative;height:{total}px"></div><div id="deeplight-legend-slot">{legend}</div>'
        )
    )
    figure.html.add_child(branca.element.Element(UPDATE_JS), name="deeplight_update")
    return figure.render()


UPDATE_JS = """<script>
// In-place update (called by the map frame, app/map_frame/index.html, when the new page has this
// page's signature): new images, tiles and legend, same maps, same view.
window.deeplightSignature = DEEPLIGHT_STATE.signature;
window.deeplightUpdate = function (state) {
  state.layers.forEach(function (layer, i) {
    var entry = window.deeplightLayers[i];
    entry.overlay.setUrl(state.images[layer.image]);
    if (entry.tiles && layer.tiles) { entry.tiles.setUrl(layer.tiles); }
  });
  document.getElementById('deeplight-legend-slot').innerHTML = state.legend;
  window.deeplightSignature = state.signature;
};
</script>"""


# --- Before/after difference maps ----------------------------------------------------------------

DIFFERENCE_COLORMAP = "RdBu_r"
"""Diverging colour map of the difference maps: blue = darker in B than in A, white = no change,
red = brighter."""
DIFFERENCE_LEVELS = 255
"""Colour levels of the difference PNG (odd, so that the middle level is exactly zero change)."""


def difference_limit(*arrays: np.ndarray | None, percentile: float = 99.0, floor: float = 0.5) -> float:
    """Half-width (nW/cm^2/sr) of the difference scale shared by every panel: ``percentile`` of |B - A|
    over all finite values of every array, at least ``floor``."""
    values = [np.abs(a[np.isfinite(a)]).ravel() for a in arrays if a is not None]
    values = [v for v in values if v.size]
    if not values:
        return floor
    return float(max(floor, np.percentile(np.concatenate(values), percentile)))


def difference_position(difference: np.ndarray, limit: float) -> np.ndarray:
    """Position -1..1 of each change on the symmetric log scale ``sign(d) log1p(|d|) / log1p(limit)``.

    0 is exactly no change; +-1 is +-``limit`` and beyond (clipped). NaN stays NaN. A log scale, like
    the radiance maps', because changes of a city centre and of its suburbs differ a hundredfold.
    """
    d = np.asarray(difference, dtype=np.float64)
    with np.errstate(invalid="ignore"):
        pos = np.sign(d) * np.log1p(np.abs(d)) / math.log1p(limit)
    return np.clip(pos, -1.0, 1.0)


def difference_index(difference: np.ndarray, limit: float) -> np.ndarray:
    """Palette indices (uint8) of a change image: 0 transparent (nodata in either date), 1..255 from
    -limit to +limit with index 128 exactly zero."""
    pos = difference_position(difference, limit)
    index = 1 + np.round((np.nan_to_num(pos, nan=0.0) + 1) / 2 * (DIFFERENCE_LEVELS - 1)).astype(np.uint8)
    index[~np.isfinite(difference)] = 0
    return index


def difference_colours(colormap: str = DIFFERENCE_COLORMAP) -> np.ndarray:
    """(255, 3) uint8 RGB of :func:`difference_index`'s indices 1..255 (zero change white)."""
    from matplotlib import colormaps

    colours = colormaps[colormap](np.linspace(0, 1, DIFFERENCE_LEVELS), bytes=True)[:, :3]
    colours[DIFFERENCE_LEVELS // 2] = (255, 255, 255)  # zero change is white whatever the colour map
    return colours


def difference_to_png_data_url(
    difference: np.ndarray, limit: float, colormap: str = DIFFERENCE_COLORMAP
) -> str:
    """Colour a (H, W) change image (nW/cm^2/sr, B - A) on the diverging scale as a palette PNG data URL."""
    from app.colors import palette_png_data_url

    return palette_png_data_url(difference_index(difference, limit), difference_colours(colormap))


def difference_overlay(
    difference: np.ndarray, crs, transform, limit: float, tile_key: str | None = None
) -> Overlay:
    """A change raster (nW/cm^2/sr, any CRS) as an ``L.imageOverlay`` on the diverging scale, with
    full-resolution tiles (:mod:`app.tiles`) when ``tile_key`` is given."""
    return palette_overlay(
        difference, crs, transform, lambda a: difference_index(a, limit), difference_colours(),
        None if tile_key is None else f"{tile_key}|diff|{limit:.6g}",
    )


def difference_ticks(limit: float) -> list[tuple[float, float]]:
    """Tick values (nW/cm^2/sr) and their positions 0..1 on the legend, symmetric about 0."""
    from app.colors import MIN_TICK_GAP

    candidates = [1, 3, 10, 30, 100, 300, 1000]
    half = lambda v: 0.5 * math.log1p(v) / math.log1p(limit)  # noqa: E731 - offset from the centre
    positive: list[float] = []
    for v in [v for v in candidates if v < limit and half(v) <= 0.5 - MIN_TICK_GAP] + [limit]:
        # no label over 0's, over the previous one's, or (for round values) over limit's
        if half(v) - (half(positive[-1]) if positive else 0.0) >= MIN_TICK_GAP:
            positive.append(v)
    if not positive or positive[-1] != limit:
        positive = positive[:-1] + [limit] if positive else [limit]
    ticks = [(-v, 0.5 - 0.5 * math.log1p(v) / math.log1p(limit)) for v in reversed(positive)]
    ticks.append((0.0, 0.5))
    ticks += [(v, 0.5 + 0.5 * math.log1p(v) / math.log1p(limit)) for v in positive]
    return ticks


def difference_legend_html(limit: float, title: str, colormap: str = DIFFERENCE_COLORMAP) -> str:
    """A horizontal diverging colour bar centred on 0 (HTML fragment, inline styles; ``title`` is escaped)."""
    from matplotlib import colormaps

    cmap = colormaps[colormap]
    stops = []
    for i in range(11):
        r, g, b = (int(255 * c) for c in cmap(i / 10)[:3])
        if i == 5:
            r, g, b = 255, 255, 255
        stops.append(f"rgb({r},{g},{b}) {i * 10:.0f}%")
    span = '<span style="position:absolute;left:{:.1f}%;transform:translateX(-50%)">{}</span>'
    labels = "".join(
        span.format(100 * pos, f"{value:+.3g}" if value else "0") for value, pos in difference_ticks(limit)
    )
    return (
        '<div class="deeplight-legend deeplight-diff-legend" style="font:12px sans-serif;color:#eee;'
        'padding:4px 16px 18px 16px;background:#0e1117">'
        f'<div style="margin-bottom:2px">{text_html(title)} - symmetric log scale, shared by every panel; '
        "blue darker, red brighter</div>"
        '<div style="height:12px;background:linear-gradient(to right, '
        f'{", ".join(stops)});border:1px solid #555"></div>'
        f'<div style="position:relative;height:14px">{labels}</div></div>'
    )


def difference_maps(
    changes: dict[str, np.ndarray | None],
    titles: dict[str, str],
    crs,
    transform,
    limit: float,
    regions: gpd.GeoDataFrame,
    selected: str | None,
    credits: list[str],
    legend_title: str,
    *,
    basemap: bool = False,
    tile_key: str | None = None,
) -> str:
    """HTML of the synchronised before/after difference panels (one per product, ``panel-diff-<p>``).

    Args:
        changes: product ("lr", "sr", "hr") -> B - A on the HR grid (nW/cm^2/sr), or None (left out).
        titles: product -> panel title.
        crs, transform: the HR grid of the changes.
        limit: half-width of the shared diverging scale (:func:`difference_limit`).
        regions, selected, credits, basemap: as for :func:`compare_maps`.
        legend_title: the legend's title (e.g. "Change 2020 minus 2014 (nW/cm²/sr)").
        tile_key: cache key of the two dates' region and model: with it, each panel gets its
            full-resolution tiles (:mod:`app.tiles`).
    """
    panels = [
        Panel(
            titles[p],
            difference_overlay(d, crs, transform, limit, None if tile_key is None else f"{tile_key}|{p}"),
            f"panel-diff-{p}",
        )
        for p, d in changes.items()
        if d is not None
    ]
    legend = difference_legend_html(limit, legend_title)
    return compare_maps(panels, None, regions, selected, credits, legend, basemap=basemap)
