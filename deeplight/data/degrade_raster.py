"""Raster-level degradation: an HR radiance GeoTIFF -> a simulated DMSP-like LR GeoTIFF.

The LR grid is the HR grid scaled by 8 (``lr_transform = hr_transform @ Affine.scale(8)``), so both
share their upper-left corner. An HR raster whose size is not a multiple of 8 is cropped at the
bottom/right (the LR covers the whole 8x8 blocks only; the crop is recorded in the tags). Optional
auxiliary layers (DMO, DEM, ISP) are warped onto the (cropped) HR grid and written beside the LR
output, with the cropped HR, so the output folder is a ready scene for
:func:`deeplight.io.open_scene`.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import xarray as xr
from affine import Affine

from deeplight import __version__
from deeplight.data.degrade import DegradationInfo, DegradationParams, degrade_dmsp_like
from deeplight.errors import RasterError
from deeplight.io.cog import write_cog
from deeplight.io.modalities import DMO_BAND_NAMES, MODALITIES
from deeplight.io.raster import read_raster
from deeplight.io.reproject import reproject_to
from deeplight.io.validation import check_overlap, inspect_raster
from deeplight.io.value_ranges import check_value_range

PathLike = str | os.PathLike[str]


@dataclass
class DegradedRaster:
    """Result of :func:`degrade_raster`.

    Attributes:
        lr_path: the written LR GeoTIFF.
        info: what the degradation drew (drift, shift, rotation) and its noise-free LR radiance.
        lr_transform: LR affine transform (= HR transform scaled by 8).
        hr_transform: HR affine transform (unchanged by the crop: the origin is kept).
        crop: (rows, cols) of HR kept.
        written: every file written, by modality.
    """

    lr_path: Path
    info: DegradationInfo
    lr_transform: Affine
    hr_transform: Affine
    crop: tuple[int, int]
    written: dict[str, Path]


def _same(a: PathLike, b: PathLike) -> bool:
    try:
        return Path(a).resolve() == Path(b).resolve()
    except OSError:
        return False


def degrade_raster(
    hr_path: PathLike,
    out_path: PathLike,
    *,
    params: DegradationParams | None = None,
    seed: int = 0,
    dmo: PathLike | None = None,
    dem: PathLike | None = None,
    isp: PathLike | None = None,
) -> DegradedRaster:
    """Degrade a real (or synthetic) HR radiance raster into a simulated DMSP-like LR raster.

    Args:
        hr_path: single-band radiance GeoTIFF (nW/cm^2/sr), with CRS.
        out_path: LR GeoTIFF to write (DN, tag ``simulated=true``). When aux layers are given,
            ``hr.tif`` and ``dmo.tif``/``dem.tif``/``isp.tif`` are written in the same folder.
        params: degradation parameters (default: realistic preset).
        seed: seed of the random draws.
        dmo, dem, isp: optional auxiliary rasters in any CRS/grid.

    Returns:
        A :class:`DegradedRaster`.

    Raises:
        RasterError: unreadable input, no CRS, too small, wrong band count, aux not overlapping,
            values the shared validator refuses (:mod:`deeplight.io.validation`: +-inf, all nodata,
            radiance below -2 or above 1e6 nW/cm2/sr; noise between -2 and 0 is clipped to 0 with a
            warning), or an output that would overwrite an input. Nothing is written on error (every check
            and computation happens before the first write; each write is atomic).
    """
    params = params or DegradationParams()
    out_path = Path(out_path)
    inputs = {"hr": hr_path, "dmo": dmo, "dem": dem, "isp": isp}
    given = {k: v for k, v in inputs.items() if v is not None}
    outputs: dict[str, Path] = {"lr": out_path}
    if len(given) > 1:
        for name in given:
            outputs[name] = out_path.parent / f"{name}.tif"
    for out_name, out_file in outputs.items():
        for in_name, in_file in given.items():
            if _same(out_file, in_file):
                raise RasterError(
                    f"{out_file}: output {out_name} would overwrite input {in_name}; choose another "
                    "--out folder"
                )
    hr = read_raster(hr_path, expected_bands=1, role="hr", label=f"HR raster {hr_path}")
    s = params.scale
    rows, cols = (hr.shape[0] // s) * s, (hr.shape[1] // s) * s
    if rows == 0 or cols == 0:
        raise RasterError(
            f"{hr_path}: {hr.shape[0]}x{hr.shape[1]} pixels is smaller than one {s}x{s} LR pixel"
        )
    hr = hr.isel(y=slice(0, rows), x=slice(0, cols))
    hr_values = np.asarray(hr.values, dtype=np.float32)
    if not np.isfinite(hr_values).any():
        raise RasterError(f"{hr_path}: no valid pixel in the part that fits whole {s}x{s} blocks")
    # negative radiance below the noise floor was refused by read_raster; noise down to -2 is clipped to 0
    hr_transform = hr.rio.transform(recalc=False)
    lr_transform = hr_transform @ Affine.scale(s)
    crs = hr.rio.crs
    hr_bounds = tuple(hr.rio.bounds())
    aux_arrays: dict[str, xr.DataArray] = {}
    for name in ("dmo", "dem", "isp"):
        if inputs[name] is None:
            continue
        label = f"{name.upper()} raster {inputs[name]}"
        header = inspect_raster(inputs[name], role=name, label=label, expected_bands=MODALITIES[name].bands)
        check_overlap(header, crs, hr_bounds, f"the HR raster {hr_path}")
        da = read_raster(inputs[name], expected_bands=MODALITIES[name].bands, role=name, label=label)
        check_value_range(name, da.values, str(inputs[name]))
        aux_arrays[name] = reproject_to(da, hr, name)
    lr, info = degrade_dmsp_like(hr_values, params, seed)
    provenance = (
        f"deeplight {__version__} degrade_dmsp_like(preset={params.preset}, seed={seed}) "
        f"from {Path(hr_path).name}; HR cropped to {rows}x{cols}"
    )
    tags = {
        "units": MODALITIES["lr"].units,
        "modality": "lr",
        "provenance": provenance,
        "source_hr": str(hr_path),
        "hr_crop_rows_cols": f"{rows},{cols}",
        **info.to_tags(),
    }
    written = {"lr": write_cog(lr, out_path, crs=crs, transform=lr_transform, nodata=np.nan, tags=tags)}
    if aux_arrays:
        hr_tags = {
            "units": MODALITIES["hr"].units,
            "modality": "hr",
            "simulated": "false",
            "provenance": f"{Path(hr_path).name} cropped to {rows}x{cols} (whole 8x8 blocks)",
        }
        hr_tags.update({k: v for k, v in hr.attrs.items() if k in ("simulated",) and v == "true"})
        written["hr"] = write_cog(hr_values, outputs["hr"], crs=crs, transform=hr_transform, tags=hr_tags)
        for name, da in aux_arrays.items():
            tags_aux = {
                "units": MODALITIES[name].units,
                "modality": name,
                "simulated": str(da.attrs.get("simulated", "false")),
                "provenance": f"{Path(inputs[name]).name} warped onto the HR grid "
                f"({da.attrs.get('resampling')})",
            }
            written[name] = write_cog(
                da.values,
                outputs[name],
                crs=crs,
                transform=hr_transform,
                tags=tags_aux,
                band_descriptions=DMO_BAND_NAMES if name == "dmo" else None,
            )
    return DegradedRaster(
        lr_path=out_path,
        info=info,
        lr_transform=lr_transform,
        hr_transform=hr_transform,
        crop=(rows, cols),
        written=written,
    )
