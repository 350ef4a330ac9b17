"""Real-data validation of the SDG indicators (deeplight.sdg) on ../shared/data.

Writes benchmarks/results/sdg_validation.md (all tables) and one CSV per table
(benchmarks/results/sdg_*.csv), and prints the Markdown. Usage:

    .venv/bin/python benchmarks/validate_sdg.py [--data ../shared/data]

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
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
import time
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
from affine import Affine
from rasterio.warp import Resampling

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from deeplight.data.degrade import degrade_dmsp_like, lr_dn_to_radiance  # noqa: E402
from deeplight.sdg import (  # noqa: E402
    compute_indicators,
    compute_time_series,
    land_consumption_table,
    load_regions,
    population_per_region,
    urban_extent_accuracy,
)
from deeplight.sdg.rasters import GridRaster, read_grid_raster, reproject_grid  # noqa: E402
from deeplight.sdg.regions import regions_from_bbox  # noqa: E402
from deeplight.utils_io import atomic_write_text  # noqa: E402

RESULTS = REPO / "benchmarks" / "results"
MACHINE = "2-core x86 CPU, no GPU"


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
    population = read_grid_raster(civ / "pop.tif", name="population")
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
    vnl = read_grid_raster(tg / "VNL_v2_npp_2020_global_vcmslcfg_c202102150000.average_masked.tif")
    population = read_grid_raster(tg / "GHS_POP_E2015_GLOBE_R2019A_54009_1K_V1_0.tif", name="population")
    # the VIIRS raster warped onto a 250 m Mollweide grid over the GHS tile (area-weighted average)
    t = population.transform
    mollweide = GridRaster(
        np.zeros((population.shape[0] * 4, population.shape[1] * 4)),
        Affine(t.a / 4, 0, t.c, 0, t.e / 4, t.f),
        population.crs,
        "mollweide grid",
    )
    vnl_mollweide = reproject_grid(vnl, mollweide, Resampling.average)
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
        hr = read_grid_raster(hr_path)
        rows_hr, cols_hr = (hr.shape[0] // 8) * 8, (hr.shape[1] // 8) * 8
        hr_values = np.maximum(hr.values[:rows_hr, :cols_hr], 0.0)
        hr_crop = GridRaster(hr_values, hr.transform, hr.crs, f"{hr.source} (cropped to 8x8 blocks)", {})
        lr_dn, info = degrade_dmsp_like(hr_values, seed=0)
        lr_transform = hr.transform @ Affine.scale(8)
        tags = {"simulated": "true"}
        products = {
            "HR (real VIIRS)": hr_crop,
            "LR DN, nominal calibration": GridRaster(
                lr_dn.astype(float), lr_transform, hr.crs, "lr", {**tags, "units": "DN"}
            ),
            "LR DN, drift-corrected": GridRaster(
                lr_dn_to_radiance(lr_dn, info), lr_transform, hr.crs, "lr", tags
            ),
            "LR radiance before response": GridRaster(
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


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--data", default=os.environ.get("DEEPLIGHT_DATA_DIR", str(REPO.parent / "shared" / "data"))
    )
    args = parser.parse_args()
    data = Path(args.data)
    if not (data / "shanghai").is_dir():
        print(
            f"validate_sdg: shared data not found at {data}: pass --data or set DEEPLIGHT_DATA_DIR",
            file=sys.stderr,
        )
        return 2
    RESULTS.mkdir(parents=True, exist_ok=True)
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
        atomic_write_text(RESULTS / f"{name}.csv", frame.to_csv(index=False))
    national_md = "\n".join(
        f"- {k}: {v:,.3f}" if "proxy" in k else f"- {k}: {v:,.0f}" for k, v in national.items()
    )
    text = f"""# SDG indicator validation on real data

Machine: {MACHINE} ({platform.machine()}, Python {platform.python_version()}); run time {elapsed:.1f} s.
Command: `.venv/bin/python benchmarks/validate_sdg.py`. Data: `../shared/data` (see its README for sources).

## 1. Shanghai 2018 urban extent vs MGUP 2018 (all 16 districts, area-weighted confusion)

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
    atomic_write_text(RESULTS / "sdg_validation.md", text)
    print(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
