"""Compare: LR, SR and HR side by side in synchronised maps, a swipe map, and region metrics."""

from __future__ import annotations

import streamlit as st

from app import services
from app.colors import legend_html
from app.layout import page_setup, sidebar_context, simulated_badge
from app.maps import Panel, compare_maps
from deeplight.errors import DeepLightError

page_setup("Compare LR, SR and HR")
ctx = sidebar_context()
if ctx is not None:
    simulated_badge(ctx.scene)
    try:
        crop = services.region_crop(ctx.scene, ctx.region, ctx.geometry)
    except DeepLightError as exc:
        st.error(str(exc))
        st.stop()
    col_a, col_b = st.columns([2, 1])
    with col_b:
        pairs = ["LR | SR", "SR | HR"] if ctx.scene.hr is not None else ["LR | SR"]
        swipe_pair = st.radio(
            "Swipe map", pairs, horizontal=True, key=f"swipe|{len(pairs)}", index=len(pairs) - 1
        )
        uncertainty = st.toggle(
            "Uncertainty (x8 self-ensemble std)",
            key="uncertainty",
            help="Runs the model on 8 flips/rotations; slower the first time.",
        )
    sr = None
    if ctx.model is None:
        st.warning("No model to reconstruct with; showing LR and HR only.")
    else:
        try:
            sr = services.reconstruction(crop, ctx.model.id, uncertainty)
        except DeepLightError as exc:
            st.error(f"Reconstruction failed: {exc}")
    view = services.region_view(crop, sr)
    scene = crop.scene
    lr_label = "LR (simulated, nominal radiance)" if scene.lr_simulated else "LR (nominal radiance)"
    sr_label = f"SR - {ctx.model.name}" if ctx.model else "SR"
    key = scene.key
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
        hr_label = "HR reference (synthetic)" if key.startswith("demo") else "HR reference"
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
        st.markdown(
            f"**{ctx.region}** · {scene.title} · colour scale shared by every panel, "
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
    st.iframe(html, height=2 * 380 + 8 + 60 if swipe else 380 + 60)
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
