"""A self-contained HTML report of one SDG selection (pure: no Streamlit, testable on its own).

One file per selection (data set, region(s), date, model, thresholds): the LR / SR / HR maps as
embedded PNG images (the same palette PNG overlays as the dashboard's maps, with the regions'
outlines drawn over them), the LR / SR / HR indicator table, the charts (plotly figures, with
plotly.js inlined from the installed plotly package: no CDN, the file works offline), the metadata
and the simulated flags. Every data string (region and data-set names, notes, metadata values) is
HTML-escaped. There is no PDF writer: print the page from a browser (the stylesheet has print rules).
"""

from __future__ import annotations

import functools
import html
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
from pyproj import Transformer

from app.overlay import Overlay

MIME = "text/html"
OUTLINE_VIEWBOX_WIDTH = 1000.0
"""Width of the SVG outline layer's coordinate system (its height follows the map's aspect)."""


@dataclass(frozen=True)
class ReportMap:
    """One map image of the report.

    Attributes:
        title: caption (e.g. "LR (simulated, nominal radiance)"); escaped when written.
        overlay: the PNG data URL and its ``[[south, west], [north, east]]`` bounds (a Web Mercator
            image, as :func:`app.overlay.radiance_overlay` makes for the dashboard's maps).
    """

    title: str
    overlay: Overlay


@dataclass(frozen=True)
class ReportTable:
    """An extra table of the report (e.g. the change per region): title, frame, caption."""

    title: str
    frame: pd.DataFrame
    caption: str = ""


@dataclass(frozen=True)
class ReportContent:
    """What one report shows.

    Attributes:
        dataset: data-set title.
        regions: the selected region names.
        time_label: the date ("2018", "2016-03", or "" when undated).
        model: the SR model's name, or None (no SR).
        table: the tidy indicator table (``deeplight.report.region_report``), readable units.
        metadata: what the downloads carry (``deeplight.sdg.export.indicators_metadata`` of the
            table and ``RegionReport.metadata``); shown as a key / value list.
        lr_simulated: the LR was made by the degradation model.
        hr_synthetic: the HR is generated (the demo), not observed.
        thresholds: the user's settings as name -> value (shown as a list).
        maps: the LR / SR / HR images (same colour scale).
        legend_html: the colour bar (trusted HTML from :func:`app.colors.legend_html`).
        outlines: regions (column ``name``, any CRS) drawn over the maps, or None.
        figures: (caption, plotly figure) pairs.
        tables: extra tables after the indicator table.
        credits: data credits.
        notes: honest remarks (what is simulated, what is missing).
        created_utc: time stamp written in the report (default: now).
    """

    dataset: str
    regions: Sequence[str]
    time_label: str
    model: str | None
    table: pd.DataFrame
    metadata: Mapping[str, Any]
    lr_simulated: bool
    hr_synthetic: bool = False
    thresholds: Mapping[str, Any] = field(default_factory=dict)
    maps: Sequence[ReportMap] = ()
    legend_html: str = ""
    outlines: gpd.GeoDataFrame | None = None
    figures: Sequence[tuple[str, Any]] = ()
    tables: Sequence[ReportTable] = ()
    credits: Sequence[str] = ()
    notes: Sequence[str] = ()
    created_utc: str | None = None


def esc(value: object) -> str:
    """``value`` as HTML text (quotes escaped too, so it is safe in attributes)."""
    return html.escape(str(value), quote=True)


@functools.lru_cache(maxsize=1)
def plotly_js() -> str:
    """plotly.js of the installed plotly package (about 4.8 MB), read once."""
    from plotly.offline import get_plotlyjs

    return get_plotlyjs()


def report_file_name(dataset: str, regions: Sequence[str], time_label: str) -> str:
    """A safe ASCII file name for the report: ``deeplight_report_<set>_<region|N-regions>_<date>.html``."""
    where = regions[0] if len(regions) == 1 else f"{len(regions)}-regions"
    parts = [re.sub(r"[^A-Za-z0-9]+", "-", str(p)).strip("-") for p in (dataset, where, time_label)]
    return "_".join(["deeplight_report", *(p for p in parts if p)])[:120].rstrip("_-") + ".html"


def simulated_banner(lr_simulated: bool, hr_synthetic: bool, has_sr: bool) -> str:
    """The prominent SIMULATED / SYNTHETIC statement of the report (HTML), or "" for observed data."""
    lines = []
    if lr_simulated:
        source = "the synthetic HR" if hr_synthetic else "the real HR image"
        lines.append(
            f"<b>SIMULATED LR</b>: the coarse DMSP-like input was made by the DeepLight degradation model "
            f"from {source}; it is not a DMSP observation."
        )
        if has_sr:
            lines.append("<b>SR from a SIMULATED input</b>: the SR was reconstructed from that simulated LR.")
    if hr_synthetic:
        lines.append(
            "<b>SYNTHETIC HR</b>: the HR reference was generated by the DeepLight scene generator (a "
            "fictional country); it is not an observation of any place."
        )
    if not lines:
        return ""
    items = "".join(f"<li>{line}</li>" for line in lines)
    return (
        f'<section class="simulated" id="simulated-flags"><h2>SIMULATED data</h2><ul>{items}</ul></section>'
    )


def _number(value: object) -> str:
    if value is None or value is pd.NA:
        return "-"
    if isinstance(value, (bool, np.bool_)):
        return "true" if value else "false"
    if isinstance(value, (int, np.integer)):
        return f"{int(value):,}"
    if isinstance(value, (float, np.floating)):
        if not np.isfinite(value):
            return "-"
        return f"{value:,.0f}" if abs(value) >= 1e5 else f"{value:.4g}"
    return str(value)


def table_html(frame: pd.DataFrame, table_id: str | None = None) -> str:
    """A DataFrame as an HTML table; every header and cell escaped, numbers with 4 significant digits."""
    head = "".join(f"<th>{esc(c)}</th>" for c in frame.columns)
    body = []
    for row in frame.itertuples(index=False):
        cells = []
        for value in row:
            numeric = isinstance(value, (int, float, np.integer, np.floating)) and not isinstance(value, bool)
            klass = ' class="num"' if numeric else ""
            cells.append(f"<td{klass}>{esc(_number(value))}</td>")
        body.append("<tr>" + "".join(cells) + "</tr>")
    ident = f' id="{esc(table_id)}"' if table_id else ""
    return f"<table{ident}><thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table>"


def region_outline_svg(outlines: gpd.GeoDataFrame | None, bounds: list[list[float]]) -> str:
    """The regions' outlines as an SVG layer matching a Web Mercator image with ``bounds``
    (``[[south, west], [north, east]]`` degrees); "" without outlines."""
    if outlines is None or outlines.empty or outlines.crs is None:
        return ""
    (south, west), (north, east) = bounds
    to_mercator = Transformer.from_crs("EPSG:4326", "EPSG:3857", always_xy=True)
    x0, y0 = to_mercator.transform(west, south)
    x1, y1 = to_mercator.transform(east, north)
    if not (x1 > x0 and y1 > y0):
        return ""
    width = OUTLINE_VIEWBOX_WIDTH
    height = width * (y1 - y0) / (x1 - x0)
    scale = width / (x1 - x0)
    shapes = outlines.to_crs("EPSG:3857").geometry.simplify((x1 - x0) / 2000.0, preserve_topology=True)
    paths = []
    for geometry in shapes:
        if geometry is None or geometry.is_empty:
            continue
        rings = []
        for polygon in getattr(geometry, "geoms", [geometry]):
            if polygon.geom_type != "Polygon":
                continue
            for ring in (polygon.exterior, *polygon.interiors):
                xy = np.asarray(ring.coords)[:, :2]
                px = (xy[:, 0] - x0) * scale
                py = (y1 - xy[:, 1]) * scale
                rings.append("M" + "L".join(f"{a:.1f},{b:.1f}" for a, b in zip(px, py)) + "Z")
        if rings:
            paths.append(f'<path d="{"".join(rings)}"/>')
    if not paths:
        return ""
    return (
        f'<svg class="outlines" viewBox="0 0 {width:.0f} {height:.1f}" preserveAspectRatio="none" '
        f'aria-hidden="true">{"".join(paths)}</svg>'
    )


def _maps_html(content: ReportContent) -> str:
    if not content.maps:
        return ""
    figures = []
    for item in content.maps:
        outline = region_outline_svg(content.outlines, item.overlay.bounds)
        (south, west), (north, east) = item.overlay.bounds
        figures.append(
            '<figure class="map">'
            f'<div class="frame"><img alt="{esc(item.title)}" src="{esc(item.overlay.url)}">{outline}</div>'
            f"<figcaption>{esc(item.title)}<br><small>latitude {south:.4f} to {north:.4f}, longitude "
            f"{west:.4f} to {east:.4f} (Web Mercator image; cyan lines: the selected regions)</small>"
            "</figcaption></figure>"
        )
    return (
        '<section id="maps"><h2>Maps</h2>'
        f'<div class="maps">{"".join(figures)}</div>'
        f'<div class="legend">{content.legend_html}</div></section>'
    )


def _figures_html(content: ReportContent) -> str:
    if not content.figures:
        return ""
    blocks = []
    for index, (caption, figure) in enumerate(content.figures):
        height = getattr(figure.layout, "height", None) or 450
        div = figure.to_html(
            full_html=False,
            include_plotlyjs=False,
            div_id=f"report-chart-{index}",
            default_width="100%",
            default_height=f"{int(height)}px",
            config={"displaylogo": False, "responsive": True},
        )
        blocks.append(f'<figure class="chart">{div}<figcaption>{esc(caption)}</figcaption></figure>')
    return '<section id="charts"><h2>Charts</h2>' + "".join(blocks) + "</section>"


def _list_html(items: Mapping[str, Any]) -> str:
    rows = "".join(f"<dt>{esc(k)}</dt><dd>{esc(_number(v))}</dd>" for k, v in items.items())
    return f"<dl>{rows}</dl>"


def _value_html(value: Any) -> str:
    """A metadata value as escaped HTML: mappings as nested lists, short lists inline."""
    if isinstance(value, Mapping):
        if not value:
            return "-"
        rows = "".join(f"<dt>{esc(k)}</dt><dd>{_value_html(v)}</dd>" for k, v in value.items())
        return f"<dl>{rows}</dl>"
    if isinstance(value, (list, tuple)):
        if not value:
            return "-"
        flat = all(not isinstance(v, (Mapping, list, tuple)) for v in value)
        if flat and sum(len(str(v)) for v in value) < 120:
            return esc(", ".join(str(v) if isinstance(v, (int, np.integer)) else _number(v) for v in value))
        return "<ul>" + "".join(f"<li>{_value_html(v)}</li>" for v in value) + "</ul>"
    if value is None:
        return "-"
    if not isinstance(value, str):
        return esc(_number(value))
    return esc(value)


def _metadata_html(metadata: Mapping[str, Any]) -> str:
    rows = "".join(f"<tr><th>{esc(k)}</th><td>{_value_html(v)}</td></tr>" for k, v in metadata.items())
    return f'<table class="metadata" id="metadata-table">{rows}</table>'


TIDY_SHOWN = ("region", "product", "year", "indicator", "value", "unit", "lower", "upper", "simulated",
              "method", "note")
"""Columns of the tidy table shown in the report's "every row" part."""

STYLE = """
body{font:14px/1.45 system-ui,-apple-system,"Segoe UI",sans-serif;margin:24px auto;max-width:1200px;
color:#1d1d1f;padding:0 16px}
h1{font-size:24px;margin:0 0 4px}
h2{font-size:18px;margin:28px 0 8px;border-bottom:1px solid #ddd;padding-bottom:4px}
.sub{color:#555;margin:0 0 12px}
.simulated{border:3px solid #c62828;background:#fff3f3;padding:8px 16px;margin:16px 0;border-radius:6px}
.simulated h2{color:#c62828;border:none;margin:4px 0;font-size:20px;letter-spacing:.5px}
.simulated ul{margin:4px 0 4px 18px;padding:0}
table{border-collapse:collapse;font-size:12.5px;margin:6px 0 4px}
th,td{border:1px solid #ddd;padding:3px 6px;text-align:left;vertical-align:top}
th{background:#f3f4f6}td.num{text-align:right;font-variant-numeric:tabular-nums}
.metadata td{font-size:12px;word-break:break-word}.metadata dl{margin:0}
.metadata ul{margin:0;padding-left:16px}
.maps{display:flex;flex-wrap:wrap;gap:12px}
figure{margin:0}figure.map{flex:1 1 300px;max-width:380px}
figure.map .frame{position:relative;background:#1b1e25;line-height:0}
figure.map img{width:100%;height:auto;image-rendering:pixelated;display:block}
svg.outlines{position:absolute;left:0;top:0;width:100%;height:100%;fill:none;stroke:#00e5ff;stroke-width:1.5;
vector-effect:non-scaling-stroke}
svg.outlines path{vector-effect:non-scaling-stroke}
figcaption{font-size:12.5px;margin-top:4px;line-height:1.35}
.legend{margin-top:8px;max-width:760px}
figure.chart{margin:12px 0 20px}
dl{display:grid;grid-template-columns:max-content 1fr;gap:2px 14px;margin:6px 0}
dt{font-weight:600}dd{margin:0}
.foot{color:#666;font-size:12px;margin-top:28px}
@media print{body{max-width:none;margin:0}.simulated{break-inside:avoid}section{break-inside:auto}
figure.map,figure.chart{break-inside:avoid}.noprint{display:none}}
"""


def build_report(content: ReportContent) -> str:
    """The whole report as one HTML document (UTF-8 text, nothing fetched when opened)."""
    from app.sdg_view import significant, wide_summary

    regions = list(content.regions)
    created = content.created_utc or datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    where = ", ".join(regions[:6]) + (f" and {len(regions) - 6} more" if len(regions) > 6 else "")
    when = f" - {content.time_label}" if content.time_label else ""
    title = f"DeepLight SDG report: {where} - {content.dataset}{when}"
    has_sr = content.model is not None and "sr" in set(content.table.get("product", []))
    selection = {
        "data set": content.dataset,
        "regions": "; ".join(regions),
        "date": content.time_label or "undated",
        "model (SR)": content.model or "none (no reconstruction)",
        "LR": (
            "SIMULATED by the degradation model" + (" from the synthetic HR" if content.hr_synthetic else "")
            if content.lr_simulated
            else "as given (not simulated)"
        ),
        "HR": "SYNTHETIC (generated)" if content.hr_synthetic else "reference image of the data set",
        "created": created,
    }
    summary = significant(wide_summary(content.table, synthetic_hr=content.hr_synthetic))
    tidy = content.table[[c for c in content.table.columns if c in TIDY_SHOWN]]
    extra = "".join(
        f"<h3>{esc(t.title)}</h3>{table_html(t.frame)}"
        + (f"<p class='sub'>{esc(t.caption)}</p>" if t.caption else "")
        for t in content.tables
    )
    notes = "".join(f"<li>{esc(n)}</li>" for n in content.notes)
    credits = "".join(f"<li>{esc(c)}</li>" for c in content.credits)
    plotly = f"<script>{plotly_js()}</script>" if content.figures else ""
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        '<meta name="generator" content="DeepLight dashboard (app/report.py)">',
        f"<title>{esc(title)}</title><style>{STYLE}</style>{plotly}</head><body>",
        f"<h1>{esc(title)}</h1>",
        '<p class="sub">Night-time light super-resolution (DeepLight, Zhang et al., IJCAI 2024) and SDG '
        "indicators on LR, SR and HR. A self-contained file: it works offline; print it to get a PDF.</p>",
        simulated_banner(content.lr_simulated, content.hr_synthetic, has_sr),
        '<section id="selection"><h2>Selection</h2>',
        _list_html(selection),
        "<h3>Thresholds and inputs</h3>" + _list_html(content.thresholds) if content.thresholds else "",
        "</section>",
        _maps_html(content),
        '<section id="indicators"><h2>Indicators on LR, SR and HR</h2>',
        table_html(summary, "indicator-table"),
        '<p class="sub">One row per region and indicator, one column per product; "(simulated)" marks a '
        "product made by the degradation model, \"(from simulated LR)\" an SR reconstructed from it, "
        '"(synthetic)" a generated HR. Sums use equal-area cell areas; LR DN is converted to nominal '
        "radiance.</p>",
        extra,
        "<details><summary>Every row (tidy table with method and notes)</summary>",
        table_html(tidy, "tidy-table"),
        "</details></section>",
        _figures_html(content),
        '<section id="metadata"><h2>Metadata</h2>',
        f"<h3>Notes</h3><ul>{notes}</ul>" if notes else "",
        f"<h3>Data credits</h3><ul>{credits}</ul>" if credits else "",
        "<h3>Everything the downloads record</h3>",
        _metadata_html(content.metadata),
        "</section>",
        '<p class="foot">DeepLight dashboard report. The same indicators are in the CSV, GeoJSON and '
        "GeoPackage downloads.</p>",
        "</body></html>",
    ]
    return "\n".join(p for p in parts if p)


def threshold_items(thresholds) -> dict[str, Any]:
    """The user's settings (:class:`deeplight.report.Thresholds`) as readable name -> value pairs."""
    fixed = thresholds.urban_method == "fixed"
    items: dict[str, Any] = {
        "lit if radiance >= (nW/cm2/sr)": thresholds.lit_radiance,
        "LR lit if DN >": thresholds.lit_dn,
        "urban extent": thresholds.urban_method
        + (f" (radiance >= {thresholds.urban_radiance:g} nW/cm2/sr)" if fixed else ""),
    }
    if thresholds.co2_total is not None:
        items["CO2 total of the selected regions"] = f"{thresholds.co2_total:g} {thresholds.co2_unit}"
    if thresholds.co2_power_law is not None:
        a, b = thresholds.co2_power_law
        items["CO2 power law ln CO2 = a + b ln TNL"] = f"a = {a:g}, b = {b:g} ({thresholds.co2_unit})"
    return items


def report_maps(scene, lr_radiance: np.ndarray, sr: np.ndarray | None, vmax: float) -> list[ReportMap]:
    """The LR / SR / HR images of a (cropped) scene on one colour scale, rendered as the dashboard's
    map overlays (:func:`app.overlay.radiance_overlay`: Web Mercator, palette PNG data URL).

    Args:
        scene: the crop's :class:`deeplight.io.scene.Scene`.
        lr_radiance: (8h, 8w) LR nominal radiance on the HR grid (nW/cm^2/sr).
        sr: (8h, 8w) SR radiance or None.
        vmax: top of the shared log colour scale (nW/cm^2/sr).
    """
    from app.overlay import radiance_overlay

    lr_title = "LR (SIMULATED, nominal radiance)" if scene.lr_simulated else "LR (nominal radiance)"
    layers = [(lr_title, lr_radiance)]
    if sr is not None:
        source = ", from the simulated LR)" if scene.lr_simulated else ")"
        layers.append(("SR (reconstruction" + source, sr))
    if scene.hr is not None:
        layers.append(("HR reference (SYNTHETIC)" if scene.hr_synthetic else "HR reference", scene.hr))
    return [
        ReportMap(title, radiance_overlay(array, scene.crs, scene.hr_transform, vmax))
        for title, array in layers
    ]


def report_builder(
    scene,
    lr_radiance: np.ndarray,
    sr: np.ndarray | None,
    vmax: float,
    regions: gpd.GeoDataFrame,
    table: pd.DataFrame,
    export_metadata: Mapping[str, Any],
    thresholds,
    model_name: str | None,
    legend: str,
    figures: Sequence[tuple[str, Any]],
    tables: Sequence[ReportTable] = (),
):
    """A zero-argument function returning the report's UTF-8 bytes (for a deferred download button:
    the maps are rendered and the file written only when it is asked for).

    Args:
        scene: the crop's scene; ``regions``: the selected regions (column ``region``, scene CRS).
        export_metadata: the downloads' extra metadata (``RegionReport.metadata``), merged
            over the table's own as every export does.
        The others: as in :class:`ReportContent` and :func:`report_maps`.
    """
    from deeplight.sdg.export import indicators_metadata

    figures, tables = list(figures), list(tables)

    def build() -> bytes:
        metadata = indicators_metadata(table, export_metadata)
        content = ReportContent(
            dataset=scene.title,
            regions=list(regions["region"]),
            time_label=scene.time_label,
            model=model_name,
            table=table,
            metadata=metadata,
            lr_simulated=scene.lr_simulated,
            hr_synthetic=scene.hr_synthetic,
            thresholds=threshold_items(thresholds),
            maps=report_maps(scene, lr_radiance, sr, vmax),
            legend_html=legend,
            outlines=regions.rename(columns={"region": "name"}),
            figures=figures,
            tables=tables,
            credits=scene.credits,
            notes=scene.notes,
        )
        return build_report(content).encode("utf-8")

    return build
