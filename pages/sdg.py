"""SDG indicators of the selected regions on LR, SR and HR (CO2 proxy, light inequality, SDG 11.3.1
included), charts, time series and change, and downloads."""

from __future__ import annotations

import pandas as pd
import streamlit as st
from shapely.ops import unary_union

from app import charts, services
from app.colors import legend_html
from app.layout import finish_page, page_setup, sidebar_context, simulated_badge, staged
from app.report import ReportTable, report_builder, report_file_name
from app.report import MIME as REPORT_MIME
from app.sdg_view import (
    change_summary,
    change_table,
    co2_cell_map,
    csv_bytes,
    region_table,
    significant,
    wide_summary,
)
from app.selection import DRAWN_AREA, ViewParam
from deeplight.errors import DeepLightError
from deeplight.report import Thresholds, land_consumption_rows, population_inputs, series_table

PRODUCTS = ("lr", "sr", "hr")
# Controls of this page kept in the URL (a value equal to its default is left out).
VIEW = (
    ViewParam("lit_threshold", "lit", "float", 1.0),
    ViewParam("lit_threshold_dn", "lit_dn", "int", 7),
    ViewParam("urban_method", "urban", "str", "otsu", choices=("otsu", "fixed")),
    ViewParam("urban_threshold", "urban_at", "float", 10.0),
    ViewParam("co2_total", "co2", "float", 0.0),
    ViewParam("co2_unit", "co2_unit", "str", "t CO2"),
    ViewParam("co2_law", "co2_law", "bool", False),
    ViewParam("co2_a", "co2_a", "float", 0.0),
    ViewParam("co2_b", "co2_b", "float", 1.0),
    ViewParam("series_layout", "series", "str", charts.SERIES_LAYOUTS[0], choices=charts.SERIES_LAYOUTS),
    ViewParam("series_region", "series_region", "str", None),
    ViewParam("series_products", "products", "list", list(PRODUCTS), choices=PRODUCTS),
    ViewParam("change_from", "from", "time", None),
    ViewParam("change_to", "to", "time", None),
)

def _series_section(ctx, chosen, geometries, regions, thresholds, pick, crop, report):
    """Time series of the selected regions (one region or small multiples, products toggled), the
    change per region between two of its dates, and SDG 11.3.1; returns the CSV bytes (series, change).

    The series chart and the change table are added to ``report`` (figures, tables) for the report."""
    times = list(ctx.dataset.times)
    area_name = "|".join(sorted(chosen))
    st.subheader("Time series and change")
    picked = st.multiselect(
        "Months" if ctx.dataset.months else "Years",
        times,
        default=times[-12:] if ctx.dataset.months else times[-3:],
        key=f"sdg_years|{ctx.dataset.id}",
    )
    series_key = (ctx.dataset.id, tuple(sorted(chosen)), thresholds, ctx.model.id if ctx.model else None)
    if st.button("Compute the time series", key="run_time_series") and picked:
        tables = {}
        with staged(f"Time series over {len(picked)} dates") as stages:
            bar = st.progress(0.0, text="Time series...")
            for step, when in enumerate(sorted(picked, key=str)):
                bar.progress(step / len(picked), text=f"Time series: {when} ({step + 1} of {len(picked)})")
                stages.stage(f"{when}: reading, reconstructing, indicators")
                crop_t = services.region_crop(
                    services.scene(ctx.dataset.id, when), area_name, unary_union(geometries)
                )
                sr_t = services.reconstruction(crop_t, ctx.model.id, False) if ctx.model else None
                name = ctx.model.name if ctx.model else None
                tables[when] = services.sdg_outputs(crop_t, sr_t, regions, thresholds, name)["table"]
            bar.empty()
        st.session_state["sdg_series"] = (series_key, series_table(tables), sorted(tables, key=str))
    stored = st.session_state.get("sdg_series")
    if stored is None or stored[0] != series_key:
        st.caption("Pick dates and press the button: each date is reconstructed once, then cached.")
        return None, None
    series, computed = stored[1], list(stored[2])
    s1, s2, s3 = st.columns(3)
    layout = s1.radio("Series", charts.SERIES_LAYOUTS, horizontal=True, key="series_layout")
    shown_regions = list(chosen)
    if layout == "one region":
        if st.session_state.get("series_region") not in chosen:
            st.session_state["series_region"] = chosen[0]
        shown_regions = [s2.selectbox("Region of the series", chosen, key="series_region")]
    present = [p for p in PRODUCTS if p in set(series["product"])]
    kept = [p for p in st.session_state.get("series_products", present) if p in present]
    st.session_state["series_products"] = kept or present
    shown_products = s3.multiselect("Products", present, key="series_products")
    figure = charts.time_series(series, pick, regions=shown_regions, products=shown_products, layout=layout)
    st.plotly_chart(figure, key="chart_series")
    report["figures"].append((f"{pick} over time ({layout})", figure))
    masked = series.loc[series["masked"], ["region", "product", "period"]].drop_duplicates()
    if len(masked):
        st.caption(
            f"{len(masked)} region/product/date value(s) masked: less than half of the region had valid "
            "data (e.g. no cloud-free coverage), shown as gaps, not zeros."
        )
    st.markdown("**Change per region**")
    for key, default in (("change_from", computed[0]), ("change_to", computed[-1])):
        if st.session_state.get(key) not in computed:
            st.session_state[key] = default
    f1, f2 = st.columns(2)
    before = f1.selectbox("From (A)", computed, key="change_from")
    after = f2.selectbox("To (B)", computed, key="change_to")
    change_csv = None
    if before == after:
        st.info("Pick two different dates for the change.")
    else:
        change = change_table(series, before, after)
        st.dataframe(significant(change_summary(change)), hide_index=True)
        report["tables"].append(
            ReportTable(
                f"Change per region, {before} to {after}",
                significant(change_summary(change)),
                "B - A in each indicator's unit and in % of A; spread = largest minus smallest % change "
                "among LR, SR and HR (percentage points).",
            )
        )
        st.caption(
            f"B - A from {before} to {after}, in each indicator's unit, and in % of A; the spread is the "
            "largest minus the smallest % change among LR, SR and HR (percentage points)."
        )
        change_csv = change.to_csv(index=False).encode("utf-8")
        if not ctx.dataset.months:
            sdg11 = _land_consumption(ctx, chosen, series, *sorted((int(before), int(after))))
            if sdg11 is not None:
                series = pd.concat([series, sdg11], ignore_index=True)
                series.attrs = dict(stored[1].attrs)
    return csv_bytes(series, crop.scene), change_csv


def _land_consumption(ctx, chosen, series, year_a: int, year_b: int):
    """SDG 11.3.1 (LCR, PGR, LCRPGR) between two years; population from the data or typed in.

    Returns the tidy rows (with ``period`` and ``masked``) or None when no population is known."""
    st.markdown(f"**SDG 11.3.1: land consumption rate vs population growth rate, {year_a}-{year_b}**")
    people = series[series["indicator"] == "population"]
    typed = None
    if people["period"].nunique() < 2:
        st.caption(
            "This data set has no population raster per year: type the people of each region (e.g. "
            "from a census) for both years to get PGR and LCRPGR (0 = not given)."
        )
        blank = pd.DataFrame(  # 0 = not given (an empty cell would read "None")
            {"region": chosen, f"people {year_a}": [0] * len(chosen), f"people {year_b}": [0] * len(chosen)}
        )
        column = st.column_config.NumberColumn(min_value=0, format="%d")
        edited = st.data_editor(
            blank,
            key=f"lcr_people|{ctx.dataset.id}|{year_a}|{year_b}|{'|'.join(sorted(chosen))}",
            hide_index=True,
            disabled=["region"],
            column_config={f"people {year_a}": column, f"people {year_b}": column},
        )
        typed = population_inputs(chosen, year_a, year_b, edited)
        if typed is None:
            return None
    rows = land_consumption_rows(series, year_a, year_b, typed)
    st.dataframe(significant(wide_summary(rows)), hide_index=True)
    st.caption(
        "LCR = ln(urban area B / A) / years, PGR = ln(people B / A) / years, LCRPGR = LCR / PGR "
        "(UN-Habitat SDG 11.3.1); empty where the population does not grow (ratio undefined)."
    )
    return rows.assign(period=str(year_b), masked=False)


page_setup("SDG indicators")
ctx = sidebar_context(view=VIEW)
if ctx is not None:
    simulated_badge(ctx.scene)
    names = list(ctx.scene.regions["name"])
    options = ([DRAWN_AREA] if ctx.region == DRAWN_AREA else []) + names
    # Keyed by data set and sidebar region: a new sidebar choice starts a new default selection.
    every = st.checkbox(
        f"All {len(names)} regions of the data set",
        key=f"sdg_all|{ctx.dataset.id}",
        help="Reconstructs the area covering all of them (slower the first time).",
    )
    chosen = (
        names
        if every
        else st.multiselect(
            "Regions",
            options,
            default=[ctx.region],
            key=f"sdg_regions|{ctx.dataset.id}|{ctx.region}",
            help="Indicators are computed for each selected region.",
        )
    )
    with st.expander("Thresholds", expanded=True):
        c1, c2, c3 = st.columns(3)
        lit = c1.slider(
            "Lit if radiance >= (nW/cm²/sr)",
            0.1,
            20.0,
            step=0.1,
            key="lit_threshold",
            help="VIIRS background ~1 nW/cm²/sr (Roman et al. 2018).",
        )
        lit_dn = c2.slider(
            "LR lit if DN >", 0, 62, step=1, key="lit_threshold_dn", help="DMSP DN > 7 (Li et al. 2020)."
        )
        method = c3.radio(
            "Urban extent",
            ["otsu", "fixed"],
            horizontal=True,
            key="urban_method",
            help="Otsu on log1p(R), or a fixed radiance threshold.",
        )
        urban = c3.slider(
            "Urban if radiance >= (fixed)",
            1.0,
            100.0,
            step=1.0,
            key="urban_threshold",
            disabled=method != "fixed",
        )
    with st.expander("CO2 emission proxy (SDG 9.4 / 13.2)", expanded=bool(st.session_state.get("co2_total"))):
        e1, e2 = st.columns([2, 1])
        co2_total = e1.number_input(
            "Total emissions of the selected regions together (0 = off)",
            min_value=0.0,
            step=1000.0,
            format="%g",
            key="co2_total",
            help="A regional total from an inventory; each region (and each cell) gets its share by "
            "radiance x area, ODIAC-style (Oda & Maksyutov 2011).",
        )
        co2_unit = e2.text_input("Unit of the total", key="co2_unit", max_chars=24)
        law = st.checkbox(
            "Also a power law ln CO2 = a + b ln TNL with my coefficients",
            key="co2_law",
            help="TNL = sum of lights in nW/cm²/sr x km²; fit a and b elsewhere (e.g. regional CO2 "
            "against TNL). The output has the unit above.",
        )
        e3, e4 = st.columns(2)
        co2_a = e3.number_input("a (intercept)", format="%g", key="co2_a", disabled=not law)
        co2_b = e4.number_input("b (slope)", format="%g", key="co2_b", disabled=not law)
    thresholds = Thresholds(
        lit_radiance=lit,
        lit_dn=float(lit_dn),
        urban_method=method,
        urban_radiance=urban,
        co2_total=float(co2_total) if co2_total and co2_total > 0 else None,
        co2_unit=(co2_unit or "t CO2").strip() or "t CO2",
        co2_power_law=(float(co2_a), float(co2_b)) if law else None,
    )
    if not chosen:
        st.info("Select at least one region.")
        st.stop()
    geometries = [ctx.geometry if n == DRAWN_AREA else ctx.scene.region_geometry(n) for n in chosen]
    regions = region_table(chosen, geometries, ctx.scene.crs)
    area_name = "|".join(sorted(chosen))
    failure = None
    with staged(f"Indicators of {len(chosen)} region(s)") as stages:
        try:
            stages.stage("Reading the regions")
            crop = services.region_crop(ctx.scene, area_name, unary_union(geometries))
            sr = None
            if ctx.model:
                stages.stage("Reconstructing (tile batches)")
                sr = services.reconstruction(crop, ctx.model.id, False)
            stages.stage("Computing indicators")
            model_name = ctx.model.name if ctx.model else None
            outputs = services.sdg_outputs(crop, sr, regions, thresholds, model_name)
            table = outputs["table"]
        except DeepLightError as exc:
            failure = str(exc)
    if failure is not None:
        st.error(failure)
        st.stop()
    st.caption(
        "Products: **lr** = DMSP-like input"
        + (" (**simulated** from HR)" if ctx.scene.lr_simulated else "")
        + ", **sr** = reconstruction"
        + (f" by {ctx.model.name}" if ctx.model else "")
        + ", **hr** = reference"
        + (" (synthetic)" if ctx.scene.hr_synthetic else "")
        + ". Sums use equal-area cell areas; LR DN is converted to nominal radiance. "
        "light_gini: Gini of lights over the region's cells (0 = evenly lit, 1 = all light in one cell)."
    )
    st.dataframe(
        wide_summary(table, synthetic_hr=ctx.scene.hr_synthetic), hide_index=True, height=320
    )
    indicators = list(dict.fromkeys(table["indicator"]))
    pick = st.selectbox(
        "Indicator for the charts",
        indicators,
        index=indicators.index("lit_area") if "lit_area" in indicators else 0,
        key="sdg_indicator",
    )
    report = {"figures": [], "tables": []}  # what the report download adds to the maps and the table
    left, right = st.columns(2)
    bars, scatter = charts.indicator_bars(table, pick), charts.sr_vs_hr_scatter(table, pick)
    left.plotly_chart(bars, key="chart_bars")
    right.plotly_chart(scatter, key="chart_scatter")
    report["figures"] += [(f"{pick} on LR, SR and HR", bars), (f"SR vs HR: {pick} per region", scatter)]
    products = list(dict.fromkeys(table["product"]))
    product = st.radio(
        "Choropleth product",
        products,
        horizontal=True,
        key="choropleth_product",
        index=products.index("sr") if "sr" in products else 0,
    )
    choropleth = charts.choropleth(table, regions.rename(columns={"region": "name"}), pick, product)
    st.plotly_chart(choropleth, key="chart_choropleth")
    report["figures"].append((f"{pick} of {product.upper()} per region", choropleth))
    if thresholds.co2_total is not None:
        cells = co2_cell_map(
            crop.scene, sr and sr.radiance, product, unary_union(geometries), thresholds.co2_total
        )
        if cells is not None:
            co2_title = (
                f"CO2 per cell, {product.upper()}: {thresholds.co2_total:g} {thresholds.co2_unit} "
                "shared by radiance x area (ODIAC-style)"
            )
            co2_map = charts.cell_map(cells, co2_title, f"{thresholds.co2_unit} per cell")
            st.plotly_chart(co2_map, key="chart_co2_cells")
            report["figures"].append((co2_title, co2_map))
            st.caption(
                "The same total spread over the cells of each product: a finer product puts the emissions "
                "on fewer, brighter cells. The co2_emissions rows of the table are the regions' sums."
            )

    series_csv = change_csv = None
    if len(ctx.dataset.times) > 1:
        series_csv, change_csv = _series_section(
            ctx, chosen, geometries, regions, thresholds, pick, crop, report
        )
    st.subheader("Downloads")
    d1, d2, d3, d4 = st.columns(4)
    stem = "deeplight_indicators"
    d1.download_button("Indicators CSV", outputs["csv"], f"{stem}.csv", "text/csv", key="download_csv")
    d2.download_button(
        "GeoJSON", outputs["geojson"], f"{stem}.geojson", "application/geo+json", key="download_geojson"
    )
    d3.download_button(
        "GeoPackage", outputs["gpkg"], f"{stem}.gpkg", "application/geopackage+sqlite3", key="download_gpkg"
    )
    if outputs["sr_tif"] is not None:
        d4.download_button(
            "SR GeoTIFF", outputs["sr_tif"], "deeplight_sr.tif", "image/tiff", key="download_sr"
        )
    view = services.region_view(crop, sr)
    build_report = report_builder(
        crop.scene,
        view.lr_radiance,
        None if sr is None else sr.radiance,
        view.vmax,
        regions,
        table,
        outputs["metadata"],
        thresholds,
        model_name if sr is not None else None,
        legend_html(view.vmax),
        report["figures"],
        report["tables"],
    )
    r1, r2 = st.columns([1, 3])
    r1.download_button(
        "Report (HTML)",
        build_report,  # built on the click (a few seconds at most), not on every rerun
        report_file_name(ctx.dataset.id, chosen, ctx.scene.time_label),
        REPORT_MIME,
        key="download_report",
        on_click="ignore",
        help="One self-contained HTML file: the LR/SR/HR maps, the indicator table, the charts, the "
        "metadata and the simulated flags. Works offline; print it from the browser for a PDF.",
    )
    r2.caption(
        "Report: maps, indicator table, charts, metadata and simulated flags of this selection in one "
        "HTML file (plotly.js inlined, opens offline, about 5 MB); PDF: open it and print."
    )
    if series_csv is not None or change_csv is not None:
        d5, d6, _ = st.columns([1, 1, 2])
        if series_csv is not None:
            d5.download_button(
                "Time series CSV", series_csv, f"{stem}_series.csv", "text/csv", key="download_series_csv"
            )
        if change_csv is not None:
            d6.download_button(
                "Change CSV", change_csv, f"{stem}_change.csv", "text/csv", key="download_change_csv"
            )
    st.caption(
        "CSV: read with `pandas.read_csv(path, comment='#')`; columns region, product, year, indicator, "
        "value, unit, lower, upper, simulated, method, note (the time series adds period and masked; "
        "SDG 11.3.1 rows lcr, pgr, lcrpgr when computed). The `#` header records thresholds, units, "
        "which products are simulated (and, for the demo, that its HR is synthetic), each product's "
        "provenance, the model and the data credits. GeoJSON (longitude/latitude) and GeoPackage: one "
        "polygon per region, the unit in every column name (`sr_sum_of_lights_nW_cm2_sr_x_km2`, "
        "`hr_lit_area_km2`), the same metadata in a top-level `metadata` member (GeoJSON) or in the "
        "non-spatial `metadata` and `columns` tables beside the `indicators` layer (GeoPackage)."
    )
    finish_page(ctx)
