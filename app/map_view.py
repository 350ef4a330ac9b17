"""The maps' frame: map HTML shown in a Streamlit component that returns clicks and drawings.

``st.iframe`` is one-way, so a click on a region used to rewrite the URL and reload the whole page
(scrolled to the top, toggles lost). :func:`map_view` shows the same HTML in a small component of
this project (``app/map_frame/index.html``, Streamlit's component protocol v1, no network); a click or
a drawing comes back as the component's value ``{"updates": {...}, "nonce": ...}``, Streamlit reruns
the script, and :func:`apply_map_events` (called by the sidebar before the pickers are drawn) turns
it into the region or drawn-area choice. The URL is then rewritten in place like for any other
control, so the view stays shareable.
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


def map_view(html: str, height: int, key: str) -> None:
    """Show map ``html`` (a whole document) ``height`` px high; clicks come back through ``key``."""
    if key not in MAP_KEYS:
        raise ValueError(f"unknown map key {key!r}: add it to app.map_view.MAP_KEYS")
    _component(html=html, height=int(height), key=key, default=None)


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
        problem = apply_updates(value.get("updates") or {})
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
