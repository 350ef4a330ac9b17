"""Home: what DeepLight does, the data set, and the region picker map."""

from __future__ import annotations

import streamlit as st

from app import services
from app.colors import legend_html, shared_vmax
from app.layout import page_setup, request_choice, settings_summary, sidebar_context, simulated_badge
from app.map_view import map_view
from app.maps import picker_map
from app.navigation import page
from app.selection import DRAWN_AREA
from app.settings import get_settings
from app.uploads import REGION_SUFFIXES, UploadedFile, region_from_upload
from deeplight.contracts import nominal_dn_to_radiance
from deeplight.errors import DeepLightError

page_setup("DeepLight - finer night-time lights")
st.markdown(
    "Reconstruct **8x finer night-time lights** from a coarse, degraded DMSP-like image plus daytime "
    "multispectral, elevation and impervious-surface data (DeepLight, IJCAI 2024), compare the result "
    "with the reference, and take SDG indicators home. Radiance is in **nW/cm²/sr**; the coarse input "
    "is in DMSP-like DN (0-63), shown here as its nominal radiance."
)
ctx = sidebar_context()
if ctx is not None:
    simulated_badge(ctx.scene)
    st.subheader(ctx.dataset.title)
    st.caption(ctx.dataset.description)
    lr_radiance = nominal_dn_to_radiance(ctx.scene.lr)  # on the LR grid: cheap for any scene size
    vmax = shared_vmax(lr_radiance)
    overlay = services.lr_overlay(f"{ctx.scene.key}|lr-full", lr_radiance, ctx.scene, vmax)
    st.markdown(
        f"**Pick a region**: click it on the map, search it in the sidebar, or draw a rectangle / "
        f"polygon with the tools on the left of the map. Selected: **{ctx.region}**."
    )
    html_key = f"home|{ctx.scene.key}|{ctx.region}|{hash(ctx.geometry.wkb)}|{ctx.basemap}"
    html = services.cached_html(
        html_key,
        lambda: picker_map(
            ctx.map_regions,
            ctx.region,
            list(ctx.scene.credits),
            overlay=overlay,
            basemap=ctx.basemap,
            allow_draw=True,
        ),
    )
    map_view(html, 540, "map_home")
    st.html(legend_html(vmax, title="LR input as nominal radiance (nW/cm²/sr)"))
    with st.expander("Use a region file instead (GeoJSON, GeoPackage, zipped Shapefile)"):
        region_file = st.file_uploader(
            "Region file", type=[x.lstrip(".") for x in REGION_SUFFIXES], key="home_region_file"
        )
        if region_file is not None and st.button("Use this area", key="use_region_file"):
            try:
                polygon, note = region_from_upload(
                    UploadedFile(region_file.name, region_file.getvalue()), get_settings().upload_limit_mb
                )
            except DeepLightError as exc:
                st.error(f"Region file not usable: {exc}")
            else:
                st.session_state["_aoi"] = polygon
                request_choice("region", DRAWN_AREA)
                if note:
                    st.session_state["_aoi_note"] = note
                st.rerun()
    if st.session_state.get("_aoi_note") and ctx.region == DRAWN_AREA:
        st.caption(st.session_state["_aoi_note"])
    st.page_link(page("compare"), label="Reconstruct and compare this region", icon=":material/compare:")
    st.caption(settings_summary())
