"""DMSP-like DN products as radiance for the indicators.

LR rasters from the DMSP-like sensor hold DN (0..63), not radiance. Sums of lights need radiance, so
:func:`dn_to_radiance` converts DN with the noise-free inverse of the degradation model's nominal
response (``deeplight.contracts.nominal_dn_to_radiance``), and the result is flagged "nominal
calibration" in the table's ``method`` column. :func:`is_dn_product` decides which products hold DN.
The products themselves are :class:`deeplight.io.georaster.GeoRaster` objects.
"""

from __future__ import annotations

import numpy as np

from deeplight.contracts import nominal_dn_to_radiance
from deeplight.io.georaster import GeoRaster


def dn_to_radiance(dn: np.ndarray) -> tuple[np.ndarray, str]:
    """Convert DMSP-like DN (0..63) to nominal radiance (nW/cm2/sr).

    Uses :func:`deeplight.contracts.nominal_dn_to_radiance`, the exact inverse of the degradation
    model's noise-free response ``DN = 6 R^0.6`` (docs/data.md). Saturated DN 63 maps to the
    saturation radiance (about 50 nW/cm2/sr), so sums of lights over saturated cores are lower
    bounds, and the per-scene gain drift of a simulated LR is not undone.

    Args:
        dn: DN array (any shape), NaN for nodata.

    Returns:
        (radiance array of the same shape, a short description of the calibration used).
    """
    with np.errstate(invalid="ignore"):
        radiance = np.asarray(nominal_dn_to_radiance(np.asarray(dn, dtype=np.float64)), dtype=np.float64)
    return radiance, "nominal calibration: R = (DN/6)^(1/0.6), deeplight.contracts.nominal_dn_to_radiance"


def is_dn_product(raster: GeoRaster, declared_units: str | None = None, product: str = "lr") -> bool:
    """Whether a product holds DMSP-like DN rather than radiance.

    DN when ``declared_units`` says so, or when the ``units`` tag starts with "DN" (the LR writer's
    "DN (0-63, DMSP-like 6-bit)"). An untagged product named "lr" whose values are all integers in
    0..63 is taken as DN too (DMSP files carry no units); products with other names are radiance
    unless declared or tagged.
    """
    units = (declared_units or raster.units).strip().lower()
    if units:
        return units.startswith("dn") or "digital number" in units
    if product.lower() != "lr":
        return False
    finite = raster.values[np.isfinite(raster.values)]
    if finite.size == 0:
        return False
    return bool(
        finite.max() <= 63 and finite.min() >= 0 and np.all(finite == np.round(finite)) and finite.max() > 1
    )
