"""Upload data: a night-light GeoTIFF (HR reference or real LR), optional aux rasters and regions."""

from __future__ import annotations

import streamlit as st

from app import services
from app.layout import page_setup, remember, sidebar_context
from app.navigation import page
from app.settings import get_settings
from app.uploads import REGION_SUFFIXES, UploadedFile, build_upload_scene
from deeplight.errors import DeepLightError

page_setup("Upload your own data")
limit = get_settings().upload_limit_mb
# Every outcome of an upload (error, success, notes) is written here, at the top of the page, so it is
# seen without scrolling past the form.
status = st.container()
st.markdown(
    f"Upload a single-band night-light **GeoTIFF** (with a CRS; at most **{limit} MiB**). Files are parsed "
    "in a temporary folder and deleted; nothing is kept on disk. Then pick it as the data set in the sidebar."
)
with st.form("upload_form"):
    ntl = st.file_uploader("Night-light GeoTIFF", type=["tif", "tiff"], key="upload_ntl")
    role = st.radio(
        "What is this raster?",
        ["hr", "lr"],
        key="upload_role",
        horizontal=True,
        format_func={
            "hr": "HR reference (nW/cm²/sr): simulate the LR from it, metrics vs HR possible",
            "lr": "Real LR to reconstruct 8x finer (no reference)",
        }.get,
    )
    lr_units = st.radio(
        "LR units (only for a real LR)",
        ["radiance", "dn"],
        key="upload_lr_units",
        horizontal=True,
        format_func={
            "radiance": "radiance nW/cm²/sr (e.g. VIIRS) -> nominal DN",
            "dn": "DMSP-like DN 0-63",
        }.get,
    )
    dmo = st.file_uploader(
        "Optional: daytime multispectral, 7 bands (Landsat-8 SR 1-7)", type=["tif", "tiff"], key="upload_dmo"
    )
    dem = st.file_uploader("Optional: elevation (m)", type=["tif", "tiff"], key="upload_dem")
    regions = st.file_uploader(
        "Optional: regions (GeoJSON, GeoPackage, zipped Shapefile)",
        type=[s.lstrip(".") for s in REGION_SUFFIXES],
        key="upload_regions",
    )
    submitted = st.form_submit_button("Load the upload")
if submitted:
    if ntl is None:
        status.error("Choose a night-light GeoTIFF first.")
    else:

        def _wrap(f):
            return None if f is None else UploadedFile(f.name, f.getvalue())

        try:
            with st.spinner("Reading the upload..."):
                scene = build_upload_scene(
                    _wrap(ntl),
                    role=role,
                    lr_units=lr_units,
                    dmo=_wrap(dmo),
                    dem=_wrap(dem),
                    regions=_wrap(regions),
                    limit_mb=limit,
                )
        except DeepLightError as exc:
            status.error(f"Upload not usable: {exc}")
        except MemoryError:
            status.error(
                "Upload not usable: not enough memory to read it; crop it to your region first "
                "(DEEPLIGHT_UPLOAD_MAX_PIXELS bounds the size)"
            )
        except Exception as exc:  # noqa: BLE001 - a bad file must never show a traceback to the user
            status.error(
                f"Upload not usable: the files could not be read ({type(exc).__name__}); check that each is a "
                "complete GeoTIFF with a CRS (and the regions a GeoJSON, GeoPackage or zipped Shapefile)"
            )
        else:
            services.uploaded_scenes()[scene.key] = scene
            remember("dataset", scene.key)
            for key in ("region", "_keep_region", "_aoi"):
                st.session_state.pop(key, None)
            status.success(
                f"Loaded {scene.title}: LR {scene.lr.shape[0]}x{scene.lr.shape[1]} pixels, "
                f"{len(scene.regions)} region(s)" + (", LR simulated from it" if scene.lr_simulated else "")
            )
            for note in scene.notes:
                status.caption(note)
            status.page_link(page("compare"), label="Reconstruct and compare it", icon=":material/compare:")

# The sidebar comes last so that a new upload can become the chosen data set in this same run.
sidebar_context()
