"""SDG indicators of the selected regions on LR, SR and HR, charts, and downloads."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from app import charts, services
from app.layout import page_setup, sidebar_context, simulated_badge
from app.sdg_view import Thresholds, region_table, wide_summary
from app.selection import DRAWN_AREA
from deeplight.errors import DeepLightError

page_setup("SDG indicators")
ctx = sidebar_context()
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
            1.0,
            0.1,
            key="lit_threshold",
            help="VIIRS background ~1 nW/cm²/sr (Roman et al. 2018).",
        )
        lit_dn = c2.slider(
            "LR lit if DN >", 0, 62, 7, 1, key="lit_threshold_dn", help="DMSP DN > 7 (Li et al. 2020)."
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
            10.0,
            1.0,
            key="urban_threshold",
            disabled=method != "fixed",
        )
    thresholds = Thresholds(lit_radiance=lit, lit_dn=float(lit_dn), urban_method=method, urban_radiance=urban)
    if not chosen:
        st.info("Select at least one region.")
        st.stop()
    geometries = [ctx.geometry if n == DRAWN_AREA else ctx.scene.region_geometry(n) for n in chosen]
    regions = region_table(chosen, geometries, ctx.scene.crs)
    try:
        from shapely.ops import unary_union

        crop = services.region_crop(ctx.scene, "|".join(sorted(chosen)), unary_union(geometries))
        sr = services.reconstruction(crop, ctx.model.id, False) if ctx.model else None
        outputs = services.sdg_outputs(crop, sr, regions, thresholds, ctx.model.name if ctx.model else None)
        table = outputs["table"]
    except DeepLightError as exc:
        st.error(str(exc))
        st.stop()
    st.caption(
        "Products: **lr** = DMSP-like input"
        + (" (**simulated** from HR)" if ctx.scene.lr_simulated else "")
        + ", **sr** = reconstruction"
        + (f" by {ctx.model.name}" if ctx.model else "")
        + ", **hr** = reference"
        + (" (synthetic)" if ctx.scene.key.startswith("demo") else "")
        + ". Sums use equal-area cell areas; LR DN is converted to nominal radiance."
    )
    st.dataframe(
        wide_summary(table, synthetic_hr=ctx.scene.key.startswith("demo")), hide_index=True, height=320
    )
    indicators = list(dict.fromkeys(table["indicator"]))
    pick = st.selectbox(
        "Indicator for the charts",
        indicators,
        index=indicators.index("lit_area") if "lit_area" in indicators else 0,
        key="sdg_indicator",
    )
    left, right = st.columns(2)
    left.plotly_chart(charts.indicator_bars(table, pick), key="chart_bars")
    right.plotly_chart(charts.sr_vs_hr_scatter(table, pick), key="chart_scatter")
    products = list(dict.fromkeys(table["product"]))
    product = st.radio(
        "Choropleth product",
        products,
        horizontal=True,
        key="choropleth_product",
        index=products.index("sr") if "sr" in products else 0,
    )
    st.plotly_chart(
        charts.choropleth(table, regions.rename(columns={"region": "name"}), pick, product),
        key="chart_choropleth",
    )
    if len(ctx.dataset.years) > 1:
        st.subheader("Time series")
        years = st.multiselect(
            "Years",
            list(ctx.dataset.years),
            default=list(ctx.dataset.years[-3:]),
            key=f"sdg_years|{ctx.dataset.id}",
        )
        series_key = (ctx.dataset.id, tuple(sorted(chosen)), thresholds, ctx.model.id if ctx.model else None)
        if st.button("Compute the time series", key="run_time_series") and years:
            tables = []
            bar = st.progress(0.0, text="Time series...")
            for step, year in enumerate(sorted(years)):
                bar.progress(step / len(years), text=f"Time series: {year}")
                crop_y = services.region_crop(
                    services.scene(ctx.dataset.id, year), "|".join(sorted(chosen)), unary_union(geometries)
                )
                sr_y = services.reconstruction(crop_y, ctx.model.id, False) if ctx.model else None
                tables.append(
                    services.sdg_outputs(crop_y, sr_y, regions, thresholds, ctx.model and ctx.model.name)[
                        "table"
                    ]
                )
            bar.empty()
            st.session_state["sdg_series"] = (series_key, pd.concat(tables, ignore_index=True))
        stored = st.session_state.get("sdg_series")
        if stored is not None and stored[0] == series_key:
            st.plotly_chart(charts.time_series(stored[1], pick), key="chart_series")
        else:
            st.caption("Pick years and press the button: each year is reconstructed once, then cached.")
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
    st.caption(
        "CSV: read with `pandas.read_csv(path, comment='#')`; columns region, product, year, indicator, "
        "value, unit, lower, upper, simulated, method, note. The `#` header records thresholds, "
        "units, which products are simulated, and the data credits."
    )
