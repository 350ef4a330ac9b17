"""Plausibility checks of layer values, so a layer in the wrong units fails early and clearly."""

from __future__ import annotations

import numpy as np

from deeplight.errors import RasterError

VALUE_RANGES: dict[str, tuple[float, float, str]] = {
    "isp": (0.0, 1.0001, "an impervious *fraction* 0..1 (divide a percentage by 100)"),
    "dmo": (
        -0.2,
        1.6,
        (
            "surface reflectance 0..1 (apply the product's scale factor and offset, "
            "e.g. Landsat C2 L2: DN * 0.0000275 - 0.2)"
        ),
    ),
    "dem": (-500.0, 9000.0, "elevation in metres"),
    "hr": (-1e-3, 1e6, "radiance in nW/cm2/sr, not negative"),
    "lr": (-1e-3, 63.0 + 1e-3, "DMSP-like DN 0..63 (a radiance raster needs lr_units='radiance')"),
}


def check_value_range(name: str, values: np.ndarray, source: str) -> None:
    """Raise when the valid values of layer ``name`` fall outside its plausible range.

    Args:
        name: modality (``isp``, ``dmo``, ``dem``, ``hr``, ``lr``); others are not checked.
        values: the layer's pixels (NaN = nodata).
        source: file name or description used in the message.

    Raises:
        RasterError: infinite values, or values outside the range (naming the file, the range found and
            the units expected). Whole files go through :mod:`deeplight.io.validation`, which uses the
            same ranges.
    """
    if name not in VALUE_RANGES:
        return
    low, high, expected = VALUE_RANGES[name]
    infinite = int(np.isinf(values).sum())
    if infinite:
        raise RasterError(
            f"{source}: {infinite} {name} value(s) are infinite (+inf or -inf); set them to nodata (NaN) or fix "
            "the layer: DeepLight refuses non-finite values rather than guessing"
        )
    values = np.asarray(values)
    if values.size == 0:
        return
    # fmin / fmax skip NaN (nodata) without a copy of the valid values (a tile's 8 aux bands: 3x faster)
    vmin, vmax = float(np.fmin.reduce(values, axis=None)), float(np.fmax.reduce(values, axis=None))
    if np.isnan(vmin):  # every value is nodata
        return
    if vmin < low or vmax > high:
        raise RasterError(
            f"{source}: {name} values span {vmin:.4g}..{vmax:.4g}, outside "
            f"{low:g}..{high:g}; expected {expected}"
        )
