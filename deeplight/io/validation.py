"""The one validator every raster input goes through: command line (predict, degrade, info, sdg) and
dashboard uploads alike.

Two steps, both before any output is written:

1. :func:`inspect_raster` opens the file's header only: it must exist, be a raster GDAL reads, have
   real (not complex) pixels, a CRS (a CF lat/lon NetCDF without a grid mapping is EPSG:4326 by the CF
   conventions) and a geotransform, the band count the role needs, and a declared size within the
   limits of :mod:`deeplight.io.limits`. A NetCDF cube with several time steps (or a multi-band
   GeoTIFF where one band is expected) must be given a band or time step: reading its first band
   silently would be wrong.
2. :func:`check_values` (an array in memory) or :func:`scan_raster` (a file streamed by blocks of rows)
   judges the pixel values by the rules of the layer's role (:data:`RULES`).

Choices (docs/data.md, README "Limits and safety"):

- **Non-finite values** (+inf, -inf) are refused, in every layer: one +inf LR pixel used to turn a
  whole tile into NaN and 0. NaN is nodata, as is the file's declared nodata value.
- **No valid pixel** (all nodata) is refused: it would give an all-NaN output.
- **Negative radiance** (HR, SR, LR given as radiance): VIIRS monthly and annual composites carry
  background noise slightly below zero, so values between :data:`RADIANCE_NOISE_FLOOR` (-2 nW/cm2/sr)
  and 0 are clipped to 0 with a warning that counts them (while they are at most half of the valid
  pixels); anything more negative is refused with the count of such pixels. Radiance above
  :data:`RADIANCE_MAX` (1e6) is refused (wrong units or scale).
- DN, reflectance, elevation and impervious fraction must lie in their plausible ranges
  (:mod:`deeplight.io.value_ranges`); population must not be negative.
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import rasterio
from affine import Affine
from rasterio.crs import CRS
from rasterio.errors import RasterioError, RasterioIOError
from rasterio.warp import transform_bounds
from rasterio.windows import Window

from deeplight.errors import RasterError
from deeplight.io.limits import check_pixel_count
from deeplight.io.value_ranges import VALUE_RANGES

RADIANCE_NOISE_FLOOR = -2.0
"""nW/cm2/sr: negative radiance down to this is background noise (clipped to 0 with a warning);
below it the raster is refused. VIIRS composites of the sample data reach -1.5."""
RADIANCE_MAX = 1e6
"""nW/cm2/sr: radiance above this is not night-time light (wrong units or scale factor)."""
NOISE_MAX_SHARE = 0.5
"""Noise is clipped only while negative pixels are at most this share of the valid ones (the sample VIIRS
monthly composites reach 13 %); a raster that is mostly negative is not radiance and is refused."""
NEGATIVE_TOLERANCE = 1e-3
"""Values above -this count as zero (float rounding of products written as float32)."""

NETCDF_DRIVERS = ("netCDF", "HDF5")
_LAT_KEYS = ("lat#", "latitude#")
_LON_KEYS = ("lon#", "longitude#")
DEFAULT_BAND_HINT = "choose one with --band N or --time VALUE"


@dataclass(frozen=True)
class ValueRule:
    """What the values of a layer's role may be.

    Attributes:
        low, high: plausible range (None: unbounded); for radiance ``low`` is the noise floor.
        expected: units and meaning, for messages.
        radiance: small negatives (down to ``low``) are noise, clipped to 0 with a warning.
    """

    low: float | None
    high: float | None
    expected: str
    radiance: bool = False


RULES: dict[str, ValueRule] = {
    "any": ValueRule(None, None, "any finite value"),
    "radiance": ValueRule(RADIANCE_NOISE_FLOOR, RADIANCE_MAX, "radiance in nW/cm2/sr", radiance=True),
    "lr": ValueRule(*VALUE_RANGES["lr"][:2], VALUE_RANGES["lr"][2]),
    "dmo": ValueRule(*VALUE_RANGES["dmo"][:2], VALUE_RANGES["dmo"][2]),
    "dem": ValueRule(*VALUE_RANGES["dem"][:2], VALUE_RANGES["dem"][2]),
    "isp": ValueRule(*VALUE_RANGES["isp"][:2], VALUE_RANGES["isp"][2]),
    "population": ValueRule(-1e-6, None, "people per cell, not negative"),
    "count": ValueRule(0, None, "observation counts (e.g. VIIRS cloud-free nights), not negative"),
}
"""Value rules by role; see :data:`ROLE_ALIASES` for the other role names."""
ROLE_ALIASES = {"hr": "radiance", "sr": "radiance", "sr_std": "radiance", "lr_radiance": "radiance",
                "reflectance": "dmo", "fraction": "isp", "classes": "any"}


def rule_for(role: str) -> tuple[str, ValueRule]:
    """``(canonical role, rule)`` of a role name (``hr``, ``lr``, ``lr_radiance``, ``dmo`` ...)."""
    name = ROLE_ALIASES.get(role, role)
    if name not in RULES:
        raise ValueError(f"unknown raster role {role!r}; one of {sorted(set(RULES) | set(ROLE_ALIASES))}")
    return name, RULES[name]


# -------------------------------------------------------------------------------------- the header
@dataclass
class RasterHeader:
    """What :func:`inspect_raster` learned from a file's header (no pixel read).

    Attributes:
        path: the file.
        label: how messages name it (e.g. ``"LR raster /data/lr.tif"``).
        open_path: what to pass to ``rasterio.open`` (the path, or ``NETCDF:"path":variable``).
        driver, width, height, count, dtype, nodata, tags, descriptions: from the header.
        crs: the CRS (for a CF lat/lon NetCDF without a grid mapping: EPSG:4326), or None.
        crs_note: how the CRS was found when it was not in the header, else None.
        transform: the geotransform.
        bands: the 1-based bands the caller reads.
        variable: the NetCDF variable, or None.
        extra_dim: ``(name, values)`` of the NetCDF dimension the bands run along (e.g. time), or None.
    """

    path: Path
    label: str
    open_path: str
    driver: str
    width: int
    height: int
    count: int
    dtype: str
    crs: CRS | None
    transform: Affine
    nodata: float | None
    tags: dict[str, str]
    descriptions: list[str]
    bands: list[int]
    crs_note: str | None = None
    variable: str | None = None
    extra_dim: tuple[str, list[str]] | None = None

    @property
    def bounds(self) -> tuple[float, float, float, float]:
        """``(minx, miny, maxx, maxy)`` in the raster's CRS."""
        t = self.transform
        xs = [t.c, t.c + t.a * self.width + t.b * self.height]
        ys = [t.f, t.f + t.d * self.width + t.e * self.height]
        return min(xs), min(ys), max(xs), max(ys)

    def open(self) -> rasterio.io.DatasetReader:
        """Open the dataset (the caller closes it)."""
        return rasterio.open(self.open_path)


def default_label(path: str | os.PathLike[str], role: str | None = None) -> str:
    """``"LR raster /x/lr.tif"`` etc.; just the path for a role-less read."""
    names = {"lr": "LR raster", "lr_radiance": "LR raster", "hr": "HR raster", "sr": "SR raster",
             "dmo": "DMO raster", "dem": "DEM raster", "isp": "ISP raster", "population": "population raster"}
    return f"{names[role]} {path}" if role in names else str(path)


def unreadable_pixels(label: str, exc: BaseException) -> RasterError:
    """The error of a raster whose header opened but whose pixels cannot be read."""
    return RasterError(
        f"{label}: the file is truncated or corrupt, its pixels cannot be read ({reason(exc)}); "
        "download or export it again"
    )


def reason(exc: BaseException) -> str:
    """The most specific text of a GDAL/rasterio error (not its "See previous exception" placeholder)."""
    texts, seen, current = [], set(), exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        text = " ".join(str(current).split())
        if text and "see previous exception" not in text.lower():
            texts.append(text)
        current = current.__cause__ or current.__context__
    if texts:
        return texts[-1]
    text = " ".join(str(exc).split())
    return text.replace(" See previous exception for details.", "") or type(exc).__name__


def _open_failure(path: Path, label: str, exc: Exception) -> RasterError:
    if not path.exists():
        return RasterError(f"{label}: file not found; check the path")
    if path.is_dir():
        return RasterError(f"{label}: is a folder, not a raster file; give a GeoTIFF path")
    text = " ".join(str(exc).split()) or type(exc).__name__
    return RasterError(
        f"{label}: not a readable raster ({text}); give a GeoTIFF (or another GDAL raster) file, complete "
        "and undamaged"
    )


def _netcdf_extra_dim(tags: dict[str, str]) -> tuple[str, list[str]] | None:
    extra = tags.get("NETCDF_DIM_EXTRA", "").strip("{} ")
    if not extra:
        return None
    name = extra.split(",")[0].strip()
    values = [v.strip() for v in tags.get(f"NETCDF_DIM_{name}_VALUES", "").strip("{} ").split(",") if v.strip()]
    return name, values


def _netcdf_geographic(tags: dict[str, str]) -> bool:
    keys = [k.lower() for k in tags]
    return any(k.startswith(_LAT_KEYS) for k in keys) and any(k.startswith(_LON_KEYS) for k in keys)


def _select_time(label: str, extra: tuple[str, list[str]] | None, time: str, count: int) -> int:
    if extra is None or not extra[1]:
        raise RasterError(f"{label}: --time {time} given but the file has no time (extra) dimension; use --band N")
    name, values = extra
    for index, value in enumerate(values, start=1):
        try:
            same = value == str(time) or float(value) == float(time)
        except ValueError:
            same = False
        if same:
            return index
    shown = ", ".join(values[:6]) + (" ..." if len(values) > 6 else "")
    raise RasterError(f"{label}: no {name} step equals {time!r}; the {count} steps are {shown} (give one of them, "
                      "or --band N)")


def inspect_raster(
    path: str | os.PathLike[str],
    *,
    role: str = "any",
    label: str | None = None,
    band: int | None = None,
    time: str | None = None,
    variable: str | None = None,
    expected_bands: int | None = None,
    single_band: bool = False,
    require_crs: bool = True,
    mode: str | None = "whole",
    band_hint: str = DEFAULT_BAND_HINT,
    size_hint: str = "",
) -> RasterHeader:
    """Check a raster's header before any pixel is read (see the module docstring).

    Args:
        path: the file (GeoTIFF, NetCDF, any GDAL raster).
        role: what the layer is (:data:`RULES`, :data:`ROLE_ALIASES`); only used for the default label.
        label: how messages name the file (default :func:`default_label`).
        band: 1-based band to read. time: NetCDF time (extra dimension) value to read instead.
        variable: NetCDF variable of a file that holds several.
        expected_bands: band count the role needs (7 for DMO); a mismatch raises.
        single_band: the caller reads one band: a file with several (a NetCDF cube, an RGB image) needs
            ``band`` or ``time``.
        require_crs: refuse a file without a CRS.
        mode: size limit to apply (:func:`deeplight.io.limits.check_pixel_count`), None for none.
        band_hint: how the user picks a band in this command (for the multi-band message).
        size_hint: extra advice for the size message.

    Returns:
        :class:`RasterHeader`.

    Raises:
        RasterError: missing, unreadable, complex, no CRS/geotransform, wrong or ambiguous bands, too large.
    """
    path = Path(os.fspath(path))
    label = label or default_label(path, role)
    open_path = str(path)
    if variable:
        open_path = f'NETCDF:"{path}":{variable}'
    if not path.exists():
        raise RasterError(f"{label}: file not found; check the path")
    if path.is_dir():
        raise RasterError(f"{label}: is a folder, not a raster file; give a GeoTIFF path")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # "no geotransform" NotGeoreferencedWarning: checked below
            src = rasterio.open(open_path)
    except (RasterioIOError, RasterioError, OSError, ValueError) as exc:
        if variable:
            raise RasterError(f"{label}: has no variable {variable!r} that GDAL can read ({exc})") from None
        raise _open_failure(path, label, exc) from None
    with src:
        driver, count = src.driver, src.count
        if count == 0 and src.subdatasets:
            names = [s.rsplit(":", 1)[-1] for s in src.subdatasets]
            raise RasterError(
                f"{label}: holds {len(names)} variables ({', '.join(names[:8])}); choose one (data info "
                f"--variable NAME), or extract it first, e.g. "
                f"gdal_translate NETCDF:\"{path.name}\":{names[0]} out.tif"
            )
        if count == 0:
            raise RasterError(f"{label}: has no raster band; give a GeoTIFF with pixels")
        dtypes = set(src.dtypes)
        tags = src.tags()
        crs = src.crs
        transform = src.transform
        nodata = src.nodata
        descriptions = [d or "" for d in src.descriptions]
        width, height = src.width, src.height
    dtype = sorted(dtypes)[0]
    if any("complex" in d for d in dtypes):
        raise RasterError(
            f"{label}: holds complex-valued pixels ({dtype}); night-light, reflectance and elevation are real "
            "numbers and the imaginary part would be lost: convert it first (e.g. its magnitude, or "
            "gdal_translate -ot Float32 for the real part)"
        )
    is_netcdf = driver in NETCDF_DRIVERS or path.suffix.lower() in (".nc", ".nc4", ".netcdf")
    extra = _netcdf_extra_dim(tags) if is_netcdf else None
    crs_note = None
    if crs is None and is_netcdf and _netcdf_geographic(tags):
        crs = CRS.from_epsg(4326)
        crs_note = "EPSG:4326 (CF lat/lon coordinates without a grid mapping)"
    if crs is None and require_crs:
        raise RasterError(
            f"{label}: has no CRS: assign one (georeference it, e.g. gdal_edit.py -a_srs EPSG:4326 FILE) so it "
            "can be placed on the map"
        )
    if transform.is_identity and (crs is None or is_netcdf or require_crs):
        raise RasterError(
            f"{label}: has no geotransform (pixel size and corner); georeference it first (e.g. gdal_edit.py "
            "-a_ullr ULX ULY LRX LRY FILE)"
        )
    if transform.b != 0 or transform.d != 0:
        raise RasterError(f"{label}: is a rotated grid (transform {tuple(transform)[:6]}); warp it north-up first "
                          "(gdalwarp)")
    if expected_bands is not None and count != expected_bands:
        raise RasterError(
            f"{label}: has {count} band(s) but this modality needs {expected_bands}; give the right file or "
            "stack the bands into one GeoTIFF"
        )
    if time is not None and band is not None:
        raise RasterError(f"{label}: give either a band or a time step, not both")
    if time is not None:
        band = _select_time(label, extra, str(time), count)
    if band is not None:
        if not 1 <= band <= count:
            what = f"{extra[0]} steps" if extra else "band(s)"
            raise RasterError(f"{label}: band {band} requested but the file has {count} {what} (1..{count})")
        bands = [band]
    elif single_band and count > 1:
        if extra is not None:
            name, values = extra
            shown = f" ({name} = {values[0]} .. {values[-1]})" if values else ""
            raise RasterError(
                f"{label}: is a NetCDF cube with {count} {name} steps{shown}; reading only the first one would "
                f"be wrong: {band_hint}"
            )
        picture = " (a 3-band RGB image, e.g. a photo or a rendered map, is not a night-light raster)" if count in (
            3, 4) else ""
        raise RasterError(
            f"{label}: has {count} bands but a single-band raster is expected{picture}: give a single-band "
            f"GeoTIFF ({band_hint})"
        )
    else:
        bands = list(range(1, count + 1))
    if mode is not None:
        check_pixel_count(label, width, height, len(bands), mode=mode, hint=size_hint)
    return RasterHeader(
        path=path, label=label, open_path=open_path, driver=driver, width=width, height=height, count=count,
        dtype=dtype, crs=crs, transform=transform, nodata=nodata, tags=tags, descriptions=descriptions,
        bands=bands, crs_note=crs_note, variable=variable, extra_dim=extra,
    )


# -------------------------------------------------------------------------------------- the values
@dataclass
class ValueStats:
    """Counts and extremes of a layer's values, accumulated block by block.

    ``low``/``high`` are the bounds of the role's rule (counted as ``below``/``above``);
    ``noise`` counts radiance values in [noise floor, 0) (clipped to 0).
    """

    low: float | None = None
    high: float | None = None
    radiance: bool = False
    total: int = 0
    valid: int = 0
    infinite: int = 0
    first_infinite: tuple[int, int] | None = None
    below: int = 0
    above: int = 0
    noise: int = 0
    vmin: float = np.inf
    vmax: float = -np.inf
    vsum: float = 0.0
    extra: dict = field(default_factory=dict)

    def add(self, block: np.ndarray, row0: int = 0, col0: int = 0) -> None:
        """Count a block (2-D ``(rows, cols)`` or 3-D ``(bands, rows, cols)``) of values, NaN = nodata.

        Reductions that skip NaN, without a copy of the valid values (a 7-band block of 29 M values:
        about 0.2 s with the copy, 2x less without).
        """
        values = np.asarray(block)
        self.total += values.size
        if values.size == 0:
            return
        if values.dtype.kind != "f":
            values = values.astype(np.float64)
        infinite = np.isinf(values)
        n_inf = int(np.count_nonzero(infinite))
        if n_inf:
            if self.first_infinite is None:
                where = np.argwhere(np.atleast_2d(infinite))[0]  # a 1-D block is one row
                self.first_infinite = (int(where[-2]) + row0, int(where[-1]) + col0)
            self.infinite += n_inf
            values = np.where(infinite, np.nan, values)  # rare (and refused): counted as the finite rest
        nodata = np.isnan(values)
        n_nan = int(np.count_nonzero(nodata))
        valid = values.size - n_nan
        if valid == 0:
            return
        self.valid += valid
        self.vmin = min(self.vmin, float(np.fmin.reduce(values, axis=None)))  # fmin / fmax skip NaN
        self.vmax = max(self.vmax, float(np.fmax.reduce(values, axis=None)))
        if n_nan:
            self.vsum += float(np.sum(values, where=~nodata, dtype=np.float64))
        else:
            self.vsum += float(np.sum(values, dtype=np.float64))
        if self.low is not None and self.vmin < self.low:  # NaN compares False: only valid pixels count
            self.below += int(np.count_nonzero(values < self.low))
        if self.high is not None and self.vmax > self.high:
            self.above += int(np.count_nonzero(values > self.high))
        if self.radiance and self.vmin < -NEGATIVE_TOLERANCE:
            self.noise += int(np.count_nonzero((values < -NEGATIVE_TOLERANCE) & (values >= (self.low or 0.0))))

    @property
    def mean(self) -> float | None:
        """Mean of the valid values, None when there is none."""
        return self.vsum / self.valid if self.valid else None


def new_stats(role: str) -> ValueStats:
    """Empty :class:`ValueStats` for the rule of ``role``."""
    _, rule = rule_for(role)
    return ValueStats(low=rule.low, high=rule.high, radiance=rule.radiance)


def judge(stats: ValueStats, role: str, label: str, *, allow_all_nodata: bool = False,
          where: str = "") -> list[str]:
    """Refuse values the role does not allow; return warnings for what is tolerated (clipped noise).

    Args:
        stats: the accumulated values.
        role: the layer's role (:func:`rule_for`).
        label: how messages name the file.
        allow_all_nodata: accept a layer without a valid value.
        where: appended to the all-nodata message (e.g. " in the window around the regions").

    Raises:
        RasterError: non-finite values, no valid value, values outside the role's range; the message names
            the file, counts the pixels and says what is expected.
    """
    name, rule = rule_for(role)
    if stats.infinite:
        row, col = stats.first_infinite or (0, 0)
        raise RasterError(
            f"{label}: {stats.infinite} pixel(s) are infinite (+inf or -inf; the first at row {row}, column "
            f"{col}); DeepLight refuses non-finite values rather than guessing: set them to the nodata value "
            "(or NaN), or fix the file"
        )
    if stats.valid == 0:
        if allow_all_nodata:
            return []
        raise RasterError(
            f"{label}: every pixel is nodata{where} ({stats.total} pixels, none valid); the raster holds no data: "
            "check the file, its nodata value, or the region it was cut to"
        )
    if rule.radiance:
        if stats.below:
            raise RasterError(
                f"{label}: {stats.below} pixel(s) have negative radiance below {rule.low:g} nW/cm2/sr (minimum "
                f"{stats.vmin:.4g}); radiance cannot be negative: give radiance in nW/cm2/sr (only background noise "
                f"between {rule.low:g} and 0 is tolerated, clipped to 0), or mark those pixels as nodata"
            )
        if stats.above:
            raise RasterError(
                f"{label}: {stats.above} pixel(s) exceed {rule.high:g} nW/cm2/sr (maximum {stats.vmax:.4g}); that "
                "is not night-time light radiance: check the units, the scale factor and the nodata value"
            )
        if stats.noise > NOISE_MAX_SHARE * stats.valid:
            raise RasterError(
                f"{label}: {stats.noise} of its {stats.valid} valid pixels have negative radiance (minimum "
                f"{stats.vmin:.4g}); background noise leaves only some pixels slightly below 0, so this is not "
                "radiance in nW/cm2/sr: check the units, the offset and the band"
            )
        if stats.noise:
            return [f"{label}: {stats.noise} pixel(s) have small negative radiance (down to {stats.vmin:.3g} "
                    "nW/cm2/sr, background noise of the composite): clipped to 0"]
        return []
    if stats.below or stats.above:
        low = "-inf" if rule.low is None else f"{rule.low:g}"
        high = "+inf" if rule.high is None else f"{rule.high:g}"
        raise RasterError(
            f"{label}: {name} values span {stats.vmin:.4g}..{stats.vmax:.4g}, outside {low}..{high} "
            f"({stats.below + stats.above} pixel(s)); expected {rule.expected}"
        )
    return []


def check_values(
    values: np.ndarray, role: str, label: str, *, allow_all_nodata: bool = False, where: str = ""
) -> tuple[np.ndarray, list[str]]:
    """Judge an array in memory (:func:`judge`) and apply what is tolerated.

    Returns:
        ``(values, warnings)``: for radiance the small negatives are clipped to 0 (a copy), else the
        same array.
    """
    stats = new_stats(role)
    stats.add(values)
    notes = judge(stats, role, label, allow_all_nodata=allow_all_nodata, where=where)
    if stats.radiance and stats.noise:
        values = np.where(np.isfinite(values) & (values < 0), 0, values).astype(np.asarray(values).dtype)
    return values, notes


def scan_raster(
    src: rasterio.io.DatasetReader, header: RasterHeader, role: str, *, rows_per_read: int = 512,
    convert=None, window: Window | None = None, max_values: int | None = None,
) -> ValueStats:
    """Accumulate :class:`ValueStats` of the header's bands, reading blocks of rows (bounded memory).

    Args:
        src: the open dataset of ``header``.
        convert: optional function applied to each block before counting (e.g. units).
        window: only this part of the raster (default: all of it).
        max_values: read at most about this many values (bands x pixels): when the window holds more,
            only evenly spaced blocks of rows (the first and last among them) are read, and
            ``stats.extra["sampled"]`` is ``(rows read, rows of the window)``. For callers that check
            every value they use later anyway, and want wrong units or scales refused before any work.
    """
    stats = new_stats(role)
    col0, row0 = (int(window.col_off), int(window.row_off)) if window is not None else (0, 0)
    width = int(window.width) if window is not None else header.width
    height = int(window.height) if window is not None else header.height
    starts = list(range(row0, row0 + height, rows_per_read))
    if max_values is not None and len(header.bands) * width * height > max_values and len(starts) > 1:
        keep = max(1, max_values // max(1, len(header.bands) * width * rows_per_read))
        picked = sorted({round(float(i)) for i in np.linspace(0, len(starts) - 1, min(keep, len(starts)))})
        if len(picked) < len(starts):
            starts = [starts[i] for i in picked]
            read = sum(min(rows_per_read, row0 + height - r) for r in starts)
            stats.extra["sampled"] = (read, height)
    for row in starts:
        window_rows = Window(col0, row, width, min(rows_per_read, row0 + height - row))
        try:
            block = src.read(header.bands, window=window_rows, masked=True)
        except (RasterioIOError, RasterioError, OSError) as exc:
            raise unreadable_pixels(header.label, exc) from None
        values = np.ma.filled(block.astype(np.float32), np.nan)
        if convert is not None:
            values = convert(values)
        stats.add(values, row0=row, col0=col0)
    return stats


def window_over(header: RasterHeader, crs: CRS, bounds: tuple[float, float, float, float]) -> Window:
    """The pixel window of ``header``'s raster that covers ``bounds`` (in ``crs``), plus one pixel, clipped
    to the raster: the part an auxiliary layer contributes to a target grid."""
    from rasterio.windows import from_bounds

    inside = transform_bounds(crs, header.crs, *bounds, densify_pts=21) if header.crs != crs else bounds
    window = from_bounds(*inside, transform=header.transform)
    col0 = max(int(np.floor(window.col_off)) - 1, 0)
    row0 = max(int(np.floor(window.row_off)) - 1, 0)
    col1 = min(int(np.ceil(window.col_off + window.width)) + 1, header.width)
    row1 = min(int(np.ceil(window.row_off + window.height)) + 1, header.height)
    return Window(col0, row0, max(col1 - col0, 0), max(row1 - row0, 0))


def emit(notes: Iterable[str]) -> None:
    """Issue each tolerated-value note as a warning (the CLI prints it as ``deeplight: warning: ...``)."""
    for note in notes:
        warnings.warn(note, UserWarning, stacklevel=3)


def check_overlap(
    header: RasterHeader, target_crs: CRS, target_bounds: tuple[float, float, float, float], target_label: str
) -> None:
    """Refuse an auxiliary layer that does not overlap the target grid at all.

    Raises:
        RasterError: naming both files and their bounds in the target's CRS.
    """
    if header.crs is None:
        raise RasterError(f"{header.label}: has no CRS, so it cannot be placed on {target_label}")
    try:
        bounds = transform_bounds(header.crs, target_crs, *header.bounds, densify_pts=21)
    except (RasterioError, ValueError) as exc:
        raise RasterError(
            f"{header.label}: its bounds cannot be moved into the CRS of {target_label} ({exc})"
        ) from None
    if not (bounds[0] < target_bounds[2] and target_bounds[0] < bounds[2]
            and bounds[1] < target_bounds[3] and target_bounds[1] < bounds[3]):
        shown = tuple(round(v, 6) for v in bounds)
        target = tuple(round(v, 6) for v in target_bounds)
        raise RasterError(
            f"{header.label}: does not overlap {target_label} (bounds {shown} vs {target} in the CRS of "
            f"{target_label}): give a layer that covers the same area, or leave it out"
        )
