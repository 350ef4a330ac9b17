"""The sidebar and shared layout, written once for every page.

``sidebar_context()`` reads the URL query parameters, draws the data-set / year / region / model
pickers, writes the choice back to the URL (shareable views) and returns a :class:`PageContext`.
"""

from __future__ import annotations

import socket
from dataclasses import dataclass

import streamlit as st
from shapely.geometry.base import BaseGeometry

from app import services
from app.reconstruction import ModelChoice
from app.scene import Scene
from app.selection import DRAWN_AREA, Selection, selection_from_params, selection_to_params
from app.settings import get_settings
from app.sources import DatasetInfo
from deeplight.errors import DeepLightError

APP_CREDIT = "DeepLight (Zhang et al., IJCAI 2024) reproduction"


@dataclass(frozen=True)
class PageContext:
    """What a page needs after the sidebar ran.

    Attributes:
        dataset: the chosen data set.
        scene: its scene (year applied).
        region: chosen region name (or :data:`DRAWN_AREA`).
        geometry: region geometry in the scene CRS.
        model: chosen model, or None when no model is available.
        basemap: whether to draw the online basemap.
        selection: the selection as kept in the URL.
    """

    dataset: DatasetInfo
    scene: Scene
    region: str
    geometry: BaseGeometry
    model: ModelChoice | None
    basemap: bool
    selection: Selection

    @property
    def map_regions(self):
        """Regions to outline on the maps, plus the drawn area (as a region named "Drawn area")."""
        if self.region != DRAWN_AREA:
            return self.scene.regions
        import geopandas as gpd
        import pandas as pd

        drawn = gpd.GeoDataFrame({"name": [DRAWN_AREA]}, geometry=[self.geometry], crs=self.scene.crs)
        return gpd.GeoDataFrame(pd.concat([self.scene.regions, drawn], ignore_index=True), crs=self.scene.crs)


@st.cache_data(ttl=300, show_spinner=False)
def _basemap_reachable() -> bool:
    try:
        with socket.create_connection(("tile.openstreetmap.org", 443), timeout=1.5):
            return True
    except OSError:
        return False


PERSISTED_KEYS = ("dataset", "year", "region", "model", "basemap")
"""Sidebar widget keys whose values survive page switches (Streamlit drops the state of widgets that
a page run did not draw, and a page switch starts with a new widget tree)."""


def remember(key: str, value) -> None:
    """Set a sidebar choice from code (e.g. after an upload) so that every page picks it up."""
    st.session_state[key] = value
    st.session_state[f"_keep_{key}"] = value


def request_choice(key: str, value) -> None:
    """Ask for a sidebar choice from a page body (after the sidebar was drawn); applied on the next run.

    Call ``st.rerun()`` afterwards.
    """
    st.session_state.setdefault("_pending", {})[key] = value


def _apply_pending() -> None:
    for key, value in st.session_state.pop("_pending", {}).items():
        st.session_state[key] = value
        st.session_state[f"_keep_{key}"] = value


def _restore_persisted() -> None:
    # Re-assigning a widget key through the session-state API carries its latest value over to the
    # widget of another page (each page has its own widget ids; Streamlit documents this idiom).
    for key in PERSISTED_KEYS:
        kept = f"_keep_{key}"
        if key in st.session_state:
            st.session_state[key] = st.session_state[key]
        elif kept in st.session_state:
            st.session_state[key] = st.session_state[kept]


def _persist() -> None:
    for key in PERSISTED_KEYS:
        if key in st.session_state:
            st.session_state[f"_keep_{key}"] = st.session_state[key]


def _init_state_from_url() -> None:
    if st.session_state.get("_url_loaded"):
        _restore_persisted()
        _apply_pending()
        return
    selection, problems = selection_from_params(dict(st.query_params))
    st.session_state["_url_loaded"] = True
    st.session_state["_url_problems"] = problems
    st.session_state["dataset"] = selection.dataset
    if selection.year is not None:
        st.session_state["year"] = selection.year
    if selection.region:
        st.session_state["region"] = selection.region
    st.session_state["_aoi"] = selection.aoi
    if selection.model:
        st.session_state["model"] = selection.model


def sidebar_context() -> PageContext | None:
    """Draw the sidebar; returns the context, or None (after showing why) when nothing can be shown."""
    _init_state_from_url()
    for problem in st.session_state.pop("_url_problems", []):
        st.sidebar.warning(problem)
    sets = services.datasets()
    ids = [d.id for d in sets]
    if st.session_state.get("dataset") not in ids:
        st.session_state["dataset"] = ids[0]
    with st.sidebar:
        st.header("Data")
        dataset_id = st.selectbox(
            "Data set",
            ids,
            format_func=lambda i: next(d.title for d in sets if d.id == i),
            key="dataset",
            help="Real sets come from DEEPLIGHT_DATA_DIR; uploads from the Data page.",
        )
        info = next(d for d in sets if d.id == dataset_id)
        year = None
        if len(info.years) > 1:
            if st.session_state.get("year") not in info.years:
                st.session_state["year"] = info.years[-1]
            year = st.select_slider("Year", options=list(info.years), key="year")
        elif info.years:
            year = info.years[0]
        try:
            scene = services.scene(dataset_id, year)
        except DeepLightError as exc:
            st.error(str(exc))
            return None
        names = list(scene.regions["name"])
        aoi = st.session_state.get("_aoi")
        options = ([DRAWN_AREA] if aoi is not None else []) + names
        if st.session_state.get("region") not in options:
            st.session_state["region"] = options[0]
        region = st.selectbox(
            "Region (type to search)",
            options,
            key="region",
            help="Or click a region on the map, or draw a rectangle/polygon on the Home map.",
        )
        if region != DRAWN_AREA and aoi is not None:
            st.session_state["_aoi"] = aoi = None
        choices = services.model_choices()
        model = None
        if choices:
            cids = [c.id for c in choices]
            if st.session_state.get("model") not in cids:
                st.session_state["model"] = cids[0]
            mid = st.selectbox(
                "Model", cids, format_func=lambda i: next(c.label for c in choices if c.id == i), key="model"
            )
            model = next(c for c in choices if c.id == mid)
        else:
            st.warning("No model available: put a checkpoint in data/checkpoints/.")
        if "basemap" not in st.session_state:  # default through session state: no value/key conflict
            st.session_state["basemap"] = get_settings().online_basemap
        basemap = st.checkbox(
            "Online basemap (OpenStreetMap)",
            key="basemap",
            help="Needs internet; the maps work without it.",
        )
        if basemap and not _basemap_reachable():
            st.caption("OpenStreetMap is not reachable: maps stay offline.")
            basemap = False
        _credits(scene)
    if region == DRAWN_AREA and aoi is not None:
        geometry = _aoi_in_scene_crs(aoi, scene)
    else:
        geometry = scene.region_geometry(region)
    selection = Selection(
        dataset=dataset_id,
        year=year if len(info.years) > 1 else None,
        region=region,
        aoi=aoi if region == DRAWN_AREA else None,
        model=model.id if model else None,
    )
    _persist()
    params = selection_to_params(selection)
    if dict(st.query_params) != params:
        st.query_params.from_dict(params)
    return PageContext(info, scene, region, geometry, model, basemap, selection)


def _aoi_in_scene_crs(aoi: BaseGeometry, scene: Scene) -> BaseGeometry:
    import geopandas as gpd

    return gpd.GeoSeries([aoi], crs="EPSG:4326").to_crs(scene.crs).iloc[0]


def _credits(scene: Scene) -> None:
    st.divider()
    st.caption("**Data credits**")
    for credit in scene.credits:
        st.caption(credit)
    for note in scene.notes:
        st.caption(f"Note: {note}")
    st.caption(APP_CREDIT + "; maps: Leaflet (vendored, offline).")


def simulated_badge(scene: Scene) -> None:
    """Say clearly when the LR input is simulated (and when HR is synthetic)."""
    if scene.lr_simulated:
        st.info(
            "**Simulated LR**: the coarse input was made from the HR image by the DMSP-like degradation "
            "model; it is not a real DMSP observation.",
            icon=":material/info:",
        )
    if scene.key.startswith("demo"):
        st.caption("Synthetic demo scene: HR, auxiliary layers and regions are generated, not observed.")


def page_setup(title: str) -> None:
    """Title of a page (the page config is set once in app/main.py)."""
    st.title(title)


def settings_summary() -> str:
    """One line with the folders in use (for the Home page)."""
    s = get_settings()
    return f"DEEPLIGHT_HOME = {s.home} · DEEPLIGHT_DATA_DIR = {s.data_dir or '(not set)'}"
