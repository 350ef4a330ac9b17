"""Compare: LR, SR and HR side by side in synchronised maps, a swipe map, a time slider, the
before/after difference map with the change of the region, and region metrics."""

from __future__ import annotations

import streamlit as st

from app import services
from app.colors import legend_html
from app.layout import finish_page, page_setup, sidebar_context, simulated_badge, staged
from app.map_view import map_view, parse_view, view_key
from app.maps import Panel, compare_maps, difference_limit, difference_maps
from deeplight.io.scene import change_between, same_grid
from app.sdg_view import (
    change_summary,
    change_table,
    region_table,
    significant,
)
from app.selection import ViewParam
from deeplight.errors import DeepLightError
from deeplight.report import Thresholds, series_table

# Controls of this page kept in the URL (?diff=1&before=2013); the time slider is the sidebar
# selection's year= / month=.
SWIPE_PAIRS = ("LR | SR", "SR | HR")
VIEW = (
    ViewParam("diff", "diff", "bool", False),
    ViewParam("diff_before", "before", "time", None),
    ViewParam("swipe", "swipe", "str", None, choices=SWIPE_PAIRS),
    ViewParam("uncertainty", "uncertainty", "bool", False),
    ViewParam(view_key("map_compare"), "view", "str", None),
)


KEPT_DIFFERENCE = "_kept_difference_map"
"""Session key of the last difference map shown: ``(context, date A, html)`` (see :func:`_difference_context`)."""


def _difference_context(ctx) -> tuple:
    """What a difference map depends on besides date A: the scene of date B, the region (name and
    geometry), the model and the basemap. A kept map is shown again only for the same context and A."""
    return (ctx.scene.key, ctx.region, ctx.geometry.wkb_hex, ctx.model.id if ctx.model else None, ctx.basemap)


def _change_section(ctx, crop, view, sr, uncertainty: bool) -> None:
    """The before/after difference map (B = the slider's date, A picked here) and the region's change."""
    st.subheader("Change between two dates")
    show = st.toggle(
        "Before/after difference map (B minus A, on LR, SR and HR)",
        key="diff",
        help="B is the date of the slider above the maps; pick A below. Each date is reconstructed once, "
        "then cached.",
    )
    # fixed places for the date picker and the map: the map element keeps its position in the page
    # whether the toggle is on or off, so a difference map hidden by the toggle stays loaded in the
    # browser and comes back at once (a new map frame takes 1.5-2.5 s to build)
    controls, map_slot = st.container(), st.container()
    kept = st.session_state.get(KEPT_DIFFERENCE)
    if not show:
        same_a = kept is not None and st.session_state.get("diff_before", kept[1]) == kept[1]
        if same_a and kept[0] == _difference_context(ctx):
            with map_slot:
                map_view(kept[2], 0, "map_difference")  # hidden (0 px), still loaded
        else:
            st.session_state.pop(KEPT_DIFFERENCE, None)  # another context: never shown, not kept
        return
    times = list(ctx.dataset.times)
    if st.session_state.get("diff_before") not in times:
        st.session_state["diff_before"] = times[0]
    after = ctx.time
    before = controls.select_slider(
        f"Before (A) - after (B) is {after}", options=times, key="diff_before", help="The date subtracted."
    )
    if before == after:
        st.info("Pick a 'before' date different from the slider's date to see a change.")
        return
    scene = crop.scene
    sr_a = sr_b = None
    failure = None
    with staged(f"Preparing {before} for the change") as stages:
        stages.stage(f"Reading {before}")
        try:
            crop_a = services.region_crop(services.scene(ctx.dataset.id, before), ctx.region, ctx.geometry)
            if ctx.model is not None:
                stages.stage(f"Reconstructing {before}")
                sr_a = services.reconstruction(crop_a, ctx.model.id, False)
                plain = sr is not None and sr.uncertainty is None
                sr_b = sr if plain else services.reconstruction(crop, ctx.model.id, False)
            stages.stage("Computing the change")
            view_a = services.region_view(crop_a, sr_a)
            if not same_grid(crop_a.scene, scene):
                failure = f"{before} and {after} are not on the same grid: no pixel difference possible"
        except DeepLightError as exc:
            failure = str(exc)
    if failure is not None:
        st.warning(failure)
        return
    changes = {
        "lr": change_between(view_a.lr_radiance, view.lr_radiance),
        "sr": change_between(sr_a and sr_a.radiance, sr_b and sr_b.radiance),
        "hr": change_between(crop_a.scene.hr, scene.hr),
    }
    limit = difference_limit(*changes.values())
    titles = {
        "lr": f"LR change {before} to {after}" + (" (simulated)" if scene.lr_simulated else ""),
        "sr": f"SR change - {ctx.model.name}" if ctx.model else "SR change",
        "hr": "HR change" + (" (synthetic)" if scene.hr_synthetic else ""),
    }
    model_key = "-" if sr_a is None else sr_a.model_id
    html_key = f"diff|{scene.key}|{crop_a.scene.key}|{ctx.region}|{ctx.basemap}|{limit:.6g}|{model_key}"
    html = services.cached_html(
        html_key,
        lambda: difference_maps(
            changes,
            titles,
            scene.crs,
            scene.hr_transform,
            limit,
            ctx.map_regions,
            ctx.region,
            list(ctx.scene.credits),
            f"Change {after} minus {before} (nW/cm²/sr)",
            basemap=ctx.basemap,
            tile_key=html_key,
        ),
    )
    with map_slot:
        map_view(html, 380 + 60, "map_difference")
    st.session_state[KEPT_DIFFERENCE] = (_difference_context(ctx), before, html)
    simulated = (
        "Each date's LR is simulated separately from its HR (own gain drift and noise draw), so part of "
        "the LR (and SR) change is the simulation's, not the place's. "
    )
    st.caption(
        f"One diverging scale for the three panels, centred on 0, +-{limit:.3g} nW/cm²/sr. "
        + (simulated if scene.lr_simulated else "")
        + ("SR without the self-ensemble. " if uncertainty else "")
    )
    with staged("Change of the region") as stages:
        stages.stage("Computing indicators")
        regions = region_table([ctx.region], [ctx.geometry], scene.crs)
        name = ctx.model.name if ctx.model else None
        tables = {
            before: services.sdg_outputs(crop_a, sr_a, regions, Thresholds(), name)["table"],
            after: services.sdg_outputs(crop, sr_b, regions, Thresholds(), name)["table"],
        }
        summary = change_summary(change_table(series_table(tables), before, after))
    st.markdown(f"**Change of {ctx.region}, {before} to {after}**")
    st.dataframe(significant(summary), hide_index=True)
    st.caption(
        "Change = B - A in the indicator's unit, % = 100 (B - A) / A; spread = largest minus smallest % "
        "change among LR, SR and HR (percentage points): how much the answer depends on the product. "
        "Default thresholds (lit >= 1 nW/cm²/sr, LR DN > 7, Otsu urban extent); the SDG page computes "
        "the change of several regions with your thresholds."
    )


page_setup("Compare LR, SR and HR")
header = st.container()
time_slot = st.container()
ctx = sidebar_context(time_slot=time_slot, view=VIEW)
if ctx is not None:
    with header:
        simulated_badge(ctx.scene)
    col_a, col_b = st.columns([2, 1])
    with col_b:
        pairs = list(SWIPE_PAIRS) if ctx.scene.hr is not None else ["LR | SR"]
        if st.session_state.get("swipe") not in pairs:
            st.session_state["swipe"] = pairs[-1]
        swipe_pair = st.radio("Swipe map", pairs, horizontal=True, key="swipe")
        uncertainty = st.toggle(
            "Uncertainty (x8 self-ensemble std)",
            key="uncertainty",
            help="Runs the model on 8 flips/rotations: about 8x the reconstruction's time the first time "
            "(tens of seconds on a large region on a CPU), then cached.",
        )
    # the maps come right under the controls; what it took to make them is told under the maps
    map_slot = st.container()
    failure = None
    sr = None
    with staged(f"Preparing {ctx.region}") as stages:
        stages.stage("Reading the region")
        try:
            crop = services.region_crop(ctx.scene, ctx.region, ctx.geometry)
        except DeepLightError as exc:
            failure = str(exc)
    if failure is not None:
        st.error(failure)
        st.stop()
    if ctx.model is None:
        st.warning("No model to reconstruct with; showing LR and HR only.")
    else:
        with staged(f"Reconstructing {ctx.region}") as stages:
            stages.stage("Reconstructing (tile batches)")
            try:
                sr = services.reconstruction(crop, ctx.model.id, uncertainty)
            except DeepLightError as exc:
                failure = f"Reconstruction failed: {exc}"
        if failure is not None:
            st.error(failure)
    view = services.region_view(crop, sr)
    scene = crop.scene
    lr_label = "LR (simulated, nominal radiance)" if scene.lr_simulated else "LR (nominal radiance)"
    sr_label = f"SR - {ctx.model.name}" if ctx.model else "SR"
    key = scene.key
    with staged("Drawing the maps") as stages:
        stages.stage("Colouring LR, SR and HR and rendering their full-resolution tiles")
        panels = [Panel(lr_label, services.overlay(f"{key}|lr", view.lr_radiance, scene, view.vmax), "panel-lr")]
        if sr is not None:
            panels.append(
                Panel(
                    sr_label,
                    services.overlay(f"{key}|sr|{sr.model_id}|{uncertainty}", sr.radiance, scene, view.vmax),
                    "panel-sr",
                )
            )
        if scene.hr is not None:
            hr_label = "HR reference (synthetic)" if scene.hr_synthetic else "HR reference"
            panels.append(Panel(hr_label, services.overlay(f"{key}|hr", scene.hr, scene, view.vmax), "panel-hr"))
        if sr is not None and sr.uncertainty is not None:
            panels.append(
                Panel(
                    "SR uncertainty (std)",
                    services.overlay(f"{key}|unc|{sr.model_id}", sr.uncertainty, scene, view.vmax),
                    "panel-uncertainty",
                )
            )
    by_id = {p.element_id: p for p in panels}
    pair = ("panel-lr", "panel-sr") if swipe_pair == "LR | SR" else ("panel-sr", "panel-hr")
    swipe = (by_id[pair[0]], by_id[pair[1]]) if all(p in by_id for p in pair) else None
    with col_a:
        when = f" · {scene.time_label}" if scene.time_label and scene.time_label not in scene.title else ""
        st.markdown(
            f"**{ctx.region}** · {scene.title}{when} · colour scale shared by every panel, "
            f"0-{view.vmax:.3g} nW/cm²/sr (log)"
        )
        if sr is not None:
            st.caption(
                "SR served from the cache." if sr.from_cache else "SR computed now (cached for next time)."
            )
    html_key = "|".join(
        [
            key,
            ctx.region,
            str(ctx.basemap),
            swipe_pair,
            str(view.vmax),
            *(f"{p.element_id}:{p.title}" for p in panels),
        ]
    )
    html = services.cached_html(
        html_key,
        lambda: compare_maps(
            panels,
            swipe,
            ctx.map_regions,
            ctx.region,
            list(ctx.scene.credits),
            legend_html(view.vmax),
            basemap=ctx.basemap,
        ),
    )
    # the map's view belongs to the region it was taken on: another region opens fitted
    here = f"{ctx.dataset.id}|{ctx.region}"
    view_state = view_key("map_compare")
    if st.session_state.get("_map_compare_view_of", here) != here:
        st.session_state[view_state] = None
    st.session_state["_map_compare_view_of"] = here
    view_value = st.session_state.get(view_state)
    if view_value is not None and parse_view(view_value) is None:
        shown = str(view_value).replace("`", "'")[:60]
        st.warning(f"The link's map view `{shown}` is not 'lat,lon,zoom': the map opens fitted to the region.")
        st.session_state[view_state] = view_value = None
    with map_slot:
        map_view(html, 2 * 380 + 8 + 60 if swipe else 380 + 60, "map_compare", view=view_value, report_view=True)

    if len(ctx.dataset.times) > 1:
        _change_section(ctx, crop, view, sr, uncertainty)
    st.subheader("Region metrics vs HR")
    if scene.hr is None:
        st.info("No HR reference for this data set: full-reference metrics are not available.")
    else:
        products = {lr_label: view.lr_radiance}
        if sr is not None:
            products[sr_label] = sr.radiance
        with_ssim = st.toggle(
            "Include SSIM (slow on big regions: ~4 s per product per 0.5 Mpixel on one CPU core)",
            value=crop.mask.size <= 300_000,
            key="with_ssim",
        )
        with st.spinner("Computing region metrics..."):
            table = services.metrics(view, products, with_ssim)
        if not with_ssim:
            table = table.drop(columns="ssim")
        st.dataframe(
            table.rename(columns={"psnr_db": "PSNR (dB)", "ssim": "SSIM", "cc": "CC", "pixels": "HR pixels"}),
            hide_index=True,
        )
        st.caption(
            "Normalised radiance log1p(r)/log1p(1000), data range 1, 8-pixel border cropped, "
            "pixels inside the region only. " + ("LR is simulated from HR." if scene.lr_simulated else "")
        )
    finish_page(ctx)
