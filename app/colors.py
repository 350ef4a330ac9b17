"""One shared logarithmic colour scale for LR, SR and HR radiance, its legend and PNG encoding.

Night lights span four orders of magnitude, so colours follow ``log1p(r) / log1p(vmax)`` (the same
shape as the project's normalised radiance scale), with ``vmax`` shared by every panel of a view.
"""

from __future__ import annotations

import base64
import io
import math

import numpy as np
from matplotlib import colormaps
from PIL import Image

COLORMAP = "inferno"
UNITS = "nW/cm²/sr"


def shared_vmax(*arrays: np.ndarray | None, percentile: float = 99.5, floor: float = 1.0) -> float:
    """Upper end (nW/cm^2/sr) of the shared scale: ``percentile`` of all finite values, >= ``floor``."""
    values = [a[np.isfinite(a)].ravel() for a in arrays if a is not None]
    values = [v for v in values if v.size]
    if not values:
        return floor
    return float(max(floor, np.percentile(np.concatenate(values), percentile)))


def radiance_to_rgba(radiance: np.ndarray, vmax: float, colormap: str = COLORMAP) -> np.ndarray:
    """Colour a (H, W) radiance image (nW/cm^2/sr) on the log scale; NaN becomes transparent.

    Returns:
        (H, W, 4) uint8 RGBA.
    """
    norm = np.log1p(np.clip(np.nan_to_num(radiance, nan=0.0), 0, None)) / math.log1p(vmax)
    rgba = colormaps[colormap](np.clip(norm, 0, 1), bytes=True)
    rgba[..., 3] = np.where(np.isfinite(radiance), 255, 0)
    return rgba


def rgba_to_png_data_url(rgba: np.ndarray) -> str:
    """Encode (H, W, 4) uint8 RGBA as a ``data:image/png;base64,...`` URL (no file, no tile server)."""
    buffer = io.BytesIO()
    Image.fromarray(rgba, mode="RGBA").save(buffer, format="PNG", optimize=False)
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode("ascii")


PALETTE_LEVELS = 255
"""Colour levels of the indexed PNG (index 0 is reserved for transparent nodata)."""


def radiance_index(radiance: np.ndarray, vmax: float) -> np.ndarray:
    """Palette indices (uint8) of a radiance image on the log scale: 1..255 for 0..vmax, 0 for NaN."""
    norm = np.log1p(np.clip(np.nan_to_num(radiance, nan=0.0), 0, None)) / math.log1p(vmax)
    index = 1 + np.round(np.clip(norm, 0, 1) * (PALETTE_LEVELS - 1)).astype(np.uint8)
    index[~np.isfinite(radiance)] = 0
    return index


def radiance_colours(colormap: str = COLORMAP) -> np.ndarray:
    """(255, 3) uint8 RGB of palette indices 1..255 of :func:`radiance_index`."""
    return colormaps[colormap](np.linspace(0, 1, PALETTE_LEVELS), bytes=True)[:, :3]


def radiance_to_png_data_url(radiance: np.ndarray, vmax: float, colormap: str = COLORMAP) -> str:
    """Colour a (H, W) radiance image on the log scale as an indexed (palette) PNG data URL.

    The colour map is a 255-colour lookup table anyway, so a palette PNG carries the same picture as
    RGBA at a third to a quarter of the bytes (faster pages). NaN is palette index 0, transparent.
    """
    return palette_png_data_url(radiance_index(radiance, vmax), radiance_colours(colormap))


def palette_png_data_url(index: np.ndarray, colours: np.ndarray) -> str:
    """Encode (H, W) uint8 palette indices as an indexed PNG data URL.

    Index 0 is transparent (nodata); index k >= 1 has colour ``colours[k - 1]`` ((N, 3) uint8 RGB).
    """
    palette = np.vstack([[0, 0, 0], colours]).astype(np.uint8).ravel().tolist()
    image = Image.fromarray(index, mode="P")
    image.putpalette(palette)
    buffer = io.BytesIO()
    image.save(buffer, format="PNG", transparency=0)
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode("ascii")


MIN_TICK_GAP = 0.07
"""Least distance between two legend labels, as a share of the bar's width (labels never overlap)."""


def legend_ticks(vmax: float) -> list[tuple[float, float]]:
    """Tick values (nW/cm^2/sr) and their positions 0..1 on the log scale, 0 and vmax included."""
    candidates = [0, 1, 3, 10, 30, 100, 300, 1000, 3000]
    position = lambda v: math.log1p(v) / math.log1p(vmax)  # noqa: E731
    # a round tick too close to vmax's label would print over it
    kept: list[float] = []
    for v in [v for v in candidates if v < vmax and position(v) <= 1 - MIN_TICK_GAP] + [vmax]:
        if not kept or position(v) - position(kept[-1]) >= MIN_TICK_GAP:
            kept.append(v)
    return [(v, position(v)) for v in kept]


def legend_html(vmax: float, colormap: str = COLORMAP, title: str = f"Radiance ({UNITS})") -> str:
    """A horizontal colour bar with ticks, as an HTML fragment (inline styles only)."""
    cmap = colormaps[colormap]
    stops = ", ".join(
        "rgb({},{},{}) {:.0f}%".format(*(int(255 * c) for c in cmap(i / 10)[:3]), i * 10) for i in range(11)
    )
    labels = "".join(
        f'<span style="position:absolute;left:{100 * pos:.1f}%;transform:translateX(-50%)">{value:.3g}</span>'
        for value, pos in legend_ticks(vmax)
    )
    return (
        '<div class="deeplight-legend" style="font:12px sans-serif;color:#eee;padding:4px 16px 18px 16px;'
        'background:#0e1117">'
        f'<div style="margin-bottom:2px">{title} - log scale, shared by every panel</div>'
        f'<div style="height:12px;background:linear-gradient(to right, {stops});border:1px solid #555"></div>'
        f'<div style="position:relative;height:14px">{labels}</div></div>'
    )
