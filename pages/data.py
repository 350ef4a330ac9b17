"""Upload data: a night-light GeoTIFF (HR reference or real LR), optional aux rasters and regions."""

from __future__ import annotations

import streamlit as st

from app import services
from app.layout import page_setup, remember, sidebar_context
from app.navigation import page
from app.settings import get_settings
from app.uploads import REGION_SUFFIXES, UploadedFile, build_upload_scene, build_upload_series
from deeplight.errors import DeepLightError

page_setup("Upload your own data")
limit = get_settings().upload_limit_mb
# Every outcome of an upload (error, success, notes) is written here, at the top of the page, so it is
# seen without scrolling past the form.
status = st.container()
st.markdown(
    f"Upload a single-band night-light **GeoTIFF** (with a CRS; at most **{limit} MiB**). Files are parsed "
    "in a temporary folder and deleted; nothing is kept on disk. Then pick it as the data set in the sidebar.  \n"
    "For a **time series**, upload one GeoTIFF per year or month on one grid, each dated in its name "
    "(`ntl_2021.tif`, `ntl_2024-03.tif`): the maps then get a time slider and the SDG page the change per region."
)
with st.form("upload_form"):
    ntls = st.file_uploader(
        "Night-light GeoTIFF (one, or one per year or month for a time series)",
        type=["tif", "tiff"],
        key="upload_ntl",
        accept_multiple_files=True,
    )
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
    cloud_free = st.file_uploader(
        "Optional: cloud-free observation counts (VIIRS cf_cvg), one per month, dated like the night-light files",
        type=["tif", "tiff"],
        key="upload_cloud_free",
        accept_multiple_files=True,
        help="Cells with no cloud-free night are masked as no data, not read as dark.",
    )
    submitted = st.form_submit_button("Load the upload")
if submitted:
    if not ntls:
        status.error("Choose a night-light GeoTIFF first.")
    else:

        def _wrap(f):
            return None if f is None else UploadedFile(f.name, f.getvalue())

        try:
            common = dict(role=role, lr_units=lr_units, dmo=_wrap(dmo), dem=_wrap(dem), regions=_wrap(regions),
                          limit_mb=limit)
            counts = [_wrap(f) for f in cloud_free or []]
            with st.spinner("Reading the upload..."):
                if len(ntls) > 1:
                    series = build_upload_series([_wrap(f) for f in ntls], cloud_free=counts, **common)
                    scene = series.latest
                else:
                    if len(counts) > 1:
                        raise DeepLightError(
                            f"{len(counts)} cloud-free count files for one night-light raster: upload one"
                        )
                    series = None
                    scene = build_upload_scene(_wrap(ntls[0]), cloud_free=counts[0] if counts else None, **common)
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
            item = scene if series is None else series
            services.uploaded_scenes()[item.key] = item
            remember("dataset", item.key)
            for key in ("region", "_keep_region", "_aoi", "year", "month"):
                st.session_state.pop(key, None)
            status.success(
                f"Loaded {item.title}: LR {scene.lr.shape[0]}x{scene.lr.shape[1]} pixels, "
                f"{len(scene.regions)} region(s)" + (", LR simulated from it" if scene.lr_simulated else "")
            )
            notes = scene.notes if series is None else (
                *series.notes, *(note for step in series.steps.values() for note in step.notes)
            )
            for note in dict.fromkeys(notes):  # every step's notes (regions, auxiliary layers, values), once
                status.caption(note)
            status.page_link(page("compare"), label="Reconstruct and compare it", icon=":material/compare:")

# The sidebar comes last so that a new upload can become the chosen data set in this same run.
sidebar_context()
