"""A georeferenced multi-modal scene as one ``xarray.Dataset`` (the data model of DeepLight).

Layout of the Dataset returned by :func:`load_scene` and :func:`build_scene`:

========== ====================== ==========================================================
variable   dims                   meaning (units)
========== ====================== ==========================================================
``lr``     ``(y_lr, x_lr)``        DMSP-like DN 0..63 on the LR grid (float32, NaN nodata)
``hr``     ``(y, x)``              radiance, nW/cm^2/sr, HR grid 8x finer
``dmo``    ``(band, y, x)``        Landsat-8 SR bands 1-7, reflectance 0..1
``dem``    ``(y, x)``              elevation, m
``isp``    ``(y, x)``              impervious fraction 0..1
``present````(modality,)``         1/0 for ``hr, dmo, dem, isp`` (absent ones are not stored)
========== ====================== ==========================================================

Attributes: ``crs`` (WKT), ``lr_transform`` and ``hr_transform`` (6 affine coefficients
``a, b, c, d, e, f``), ``scale`` (8), ``simulated_lr`` ("true"/"false"), ``sources``. The HR grid
shares the LR grid's corners: ``hr_transform = lr_transform @ Affine.scale(1/8)``
(docs/CONTRACTS.md). :func:`scene_layer` returns any variable as a rioxarray-ready DataArray.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping

import numpy as np
import xarray as xr
from affine import Affine
from rasterio.crs import CRS

from deeplight.contracts import SCALE, radiance_to_nominal_dn, tag_is_true
from deeplight.errors import RasterError
from deeplight.io.modalities import MODALITIES, SCENE_MODALITIES
from deeplight.io.raster import read_raster
from deeplight.io.reproject import reproject_to
from deeplight.io.value_ranges import check_value_range

Layer = str | os.PathLike[str] | xr.DataArray


def hr_transform_from_lr(lr_transform: Affine, scale: int = SCALE) -> Affine:
    """HR transform of the grid ``scale`` times finer sharing the LR grid's corners."""
    return lr_transform @ Affine.scale(1.0 / scale)


def lr_transform_from_hr(hr_transform: Affine, scale: int = SCALE) -> Affine:
    """LR transform of the grid ``scale`` times coarser sharing the HR grid's corners."""
    return hr_transform @ Affine.scale(scale)


def _close(a: Affine, b: Affine, pixel: float) -> bool:
    tol = 1e-6 * max(abs(pixel), 1e-12)
    return all(
        abs(x - y) <= tol * (1 if i in (0, 1, 3, 4) else 1e3)
        for i, (x, y) in enumerate(zip(tuple(a)[:6], tuple(b)[:6]))
    )


def check_lr_hr_grids(
    lr_crs: CRS,
    lr_transform: Affine,
    lr_shape: tuple[int, int],
    hr_crs: CRS,
    hr_transform: Affine,
    hr_shape: tuple[int, int],
    *,
    lr_name: str = "LR",
    hr_name: str = "HR",
    scale: int = SCALE,
) -> None:
    """Check that HR is exactly ``scale`` times finer than LR and shares its corners.

    Raises:
        RasterError: different CRS, shape not ``scale`` x, or misaligned transform; the message
            names both rasters and the numbers that disagree.
    """
    if CRS.from_user_input(lr_crs) != CRS.from_user_input(hr_crs):
        raise RasterError(
            f"LR/HR pair is not on one CRS: {lr_name} has {lr_crs}, {hr_name} has "
            f"{hr_crs}; reproject one onto the other first"
        )
    want = (lr_shape[0] * scale, lr_shape[1] * scale)
    if tuple(hr_shape) != want:
        raise RasterError(
            f"LR/HR pair is not {scale}x: {lr_name} is {lr_shape[0]}x{lr_shape[1]} pixels, so "
            f"{hr_name} must be {want[0]}x{want[1]} but is {hr_shape[0]}x{hr_shape[1]}"
        )
    expected = hr_transform_from_lr(lr_transform, scale)
    if not _close(expected, hr_transform, hr_transform.a):
        raise RasterError(
            f"LR/HR pair is not {scale}x aligned: {hr_name} transform {tuple(hr_transform)[:6]} should "
            f"be {lr_name} transform scaled by 1/{scale} = {tuple(expected)[:6]}"
        )


def _coords(transform: Affine, height: int, width: int) -> tuple[np.ndarray, np.ndarray]:
    xs = transform.c + transform.a * (np.arange(width) + 0.5)
    ys = transform.f + transform.e * (np.arange(height) + 0.5)
    return ys, xs


def build_scene(
    *,
    lr: np.ndarray,
    crs: CRS | str,
    lr_transform: Affine,
    hr: np.ndarray | None = None,
    dmo: np.ndarray | None = None,
    dem: np.ndarray | None = None,
    isp: np.ndarray | None = None,
    simulated_lr: bool = False,
    sources: Mapping[str, str] | None = None,
    scale: int = SCALE,
) -> xr.Dataset:
    """Assemble a scene Dataset from arrays already on the LR/HR grids.

    Args:
        lr: ``(h, w)`` DN.
        crs: CRS shared by both grids.
        lr_transform: LR affine transform.
        hr: ``(8h, 8w)`` radiance (nW/cm^2/sr) or None.
        dmo: ``(7, 8h, 8w)`` reflectance or None.
        dem: ``(8h, 8w)`` metres or None.
        isp: ``(8h, 8w)`` fraction or None.
        simulated_lr: whether the LR was made by the degradation model.
        sources: where each layer came from (stored in attrs as JSON).

    Raises:
        RasterError: an array has the wrong shape or band count.
    """
    lr = np.asarray(lr, dtype=np.float32)
    if lr.ndim != 2:
        raise RasterError(f"lr must be 2-D (h, w), got shape {lr.shape}")
    h, w = lr.shape
    hr_shape = (h * scale, w * scale)
    hr_tf = hr_transform_from_lr(lr_transform, scale)
    y_lr, x_lr = _coords(lr_transform, h, w)
    y_hr, x_hr = _coords(hr_tf, *hr_shape)
    crs = CRS.from_user_input(crs)
    ds = xr.Dataset(
        coords={"y_lr": y_lr, "x_lr": x_lr, "y": y_hr, "x": x_hr, "modality": list(SCENE_MODALITIES)}
    )
    ds["lr"] = (("y_lr", "x_lr"), lr)
    ds["lr"].attrs["units"] = MODALITIES["lr"].units
    present = []
    for name, array in (("hr", hr), ("dmo", dmo), ("dem", dem), ("isp", isp)):
        if array is None:
            present.append(0)
            continue
        array = np.asarray(array, dtype=np.float32)
        bands = MODALITIES[name].bands
        if name == "dmo":
            if array.ndim != 3 or array.shape[0] != bands:
                raise RasterError(f"dmo must be ({bands}, {hr_shape[0]}, {hr_shape[1]}), got {array.shape}")
            if array.shape[1:] != hr_shape:
                raise RasterError(f"dmo grid {array.shape[1:]} is not the HR grid {hr_shape}")
            ds["dmo"] = (("band", "y", "x"), array)
            ds = ds.assign_coords(band=np.arange(1, bands + 1))
        else:
            if array.shape != hr_shape:
                raise RasterError(
                    f"{name} grid {array.shape} is not the HR grid {hr_shape} (LR {h}x{w} times {scale})"
                )
            ds[name] = (("y", "x"), array)
        ds[name].attrs["units"] = MODALITIES[name].units
        present.append(1)
    ds["present"] = (("modality",), np.asarray(present, dtype=np.int8))
    ds.attrs.update(
        crs=crs.to_wkt(),
        crs_name=crs.to_string(),
        lr_transform=list(tuple(lr_transform)[:6]),
        hr_transform=list(tuple(hr_tf)[:6]),
        scale=scale,
        simulated_lr="true" if simulated_lr else "false",
        sources=json.dumps(dict(sources or {})),
    )
    return ds


def scene_layer(ds: xr.Dataset, name: str) -> xr.DataArray:
    """One scene variable as a DataArray with ``y``/``x`` dims, CRS and transform (rioxarray).

    Raises:
        KeyError: the modality is absent from the scene (check ``ds["present"]``).
    """
    if name not in ds.data_vars:
        raise KeyError(
            f"modality {name!r} is absent from this scene; present: "
            f"{[m for m, p in zip(ds['modality'].values, ds['present'].values) if p]}"
        )
    da = ds[name]
    if name == "lr":
        da = da.rename({"y_lr": "y", "x_lr": "x"})
        transform = Affine(*ds.attrs["lr_transform"])
    else:
        transform = Affine(*ds.attrs["hr_transform"])
    da = da.drop_vars([c for c in da.coords if c not in da.dims])
    da = da.rio.write_crs(ds.attrs["crs"]).rio.write_transform(transform)
    return da.rio.write_nodata(np.nan, encoded=False)


def scene_present(ds: xr.Dataset) -> dict[str, bool]:
    """``{"hr": bool, "dmo": bool, "dem": bool, "isp": bool}`` for a scene Dataset."""
    return {str(m): bool(p) for m, p in zip(ds["modality"].values, ds["present"].values)}


def _read(layer: Layer, modality: str) -> xr.DataArray:
    if isinstance(layer, xr.DataArray):
        return layer
    bands = MODALITIES[modality].bands
    # the shared value rules (deeplight.io.validation); the LR's units are decided by load_scene itself
    return read_raster(layer, expected_bands=bands, role="any" if modality == "lr" else modality)


def _name(layer: Layer, fallback: str) -> str:
    if isinstance(layer, xr.DataArray):
        return str(layer.attrs.get("source_path", fallback))
    return str(layer)


def load_scene(
    lr: Layer,
    *,
    hr: Layer | None = None,
    dmo: Layer | None = None,
    dem: Layer | None = None,
    isp: Layer | None = None,
    lr_units: str = "auto",
) -> xr.Dataset:
    """Read a multi-modal scene: LR plus any of HR, DMO, DEM, ISP, co-registered on one grid.

    The LR grid defines the scene. HR must already be exactly 8x finer and aligned (it is the
    target; resampling it would change what is measured). DMO, DEM and ISP on any other grid or
    CRS are warped onto the HR grid (bilinear for DMO and DEM, average for ISP).

    Args:
        lr: LR raster path or DataArray (DMSP-like DN 0..63, or radiance - see ``lr_units``).
        hr, dmo, dem, isp: optional layers (paths or DataArrays).
        lr_units: ``"dn"``, ``"radiance"`` (converted to nominal DN with
            :func:`deeplight.contracts.radiance_to_nominal_dn`) or ``"auto"`` (radiance when the
            file's ``units`` tag mentions nW, else DN; a DN raster with values above 63 raises).

    Returns:
        Scene Dataset (see the module docstring).

    Raises:
        RasterError: unreadable files, no CRS, wrong band counts, an LR/HR pair that is not 8x,
            an aux layer that does not overlap, LR values out of the DN range.
    """
    lr_da = _read(lr, "lr")
    if lr_da.ndim != 2:
        raise RasterError(f"{_name(lr, 'lr')}: LR must have one band")
    lr_name = _name(lr, "lr")
    lr_crs = lr_da.rio.crs
    lr_tf = lr_da.rio.transform(recalc=False)
    lr_values = np.asarray(lr_da.values, dtype=np.float32)
    units = str(lr_da.attrs.get("units", "")).lower()
    if lr_units not in ("auto", "dn", "radiance"):
        raise ValueError(f"lr_units must be 'auto', 'dn' or 'radiance', got {lr_units!r}")
    as_radiance = lr_units == "radiance" or (lr_units == "auto" and "nw" in units)
    sources = {"lr": lr_name}
    if as_radiance:
        lr_values = radiance_to_nominal_dn(lr_values).astype(np.float32)
        sources["lr_conversion"] = "radiance_to_nominal_dn"
    elif np.nanmax(lr_values) > 63.0 + 1e-3:
        raise RasterError(
            f"{lr_name}: LR values reach {np.nanmax(lr_values):.1f}, above the DMSP DN cap 63; if it "
            "is a radiance raster (e.g. VIIRS), pass lr_units='radiance' (CLI: --lr-units radiance)"
        )
    h, w = lr_values.shape
    hr_tf = hr_transform_from_lr(lr_tf)
    hr_shape = (h * SCALE, w * SCALE)
    hr_template = (
        xr.DataArray(
            np.zeros(hr_shape, dtype=np.float32),
            dims=("y", "x"),
            coords=dict(zip(("y", "x"), _coords(hr_tf, *hr_shape))),
        )
        .rio.write_crs(lr_crs)
        .rio.write_transform(hr_tf)
    )
    arrays: dict[str, np.ndarray | None] = {}
    if hr is not None:
        hr_da = _read(hr, "hr")
        check_lr_hr_grids(
            lr_crs,
            lr_tf,
            (h, w),
            hr_da.rio.crs,
            hr_da.rio.transform(recalc=False),
            hr_da.shape[-2:],
            lr_name=lr_name,
            hr_name=_name(hr, "hr"),
        )
        arrays["hr"] = np.asarray(hr_da.values, dtype=np.float32)
        sources["hr"] = _name(hr, "hr")
    for name, layer in (("dmo", dmo), ("dem", dem), ("isp", isp)):
        if layer is None:
            continue
        da = _read(layer, name)
        check_value_range(name, da.values, _name(layer, name))
        on_grid = (
            da.rio.crs == lr_crs
            and da.shape[-2:] == hr_shape
            and _close(da.rio.transform(recalc=False), hr_tf, hr_tf.a)
        )
        if not on_grid:
            da = reproject_to(da, hr_template, name)
        arrays[name] = np.asarray(da.values, dtype=np.float32)
        sources[name] = _name(layer, name)
    simulated = tag_is_true(lr_da.attrs)
    return build_scene(
        lr=lr_values, crs=lr_crs, lr_transform=lr_tf, simulated_lr=simulated, sources=sources, **arrays
    )
