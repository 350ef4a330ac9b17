"""The sidebar and shared layout, written once for every page.

``sidebar_context()`` reads the URL query parameters, draws the data-set / time / region / model
pickers, writes the choice back to the URL (shareable views) and returns a :class:`PageContext`.
A page may put the time slider in its own body (``time_slot``, the Compare page puts it on the maps)
and declare the controls it keeps in the URL (``view``, :class:`app.selection.ViewParam`); it calls
:func:`finish_page` at the end so the URL holds the values its controls settled on.
"""

from __future__ import annotations

import contextlib
import socket
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field

import streamlit as st
from shapely.geometry.base import BaseGeometry

from app import services
from app.map_view import apply_map_events
from app.reconstruction import ModelChoice
from deeplight.io.scene import Scene
from app.selection import (
    DRAWN_AREA,
    Selection,
    ViewParam,
    selection_from_params,
    selection_to_params,
    view_from_params,
    view_to_params,
)
from app.settings import get_settings
from deeplight.catalog import DatasetInfo
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
        view: the page's controls kept in the URL.
    """

    dataset: DatasetInfo
    scene: Scene
    region: str
    geometry: BaseGeometry
    model: ModelChoice | None
    basemap: bool
    selection: Selection
    view: tuple[ViewParam, ...] = field(default=())

    @property
    def time(self) -> int | str | None:
        """The chosen time step: the year, the ``"YYYY-MM"`` month of a monthly set, or None."""
        return self.selection.month or self.selection.year

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


PERSISTED_KEYS = ("dataset", "year", "month", "region", "model", "basemap")
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


def _restore_view(view: Sequence[ViewParam]) -> None:
    """Give the page's controls their values: this run's widget value, else the one kept from an
    earlier visit of the page, else the one the session's first URL brought (read on the first visit
    of the page that draws the control, whichever page the session started on)."""
    initial = st.session_state.get("_initial_params", {})
    used = st.session_state.setdefault("_initial_params_used", set())
    fresh = [s for s in view if s.key not in used]
    values, problems = view_from_params(initial, fresh)
    used.update(s.key for s in fresh)
    for problem in problems:
        st.sidebar.warning(problem)
    for spec in view:
        kept = f"_keep_{spec.key}"
        if spec.key in values:
            st.session_state[spec.key] = values[spec.key]
        elif spec.key in st.session_state:
            st.session_state[spec.key] = st.session_state[spec.key]
        elif kept in st.session_state:
            st.session_state[spec.key] = st.session_state[kept]


def _persist_view(view: Sequence[ViewParam]) -> None:
    for spec in view:
        if spec.key in st.session_state:
            st.session_state[f"_keep_{spec.key}"] = st.session_state[spec.key]


def _init_state_from_url() -> None:
    if st.session_state.get("_url_loaded"):
        _restore_persisted()
        _apply_pending()
        return
    params = dict(st.query_params)
    selection, problems = selection_from_params(params)
    st.session_state["_initial_params"] = params  # page controls are read from it by _restore_view
    st.session_state["_url_loaded"] = True
    st.session_state["_url_problems"] = problems
    # what the URL asked for, checked once against what exists (a visible warning, not a silent swap)
    asked = {
        "dataset": params.get("dataset") or None,
        "year": selection.year,
        "month": selection.month,
        "region": selection.region if selection.aoi is None else None,
        "model": selection.model,
    }
    st.session_state["_url_asked"] = {key: value for key, value in asked.items() if value is not None}
    st.session_state["dataset"] = selection.dataset
    if selection.year is not None:
        st.session_state["year"] = selection.year
    if selection.month is not None:
        st.session_state["month"] = selection.month
    if selection.region:
        st.session_state["region"] = selection.region
    st.session_state["_aoi"] = selection.aoi
    if selection.model:
        st.session_state["model"] = selection.model


def _check_url_choice(key: str, available: Sequence, what: str) -> None:
    """Warn once when the URL asked for a ``key`` value that is not among ``available``."""
    asked = st.session_state.get("_url_asked", {}).pop(key, None)
    if asked is not None and asked not in available:
        shown = st.session_state.get(key, available[0] if available else "")
        # the values come from a link: shown as inline code, so no markdown (links, emphasis) is rendered
        st.sidebar.warning(f"The link asks for {what} {_literal(asked)}, which is not available here; "
                           f"showing {_literal(shown)} instead.")


def _literal(value: object) -> str:
    return "`" + str(value).replace("`", "'").replace("\n", " ") + "`"


def sidebar_context(time_slot=None, view: Sequence[ViewParam] = ()) -> PageContext | None:
    """Draw the sidebar; returns the context, or None (after showing why) when nothing can be shown.

    Args:
        time_slot: a container of the page body where the year / month slider goes instead of the
            sidebar (the Compare page draws it on its maps), or None.
        view: the page's own controls kept in the URL; their values are restored here (from this
            run, an earlier visit of the page, or the URL) before the page draws them.
    """
    view = tuple(view)
    _init_state_from_url()
    for problem in apply_map_events():  # a click or drawing on a map since the last run
        st.sidebar.warning(problem)
    _restore_view(view)
    for spec in view:  # defaults through session state: widgets are drawn without value=/index=
        if spec.default is not None and spec.key not in st.session_state:
            st.session_state[spec.key] = list(spec.default) if spec.kind == "list" else spec.default
    _persist_view(view)
    for problem in st.session_state.pop("_url_problems", []):
        st.sidebar.warning(problem)
    sets = services.datasets()
    ids = [d.id for d in sets]
    if st.session_state.get("dataset") not in ids:
        st.session_state["dataset"] = ids[0]
    _check_url_choice("dataset", ids, "the data set")
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
        year, month = None, None
        times = info.times
        if len(times) > 1:
            unit = info.time_unit
            if st.session_state.get(unit) not in times:
                st.session_state[unit] = times[-1]
            _check_url_choice(unit, list(times), "the " + unit)
            slot = time_slot if time_slot is not None else st
            what = "monthly layers (months the source lacks are not listed)" if unit == "month" else "years"
            chosen = slot.select_slider(
                "Month" if unit == "month" else "Year",
                options=list(times),
                key=unit,
                help=f"Step through the data set's {what}.",
            )
            year, month = (None, chosen) if unit == "month" else (chosen, None)
        elif info.years:
            year = info.years[0]
        failure = None
        with staged("Loading the data set", keep=False) as stages:
            what = f"{info.title} {month or year or ''}".strip()
            simulated = " and simulating its LR" if info.lr_simulated_on_open else ""
            stages.stage(f"Reading {what}{simulated}")
            try:
                scene = services.scene(dataset_id, month or year)
            except DeepLightError as exc:
                failure = str(exc)
        if failure is not None:
            st.error(failure)
            return None
        names = list(scene.regions["name"])
        aoi = st.session_state.get("_aoi")
        options = ([DRAWN_AREA] if aoi is not None else []) + names
        if st.session_state.get("region") not in options:
            st.session_state["region"] = options[0]
        _check_url_choice("region", options, "the region")
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
            _check_url_choice("model", cids, "the model")
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
        year=year if len(info.years) > 1 and not info.months else None,
        region=region,
        aoi=aoi if region == DRAWN_AREA else None,
        model=model.id if model else None,
        month=month,
    )
    _persist()
    ctx = PageContext(info, scene, region, geometry, model, basemap, selection, view)
    _write_url(ctx)
    return ctx


def _write_url(ctx: PageContext) -> None:
    params = {**selection_to_params(ctx.selection), **view_to_params(st.session_state, ctx.view)}
    if dict(st.query_params) != params:
        st.query_params.from_dict(params)


def finish_page(ctx: PageContext) -> None:
    """End of a page: keep its controls' values for the next visit and write them to the URL."""
    _persist_view(ctx.view)
    _write_url(ctx)


class Stages:
    """What a slow step is doing now, one line at the top of its box (see :func:`staged`)."""

    def __init__(self, line) -> None:
        self._line = line
        self._started = time.perf_counter()
        self._stage_started = self._started
        self.timings: list[tuple[str, float]] = []
        self._current: str | None = None

    def stage(self, label: str) -> None:
        """Start a new stage (e.g. "Reading the region"); the box's first line says it."""
        self._close_stage()
        self._current = label
        self._stage_started = time.perf_counter()
        self._line.caption(f":material/hourglass_top: **{label}...**")

    def _close_stage(self) -> None:
        if self._current is not None:
            self.timings.append((self._current, time.perf_counter() - self._stage_started))
            self._current = None

    @property
    def elapsed(self) -> float:
        """Seconds since the box opened."""
        return time.perf_counter() - self._started


SLOW_STEP_S = 1.0
"""A staged step that took longer than this leaves a collapsed "ready in ... s" box behind."""


@contextlib.contextmanager
def staged(title: str, keep: bool = True) -> Iterator[Stages]:
    """A box naming the current stage of a slow step (reading, reconstructing, indicators).

    While the step runs the box is a plain container (its first line the stage, the reconstruction's
    progress bar of tile batches below it): ``st.status`` is not used then, because each one costs
    0.1 s of Streamlit's own waits, which made a cached time step 0.4 s slower. When the step was fast
    (everything cached) the box disappears; otherwise, with ``keep``, a collapsed ``st.status`` box
    stays with the time each stage took.
    """
    slot = st.empty()
    holder = slot.container()
    holder.caption(f"{title}...")
    stages = Stages(holder.empty())
    with holder:
        try:
            yield stages
        except BaseException:
            failed = stages._current
            stages._close_stage()
            where = f" while {failed[0].lower()}{failed[1:]}" if failed else ""
            slot.status(f"{title}: stopped{where}", state="error", expanded=True)
            raise
    stages._close_stage()
    if stages.elapsed < SLOW_STEP_S or not keep:
        slot.empty()
        return
    detail = ", ".join(f"{name.lower()} {seconds:.1f} s" for name, seconds in stages.timings)
    slot.status(f"{title}: ready in {stages.elapsed:.1f} s ({detail})", state="complete", expanded=False)


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
            "**Simulated LR**: made from the HR image by the DMSP-like degradation model, not a real "
            "DMSP observation.",
            icon=":material/info:",
        )
    if scene.hr_synthetic:
        st.caption("Synthetic demo scene: HR, auxiliary layers and regions are generated, not observed.")


PAGE_CSS = (
    "<style>"
    # less empty room above the title, and a smaller title, so the maps start above the fold
    '[data-testid="stMainBlockContainer"]{padding-top:2.2rem !important}'
    '[data-testid="stMainBlockContainer"] h1{font-size:2rem !important;padding:0 0 0.4rem 0 !important}'
    "</style>"
)


def page_setup(title: str) -> None:
    """Title of a page (the page config is set once in app/main.py), with the dashboard's CSS."""
    st.html(PAGE_CSS)
    st.title(title)


def settings_summary() -> str:
    """One line with the folders in use (for the Home page)."""
    s = get_settings()
    return f"DEEPLIGHT_HOME = {s.home} · DEEPLIGHT_DATA_DIR = {s.data_dir or '(not set)'}"
