"""The maps' frame: map HTML shown in a Streamlit component that returns clicks and drawings.

``st.iframe`` is one-way, so a click on a region used to rewrite the URL and reload the whole page
(scrolled to the top, toggles lost). :func:`map_view` shows the same HTML in a small component of
this project (``app/map_frame/index.html``, Streamlit's component protocol v1, no network); a click or
a drawing comes back as the component's value ``{"updates": {...}, "nonce": ...}``, Streamlit reruns
the script, and :func:`apply_map_events` (called by the sidebar before the pickers are drawn) turns
it into the region or drawn-area choice. The URL is then rewritten in place like for any other
control, so the view stays shareable. The Compare map also reports its view (centre and zoom) after
each move, kept in the URL as ``view=lat,lon,zoom`` and reopened by a shared link.
"""

from __future__ import annotations

from pathlib import Path

import streamlit as st
import streamlit.components.v1 as components

from app.selection import DRAWN_AREA, parse_aoi
from deeplight.errors import DeepLightError

FRAME_DIR = Path(__file__).resolve().parent / "map_frame"
MAP_KEYS = ("map_home", "map_compare", "map_difference")
"""Component keys of the dashboard's maps (one per map on a page)."""

_component = components.declare_component("deeplight_map", path=str(FRAME_DIR))


def map_view(html: str, height: int, key: str, view: str | None = None, report_view: bool = False) -> None:
    """Show map ``html`` (a whole document) ``height`` px high; clicks come back through ``key``.

    Args:
        view: ``"lat,lon,zoom"`` the map opens at instead of fitting its region (see :func:`view_key`).
        report_view: send the view back after every move (kept in ``st.session_state[view_key(key)]``).
    """
    if key not in MAP_KEYS:
        raise ValueError(f"unknown map key {key!r}: add it to app.map_view.MAP_KEYS")
    _component(html=html, height=int(height), key=key, view=view or "", report_view=report_view, default=None)


def view_key(key: str) -> str:
    """Session-state key of the view (``"lat,lon,zoom"``) the map ``key`` last reported."""
    return f"{key}_view"


def parse_view(text: str) -> str | None:
    """A ``"lat,lon,zoom"`` view in canonical form, or None when it is not one."""
    parts = str(text).split(",")
    try:
        lat, lon, zoom = (float(v) for v in parts)
    except ValueError:
        return None
    if not (-90 <= lat <= 90 and -180 <= lon <= 180 and 0 <= zoom <= 24):
        return None
    return f"{lat:.5f},{lon:.5f},{zoom:g}"


def apply_map_events() -> list[str]:
    """Apply the selections made on the maps since the last run; returns problems to show.

    A value is applied once (its nonce is remembered), so a rerun for another reason does not undo a
    choice made in the sidebar afterwards.
    """
    problems = []
    for key in MAP_KEYS:
        value = st.session_state.get(key)
        if not isinstance(value, dict) or "nonce" not in value:
            continue
        seen = f"_seen_{key}"
        if st.session_state.get(seen) == value["nonce"]:
            continue
        st.session_state[seen] = value["nonce"]
        updates = dict(value.get("updates") or {})
        if "view" in updates:  # a move: the view only, no selection
            view = parse_view(updates.pop("view"))
            if view is not None:
                st.session_state[view_key(key)] = view
        if not updates:
            continue
        problem = apply_updates(updates)
        if problem:
            problems.append(problem)
    return problems


def apply_updates(updates: dict) -> str | None:
    """Set the region (``{"region": name}``) or drawn area (``{"aoi": "lon,lat;..."}``) chosen on a map."""
    from app.layout import remember

    aoi, region = updates.get("aoi"), updates.get("region")
    if aoi:
        try:
            geometry = parse_aoi(str(aoi))
        except DeepLightError as exc:
            return f"The drawn area was not used: {exc}"
        st.session_state["_aoi"] = geometry
        remember("region", DRAWN_AREA)
    elif region:
        st.session_state["_aoi"] = None
        remember("region", str(region))
    return None
