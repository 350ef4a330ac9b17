"""Real-data validation of the SDG indicators (deeplight.sdg) on ../shared/data.

Writes benchmarks/results/sdg_validation.md (all tables) and one CSV per table
(benchmarks/results/sdg_*.csv), and prints the Markdown. Usage:

    .venv/bin/python benchmarks/validate_sdg.py [--data ../shared/data] \
        [--checkpoint [NAME=]PATH ...] [--places shanghai cote_divoire demo] \
        [--out benchmarks/results/sdg_validation] [--max-pixels N] [--skip-checks] [--no-cache]

1. Shanghai 2018 urban extent (NPP-VIIRS-like and NPP-VIIRS VNL) vs the MGUP 2018 urban map:
   F1 / IoU / kappa per threshold method (fixed 10 nW/cm2/sr, Otsu, calibrated), per district.
2. Cote d'Ivoire 2024: electricity-access proxy (people in lit cells / people) per region with the
   1 km population raster reprojected onto the 15" VIIRS grid (totals conserved), checked against
   the population counted on its own grid.
3. Touggourt: zonal statistics across CRSs - VIIRS in EPSG:4326 with GHS population in Mollweide,
   and the sum of lights on the EPSG:4326 grid vs the same raster warped to a Mollweide grid.
4. LR vs HR: the real VIIRS HR degraded by the DMSP-like model (SIMULATED LR, seed 0): lit area,
   urban area and sum of lights on LR vs HR, for Shanghai and Cote d'Ivoire.
5. Shanghai 2000-2020 every 5 years: sum of lights, urban area, GDP prior, land consumption rate.
6. Speed of ``compute_indicators``.
7. Indicator table per region (Shanghai 16 districts, Cote d'Ivoire 33 regions, the built-in demo's
   provinces): sum of lights, lit area, urban extent (fixed R >= 10 and Otsu), electricity-access
   proxy (where a population raster exists) and CO2 share (ODIAC-style share of the all-regions
   total) on HR, on the SIMULATED LR (realistic degradation preset, fixed seed, nominal radiance on
   the coarse grid), on bicubic and on each checkpoint's SR (``deeplight.infer.predict_array``, the
   dashboard's tiled inference); each against HR per region, and a summary (share of regions where
   |SR - HR| <= |LR - HR|, median relative errors, sums SR vs LR and vs HR). Written to
   ``<out>.csv`` (per region) and ``<out>.summary.csv``; SR arrays and per-place tables are cached
   under ``runs/sdg_validation/`` (a rerun with the same checkpoints, data and code recomputes
   nothing).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import platform
import shlex
import sys
import time
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from affine import Affine
from rasterio.warp import Resampling

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "benchmarks"))

import sdg_eval  # noqa: E402

from deeplight.data.degrade import degrade_dmsp_like, lr_dn_to_radiance  # noqa: E402
from deeplight.sdg import (  # noqa: E402
    compute_indicators,
    compute_time_series,
    land_consumption_table,
    load_regions,
    population_per_region,
    urban_extent_accuracy,
)
from deeplight.io.georaster import GeoRaster, read_georaster, reproject_like  # noqa: E402
from deeplight.io.regions import regions_from_bbox  # noqa: E402
from deeplight.utils_io import atomic_write_text  # noqa: E402

RESULTS = REPO / "benchmarks" / "results"
RUNS = REPO / "runs" / "sdg_validation"
DEFAULT_CHECKPOINT = "data/checkpoints/deeplightsr_demo"
PLACES = ("shanghai", "cote_divoire", "demo")


def _machine() -> str:
    """The machine in words: cores available to this process, architecture, GPU or not."""
    try:
        cores = len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        cores = os.cpu_count() or 0
    gpu = "no GPU"
    try:
        import torch

        if torch.cuda.is_available():
            gpu = f"GPU {torch.cuda.get_device_name(0)}"
    except ImportError:  # pragma: no cover
        pass
    return f"{cores}-core {platform.machine()} CPU, {gpu}"


MACHINE = _machine()


def _md(frame: pd.DataFrame, digits: int = 3) -> str:
    frame = frame.copy()
    for column in frame.columns:
        if pd.api.types.is_float_dtype(frame[column]):
            frame[column] = frame[column].map(lambda v: "" if pd.isna(v) else f"{v:.{digits}f}")
    header = "| " + " | ".join(map(str, frame.columns)) + " |"
    rule = "|" + "---|" * len(frame.columns)
    rows = ["| " + " | ".join(map(str, r)) + " |" for r in frame.itertuples(index=False)]
    return "\n".join([header, rule, *rows])


def shanghai_urban(data: Path) -> tuple[pd.DataFrame, pd.DataFrame]:
    """F1/IoU/kappa of the urban extent vs MGUP 2018 for both Shanghai products and 3 methods."""
    sh = data / "shanghai"
    products = {
        "NPP-VIIRS-like 2018": sh / "viirs_like_2000_2020" / "NTL_Shanghai_2000_2020_2018.tif",
        "NPP-VIIRS (VNL) 2018": sh / "npp_viirs_2013_2022" / "NTL_Shanghai_NPP-VIIRS_2013_2022_2018.tif",
    }
    regions = load_regions(sh / "boundaries" / "shanghai_districts_boundary.shp", name_column="Name")
    tables = [
        urban_extent_accuracy(path, sh / "real_sh_MGUP2018.tif", regions, product_name=name)
        for name, path in products.items()
    ]
    table = pd.concat(tables, ignore_index=True)
    summary = table[table.region == "ALL"][
        ["product", "method", "threshold", "urban_area_km2", "reference_area_km2", "f1", "iou", "kappa"]
    ]
    per_district = table[table.region != "ALL"].pivot_table(
        index="region", columns=["product", "method"], values=["f1", "iou"], sort=False
    )
    per_district.columns = [
        f"{metric} {product.split(' ')[0]} {method}" for metric, product, method in per_district.columns
    ]
    return summary.reset_index(drop=True), per_district.reset_index(), table


def cote_divoire_access(data: Path) -> tuple[pd.DataFrame, dict]:
    """Electricity-access proxy per region and the population conservation check."""
    civ = data / "cote_divoire"
    regions = load_regions(civ / "adm1_rf_zonal.geojson", name_column="ADM1_FR")
    population = read_georaster(civ / "pop.tif", name="population")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        table = compute_indicators({"hr": civ / "ntl.tif"}, regions, population=population, year=2024)
    wide = table.pivot_table(index="region", columns="indicator", values="value", sort=False)
    native = population_per_region(population, regions)
    out = pd.DataFrame(
        {
            "region": wide.index,
            "population (own 1 km grid)": [native[r] for r in wide.index],
            "population (on 15'' VIIRS grid)": wide["population"].to_numpy(),
            "lit share": wide["lit_share"].to_numpy(),
            "access proxy": wide["electricity_access"].to_numpy(),
            "sum of lights (nW/cm2/sr*km2)": wide["sum_of_lights"].to_numpy(),
        }
    )
    out["population diff %"] = 100 * (out.iloc[:, 2] / out.iloc[:, 1] - 1)
    national_people = float(out.iloc[:, 2].sum())
    national = {
        "raster total": float(np.nansum(population.values)),
        "regions, own grid": float(out.iloc[:, 1].sum()),
        "regions, VIIRS grid": national_people,
        "access proxy (population-weighted)": float(
            (out["access proxy"] * out.iloc[:, 2]).sum() / national_people
        ),
    }
    return out.sort_values("access proxy", ascending=False).reset_index(drop=True), national


def touggourt_crs(data: Path) -> pd.DataFrame:
    """Zonal statistics across CRSs on the Touggourt hexagons."""
    tg = data / "touggourt"
    regions = load_regions(tg / "algeria-touggourt-hexcells.geojson")
    vnl = read_georaster(tg / "VNL_v2_npp_2020_global_vcmslcfg_c202102150000.average_masked.tif")
    population = read_georaster(tg / "GHS_POP_E2015_GLOBE_R2019A_54009_1K_V1_0.tif", name="population")
    # the VIIRS raster warped onto a 250 m Mollweide grid over the GHS tile (area-weighted average)
    t = population.transform
    mollweide = GeoRaster(
        np.zeros((population.shape[0] * 4, population.shape[1] * 4)),
        Affine(t.a / 4, 0, t.c, 0, t.e / 4, t.f),
        population.crs,
        "mollweide grid",
    )
    vnl_mollweide = reproject_like(vnl, mollweide, Resampling.average)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        geo = compute_indicators(
            {"viirs_epsg4326": vnl, "viirs_mollweide": vnl_mollweide},
            regions,
            population=population,
            urban_method="fixed",
        )
    wide = geo.pivot_table(index="region", columns=["product", "indicator"], values="value", sort=False)
    native = population_per_region(population, regions)
    out = pd.DataFrame(
        {
            "region": wide.index,
            "area km2": wide[("viirs_epsg4326", "region_area")].to_numpy(),
            "TNL EPSG:4326": wide[("viirs_epsg4326", "sum_of_lights")].to_numpy(),
            "TNL Mollweide": wide[("viirs_mollweide", "sum_of_lights")].to_numpy(),
            "pop own grid (Mollweide)": [native[r] for r in wide.index],
            "pop on 4326 grid": wide[("viirs_epsg4326", "population")].to_numpy(),
            "access proxy": wide[("viirs_epsg4326", "electricity_access")].to_numpy(),
        }
    )
    return out


def lr_vs_hr(data: Path) -> pd.DataFrame:
    """Indicators on a SIMULATED LR (real HR degraded, seed 0) vs the real HR."""
    cases = {
        "Shanghai city 2018": (
            data / "shanghai" / "viirs_like_2000_2020" / "NTL_Shanghai_2000_2020_2018.tif",
            data / "shanghai" / "boundaries" / "shanghai.shp",
        ),
        "Cote d'Ivoire 2024": (data / "cote_divoire" / "ntl.tif", data / "cote_divoire" / "cutline.geojson"),
    }
    rows = []
    for case, (hr_path, region_path) in cases.items():
        hr = read_georaster(hr_path)
        rows_hr, cols_hr = (hr.shape[0] // 8) * 8, (hr.shape[1] // 8) * 8
        hr_values = np.maximum(hr.values[:rows_hr, :cols_hr], 0.0)
        hr_crop = GeoRaster(hr_values, hr.transform, hr.crs, f"{hr.source} (cropped to 8x8 blocks)", {})
        lr_dn, info = degrade_dmsp_like(hr_values, seed=0)
        lr_transform = hr.transform @ Affine.scale(8)
        tags = {"simulated": "true"}
        products = {
            "HR (real VIIRS)": hr_crop,
            "LR DN, nominal calibration": GeoRaster(
                lr_dn.astype(float), lr_transform, hr.crs, "lr", {**tags, "units": "DN"}
            ),
            "LR DN, drift-corrected": GeoRaster(
                lr_dn_to_radiance(lr_dn, info), lr_transform, hr.crs, "lr", tags
            ),
            "LR radiance before response": GeoRaster(
                info.lr_radiance.astype(float), lr_transform, hr.crs, "lr", tags
            ),
        }
        height, width = hr_crop.shape
        t = hr.transform
        scene = regions_from_bbox((t.c, t.f + t.e * height, t.c + t.a * width, t.f), crs=hr.crs, name="scene")
        regions = pd.concat(
            [load_regions(region_path).iloc[[0]][["region", "geometry"]].to_crs(hr.crs), scene],
            ignore_index=True,
        )
        regions = load_regions(regions.set_crs(hr.crs, allow_override=True))
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            table = compute_indicators(products, regions, urban_method="fixed", urban_threshold=10.0)
        wide = table.pivot_table(index=["region", "product"], columns="indicator", values="value", sort=False)
        for (region, product), values in wide.iterrows():
            reference = wide.loc[(region, "HR (real VIIRS)")]
            rows.append(
                {
                    "case": case,
                    "region": "scene (raster extent)" if region == "scene" else "outline",
                    "product": product,
                    "simulated": product != "HR (real VIIRS)",
                    "lit area km2": values["lit_area"],
                    "urban area km2 (R>=10)": values["urban_area"],
                    "sum of lights": values["sum_of_lights"],
                    "TNL diff vs HR %": 100 * (values["sum_of_lights"] / reference["sum_of_lights"] - 1),
                    "lit area diff vs HR %": 100 * (values["lit_area"] / reference["lit_area"] - 1),
                    "gain drift": info.gain_drift,
                    "saturated LR share": info.saturated_fraction,
                }
            )
    return pd.DataFrame(rows)


def shanghai_series(data: Path) -> pd.DataFrame:
    """Sum of lights, urban area (R >= 10) and LCR over 2000-2020 for the Shanghai outline."""
    folder = data / "shanghai" / "viirs_like_2000_2020"
    years = list(range(2000, 2021, 5))
    products = {year: {"hr": folder / f"NTL_Shanghai_2000_2020_{year}.tif"} for year in years}
    regions = load_regions(data / "shanghai" / "boundaries" / "shanghai.shp")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        series = compute_time_series(products, regions, urban_method="fixed", urban_threshold=10.0)
        lcr = pd.concat(
            [land_consumption_table(series, a, b) for a, b in zip(years[:-1], years[1:], strict=True)]
        )
    wide = series.pivot_table(index="year", columns="indicator", values="value")
    out = pd.DataFrame(
        {
            "year": wide.index.astype(int),
            "sum of lights (nW/cm2/sr*km2)": wide["sum_of_lights"].to_numpy(),
            "urban area km2 (R>=10)": wide["urban_area"].to_numpy(),
            "lit share": wide["lit_share"].to_numpy(),
            "gdp growth PRIOR (0.3 x dln TNL)": wide["gdp_growth_prior"].reindex(wide.index).to_numpy(),
            "LCR since previous (1/yr)": lcr[lcr.indicator == "lcr"]
            .set_index("year")["value"]
            .reindex(wide.index)
            .to_numpy(),
        }
    )
    return out


def speed(data: Path) -> pd.DataFrame:
    """Wall time of compute_indicators on the real scenes (best of 3 runs, one process)."""
    civ = data / "cote_divoire"
    sh = data / "shanghai"
    cases = {
        "Cote d'Ivoire: 1361x1420 cells, 33 regions, population": (
            {"hr": civ / "ntl.tif"},
            civ / "adm1_rf_zonal.geojson",
            {"population": civ / "pop.tif"},
        ),
        "Shanghai: 262x281 cells, 16 districts, Otsu": (
            {"hr": sh / "viirs_like_2000_2020" / "NTL_Shanghai_2000_2020_2018.tif"},
            sh / "boundaries" / "shanghai_districts_boundary.shp",
            {},
        ),
    }
    rows = []
    for case, (products, region_path, options) in cases.items():
        regions = load_regions(region_path)
        times = []
        for _ in range(3):
            started = time.perf_counter()
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                table = compute_indicators(products, regions, **options)
            times.append(time.perf_counter() - started)
        rows.append(
            {"case": case, "rows": len(table), "best s": min(times), "median s": float(np.median(times))}
        )
    return pd.DataFrame(rows)


# --- 7. Indicator table: LR, bicubic and SR against HR per region ---------------------------------

SHANGHAI_PRODUCTS = {
    "vnl": ("NPP-VIIRS (VNL)", "npp_viirs_2013_2022", "NTL_Shanghai_NPP-VIIRS_2013_2022_{year}.tif"),
    "viirs_like": ("NPP-VIIRS-like", "viirs_like_2000_2020", "NTL_Shanghai_2000_2020_{year}.tif"),
}
TABLE_VERSION = "sdg_validation indicators v1"
"""Bump when indicator_place or sdg_eval.collect_indicators compute something else (cache keys)."""
CODE_FOR_CACHE = ("deeplight/sdg", "deeplight/infer", "deeplight/models", "deeplight/data", "deeplight/io")
"""Library folders whose source is hashed into the cache keys (other engineers edit them)."""


@dataclass
class Place:
    """One place of the indicator table: its HR, regions, optional population and auxiliary layers."""

    key: str
    title: str
    hr_path: Path
    regions_path: Path
    name_column: str
    population: Path | None = None
    aux: dict[str, Path] = field(default_factory=dict)
    synthetic_hr: bool = False
    hr_note: str = "real"
    display: str = ""


@dataclass
class Method:
    """A reconstruction method: ``bicubic`` or a checkpoint (loaded lazily)."""

    label: str
    checkpoint: Path | None
    model_id: str
    model_name: str
    _model: Any = None

    def model(self, device):
        if self._model is None:
            if self.checkpoint is None:
                from deeplight.models.registry import get_model

                self._model = get_model("bicubic").to(device).eval()
            else:
                from deeplight.models.checkpoint import load_checkpoint

                self._model, _meta = load_checkpoint(self.checkpoint, device)
                self._model.eval()
        return self._model


def _demo_dir() -> Path:
    home = Path(os.environ.get("DEEPLIGHT_HOME", REPO / "data" / "runtime")).expanduser()
    return home / "demo"


def _places(data: Path, keys: list[str], shanghai_product: str, shanghai_year: int) -> list[Place]:
    out = []
    for key in keys:
        if key == "shanghai":
            title, folder, pattern = SHANGHAI_PRODUCTS[shanghai_product]
            out.append(
                Place(
                    "shanghai",
                    f"Shanghai, {title} {shanghai_year}, 16 districts",
                    data / "shanghai" / folder / pattern.format(year=shanghai_year),
                    data / "shanghai" / "boundaries" / "shanghai_districts_boundary.shp",
                    "Name",
                    display=f"shanghai/{folder}/{pattern.format(year=shanghai_year)}",
                )
            )
        elif key == "cote_divoire":
            civ = data / "cote_divoire"
            out.append(
                Place(
                    "cote_divoire",
                    "Cote d'Ivoire, VIIRS 2024, 33 regions",
                    civ / "ntl.tif",
                    civ / "adm1_rf_zonal.geojson",
                    "ADM1_FR",
                    population=civ / "pop.tif",
                    display="cote_divoire/ntl.tif",
                )
            )
        elif key == "demo":
            folder = _demo_dir()
            if not (folder / "manifest.json").exists():
                from deeplight.data.demo import make_demo

                print(f"validate_sdg: making the built-in demo in {folder} (about 15 s)", file=sys.stderr)
                make_demo(folder)
            out.append(
                Place(
                    "demo",
                    "Built-in demo (synthetic country), provinces",
                    folder / "hr.tif",
                    folder / "regions.geojson",
                    "name",
                    population=folder / "population.tif",
                    aux={"dmo": folder / "dmo.tif", "dem": folder / "dem.tif"},
                    synthetic_hr=True,
                    hr_note="SYNTHETIC",
                    display="<DEEPLIGHT_HOME>/demo/hr.tif",
                )
            )
    return out


def _methods(specs: list[tuple[str, str]]) -> list[Method]:
    from deeplight.models.checkpoint import read_checkpoint_meta

    methods = [Method(sdg_eval.INTERPOLATION, None, "bicubic", "bicubic")]
    for name, path in specs:
        stem = Path(path).expanduser()
        for suffix in (".safetensors", ".json"):
            if stem.name.endswith(suffix):
                stem = stem.with_name(stem.name[: -len(suffix)])
        if not stem.is_absolute() and not stem.with_suffix(".json").exists():
            stem = REPO / stem  # the default is relative to the repository
        meta = read_checkpoint_meta(stem)
        methods.append(
            Method(
                sdg_eval.sr_method(name), stem, str(meta.get("sha256") or stem), str(meta.get("model", name))
            )
        )
    return methods


def _file_id(path: Path | None) -> Any:
    if path is None:
        return None
    stat = path.stat()
    return [str(path.resolve()), stat.st_size, stat.st_mtime_ns]


def _code_hash() -> str:
    """Hash of the library source the cached tables depend on (not of the report formatting)."""
    digest = hashlib.sha256(TABLE_VERSION.encode())
    files = []
    for folder in CODE_FOR_CACHE:
        files.extend(sorted((REPO / folder).rglob("*.py")))
    for path in files:
        digest.update(str(path.relative_to(REPO)).encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()


def _read_band(path: Path, window: tuple[slice, slice], bands: int | None = 1) -> np.ndarray:
    """float32 pixels of ``window`` (rows, cols) of one band (or all, ``bands=None``), NaN for nodata:
    the package's one window reader, deeplight.io.raster.read_window."""
    from rasterio.windows import Window

    from deeplight.io.raster import read_window

    rows, cols = window
    win = Window(cols.start, rows.start, cols.stop - cols.start, rows.stop - rows.start)
    return read_window(path, win, band=bands)


def _region_labels(regions: pd.DataFrame, place: Place) -> pd.DataFrame:
    """Shanghai districts as "Pudong (浦东新区)", as the dashboard shows them (if the app imports)."""
    if place.key != "shanghai":
        return regions
    try:
        from deeplight.catalog import SHANGHAI_DISTRICTS_EN
    except ImportError:  # the dashboard package is optional here
        return regions
    regions = regions.copy()
    regions["region"] = [
        f"{SHANGHAI_DISTRICTS_EN[n]} ({n})" if n in SHANGHAI_DISTRICTS_EN else n for n in regions["region"]
    ]
    return regions


def indicator_place(
    place: Place,
    methods: list[Method],
    *,
    seed: int,
    max_pixels: int | None,
    device: str,
    cache_root: Path | None,
    code_hash: str,
) -> tuple[pd.DataFrame, dict[str, Any]]:
    """Indicators of one place on HR, LR, bicubic and each SR: (long values table, facts)."""
    from deeplight.data.degrade import preset_params
    from deeplight.contracts import SCALE, nominal_dn_to_radiance
    from deeplight.infer import TileCache, predict_array, resolve_device

    key = sdg_eval.stable_key(
        table=TABLE_VERSION,
        place=place.key,
        files=[
            _file_id(p) for p in (place.hr_path, place.regions_path, place.population, *place.aux.values())
        ],
        name_column=place.name_column,
        seed=seed,
        preset="realistic",
        max_pixels=max_pixels,
        methods=[(m.label, m.model_id) for m in methods],
        code=code_hash,
    )
    cached_values = cached_facts = None
    if cache_root is not None:
        cached_values = cache_root / "indicators" / f"{place.key}-{key[:20]}.csv"
        cached_facts = cached_values.with_suffix(".json")
        if cached_values.exists() and cached_facts.exists():
            facts = json.loads(cached_facts.read_text())
            facts["from_cache"] = True
            return pd.read_csv(cached_values, keep_default_na=True), facts

    started = time.perf_counter()
    dev = resolve_device(device)
    hr_full = read_georaster(place.hr_path)
    rows, cols = sdg_eval.crop_window(hr_full.shape, max_pixels, SCALE)
    hr_values = hr_full.values[rows, cols]
    hr_transform = hr_full.transform * Affine.translation(cols.start, rows.start)
    lr_transform = hr_transform * Affine.scale(SCALE)
    params = preset_params("realistic")
    lr_dn, info = degrade_dmsp_like(hr_values, params, seed=seed)
    lr_radiance = np.asarray(nominal_dn_to_radiance(lr_dn.astype(np.float64)), dtype=np.float64)
    aux = {}
    if "dmo" in place.aux:
        aux["dmo"] = _read_band(place.aux["dmo"], (rows, cols), bands=None)
    if "dem" in place.aux:
        aux["dem"] = _read_band(place.aux["dem"], (rows, cols))
    radiance_tags = {"units": "nW/cm2/sr"}
    products: dict[str, GeoRaster] = {
        "hr": GeoRaster(hr_values, hr_transform, hr_full.crs, str(place.hr_path), {**radiance_tags}),
        "lr": GeoRaster(
            lr_radiance,
            lr_transform,
            hr_full.crs,
            "simulated LR (degradation model, realistic preset)",
            {**radiance_tags, "simulated": "true"},
        ),
    }
    labels = {"hr": sdg_eval.REFERENCE, "lr": sdg_eval.BASELINE}
    degrade_s = time.perf_counter() - started
    cache = TileCache(cache_root / "cache") if cache_root is not None else None
    lr_digest = hashlib.sha256(np.ascontiguousarray(lr_dn).tobytes()).hexdigest()
    aux_digest = {k: hashlib.sha256(np.ascontiguousarray(v).tobytes()).hexdigest() for k, v in aux.items()}
    inference = {}
    for index, method in enumerate(methods):
        t0 = time.perf_counter()
        result = predict_array(
            method.model(dev),
            lr_dn,
            aux,
            device=dev,
            cache=cache,
            model_id=method.model_id,
            # the content of the inputs and the library code: a model or inference change is a miss
            input_id=sdg_eval.stable_key(lr=lr_digest, aux=aux_digest, code=code_hash),
        )
        seconds = time.perf_counter() - t0
        inference[method.label] = {
            "seconds": seconds,
            "from_cache": bool(result.from_cache),
            "tiles": int(result.tiles),
            "hr_mpix_per_s": None if result.from_cache or seconds <= 0 else hr_values.size / 1e6 / seconds,
        }
        name = f"m{index}"
        products[name] = GeoRaster(
            np.asarray(result.radiance, dtype=np.float64),
            hr_transform,
            hr_full.crs,
            f"{method.label} of the simulated LR",
            {**radiance_tags, "simulated": "true", "model": method.model_name},
        )
        labels[name] = method.label

    regions = _region_labels(load_regions(place.regions_path, name_column=place.name_column), place)
    options = dict(
        population=str(place.population) if place.population else None,
        simulated={name: name != "hr" for name in products},
        units=dict.fromkeys(products, "nW/cm2/sr"),
        lit_threshold=1.0,
        urban_threshold=10.0,
        co2_total=1.0,
        co2_unit="share of the all-regions total",
        keep_empty_regions=max_pixels is None,
    )
    t0 = time.perf_counter()
    runs = {}
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        for run in ("fixed", "otsu"):
            runs[run] = compute_indicators(products, regions, urban_method=run, **options)
    indicator_s = time.perf_counter() - t0
    values = sdg_eval.collect_indicators(runs, labels)
    meta = {run: table.attrs["metadata"]["products"] for run, table in runs.items()}
    finite = np.isfinite(hr_values)
    facts = {
        "place": place.key,
        "title": place.title,
        "hr": place.display,
        "hr_kind": place.hr_note,
        "hr_shape": list(hr_full.shape),
        "window": [rows.start, rows.stop, cols.start, cols.stop],
        "cropped": max_pixels is not None and hr_values.shape != tuple(hr_full.shape),
        "lr_shape": list(lr_dn.shape),
        "regions": int(len(regions)),
        "regions_in_table": int(values["region"].nunique()),
        "name_column": place.name_column,
        "population": place.population.name if place.population else None,
        "aux": sorted(aux),
        "hr_valid_share": float(finite.mean()),
        "degradation": {
            "preset": "realistic",
            "seed": seed,
            "gain_drift": info.gain_drift,
            "offset_drift_dn": info.offset_drift_dn,
            "shift_lr": list(info.shift_lr),
            "rotation_deg": info.rotation_deg,
            "saturated_lr_share": info.saturated_fraction,
        },
        "otsu_threshold": {labels[n]: meta["otsu"][n]["urban_threshold"] for n in products},
        "inference": inference,
        "device": str(dev),
        "seconds": {
            "degrade": degrade_s,
            "inference": sum(v["seconds"] for v in inference.values()),
            "indicators": indicator_s,
            "total": time.perf_counter() - started,
        },
        "warnings": sorted({str(w.message) for w in caught})[:10],
        "from_cache": False,
    }
    if cached_values is not None:
        cached_values.parent.mkdir(parents=True, exist_ok=True)
        atomic_write_text(cached_values, values.to_csv(index=False))
        atomic_write_text(cached_facts, json.dumps(facts, indent=2, default=str))
    return values, facts


def _code_line() -> str:
    """deeplight version, git commit and whether the library has uncommitted changes."""
    import subprocess

    from deeplight import __version__

    def git(*cmd: str) -> str | None:
        try:
            done = subprocess.run(["git", *cmd], cwd=REPO, capture_output=True, text=True, timeout=10)
        except (OSError, subprocess.SubprocessError):
            return None
        return done.stdout.strip() if done.returncode == 0 else None

    commit = git("rev-parse", "--short", "HEAD")
    if commit is None:
        return f"deeplight {__version__} (not a git checkout: {REPO})"
    changed = git("status", "--porcelain", "--", "deeplight")
    state = f"{len(changed.splitlines())} library files changed since" if changed else "clean at"
    return f"deeplight {__version__}, working tree {state} commit {commit}"


def _command(argv: list[str]) -> str:
    niceness = os.nice(0) if hasattr(os, "nice") else 0
    prefix = f"nice -n {niceness} " if niceness else ""
    arguments = "".join(f" {shlex.quote(a)}" for a in argv)
    return f"{prefix}.venv/bin/python benchmarks/validate_sdg.py{arguments}"


def _caption(command: str, places: list[str]) -> str:
    demo = " The demo's HR is **synthetic** (generated, not observed)." if "demo" in places else ""
    load = ", ".join(f"{v:.1f}" for v in os.getloadavg()) if hasattr(os, "getloadavg") else "n/a"
    return (
        f"*LR: **SIMULATED** by the project's DMSP-like degradation model from the HR (not an "
        f"observation).{demo} Machine: {MACHINE} (load {load} at the end of the run). "
        f"Command: `{command}`.*"
    )


def indicator_tables(
    places: list[Place],
    methods: list[Method],
    *,
    seed: int,
    max_pixels: int | None,
    device: str,
    cache_root: Path | None,
) -> tuple[pd.DataFrame, pd.DataFrame, list[dict[str, Any]]]:
    """Per-region errors, the summary and the per-place facts of section 7."""
    code_hash = _code_hash()
    all_values, facts = [], []
    for place in places:
        print(f"validate_sdg: indicators of {place.title} ...", file=sys.stderr, flush=True)
        values, place_facts = indicator_place(
            place, methods, seed=seed, max_pixels=max_pixels, device=device, cache_root=cache_root,
            code_hash=code_hash,
        )
        values.insert(0, "place", place.key)
        all_values.append(values)
        facts.append(place_facts)
        seconds = place_facts["seconds"]["total"]
        parts = ", ".join(f"{k} {v:.1f} s" for k, v in place_facts["seconds"].items() if k != "total")
        how = "from the cache" if place_facts["from_cache"] else f"in {seconds:.1f} s ({parts})"
        print(f"validate_sdg: {place.key} done {how}", file=sys.stderr, flush=True)
    values = pd.concat(all_values, ignore_index=True)
    errors = sdg_eval.error_table(values)
    order = sdg_eval.ordered_methods(values["method"])
    errors["method"] = pd.Categorical(errors["method"], [m for m in order if m != sdg_eval.REFERENCE])
    errors["indicator"] = pd.Categorical(errors["indicator"], list(sdg_eval.INDICATORS))
    errors["place"] = pd.Categorical(errors["place"], [p.key for p in places])
    errors = errors.sort_values(["place", "indicator", "region", "method"]).reset_index(drop=True)
    summary = sdg_eval.summarise(errors, by=["place"])
    for frame in (errors, summary):
        for column in ("place", "indicator", "method"):
            frame[column] = frame[column].astype(str)
    units = {k: v[1] for k, v in sdg_eval.INDICATORS.items()}
    errors.insert(errors.columns.get_loc("indicator") + 1, "unit", errors["indicator"].map(units))
    hr_kind = {f["place"]: f["hr_kind"] for f in facts}
    errors.insert(1, "hr_kind", errors["place"].map(hr_kind))
    errors["lr_simulated"] = True
    return errors, summary, facts


def _csv_header(caption: str, facts: list[dict[str, Any]]) -> str:
    lines = [
        "# DeepLight SDG indicator validation (benchmarks/validate_sdg.py, section 7)",
        "# " + caption.replace("*", "").replace("`", ""),
        "# LR = simulated DMSP-like DN (realistic degradation preset, fixed seed) mapped to radiance by "
        "the nominal response, on its 8x coarser grid; SR/bicubic reconstructed from that LR.",
        "# rel_error = |value - hr| / |hr| (0 when both 0, inf when only hr is 0); vs_lr = value / lr - 1; "
        "le_lr = |value - hr| <= |lr - hr|.",
    ]
    for f in facts:
        lines.append(f"# {f['place']}: {f['title']}; HR {f['hr_kind']} {f['hr']}; window {f['window']}")
    return "\n".join(lines) + "\n"


SUMMARY_COLUMNS = {
    "place": "place",
    "indicator": "indicator",
    "method": "method",
    "regions": "regions",
    "share_le_lr": "|M-HR| <= |LR-HR|",
    "share_lt_lr": "strictly better than LR",
    "share_le_bicubic": "|M-HR| <= |bicubic-HR|",
    "median_rel_error": "median rel. error vs HR",
    "total_vs_hr": "all regions vs HR",
    "total_vs_lr": "all regions vs LR",
    "median_abs_vs_lr": "median |M/LR - 1|",
    "share_within_1pct_lr": "regions within 1% of LR",
}


def indicator_markdown(
    errors: pd.DataFrame, summary: pd.DataFrame, facts: list[dict[str, Any]], caption: str
) -> str:
    """Section 7 of sdg_validation.md."""
    pct = sdg_eval.format_percent
    share = {k: pct for k in ("share_le_lr", "share_lt_lr", "share_le_bicubic", "share_within_1pct_lr")}
    signed = lambda v: "" if pd.isna(v) else ("+" if v > 0 else "") + pct(v)  # noqa: E731
    formats = {
        **share,
        "median_rel_error": pct,
        "total_vs_hr": signed,
        "total_vs_lr": signed,
        "median_abs_vs_lr": lambda v: pct(v, 2),
    }
    table = summary.copy()
    table["indicator"] = table["indicator"].map(lambda k: sdg_eval.INDICATORS[k][0])
    table = table[list(SUMMARY_COLUMNS)]
    renamed = table.rename(columns=SUMMARY_COLUMNS)
    summary_md = sdg_eval.markdown(renamed, {SUMMARY_COLUMNS[k]: v for k, v in formats.items()})

    # targets of issue 10 on the model rows
    target_lines = []
    for method in [m for m in summary["method"].unique() if m.startswith("SR ")]:
        rows = summary[summary["method"] == method]
        for indicator in ("lit_area", "urban_fixed", "urban_otsu"):
            sel = rows[rows["indicator"] == indicator]
            if sel.empty:
                continue
            mean_regions = (sel["share_le_lr"] * sel["regions"]).sum() / sel["regions"].sum()
            target_lines.append(
                f"- {method}, {sdg_eval.INDICATORS[indicator][0]}: |SR-HR| <= |LR-HR| in "
                f"{pct(mean_regions)} of all regions (target >= 80%: "
                f"{'met' if mean_regions >= 0.8 else 'missed'}); per place "
                + ", ".join(f"{r.place} {pct(r.share_le_lr)}" for r in sel.itertuples())
            )
        sums = rows[rows["indicator"] == "sum_of_lights"]
        if not sums.empty:
            worst = sums["total_vs_lr"].abs().max()
            target_lines.append(
                f"- {method}, sums of lights vs LR (flux kept, target within 1%): all-regions totals "
                + ", ".join(f"{r.place} {signed(r.total_vs_lr)}" for r in sums.itertuples())
                + "; regions within 1%: "
                + ", ".join(f"{r.place} {pct(r.share_within_1pct_lr)}" for r in sums.itertuples())
                + f" ({'met' if worst <= sdg_eval.FLUX_TOLERANCE else 'missed'} on the totals)"
            )

    fact_rows = []
    for f in facts:
        deg = f["degradation"]
        inference = "; ".join(
            f"{label} {v['seconds']:.1f} s" + (" (cache)" if v["from_cache"] else "")
            for label, v in f["inference"].items()
        )
        otsu = "; ".join(f"{k} {v.split('R >= ')[-1]}" for k, v in f["otsu_threshold"].items())
        fact_rows.append(
            {
                "place": f["place"],
                "HR": f"{f['hr_kind']}, {f['hr']}",
                "HR window (rows, cols)": "{}:{}, {}:{}".format(*f["window"])
                + (" (cropped)" if f["cropped"] else "")
                + f" of {f['hr_shape'][0]}x{f['hr_shape'][1]}",
                "LR": f"{f['lr_shape'][0]}x{f['lr_shape'][1]}",
                "regions": f"{f['regions_in_table']} of {f['regions']} (`{f['name_column']}`)",
                "population": f["population"] or "none",
                "aux to the model": ", ".join(f["aux"]) or "none",
                "degradation (seed, gain drift, saturated LR)": f"{deg['seed']}, {deg['gain_drift']:.3f}, "
                f"{100 * deg['saturated_lr_share']:.1f}%",
                "Otsu threshold": otsu,
                "inference": inference,
                "time": f"{f['seconds']['total']:.1f} s"
                + (" (when computed; read from the cache in this run)" if f["from_cache"] else ""),
            }
        )
    facts_md = sdg_eval.markdown(pd.DataFrame(fact_rows))

    detail = []
    for place in errors["place"].unique():
        frame = errors[errors["place"] == place]
        wide_value = frame.pivot_table(
            index=["region", "indicator"], columns="method", values="value", aggfunc="first", sort=False
        )
        wide_rel = frame.pivot_table(
            index=["region", "indicator"], columns="method", values="rel_error", aggfunc="first", sort=False
        )
        hr = frame.groupby(["region", "indicator"], sort=False)["hr"].first()
        methods = [m for m in sdg_eval.ordered_methods(frame["method"]) if m in wide_value.columns]
        out = pd.DataFrame(index=wide_value.index)
        out["HR"] = hr.reindex(out.index)
        for m in methods:
            out[m] = wide_value[m]
        for m in methods:
            out[f"rel err {m}"] = wide_rel[m]
        for m in methods:
            if m == sdg_eval.BASELINE:
                continue
            le = frame[frame["method"] == m].set_index(["region", "indicator"])["le_lr"]
            out[f"{m} <= LR"] = le.reindex(out.index).map(
                lambda v: "" if pd.isna(v) else ("yes" if v else "no")
            )
        out = out.reset_index()
        out["indicator"] = pd.Categorical(out["indicator"], list(sdg_eval.INDICATORS))
        out = out.sort_values(["region", "indicator"], kind="stable")
        out["indicator"] = out["indicator"].map(lambda k: sdg_eval.INDICATORS[k][0])
        rel_formats = {c: pct for c in out.columns if str(c).startswith("rel err")}
        title = next(f["title"] for f in facts if f["place"] == place)
        detail.append(f"### 7.{len(detail) + 2} {title}: per region\n\n{caption}\n\n"
                      f"{sdg_eval.markdown(out, rel_formats)}")
    details = "\n\n".join(detail)
    targets = "\n".join(target_lines)
    return f"""## 7. Indicators per region: LR, bicubic and SR against HR

{caption}

HR: the real VIIRS-class raster (Shanghai, Cote d'Ivoire) or the demo's **synthetic** HR, cut to whole
8x8 blocks. LR: that HR degraded by `deeplight.data.degrade.degrade_dmsp_like` (`realistic` preset:
drift, blooming PSF, misregistration, noise, 6-bit saturation; fixed seed), its DN mapped to radiance
by the nominal response (`nominal_dn_to_radiance`, so drift is not undone and saturated cores are
lower bounds), on its own 8x coarser grid. bicubic and SR: `deeplight.infer.predict_array` (the
dashboard's tiled, cached inference) on that LR DN, with the demo's DMO and DEM as auxiliary layers
(the real places have none). Indicators: `deeplight.sdg.compute_indicators` (what `deeplight sdg`
and the dashboard call) with lit R >= 1 nW/cm2/sr, urban R >= 10 (fixed) or Otsu on each product's
own scene, population moved onto each grid with totals conserved, and CO2 as the ODIAC-style share
of the all-regions total (`co2_total=1`). Relative error |M - HR| / |HR| (0 when both are 0, inf
when only HR is 0); `|M-HR| <= |LR-HR|` counts ties (e.g. no urban area anywhere) as not worse, and
`strictly better` does not.

### 7.1 Summary

{caption}

{summary_md}

Targets (issue 10), for the checkpoint rows:

{targets}

Per place:

{facts_md}

{details}
"""


def real_data_checks(data: Path, results: Path) -> tuple[str, float]:
    """Sections 1-6 (the real-data checks): writes their CSVs into ``results``; (Markdown, seconds)."""
    started = time.perf_counter()
    summary, per_district, full = shanghai_urban(data)
    access, national = cote_divoire_access(data)
    crs_table = touggourt_crs(data)
    lr_hr = lr_vs_hr(data)
    series = shanghai_series(data)
    timings = speed(data)
    elapsed = time.perf_counter() - started
    for name, frame in (
        ("sdg_shanghai_urban", full),
        ("sdg_cote_divoire_access", access),
        ("sdg_touggourt_crs", crs_table),
        ("sdg_lr_vs_hr", lr_hr),
        ("sdg_shanghai_series", series),
        ("sdg_speed", timings),
    ):
        atomic_write_text(results / f"{name}.csv", frame.to_csv(index=False))
    national_md = "\n".join(
        f"- {k}: {v:,.3f}" if "proxy" in k else f"- {k}: {v:,.0f}" for k, v in national.items()
    )
    text = f"""## 1. Shanghai 2018 urban extent vs MGUP 2018 (all 16 districts, area-weighted confusion)

Thresholds are set on the whole scene: fixed R >= 10 nW/cm2/sr, Otsu on log1p(R), and calibrated so
the night-light urban area equals the MGUP urban area.

{_md(summary)}

Per district (F1 and IoU; `viirs` = NPP-VIIRS-like, `npp` = NPP-VIIRS VNL):

{_md(per_district.rename(columns=lambda c: c.replace("NPP-VIIRS-like", "viirs").replace("NPP-VIIRS", "npp")))}

Central districts are entirely urban in MGUP and lit, so F1 ~ 1 and kappa ~ 0 (no negatives to agree on).

## 2. Cote d'Ivoire 2024: electricity-access proxy per region (VIIRS >= 1 nW/cm2/sr)

Population: 1 km grid reprojected onto the 15'' VIIRS grid as density and rescaled to conserve its total.

{national_md}

{_md(access)}

## 3. Touggourt: zonal statistics across CRSs (9 hexagons)

VIIRS 2020 (EPSG:4326, 15'') and the same raster warped to a 250 m Mollweide grid;
GHS-POP 2015 (Mollweide, 1 km)
counted on its own grid vs reprojected onto the VIIRS grid.

{_md(crs_table)}

## 4. LR (SIMULATED: real HR degraded by the DMSP-like model, seed 0) vs HR

`LR DN, nominal calibration` is what a user gets from a DMSP-like file (DN -> radiance with the
nominal response; the per-scene gain drift is not known). `drift-corrected` inverts the drawn drift;
`radiance before response` is the blurred, aggregated radiance before the response, saturation and noise.

{_md(lr_hr)}

## 5. Shanghai 2000-2020 time series (NPP-VIIRS-like, city outline; SDG 11.3.1 LCR)

Before 2013 the NPP-VIIRS-like series is itself modelled from DMSP by its authors (Chen et al. 2021).
PGR and LCRPGR need a population per year, which the sample data do not have.

{_md(series, 4)}

## 6. Speed of `compute_indicators` ({MACHINE}, one process, best and median of 3 runs)

{_md(timings, 2)}
"""
    return text, elapsed


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--data", default=os.environ.get("DEEPLIGHT_DATA_DIR", str(REPO.parent / "shared" / "data"))
    )
    parser.add_argument(
        "--checkpoint",
        action="append",
        metavar="[NAME=]PATH",
        help="checkpoint stem or .safetensors (repeatable; NAME=PATH names its rows; "
        f"default {DEFAULT_CHECKPOINT})",
    )
    parser.add_argument(
        "--places", nargs="+", choices=PLACES, default=list(PLACES), help="places of the indicator table"
    )
    parser.add_argument(
        "--out",
        default=str(RESULTS / "sdg_validation"),
        help="output stem: <out>.md (every section), <out>.csv (per region), <out>.summary.csv; "
        "the CSVs of sections 1-6 go beside them",
    )
    parser.add_argument(
        "--max-pixels",
        type=int,
        default=None,
        help="crop each HR to a centred window of at most this many pixels (quick runs)",
    )
    parser.add_argument("--seed", type=int, default=0, help="seed of the simulated LR (default 0)")
    parser.add_argument(
        "--shanghai-product", choices=sorted(SHANGHAI_PRODUCTS), default="vnl", help="Shanghai HR product"
    )
    parser.add_argument("--shanghai-year", type=int, default=2020, help="Shanghai HR year (default 2020)")
    parser.add_argument("--device", default="auto", help="auto, cpu, cuda[:N] or mps (default auto)")
    parser.add_argument(
        "--threads", type=int, default=None, help="torch CPU threads (default: the idle cores)"
    )
    parser.add_argument(
        "--skip-checks", action="store_true", help="only the indicator table (skip sections 1-6)"
    )
    parser.add_argument(
        "--cache-dir",
        default=str(RUNS),
        help=f"cache of SR arrays and per-place tables (default {RUNS.relative_to(REPO)})",
    )
    parser.add_argument("--no-cache", action="store_true", help="neither read nor write the cache")
    parser.add_argument("--note", action="append", default=[], help="a line added to the Markdown header")
    args = parser.parse_args(argv)
    data = Path(args.data)
    needs_shared = not args.skip_checks or any(p != "demo" for p in args.places)
    if needs_shared and not (data / "shanghai").is_dir():
        print(
            f"validate_sdg: shared data not found at {data}: pass --data or set DEEPLIGHT_DATA_DIR",
            file=sys.stderr,
        )
        return 2
    out = Path(args.out)
    if out.suffix in (".md", ".csv"):
        out = out.with_suffix("")
    results = out.parent
    results.mkdir(parents=True, exist_ok=True)
    try:
        specs = sdg_eval.parse_checkpoint_specs(args.checkpoint, DEFAULT_CHECKPOINT)
        methods = _methods(specs)
    except ValueError as exc:
        print(f"validate_sdg: {exc}", file=sys.stderr)
        return 2
    from deeplight.errors import DeepLightError
    from deeplight.infer.devices import configure_cpu_threads

    threads = configure_cpu_threads(args.threads)
    started = time.perf_counter()
    checks = ""
    checks_s = 0.0
    if not args.skip_checks:
        checks, checks_s = real_data_checks(data, results)
    try:
        places = _places(data, list(dict.fromkeys(args.places)), args.shanghai_product, args.shanghai_year)
        table_started = time.perf_counter()
        errors, summary, facts = indicator_tables(
            places,
            methods,
            seed=args.seed,
            max_pixels=args.max_pixels,
            device=args.device,
            cache_root=None if args.no_cache else Path(args.cache_dir),
        )
        table_s = time.perf_counter() - table_started
    except DeepLightError as exc:
        print(f"validate_sdg: error: {exc}", file=sys.stderr)
        return 2
    elapsed = time.perf_counter() - started
    command = _command(argv)
    caption = _caption(command, [p.key for p in places])
    header = _csv_header(caption, facts)
    atomic_write_text(out.with_suffix(".csv"), header + errors.to_csv(index=False))
    atomic_write_text(Path(f"{out}.summary.csv"), header + summary.to_csv(index=False))
    section7 = indicator_markdown(errors, summary, facts, caption)
    notes = "".join(f"\nNote: {line}\n" for line in args.note)
    skipped = (
        "\nSections 1-6 (the real-data checks) were skipped in this run (`--skip-checks`).\n"
        if args.skip_checks
        else ""
    )
    text = f"""# SDG indicator validation on real data

Machine: {MACHINE} ({platform.machine()}, Python {platform.python_version()}, torch threads: {threads});
run time {elapsed:.1f} s (sections 1-6: {checks_s:.1f} s; section 7: {table_s:.1f} s).
Command: `{command}`. Data: `../shared/data` (see its README for sources).
Code: {_code_line()}.
{notes}{skipped}
{checks}
{section7}"""
    atomic_write_text(out.with_suffix(".md"), text)
    print(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
