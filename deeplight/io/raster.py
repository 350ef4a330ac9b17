"""Reading single GeoTIFF-like rasters into georeferenced ``xarray.DataArray`` objects.

Any single-band night-time light GeoTIFF (VIIRS, DMSP, Luojia, SDGSAT), multi-band reflectance, DEM
or class map is read the same way: float32, nodata turned into NaN, CRS and transform kept (rioxarray
``.rio`` accessor), the file's tags kept in ``attrs``. Every failure is a :class:`RasterError` that
names the file and says what to do.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import rasterio
from rasterio.errors import RasterioError, RasterioIOError

from deeplight.errors import RasterError
from deeplight.io.validation import check_values, emit, inspect_raster, unreadable_pixels

if TYPE_CHECKING:
    import xarray as xr

PathLike = str | os.PathLike[str]


def _open(path: Path):
    """``rasterio.open(path)``, its failure described (missing file, not a raster, ...)."""
    try:
        return rasterio.open(path)
    except (RasterioIOError, RasterioError, OSError) as exc:
        raise _describe_open_failure(path, exc) from None


def _describe_open_failure(path: Path, exc: Exception) -> RasterError:
    if not path.exists():
        return RasterError(f"{path}: file not found; check the path")
    if path.is_dir():
        return RasterError(f"{path}: is a folder, not a raster file; give a GeoTIFF path")
    return RasterError(f"{path}: not a readable raster ({exc}); give a GeoTIFF (or another GDAL raster) file")


def read_raster(
    path: PathLike,
    *,
    band: int | None = None,
    expected_bands: int | None = None,
    require_crs: bool = True,
    allow_all_nodata: bool = False,
    role: str = "any",
    label: str | None = None,
    single_band: bool = False,
    time: str | None = None,
    variable: str | None = None,
    notes: list[str] | None = None,
) -> xr.DataArray:
    """Read a raster file into a float32 DataArray with NaN for nodata, after the shared checks.

    The header goes through :func:`deeplight.io.validation.inspect_raster` (exists, readable, real
    pixels, CRS, bands, declared size within ``DEEPLIGHT_MAX_PIXELS``) and the values through
    :func:`deeplight.io.validation.check_values` (no +-inf, not all nodata, the role's range), so the
    command line and the dashboard refuse the same files with the same messages.

    Args:
        path: GeoTIFF, NetCDF (GDAL) or any GDAL raster file.
        band: 1-based band to read; the result is then 2-D ``(y, x)``.
        expected_bands: band count the caller's modality needs (e.g. 7 for DMO); a mismatch
            raises.
        require_crs: raise when the file has no CRS (default). Turn off only for files whose
            georeferencing the caller supplies itself.
        allow_all_nodata: accept a raster with no valid pixel (default: raise).
        role: what the layer is (``hr``, ``lr``, ``lr_radiance``, ``dmo``, ``dem``, ``isp``,
            ``population`` or ``any``): picks the value rules; small negative radiance is clipped to 0.
        label: how messages name the file (default: its path).
        single_band: refuse a multi-band file (a NetCDF cube, an RGB image) unless ``band``/``time``.
        time: NetCDF time step (value of the extra dimension) to read instead of ``band``.
        variable: NetCDF variable of a file holding several.
        notes: when given, tolerated-value notes are appended to it instead of being issued as warnings.

    Returns:
        ``(y, x)`` when one band is read, else ``(band, y, x)``; float32,
        nodata as NaN; ``.rio.crs``/``.rio.transform()`` set; ``attrs`` holds the file tags,
        ``source_path``, ``source_nodata`` (the value on disk, or None) and ``source_dtype``.

    Raises:
        RasterError: file missing, not a raster, truncated/corrupt, complex, no CRS, wrong band count,
            band out of range, too large, infinite values, values outside the role's range, or every
            pixel is nodata.
    """
    path = Path(path)
    label = label or str(path)
    header = inspect_raster(
        path, role=role, label=label, band=band, time=time, variable=variable, expected_bands=expected_bands,
        single_band=single_band, require_crs=require_crs, mode="whole",
    )
    indexes = header.bands
    try:
        with header.open() as src:
            data = src.read(indexes, masked=True)
    except (RasterioIOError, RasterioError, OSError) as exc:
        raise unreadable_pixels(label, exc) from None
    array = np.ma.filled(data.astype(np.float32), np.nan)
    array, found = check_values(array, role, label, allow_all_nodata=allow_all_nodata)
    if notes is not None:
        notes.extend(found)
    else:
        emit(found)
    source_nodata = header.nodata
    transform = header.transform
    crs = header.crs
    height, width = header.height, header.width
    import rioxarray  # noqa: F401  (registers the .rio accessor; imported here, not at start-up)
    import xarray as xr

    xs = transform.c + transform.a * (np.arange(width) + 0.5)
    ys = transform.f + transform.e * (np.arange(height) + 0.5)
    if len(indexes) == 1:
        da = xr.DataArray(array[0], dims=("y", "x"), coords={"y": ys, "x": xs})
    else:
        da = xr.DataArray(array, dims=("band", "y", "x"), coords={"band": indexes, "y": ys, "x": xs})
    da.attrs.update(header.tags)
    da.attrs["source_path"] = str(path)
    da.attrs["source_nodata"] = source_nodata
    da.attrs["source_dtype"] = header.dtype
    if header.crs_note:
        da.attrs["crs_note"] = header.crs_note
    if any(header.descriptions):
        da.attrs["band_descriptions"] = list(header.descriptions)
    if crs is not None:
        da = da.rio.write_crs(crs)
    da = da.rio.write_transform(transform)
    da = da.rio.write_nodata(np.nan, encoded=False)
    return da


def read_window(
    path: PathLike,
    window: "rasterio.windows.Window | None" = None,
    *,
    band: int | None = None,
    fill: float = np.nan,
    dtype: "np.typing.DTypeLike" = np.float32,
) -> np.ndarray:
    """Pixels of one window of a raster file, nodata (masked) pixels set to ``fill``.

    The path-level face of the package's one window reader, :func:`read_dataset_window` (training
    datasets, the real corpus, evaluation, :meth:`deeplight.io.scene.Scene.read`): it opens the file,
    checks the window and reads it.

    Args:
        path: the raster file.
        window: a rasterio ``Window`` (None: the whole raster); it must lie inside the raster.
        band: a 1-based band (returns ``(h, w)``), or None for every band (``(bands, h, w)``).
        fill: value of nodata pixels.
        dtype: output dtype (a float type).

    Raises:
        RasterError: the file cannot be opened or its pixels cannot be read (named, with what to do).
    """
    path = Path(path)
    with _open(path) as src:
        if window is not None and not (
            window.col_off >= 0 and window.row_off >= 0
            and window.col_off + window.width <= src.width and window.row_off + window.height <= src.height
        ):  # rasterio would clip it silently and return fewer pixels than asked
            raise RasterError(f"{path}: window {window} is outside the raster ({src.height}x{src.width} pixels)")
        try:
            data = read_dataset_window(src, window, [band] if band else None, dtype=dtype, fill=fill)
        except (RasterioError, OSError, ValueError) as exc:
            raise unreadable_pixels(str(path), exc) from None
    return data[0] if band else data


def nodata_only_masks(src: "rasterio.io.DatasetReader", indexes: "list[int] | tuple[int, ...]") -> bool:
    """Whether the masks of ``indexes`` come from the nodata value alone (or mark every pixel valid).

    Then :func:`read_dataset_window` gives exactly what a masked read filled with NaN gives, without
    GDAL's mask bands (which decode every block once per band again: a 7-band pixel-interleaved DMO
    window read 7-30x slower masked than plain, measured on this machine).
    """
    from rasterio.enums import MaskFlags

    for index in indexes:
        flags = set(src.mask_flag_enums[index - 1])
        if not (flags <= {MaskFlags.nodata} or flags == {MaskFlags.all_valid}):
            return False  # an internal mask, an alpha band or a per-dataset mask: GDAL must apply it
    return True


def read_dataset_window(
    src: "rasterio.io.DatasetReader",
    window: "rasterio.windows.Window | None" = None,
    indexes: "list[int] | tuple[int, ...] | None" = None,
    *,
    dtype: "np.typing.DTypeLike" = np.float32,
    fill: float = np.nan,
) -> np.ndarray:
    """``(bands, h, w)`` pixels of ``window`` of an open dataset as ``dtype``, ``fill`` where masked.

    THE window reader of the package: :func:`read_window` (a path), the tiled inference's source
    (:mod:`deeplight.infer.raster_source`) and :func:`deeplight.io.georaster.read_georaster` read
    pixels through it. Equal to ``src.read(indexes, window=window, masked=True).astype(dtype)
    .filled(fill)`` (tested), but when the masks come from the nodata value alone
    (:func:`nodata_only_masks`) it reads the pixels once and compares them with the nodata value in
    their own dtype, as GDAL's nodata mask does. The window must lie inside the raster (the caller
    clips it).

    Args:
        src: an open rasterio dataset.
        window: the pixels to read (None: all of them).
        indexes: 1-based bands (None: every band).
        dtype: output dtype (a float type; float32 by default).
        fill: value of masked pixels (NaN by default).
    """
    indexes = list(indexes) if indexes is not None else list(src.indexes)
    if not nodata_only_masks(src, indexes):
        data = src.read(indexes, window=window, masked=True)
        return np.ma.filled(data.astype(dtype), fill)
    raw = src.read(indexes, window=window)
    nodata = src.nodata
    if nodata is None:
        return raw.astype(dtype, copy=False)
    if np.issubdtype(raw.dtype, np.floating) and np.isnan(nodata):
        out = raw.astype(dtype, copy=False)
        if not np.isnan(fill):
            out[np.isnan(out)] = fill
        return out
    if np.issubdtype(raw.dtype, np.integer):
        info = np.iinfo(raw.dtype)
        if not (info.min <= nodata <= info.max) or float(nodata) != int(nodata):
            return raw.astype(dtype, copy=False)  # no pixel can equal it
        invalid = raw == raw.dtype.type(nodata)
    else:  # GDAL's ARE_REAL_EQUAL: equal, or within 2 float32 epsilons of the pair's magnitude
        value = raw.dtype.type(nodata)
        invalid = (raw == value) | (
            np.abs(raw - value) < np.finfo(np.float32).eps * np.abs(raw + value) * 2
        )
    out = raw.astype(dtype, copy=False)
    out[invalid] = fill
    return out


def raster_grid(path: PathLike) -> dict:
    """Metadata of a raster without reading pixels (for windowed readers and ``data info``).

    Returns:
        ``{"path", "crs" (WKT or None), "crs_name", "transform" (Affine), "width", "height",
        "count", "dtype", "nodata", "tags", "band_descriptions", "band1_tags", "res" (x, y), "bounds"}``.

    Raises:
        RasterError: the file is missing or not a raster.
    """
    path = Path(path)
    with _open(path) as src:
        return {
            "path": str(path),
            "crs": src.crs.to_wkt() if src.crs else None,
            "crs_name": src.crs.to_string() if src.crs else None,
            "transform": src.transform,
            "width": src.width,
            "height": src.height,
            "count": src.count,
            "dtype": src.dtypes[0],
            "nodata": src.nodata,
            "tags": src.tags(),
            "band_descriptions": list(src.descriptions),
            "band1_tags": src.tags(1) if src.count else {},
            "res": src.res,
            "bounds": tuple(src.bounds),
        }
