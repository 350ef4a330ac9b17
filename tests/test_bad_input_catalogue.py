"""The bad-input catalogue (issue 11): every kind of bad input, fed to every command and to the upload page.

Each case asserts that the command ends with exit status 2 and exactly one ``deeplight: error: ...``
line that names the file or field, that no traceback is printed, that nothing is left behind in the
output folder (hidden files included), and that every input file is byte-identical afterwards (SHA-256
of every file under the input folder, before and after). The upload page runs through Streamlit's
AppTest with real bytes in its file uploaders: the message must name the uploaded file, appear at the
top of the page (before the form), and leave no temporary file and no stored upload behind.

Fast by design: tiny rasters made by code in ``tmp_path``, ``deeplight.cli.main(argv)`` in process
(``capsys``), three cases through the console script in a subprocess.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import subprocess
import sys
import tempfile
import zipfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pytest
import rasterio
from affine import Affine

from deeplight.cli import main
from tests.app.conftest import app_env, tiny_home  # noqa: F401 - fixtures of the upload-page cases

UTM50 = "EPSG:32650"
LR_TRANSFORM = Affine(1040.0, 0.0, 500_000.0, 0.0, -1040.0, 3_500_000.0)
HR_TRANSFORM = LR_TRANSFORM @ Affine.scale(1 / 8)
FAR_TRANSFORM = Affine(0.01, 0.0, -70.0, 0.0, -0.01, -30.0)  # Chile, far from UTM 50N


# -- inputs made by code --------------------------------------------------------------------------
def tif(path: Path, array: np.ndarray, *, crs: str | None = UTM50, transform: Affine = HR_TRANSFORM,
        nodata: float | None = None, dtype: str = "float32", tags: dict | None = None) -> Path:
    bands = array[None] if array.ndim == 2 else array
    profile = dict(driver="GTiff", height=bands.shape[1], width=bands.shape[2], count=bands.shape[0], dtype=dtype,
                   transform=transform, nodata=nodata)
    if crs is not None:
        profile["crs"] = crs
    with rasterio.open(path, "w", **profile) as dst:
        dst.write(bands.astype(dtype))
        if tags:
            dst.update_tags(**tags)
    return path


def radiance(size: int = 64, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).gamma(1.0, 8.0, (size, size)).astype("f4")


def dn(size: int = 8, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).uniform(0, 60, (size, size)).astype("f4")


def good_hr(d: Path, name: str = "hr.tif") -> Path:
    return tif(d / name, radiance(), tags={"units": "nW/cm2/sr"})


def good_lr(d: Path, name: str = "lr.tif") -> Path:
    return tif(d / name, dn(), transform=LR_TRANSFORM, tags={"units": "DN"})


def with_pixel(values: np.ndarray, value: float, count: int = 1) -> np.ndarray:
    out = values.copy()
    out.ravel()[:count] = value
    return out


def not_a_raster(d: Path, name: str) -> Path:
    (d / name).write_text("these are field notes, not an image\n")
    return d / name


def truncated(d: Path, name: str, lr: bool = False) -> Path:
    values = np.random.default_rng(1).uniform(0, 60, (300, 300)).astype("f4")
    full = tif(d / "full.tmp.tif", values, transform=LR_TRANSFORM if lr else HR_TRANSFORM)
    data = full.read_bytes()
    full.unlink()
    (d / name).write_bytes(data[: len(data) // 2])
    return d / name


def huge(d: Path, name: str, size: int = 200_000) -> Path:
    path = d / name
    with rasterio.open(path, "w", driver="GTiff", width=size, height=size, count=1, dtype="float32", crs=UTM50,
                       transform=LR_TRANSFORM, tiled=True, sparse_ok=True, compress="deflate"):
        pass
    return path


def complex_tif(d: Path, name: str, size: int = 64, transform: Affine = HR_TRANSFORM) -> Path:
    values = (radiance(size) + 1j * radiance(size, 1)).astype("complex64")
    return tif(d / name, values, dtype="complex64", transform=transform)


def rgb(d: Path, name: str, size: int = 64, transform: Affine = HR_TRANSFORM) -> Path:
    values = np.random.default_rng(2).integers(0, 255, (3, size, size)).astype("f4")
    return tif(d / name, values, transform=transform)


def netcdf_cube(d: Path, name: str = "cube.nc", steps: int = 131) -> Path:
    import xarray as xr

    lat = np.linspace(31.5, 31.0, 16)
    lon = np.linspace(121.0, 121.5, 16)
    values = np.random.default_rng(3).gamma(1.0, 5.0, (steps, 16, 16)).astype("f4")
    ds = xr.Dataset({"ntl": (("time", "lat", "lon"), values)},
                    coords={"time": np.arange(2000, 2000 + steps), "lat": lat, "lon": lon})
    ds.to_netcdf(d / name)
    return d / name


def netcdf_two_variables(d: Path, name: str = "two.nc") -> Path:
    import xarray as xr

    ds = xr.Dataset({"a": (("lat", "lon"), np.ones((4, 4))), "b": (("lat", "lon"), np.ones((4, 4)))},
                    coords={"lat": [3.0, 2.0, 1.0, 0.0], "lon": [0.0, 1.0, 2.0, 3.0]})
    ds.to_netcdf(d / name)
    return d / name


def dem_far(d: Path, name: str = "dem_far.tif") -> Path:
    return tif(d / name, np.full((40, 40), 300.0, "f4"), crs="EPSG:4326", transform=FAR_TRANSFORM)


def regions_geojson(d: Path, name: str = "regions.geojson", far: bool = False) -> Path:
    import geopandas as gpd
    from shapely.geometry import box

    geometry = box(-70.0, -31.0, -69.0, -30.0) if far else box(500_100, 3_491_800, 508_200, 3_499_900)
    crs = "EPSG:4326" if far else UTM50
    gpd.GeoDataFrame({"name": ["A"]}, geometry=[geometry], crs=crs).to_file(d / name)
    return d / name


def shapefile_zip(d: Path, name: str = "regions.zip", drop: str | None = ".shx") -> Path:
    import geopandas as gpd
    from shapely.geometry import box

    work = d / "shp.tmp"
    work.mkdir()
    gpd.GeoDataFrame({"name": ["A"]}, geometry=[box(500_100, 3_491_800, 508_200, 3_499_900)],
                     crs=UTM50).to_file(work / "regions.shp")
    with zipfile.ZipFile(d / name, "w") as zf:
        for part in sorted(work.iterdir()):
            if part.suffix != drop:
                zf.write(part, part.name)
            part.unlink()
    work.rmdir()
    return d / name


def zip_bomb(d: Path, name: str = "bomb.zip", mb: float = 3.0) -> Path:
    feature = {"type": "Feature", "properties": {"name": "A" + " " * int(mb * 1024**2)},
               "geometry": {"type": "Polygon", "coordinates": [[[0, 0], [1, 0], [1, 1], [0, 0]]]}}
    with zipfile.ZipFile(d / name, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("regions.geojson", json.dumps({"type": "FeatureCollection", "features": [feature]}))
    return d / name


def broken_json(d: Path, name: str = "broken.geojson") -> Path:
    (d / name).write_text('{"type": "FeatureCollection", "features": [{"type": "Feature",\n  "geometry": ', "utf-8")
    return d / name


def checkpoint(d: Path, stem: str = "m") -> Path:
    import torch

    from deeplight.models.checkpoint import save_checkpoint
    from deeplight.models.registry import get_model

    torch.manual_seed(0)
    return save_checkpoint(get_model("srcnn"), d / stem, {"model": "srcnn", "model_kwargs": {}, "step": 0})


def corrupt_checkpoint(d: Path) -> Path:
    path = checkpoint(d, "corrupt")
    data = bytearray(path.read_bytes())
    data[-7] ^= 0xFF
    path.write_bytes(bytes(data))
    return path


SYNTH: dict[str, Path] = {}


def synth_root(tmp_factory) -> Path:
    if "root" not in SYNTH:
        root = tmp_factory.mktemp("synth") / "synth"
        assert main(["data", "synth", "--out", str(root), "--n-train", "4", "--n-val", "2", "--n-test", "1",
                     "--lr-size", "8", "--quiet"]) == 0
        SYNTH["root"] = root
    return SYNTH["root"]


def config(d: Path, body: str, name: str = "config.yaml", data_root: Path | None = None,
           out_dir: Path | None = None) -> Path:
    text = (
        "model:\n  name: srcnn\n"
        f"data:\n  root: {data_root or d / 'no_such_dataset'}\n  batch_size: 2\n  num_workers: 0\n"
        f"train:\n  steps: 2\n  val_every: 1\n  out_dir: {out_dir or d / 'run'}\n  device: cpu\n  threads: 1\n"
    )
    (d / name).write_text(text + body, encoding="utf-8")
    return d / name


# -- the catalogue --------------------------------------------------------------------------------
@dataclass
class Case:
    """``make(inp, out, ctx) -> (argv, needles)``; env: variables set for the case."""

    make: Callable[[Path, Path, dict], tuple[list[str], list[str]]]
    env: dict[str, str] = field(default_factory=dict)


CASES: dict[str, Case] = {}


def case(name: str, **env: str):
    def register(make):
        assert name not in CASES, name
        CASES[name] = Case(make, dict(env))
        return make

    return register


PREDICT = ["--device", "cpu", "--quiet", "--no-cache"]


def predict(lr: Path, out: Path, *extra: str, model: tuple[str, ...] = ("--model", "bicubic")) -> list[str]:
    return ["predict", str(lr), *model, "--out", str(out / "sr.tif"), *PREDICT, *extra]


# predict: every kind of LR, aux layer, checkpoint and option
@case("predict:not-a-raster")
def _(i, o, c):
    return predict(not_a_raster(i, "notes.tif"), o), ["notes.tif", "not a readable raster"]


@case("predict:truncated")
def _(i, o, c):
    return predict(truncated(i, "cut.tif", lr=True), o), ["cut.tif"]


@case("predict:no-crs")
def _(i, o, c):
    return predict(tif(i / "nocrs.tif", dn(), crs=None, transform=LR_TRANSFORM), o), ["nocrs.tif", "no CRS"]


@case("predict:rgb-as-lr")
def _(i, o, c):
    return predict(rgb(i, "photo.tif", 8, LR_TRANSFORM), o), ["photo.tif", "3 bands", "RGB"]


@case("predict:all-nodata")
def _(i, o, c):
    path = tif(i / "empty.tif", np.full((8, 8), -1.0, "f4"), transform=LR_TRANSFORM, nodata=-1.0)
    return predict(path, o), ["empty.tif", "every pixel is nodata"]


@case("predict:plus-inf-pixel")
def _(i, o, c):
    return predict(tif(i / "inf.tif", with_pixel(dn(), np.inf), transform=LR_TRANSFORM), o), ["inf.tif", "infinite"]


@case("predict:complex")
def _(i, o, c):
    return predict(complex_tif(i, "iq.tif", 8, LR_TRANSFORM), o), ["iq.tif", "complex"]


@case("predict:huge-sparse")
def _(i, o, c):
    return predict(huge(i, "huge.tif"), o), ["huge.tif", "200000 x 200000", "DEEPLIGHT_MAX_STREAM_PIXELS"]


@case("predict:radiance-as-dn")
def _(i, o, c):
    path = tif(i / "viirs.tif", with_pixel(dn(), 250.0, 5), transform=LR_TRANSFORM)
    return predict(path, o), ["viirs.tif", "lr values span", "radiance"]


@case("predict:negative-radiance-lr")
def _(i, o, c):
    path = tif(i / "neg.tif", with_pixel(dn(), -500.0, 3), transform=LR_TRANSFORM)
    return predict(path, o, "--lr-units", "radiance"), ["neg.tif", "3 pixel(s) have negative radiance"]


@case("predict:netcdf-cube")
def _(i, o, c):
    return predict(netcdf_cube(i), o), ["cube.nc", "131 time steps"]


@case("predict:missing-lr")
def _(i, o, c):
    return predict(i / "absent.tif", o), ["absent.tif", "not found"]


@case("predict:dem-far-away")
def _(i, o, c):
    return predict(good_lr(i), o, "--dem", str(dem_far(i))), ["dem_far.tif", "does not overlap"]


@case("predict:dmo-3-bands")
def _(i, o, c):
    dmo = tif(i / "dmo3.tif", np.full((3, 64, 64), 0.1, "f4"))
    return predict(good_lr(i), o, "--dmo", str(dmo)), ["dmo3.tif", "needs 7"]


@case("predict:dmo-in-dn")
def _(i, o, c):
    dmo = tif(i / "dmo_dn.tif", np.full((7, 64, 64), 5000.0, "f4"))
    return predict(good_lr(i), o, "--dmo", str(dmo)), ["dmo_dn.tif", "reflectance"]


@case("predict:dem-with-inf")
def _(i, o, c):
    dem = tif(i / "dem_inf.tif", with_pixel(np.full((64, 64), 30.0, "f4"), -np.inf))
    return predict(good_lr(i), o, "--dem", str(dem)), ["dem_inf.tif", "infinite"]


@case("predict:corrupt-checkpoint")
def _(i, o, c):
    ckpt = corrupt_checkpoint(i)
    return predict(good_lr(i), o, model=("--checkpoint", str(ckpt))), ["corrupt"]


@case("predict:checkpoint-without-json")
def _(i, o, c):
    ckpt = checkpoint(i, "lonely")
    ckpt.with_suffix(".json").unlink()
    return predict(good_lr(i), o, model=("--checkpoint", str(ckpt))), ["lonely"]


@case("predict:out-onto-checkpoint")
def _(i, o, c):
    ckpt = checkpoint(i)
    argv = ["predict", str(good_lr(i)), "--checkpoint", str(ckpt), "--out", str(ckpt), *PREDICT]
    return argv, ["--out", "--checkpoint", "is one of the inputs"]


@case("predict:model-kwargs-not-json")
def _(i, o, c):
    return predict(good_lr(i), o, "--model-kwargs", "{preset: demo"), ["--model-kwargs", "not valid JSON"]


@case("predict:out-below-a-file")
def _(i, o, c):
    (o / "taken").write_text("x")
    argv = ["predict", str(good_lr(i)), "--model", "bicubic", "--out", str(o / "taken" / "sr.tif"), *PREDICT]
    c["keep"] = ["taken"]
    return argv, ["taken", "is a file, not a folder"]


@case("predict:bad-limit-variable", DEEPLIGHT_MAX_STREAM_PIXELS="lots")
def _(i, o, c):
    return predict(good_lr(i), o), ["DEEPLIGHT_MAX_STREAM_PIXELS", "'lots'"]


@case("predict:over-a-lowered-limit", DEEPLIGHT_MAX_STREAM_PIXELS="32")
def _(i, o, c):
    return predict(good_lr(i), o), ["lr.tif", "8 x 8 pixels", "DEEPLIGHT_MAX_STREAM_PIXELS"]


# data degrade: every kind of HR and aux layer
def degrade(hr: Path, out: Path, *extra: str) -> list[str]:
    return ["data", "degrade", "--hr", str(hr), "--out", str(out / "lr.tif"), *extra]


@case("degrade:not-a-raster")
def _(i, o, c):
    return degrade(not_a_raster(i, "notes.tif"), o), ["notes.tif", "not a readable raster"]


@case("degrade:truncated")
def _(i, o, c):
    return degrade(truncated(i, "cut.tif"), o), ["cut.tif"]


@case("degrade:no-crs")
def _(i, o, c):
    return degrade(tif(i / "nocrs.tif", radiance(), crs=None), o), ["nocrs.tif", "no CRS"]


@case("degrade:rgb-as-hr")
def _(i, o, c):
    return degrade(rgb(i, "photo.tif"), o), ["photo.tif", "3 band(s)", "needs 1"]


@case("degrade:all-nodata")
def _(i, o, c):
    return degrade(tif(i / "empty.tif", np.full((64, 64), np.nan, "f4")), o), ["empty.tif", "every pixel is nodata"]


@case("degrade:plus-inf-pixel")
def _(i, o, c):
    return degrade(tif(i / "inf.tif", with_pixel(radiance(), np.inf)), o), ["inf.tif", "infinite"]


@case("degrade:complex")
def _(i, o, c):
    return degrade(complex_tif(i, "iq.tif"), o), ["iq.tif", "complex"]


@case("degrade:huge-sparse")
def _(i, o, c):
    return degrade(huge(i, "huge.tif"), o), ["huge.tif", "200000 x 200000", "DEEPLIGHT_MAX_PIXELS"]


@case("degrade:negative-radiance")
def _(i, o, c):
    return degrade(tif(i / "neg.tif", with_pixel(radiance(), -500.0, 4)), o), ["neg.tif", "4 pixel(s)", "negative"]


@case("degrade:absurd-radiance")
def _(i, o, c):
    return degrade(tif(i / "big.tif", with_pixel(radiance(), 1e9, 2)), o), ["big.tif", "2 pixel(s) exceed"]


@case("degrade:smaller-than-one-lr-pixel")
def _(i, o, c):
    return degrade(tif(i / "tiny.tif", radiance(4)), o), ["tiny.tif", "smaller than one"]


@case("degrade:dem-far-away")
def _(i, o, c):
    return degrade(good_hr(i), o, "--dem", str(dem_far(i))), ["dem_far.tif", "does not overlap"]


@case("degrade:dmo-3-bands")
def _(i, o, c):
    dmo = tif(i / "dmo3.tif", np.full((3, 64, 64), 0.1, "f4"))
    return degrade(good_hr(i), o, "--dmo", str(dmo)), ["dmo3.tif", "needs 7"]


@case("degrade:isp-in-percent")
def _(i, o, c):
    isp = tif(i / "isp_pct.tif", np.full((64, 64), 55.0, "f4"))
    return degrade(good_hr(i), o, "--isp", str(isp)), ["isp_pct.tif", "fraction"]


@case("degrade:out-onto-input")
def _(i, o, c):
    hr = good_hr(i)
    return ["data", "degrade", "--hr", str(hr), "--out", str(hr)], ["--out", "--hr"]


@case("degrade:out-below-a-file")
def _(i, o, c):
    (o / "taken").write_text("x")
    c["keep"] = ["taken"]
    return ["data", "degrade", "--hr", str(good_hr(i)), "--out", str(o / "taken" / "lr.tif")], ["taken", "not a folder"]


@case("degrade:over-a-lowered-limit", DEEPLIGHT_MAX_PIXELS="1000")
def _(i, o, c):
    return degrade(good_hr(i), o), ["hr.tif", "64 x 64 pixels", "DEEPLIGHT_MAX_PIXELS"]


# data info: the same reader and checks as predict and sdg
def info(path: Path, *extra: str) -> list[str]:
    return ["data", "info", str(path), *extra]


@case("info:not-a-raster")
def _(i, o, c):
    return info(not_a_raster(i, "notes.tif")), ["notes.tif", "not a readable raster"]


@case("info:truncated")
def _(i, o, c):
    return info(truncated(i, "cut.tif")), ["cut.tif"]


@case("info:no-crs")
def _(i, o, c):
    return info(tif(i / "nocrs.tif", radiance(), crs=None)), ["nocrs.tif", "no CRS"]


@case("info:all-nodata")
def _(i, o, c):
    return info(tif(i / "empty.tif", np.full((16, 16), -9.0, "f4"), nodata=-9.0)), ["empty.tif", "every pixel"]


@case("info:plus-inf-pixel")
def _(i, o, c):
    return info(tif(i / "inf.tif", with_pixel(radiance(), np.inf))), ["inf.tif", "infinite"]


@case("info:complex")
def _(i, o, c):
    return info(complex_tif(i, "iq.tif")), ["iq.tif", "complex"]


@case("info:huge-sparse")
def _(i, o, c):
    return info(huge(i, "huge.tif")), ["huge.tif", "200000 x 200000"]


@case("info:netcdf-two-variables")
def _(i, o, c):
    return info(netcdf_two_variables(i)), ["two.nc", "2 variables", "--variable"]


@case("info:netcdf-unknown-variable")
def _(i, o, c):
    return info(netcdf_two_variables(i), "--variable", "zz"), ["two.nc", "'zz'"]


@case("info:missing")
def _(i, o, c):
    return info(i / "absent.tif"), ["absent.tif", "not found"]


@case("info:folder-without-manifest")
def _(i, o, c):
    (i / "clips").mkdir()
    (i / "clips" / "note.txt").write_text("x")
    return info(i / "clips"), ["clips", "manifest.json"]


@case("info:corrupt-manifest")
def _(i, o, c):
    (i / "set").mkdir()
    (i / "set" / "manifest.json").write_text("{truncated")
    return info(i / "set"), ["manifest.json", "not valid JSON"]


# sdg: every kind of product raster, region file and output
def sdg(hr: Path, regions: Path | str, out: Path, *extra: str, flag: str = "--raster") -> list[str]:
    return ["sdg", flag, str(hr), "--regions", str(regions), "--out", str(out / "x.csv"), *extra]


@case("sdg:not-a-raster")
def _(i, o, c):
    return sdg(not_a_raster(i, "notes.tif"), regions_geojson(i), o), ["notes.tif", "not a readable raster"]


@case("sdg:no-crs")
def _(i, o, c):
    return sdg(tif(i / "nocrs.tif", radiance(), crs=None), regions_geojson(i), o), ["nocrs.tif", "no CRS"]


@case("sdg:all-nodata")
def _(i, o, c):
    path = tif(i / "empty.tif", np.full((64, 64), -1.0, "f4"), nodata=-1.0)
    return sdg(path, regions_geojson(i), o), ["empty.tif", "every pixel is nodata"]


@case("sdg:plus-inf-pixel")
def _(i, o, c):
    return sdg(tif(i / "inf.tif", with_pixel(radiance(), np.inf)), regions_geojson(i), o), ["inf.tif", "infinite"]


@case("sdg:complex")
def _(i, o, c):
    return sdg(complex_tif(i, "iq.tif"), regions_geojson(i), o), ["iq.tif", "complex"]


@case("sdg:negative-radiance")
def _(i, o, c):
    path = tif(i / "neg.tif", with_pixel(radiance(), -500.0, 6))
    return sdg(path, regions_geojson(i), o), ["neg.tif", "6 pixel(s) have negative radiance"]


@case("sdg:absurd-radiance")
def _(i, o, c):
    path = tif(i / "big.tif", with_pixel(radiance(), 1e9))
    return sdg(path, regions_geojson(i), o), ["big.tif", "exceed"]


@case("sdg:lr-dn-over-63")
def _(i, o, c):
    path = tif(i / "lr_dn.tif", with_pixel(dn(), 100.0), transform=LR_TRANSFORM, tags={"units": "DN"})
    return sdg(path, regions_geojson(i), o, flag="--lr"), ["lr_dn.tif", "lr values span"]


@case("sdg:rgb-without-band")
def _(i, o, c):
    return sdg(rgb(i, "photo.tif"), regions_geojson(i), o), ["photo.tif", "3 bands", "--band"]


@case("sdg:netcdf-cube-without-band")
def _(i, o, c):
    return sdg(netcdf_cube(i), "bbox:121.1,31.1,121.4,31.4", o), ["cube.nc", "131 time steps", "--time"]


@case("sdg:netcdf-band-out-of-range")
def _(i, o, c):
    return sdg(netcdf_cube(i), "bbox:121.1,31.1,121.4,31.4", o, "--band", "500"), ["cube.nc", "band 500"]


@case("sdg:netcdf-unknown-time")
def _(i, o, c):
    return sdg(netcdf_cube(i), "bbox:121.1,31.1,121.4,31.4", o, "--time", "1850"), ["cube.nc", "'1850'"]


@case("sdg:population-with-inf")
def _(i, o, c):
    pop = tif(i / "pop.tif", with_pixel(np.full((64, 64), 10.0, "f4"), np.inf))
    return sdg(good_hr(i), regions_geojson(i), o, "--population", str(pop)), ["pop.tif", "infinite"]


@case("sdg:population-negative")
def _(i, o, c):
    pop = tif(i / "pop_neg.tif", with_pixel(np.full((64, 64), 10.0, "f4"), -5.0))
    return sdg(good_hr(i), regions_geojson(i), o, "--population", str(pop)), ["pop_neg.tif", "population"]


@case("sdg:regions-broken-json")
def _(i, o, c):
    return sdg(good_hr(i), broken_json(i), o), ["broken.geojson", "not valid JSON", "line 2"]


@case("sdg:regions-json-not-geojson")
def _(i, o, c):
    (i / "list.json").write_text("[1, 2, 3]")
    return sdg(good_hr(i), i / "list.json", o), ["list.json", "not GeoJSON"]


@case("sdg:regions-zip-without-shx")
def _(i, o, c):
    return sdg(good_hr(i), shapefile_zip(i), o), ["regions.zip", "regions.shx"]


@case("sdg:regions-shp-without-shx")
def _(i, o, c):
    import geopandas as gpd
    from shapely.geometry import box

    gpd.GeoDataFrame({"name": ["A"]}, geometry=[box(500_100, 3_491_800, 508_200, 3_499_900)],
                     crs=UTM50).to_file(i / "r.shp")
    (i / "r.shx").unlink()
    return sdg(good_hr(i), i / "r.shp", o), ["r.shp", "r.shx"]


@case("sdg:regions-zip-bomb", DEEPLIGHT_MAX_VECTOR_MB="1")
def _(i, o, c):
    return sdg(good_hr(i), zip_bomb(i), o), ["bomb.zip", "expands to", "DEEPLIGHT_MAX_VECTOR_MB"]


@case("sdg:regions-not-a-zip")
def _(i, o, c):
    (i / "fake.zip").write_bytes(b"PK\x03\x04 but nothing else")
    return sdg(good_hr(i), i / "fake.zip", o), ["fake.zip", "zip"]


@case("sdg:regions-far-away")
def _(i, o, c):
    return sdg(good_hr(i), regions_geojson(i, "far.geojson", far=True), o), ["overlaps", "CRS"]


@case("sdg:regions-missing")
def _(i, o, c):
    return sdg(good_hr(i), i / "absent.geojson", o), ["absent.geojson", "not found"]


@case("sdg:regions-crs-not-a-crs")
def _(i, o, c):
    regions = regions_geojson(i, "r.shp")
    regions.with_suffix(".prj").unlink()
    return sdg(good_hr(i), regions, o, "--regions-crs", "NOTACRS"), ["--regions-crs 'NOTACRS'"]


@case("sdg:geo-as-shapefile")
def _(i, o, c):
    return sdg(good_hr(i), regions_geojson(i), o, "--geo", str(o / "x.shp")), ["--geo", "x.shp", ".gpkg"]


@case("sdg:out-not-csv")
def _(i, o, c):
    return ["sdg", "--raster", str(good_hr(i)), "--regions", str(regions_geojson(i)), "--out",
            str(o / "x.txt")], ["--out", "x.txt", ".csv"]


@case("sdg:geo-onto-regions")
def _(i, o, c):
    regions = regions_geojson(i)
    return sdg(good_hr(i), regions, o, "--geo", str(regions)), ["--geo", "regions.geojson", "--regions"]


@case("sdg:out-below-a-file")
def _(i, o, c):
    (o / "taken").write_text("x")
    c["keep"] = ["taken"]
    return ["sdg", "--raster", str(good_hr(i)), "--regions", str(regions_geojson(i)), "--out",
            str(o / "taken" / "x.csv")], ["taken", "not a folder"]


# train: every kind of config and run-folder problem
def train(cfg: Path) -> list[str]:
    return ["train", "--config", str(cfg), "--no-progress"]


@case("train:config-not-utf8")
def _(i, o, c):
    (i / "latin1.yaml").write_bytes("model:\n  name: srcnn  # r\xe9glages\n".encode("latin-1"))
    return train(i / "latin1.yaml"), ["latin1.yaml", "UTF-8"]


@case("train:config-broken-yaml")
def _(i, o, c):
    (i / "broken.yaml").write_text("model: [\n", encoding="utf-8")
    return train(i / "broken.yaml"), ["broken.yaml", "YAML"]


@case("train:config-typo")
def _(i, o, c):
    return train(config(i, "optim:\n  lerning_rate: 0.001\n")), ["optim.lerning_rate", "config.yaml"]


@case("train:config-lr-inf")
def _(i, o, c):
    return train(config(i, "optim:\n  lr: .inf\n")), ["optim.lr", "finite"]


@case("train:config-nan-in-kwargs")
def _(i, o, c):
    return train(config(i, "loss:\n  kwargs:\n    alpha: .nan\n")), ["loss.kwargs.alpha", "finite"]


@case("train:config-wrong-type")
def _(i, o, c):
    text = config(i, "").read_text().replace("batch_size: 2", "batch_size: eight")
    (i / "config.yaml").write_text(text)
    return train(i / "config.yaml"), ["data.batch_size", "integer"]


@case("train:config-missing")
def _(i, o, c):
    return train(i / "absent.yaml"), ["absent.yaml", "not found"]


@case("train:bad-override")
def _(i, o, c):
    return [*train(config(i, "")), "--set", "train.steps"], ["train.steps", "section.key=value"]


@case("train:dataset-missing")
def _(i, o, c):
    return train(config(i, "")), ["no_such_dataset"]


@case("train:corrupt-state")
def _(i, o, c):
    run = i / "run"
    run.mkdir()
    (run / "state.pt").write_bytes(b"PK\x03\x04" + bytes(200))
    (run / "state.pt.sha256").write_text("0" * 64 + "  state.pt\n")
    return train(config(i, "", data_root=c["synth"], out_dir=run)), ["state.pt", "--fresh"]


@case("train:export-onto-its-own-best")
def _(i, o, c):
    run = o / "run"
    cfg = config(i, f"  export: {run / 'best'}\n", data_root=c["synth"], out_dir=run)
    return train(cfg), ["train.export", "best"]


# evaluate
def evaluate(*specs: str, out: Path, extra: tuple[str, ...] = ()) -> list[str]:
    return ["evaluate", "--checkpoints", *specs, "--out", str(out / "table"), "--device", "cpu",
            "--test-sets", "synthetic", "--no-piqe", *extra]


@case("evaluate:missing-checkpoint")
def _(i, o, c):
    return evaluate(str(i / "nope"), out=o), ["nope.safetensors", "not found"]


@case("evaluate:corrupt-checkpoint")
def _(i, o, c):
    return evaluate(str(corrupt_checkpoint(i)), out=o), ["corrupt"]


@case("evaluate:sidecar-not-json")
def _(i, o, c):
    ckpt = checkpoint(i, "odd")
    ckpt.with_suffix(".json").write_text("{not json")
    return evaluate(str(ckpt), out=o), ["odd.json"]


@case("evaluate:unknown-model")
def _(i, o, c):
    return evaluate("model:no-such-model", out=o), ["no-such-model"]


@case("evaluate:unknown-test-set")
def _(i, o, c):
    return evaluate("model:bicubic", out=o, extra=("--test-sets", "moon")), ["--test-sets", "moon"]


@case("evaluate:data-root-missing")
def _(i, o, c):
    return evaluate("model:bicubic", out=o, extra=("--data-root", str(i / "nowhere"))), ["nowhere"]


@case("evaluate:out-below-a-file")
def _(i, o, c):
    (o / "taken").write_text("x")
    c["keep"] = ["taken"]
    return ["evaluate", "--checkpoints", "model:bicubic", "--out", str(o / "taken" / "table"), "--device",
            "cpu"], ["--out", "taken", "not a folder"]


# cache
@case("cache:clear-a-folder-that-is-not-a-cache")
def _(i, o, c):
    (i / "thesis.tex").write_text("precious")
    return ["cache", "clear", "--cache-dir", str(i)], [str(i), "not a DeepLight cache folder"]


@case("cache:clear-a-file")
def _(i, o, c):
    (i / "file.txt").write_text("x")
    return ["cache", "clear", "--cache-dir", str(i / "file.txt")], ["file.txt", "not a DeepLight cache folder"]


@case("cache:size-limit-not-a-number", DEEPLIGHT_CACHE_MAX_GB="big")
def _(i, o, c):
    return ["cache", "info", "--cache-dir", str(o / "cache")], ["DEEPLIGHT_CACHE_MAX_GB", "'big'"]


@case("cache:size-limit-negative", DEEPLIGHT_CACHE_MAX_GB="-1")
def _(i, o, c):
    return ["cache", "info", "--cache-dir", str(o / "cache")], ["DEEPLIGHT_CACHE_MAX_GB", "positive"]


# -- the checks every case must pass --------------------------------------------------------------
def digest(folder: Path) -> dict[str, str]:
    return {str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file()}


def everything(folder: Path) -> list[str]:
    return sorted(str(p.relative_to(folder)) for p in folder.rglob("*"))


def assert_one_clear_line(status: int, err: str, needles: list[str]) -> str:
    assert status == 2, err
    assert "Traceback" not in err, err
    lines = [line for line in err.splitlines() if line.startswith("deeplight: error: ")]
    assert len(lines) == 1, err
    for needle in needles:
        assert needle in lines[0], (needle, lines[0])
    return lines[0]


@pytest.fixture(scope="module")
def ctx_base(tmp_path_factory) -> dict:
    return {"synth": synth_root(tmp_path_factory)}


@pytest.mark.parametrize("name", sorted(CASES))
def test_bad_input_is_answered_clearly_and_changes_nothing(name, tmp_path, capsys, monkeypatch, ctx_base):
    spec = CASES[name]
    for variable in ("DEEPLIGHT_DATA_DIR", "DEEPLIGHT_MAX_PIXELS", "DEEPLIGHT_MAX_STREAM_PIXELS",
                     "DEEPLIGHT_MAX_VECTOR_MB", "DEEPLIGHT_CACHE_MAX_GB", "DEEPLIGHT_DEBUG"):
        monkeypatch.delenv(variable, raising=False)
    inp, out = tmp_path / "in", tmp_path / "out"
    inp.mkdir()
    out.mkdir()
    monkeypatch.setenv("DEEPLIGHT_CACHE_DIR", str(out / "default-cache"))
    ctx = dict(ctx_base)
    argv, needles = spec.make(inp, out, ctx)
    for variable, value in spec.env.items():
        monkeypatch.setenv(variable, value)
    inputs_before = digest(inp)
    listing_before = everything(inp)
    synth_before = digest(ctx["synth"])
    capsys.readouterr()
    status = main(argv)
    err = capsys.readouterr().err
    assert_one_clear_line(status, err, needles)
    assert digest(inp) == inputs_before, "an input changed"
    assert everything(inp) == listing_before, "a file appeared among the inputs"
    assert everything(out) == sorted(ctx.get("keep", [])), "something was left in the output folder"
    assert digest(ctx["synth"]) == synth_before


def test_the_catalogue_covers_every_command_with_60_cases():
    commands = {name.split(":")[0] for name in CASES}
    assert commands == {"predict", "degrade", "info", "sdg", "train", "evaluate", "cache"}
    assert len(CASES) >= 60


# -- a few through the console script in a subprocess ---------------------------------------------
SUBPROCESS_CASES = ["predict:huge-sparse", "sdg:geo-as-shapefile", "train:config-not-utf8"]


@pytest.mark.parametrize("name", SUBPROCESS_CASES)
def test_the_console_script_answers_the_same(name, tmp_path, ctx_base):
    spec = CASES[name]
    inp, out = tmp_path / "in", tmp_path / "out"
    inp.mkdir()
    out.mkdir()
    ctx = dict(ctx_base)
    argv, needles = spec.make(inp, out, ctx)
    before = digest(inp)
    env = {k: v for k, v in os.environ.items() if not k.startswith("DEEPLIGHT_")}
    env.update({"OMP_NUM_THREADS": "1", "DEEPLIGHT_CACHE_DIR": str(out / "cache"), **spec.env})
    done = subprocess.run(
        [sys.executable, "-c", "from deeplight.cli import main; raise SystemExit(main())", *argv],
        check=False, capture_output=True, text=True, env=env, timeout=300,
    )
    assert_one_clear_line(done.returncode, done.stderr, needles)
    assert digest(inp) == before
    assert everything(out) == []


# -- the upload page, through AppTest with real bytes ----------------------------------------------
GEO = Affine(0.004, 0.0, 5.0, 0.0, -0.004, 33.0)


def geo_tif_bytes(d: Path, array: np.ndarray, *, dtype: str = "float32", transform: Affine = GEO,
                  crs: str = "EPSG:4326", nodata: float | None = None) -> bytes:
    return tif(d / "made.tif", array, crs=crs, transform=transform, dtype=dtype, nodata=nodata).read_bytes()


def geo_radiance(shape=(40, 48)) -> np.ndarray:
    return np.random.default_rng(0).gamma(1.0, 4.0, shape).astype("f4")


def huge_bytes(d: Path) -> bytes:
    path = d / "huge.tif"
    with rasterio.open(path, "w", driver="GTiff", width=20_000, height=20_000, count=1, dtype="float32",
                       crs="EPSG:4326", transform=GEO, tiled=True, sparse_ok=True, compress="deflate"):
        pass
    return path.read_bytes()


def zip_bytes(d: Path, drop: str) -> bytes:
    import geopandas as gpd
    from shapely.geometry import box

    work = d / "z"
    work.mkdir()
    gpd.GeoDataFrame({"name": ["A"]}, geometry=[box(5.02, 32.88, 5.1, 32.96)], crs="EPSG:4326").to_file(
        work / "towns.shp")
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as zf:
        for part in work.iterdir():
            if part.suffix != drop:
                zf.write(part, part.name)
    return buffer.getvalue()


def far_regions_bytes() -> bytes:
    import geopandas as gpd
    from shapely.geometry import box

    return gpd.GeoDataFrame({"name": ["Lima"]}, geometry=[box(-77.1, -12.1, -76.9, -11.9)],
                            crs="EPSG:4326").to_json().encode()


# name -> (files {uploader key: (file name, bytes maker)}, role, lr units, needles)
UPLOADS: dict[str, tuple] = {
    "rgb-as-lr": ({"upload_ntl": ("photo.tif", lambda d: geo_tif_bytes(d, np.ones((3, 8, 8), "f4") * 120))},
                  "lr", "radiance", ["photo.tif", "3 bands", "RGB"]),
    "dem-far-away": ({"upload_ntl": ("ntl.tif", lambda d: geo_tif_bytes(d, geo_radiance())),
                      "upload_dem": ("alps.tif", lambda d: geo_tif_bytes(d, np.full((10, 10), 900.0, "f4"),
                                                                         transform=Affine(0.01, 0, 7.0, 0, -0.01, 46.0)))},
                     "hr", "radiance", ["alps.tif", "does not overlap"]),
    "dmo-3-bands": ({"upload_ntl": ("ntl.tif", lambda d: geo_tif_bytes(d, geo_radiance())),
                     "upload_dmo": ("rgb_dmo.tif", lambda d: geo_tif_bytes(d, np.full((3, 40, 48), 0.1, "f4")))},
                    "hr", "radiance", ["rgb_dmo.tif", "needs 7"]),
    "inf-hr": ({"upload_ntl": ("inf.tif", lambda d: geo_tif_bytes(d, with_pixel(geo_radiance(), np.inf)))},
               "hr", "radiance", ["inf.tif", "infinite"]),
    "minus-500-hr": ({"upload_ntl": ("neg.tif", lambda d: geo_tif_bytes(d, with_pixel(geo_radiance(), -500.0, 3)))},
                     "hr", "radiance", ["neg.tif", "3 pixel(s) have negative radiance"]),
    "1e9-hr": ({"upload_ntl": ("huge_values.tif", lambda d: geo_tif_bytes(d, with_pixel(geo_radiance(), 1e9)))},
               "hr", "radiance", ["huge_values.tif", "exceed"]),
    "dn-over-63": ({"upload_ntl": ("dn.tif", lambda d: geo_tif_bytes(d, with_pixel(np.full((8, 8), 20.0, "f4"), 90.0)))},
                   "lr", "dn", ["dn.tif", "lr values span"]),
    "all-nodata": ({"upload_ntl": ("empty.tif", lambda d: geo_tif_bytes(d, np.full((40, 48), -1.0, "f4"), nodata=-1.0))},
                   "hr", "radiance", ["empty.tif", "every pixel is nodata"]),
    "complex": ({"upload_ntl": ("iq.tif", lambda d: geo_tif_bytes(d, geo_radiance() * (1 + 1j), dtype="complex64"))},
                "hr", "radiance", ["iq.tif", "complex"]),
    "huge-declared": ({"upload_ntl": ("huge.tif", huge_bytes)}, "hr", "radiance",
                      ["huge.tif", "20000 x 20000", "DEEPLIGHT_UPLOAD_MAX_PIXELS"]),
    "not-a-raster": ({"upload_ntl": ("notes.tif", lambda d: b"II*\x00 not really a tiff" * 20)},
                     "hr", "radiance", ["notes.tif", "not a readable raster"]),
    "zip-without-shx": ({"upload_ntl": ("ntl.tif", lambda d: geo_tif_bytes(d, geo_radiance())),
                         "upload_regions": ("towns.zip", lambda d: zip_bytes(d, ".shx"))},
                        "hr", "radiance", ["towns.zip", "towns.shx"]),
    "broken-json": ({"upload_ntl": ("ntl.tif", lambda d: geo_tif_bytes(d, geo_radiance())),
                     "upload_regions": ("towns.geojson", lambda d: b'{"type": "FeatureCollection", "features": [')},
                    "hr", "radiance", ["towns.geojson", "not valid JSON"]),
    "regions-far-away": ({"upload_ntl": ("ntl.tif", lambda d: geo_tif_bytes(d, geo_radiance())),
                          "upload_regions": ("lima.geojson", lambda d: far_regions_bytes())},
                         "hr", "radiance", ["lima.geojson", "overlaps"]),
}


def _page_elements(at) -> list:
    """Elements of the main area in page order (blocks flattened)."""
    out = []

    def walk(node):
        children = getattr(node, "children", None)
        if isinstance(children, dict):
            for key in sorted(children):
                walk(children[key])
        else:
            out.append(node)

    walk(at.main)
    return out


@pytest.mark.parametrize("name", sorted(UPLOADS))
def test_the_upload_page_refuses_bad_files_at_the_top(name, app_env, tmp_path, monkeypatch):
    from streamlit.testing.v1 import AppTest

    from app.services import SESSION_UPLOADS_KEY
    from tests.app.apptest_helpers import MAIN_SCRIPT, REPO_ROOT

    files, role, units, needles = UPLOADS[name]
    made = tmp_path / "made"
    made.mkdir()
    uploads = {key: (file_name, maker(made)) for key, (file_name, maker) in files.items()}
    before = {key: hashlib.sha256(data).hexdigest() for key, (_, data) in uploads.items()}
    scratch = tmp_path / "scratch"
    scratch.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(scratch))  # where the upload is parsed
    at = AppTest.from_file(MAIN_SCRIPT, default_timeout=120)
    at.run()
    at.switch_page(str(REPO_ROOT / "pages" / "data.py"))
    at.run()
    for key, (file_name, data) in uploads.items():
        at.file_uploader(key=key).set_value((file_name, data, "application/octet-stream"))
    at.radio(key="upload_role").set_value(role)
    at.radio(key="upload_lr_units").set_value(units)
    at.button[0].click()
    at.run()
    assert not at.exception, at.exception
    errors = [str(e.value) for e in at.error]
    assert len(errors) == 1, errors
    message = errors[0]
    assert message.startswith("Upload not usable: "), message
    for needle in needles:
        assert needle in message, (needle, message)
    assert "Traceback" not in message and str(scratch) not in message and "/tmp" not in message
    elements = _page_elements(at)
    kinds = [getattr(e, "type", type(e).__name__) for e in elements]
    first_error = next(i for i, e in enumerate(elements) if getattr(e, "type", "") == "error")
    first_uploader = kinds.index("file_uploader")
    assert first_error < first_uploader, kinds  # shown at the top, before the form
    assert list(scratch.iterdir()) == [], "the upload left temporary files"
    store = at.session_state[SESSION_UPLOADS_KEY] if SESSION_UPLOADS_KEY in at.session_state else None
    assert store is None or len(store) == 0, "a refused upload was kept"
    assert {key: hashlib.sha256(data).hexdigest() for key, (_, data) in uploads.items()} == before
