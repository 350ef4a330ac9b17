"""True ground area of every pixel of a raster grid, in square metres: the project's one cell-area formula.

Every caller uses :func:`pixel_area_m2` (the indicators' sums and lit areas, the population warp's
densities, the dashboard's CO2 cell map, :func:`deeplight.io.reproject.reproject_array`).

Sums of lights and lit areas must weight pixels by their real area: on a geographic grid
(EPSG:4326) a 15 arc-second cell covers about 0.215 km^2 at the equator but only 0.152 km^2 at
45 degrees latitude, and on a conformal projection (UTM, Web Mercator) the nominal cell size is not
the ground area either.

- Geographic CRS: the exact area of an ellipsoidal quadrangle,
  ``A = |dlon| * |S(lat2) - S(lat1)|`` with
  ``S(phi) = b^2/2 * [sin(phi) / (1 - e^2 sin^2 phi) + 1/(2e) * ln((1 + e sin phi) / (1 - e sin phi))]``
  (the area of the ellipsoid zone between the equator and ``phi`` per radian of longitude;
  Snyder 1987, "Map Projections - A Working Manual", USGS PP 1395, eq. 3-12, the authalic
  latitude's ``q`` function). It reduces to ``R^2 dlon |sin lat2 - sin lat1|`` on a sphere.
- Projected CRS: nominal cell area ``|a*e - b*d|`` (converted to m^2 from the CRS's linear unit)
  divided by the projection's areal scale factor at the cell centre (``pyproj.Proj.get_factors``),
  which is 1 for equal-area projections (Mollweide, EPSG:6933, LAEA).
"""

from __future__ import annotations

import numpy as np
from affine import Affine
from pyproj import CRS, Proj, Transformer

from deeplight.errors import RasterError

EQUAL_AREA_CRS = "EPSG:6933"
"""WGS 84 / NSIDC EASE-Grid 2.0 Global (cylindrical equal-area): where polygon areas are measured."""


def _zone_area_per_radian(lat_rad: np.ndarray, semi_major: float, eccentricity: float) -> np.ndarray:
    """Area (m^2) of the ellipsoid zone between the equator and ``lat_rad``, per radian of longitude."""
    sin_phi = np.sin(lat_rad)
    a = semi_major
    e = eccentricity
    if e < 1e-12:
        return a * a * sin_phi
    b2 = a * a * (1.0 - e * e)
    es = e * sin_phi
    return 0.5 * b2 * (sin_phi / (1.0 - es * es) + np.log((1.0 + es) / (1.0 - es)) / (2.0 * e))


def pixel_area_m2(transform: Affine, crs: CRS | str, shape: tuple[int, int]) -> np.ndarray:
    """Ground area of each cell of a north-up grid.

    Args:
        transform: affine transform of the grid (pixel corner -> CRS coordinates), no rotation.
        crs: coordinate reference system of the grid.
        shape: (height, width) in pixels.

    Returns:
        float64 array of shape ``shape`` with the area of each cell in m^2.

    Raises:
        RasterError: the grid is rotated, or the CRS is missing.
    """
    if crs is None:
        raise RasterError("the raster has no CRS: pixel areas cannot be computed; assign a CRS first")
    crs = CRS.from_user_input(crs)
    if transform.b != 0 or transform.d != 0:
        raise RasterError(
            f"rotated rasters are not supported (transform {tuple(transform)[:6]}): warp it north-up first"
        )
    height, width = shape
    if crs.is_geographic:
        ellipsoid = crs.ellipsoid
        semi_major = ellipsoid.semi_major_metre
        inv_f = ellipsoid.inverse_flattening
        flattening = 0.0 if not inv_f or np.isinf(inv_f) else 1.0 / inv_f
        eccentricity = float(np.sqrt(max(flattening * (2.0 - flattening), 0.0)))
        row_edges = transform.f + transform.e * np.arange(height + 1)
        lat = np.deg2rad(np.clip(row_edges, -90.0, 90.0))
        zone = _zone_area_per_radian(lat, semi_major, eccentricity)
        dlon = np.deg2rad(abs(transform.a))
        row_area = dlon * np.abs(np.diff(zone))
        return np.repeat(row_area[:, None], width, axis=1)
    unit_factor = crs.axis_info[0].unit_conversion_factor if crs.axis_info else 1.0
    nominal = abs(transform.a * transform.e - transform.b * transform.d) * unit_factor**2
    cols, rows = np.meshgrid(np.arange(width) + 0.5, np.arange(height) + 0.5)
    xs = transform.c + transform.a * cols
    ys = transform.f + transform.e * rows
    to_lonlat = Transformer.from_crs(crs, crs.geodetic_crs, always_xy=True)
    lon, lat = to_lonlat.transform(xs.ravel(), ys.ravel())
    factors = Proj(crs).get_factors(lon, lat, errcheck=False)
    areal_scale = np.asarray(factors.areal_scale, dtype=np.float64).reshape(shape)
    areal_scale = np.where(np.isfinite(areal_scale) & (areal_scale > 0), areal_scale, np.nan)
    return nominal / areal_scale
