"""Playwright helpers for the Streamlit dashboard (not a test module)."""

from __future__ import annotations

import time

from playwright.sync_api import Error as PlaywrightError

MAP_STATE_JS = """() => ({
  leaflet: typeof L === 'object' && !!L.version,
  maps: document.querySelectorAll('.leaflet-container').length,
  rasters: Array.from(document.querySelectorAll('img.leaflet-image-layer'))
      .filter(img => img.complete && img.naturalWidth > 0).length,
  rasterSources: Array.from(document.querySelectorAll('img.leaflet-image-layer'))
      .map(img => img.src.length + ':' + img.src.slice(-40)),
  titles: Array.from(document.querySelectorAll('.deeplight-title b')).map(b => b.id),
  swipe: !!document.querySelector('.leaflet-sbs-range') && !!document.querySelector('.leaflet-sbs-divider'),
  selected: Array.from(document.querySelectorAll('path.leaflet-interactive'))
      .filter(p => p.getAttribute('stroke') === '#00e5ff').length,
})"""


def map_frames(page):
    """Every frame of the page but the main one: the maps are same-origin srcdoc iframes inside the
    map frame component (app/map_view.py), so they are nested one level down."""
    frames, todo = [], [page.main_frame]
    while todo:
        parent = todo.pop(0)
        try:
            handles = parent.locator("iframe").element_handles()
        except PlaywrightError:  # a frame being replaced by a rerun
            continue
        for handle in handles:
            frame = handle.content_frame()
            if frame is None:
                continue
            todo.append(frame)
            if frame.url == "about:srcdoc":
                frames.append(frame)
    return frames


def wait_for_map(page, min_rasters: int = 1, timeout_s: float = 120, predicate=None) -> dict:
    """Wait for an iframe with Leaflet, a map and ``min_rasters`` loaded overlays; return its state."""
    deadline = time.monotonic() + timeout_s
    last = None
    while time.monotonic() < deadline:
        for frame in map_frames(page):
            try:
                state = frame.evaluate(MAP_STATE_JS)
            except PlaywrightError:  # a frame being replaced by a rerun
                continue
            last = state
            drawn = state["leaflet"] and state["maps"] and state["rasters"] >= min_rasters
            if drawn and (predicate is None or predicate(state)):
                return state
        time.sleep(0.05)
    raise AssertionError(f"no drawn map within {timeout_s} s (last state: {last})")


def wait_for_text(page, text: str, timeout_s: float = 120) -> None:
    """Wait until ``text`` appears in the main document."""
    page.get_by_text(text, exact=False).first.wait_for(timeout=timeout_s * 1000)


def find_in_selectbox(page, label: str, option_text: str):
    """Open the Streamlit selectbox labelled ``label`` and type ``option_text``; returns the option to click."""
    box = page.locator('[data-testid="stSelectbox"]').filter(has_text=label).first
    box.click()
    page.keyboard.type(option_text)
    option = page.locator('[role="option"]').filter(has_text=option_text).first
    option.wait_for()
    return option


def choose_in_selectbox(page, label: str, option_text: str) -> None:
    """Open the Streamlit selectbox labelled ``label``, type ``option_text`` and pick the first match."""
    find_in_selectbox(page, label, option_text).click()
