"""``deeplight sdg``: SDG indicators per region from night-light rasters, to CSV + JSON (+ GeoJSON/GPKG).

One date goes through :func:`deeplight.report.region_report`, the function the dashboard's SDG page
calls, and its CSV through the same writer as the page's download: the same rasters, regions, model
and thresholds give the same table. ``--series`` runs the same region_report once per year and
stacks the tables with :func:`deeplight.report.series_report` (``period`` and ``masked`` columns, as
the page's series), then adds ``gdp_growth_prior`` and, with ``--lcr``, SDG 11.3.1 rows.

``--dataset ID`` runs on a set of the data catalogue (``deeplight data list``) the way the dashboard's
SDG page does: the catalogue's Scene (:mod:`deeplight.catalog`), cropped to the regions' bounding box
plus the page's margin, through :func:`deeplight.report.scene_report`; for the same regions, SR,
model and thresholds the CSV is the page's "Indicators CSV" download.

Examples::

    deeplight sdg --raster hr.tif --lr lr.tif --sr sr.tif --regions districts.shp --out x.csv \
        --population pop.tif --name-column Name --year 2018 --geo x.gpkg
    deeplight sdg --dataset shanghai_npp_viirs --year 2018 --region "Pudong (浦东新区)" --out x.csv
"""

from __future__ import annotations

import argparse
import sys
import warnings
from pathlib import Path
from typing import TYPE_CHECKING

from deeplight.errors import DeepLightError
from deeplight.sdg.thresholds import (
    DEFAULT_URBAN_THRESHOLD,
    DMSP_LIT_THRESHOLD_DN,
    URBAN_METHODS,
    VIIRS_LIT_THRESHOLD,
)

if TYPE_CHECKING:
    import pandas as pd


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the ``sdg`` command to the ``deeplight`` parser."""
    parser = subparsers.add_parser(
        "sdg",
        help="SDG indicators per region (LR, SR, HR) -> CSV with metadata header + JSON sidecar",
        description="Zonal statistics and SDG indicators per region; see docs/sdg.md.",
    )
    parser.add_argument("--raster", "--hr", dest="hr", help="HR night-light raster (radiance, nW/cm2/sr)")
    parser.add_argument("--lr", help="LR raster (DMSP-like DN 0..63, or radiance)")
    parser.add_argument("--sr", help="SR raster (reconstruction, radiance)")
    parser.add_argument("--sr-std", help="per-pixel std of the SR (nW/cm2/sr): adds lower/upper intervals")
    parser.add_argument(
        "--dataset",
        metavar="ID",
        help="a data set of the catalogue (`deeplight data list`) instead of --raster/--lr/--series; "
        "--year (or --month) picks its date, --sr an SR on its HR grid or --predict MODEL reconstructs it",
    )
    parser.add_argument("--month", help="with --dataset: the YYYY-MM month of a monthly set")
    parser.add_argument(
        "--region",
        action="append",
        metavar="NAME",
        help="with --dataset: a region of the set by name (repeatable; default: all of them)",
    )
    parser.add_argument("--data-dir", help="with --dataset: the real sets' folder (default: $DEEPLIGHT_DATA_DIR)")
    parser.add_argument(
        "--regions",
        help="polygon file (GeoJSON, GPKG, SHP, zipped SHP), 'naturalearth', or bbox:minx,miny,maxx,maxy "
        "(required unless --dataset, whose own regions are used by default)",
    )
    parser.add_argument("--name-column", help="column with region names (guessed when omitted)")
    parser.add_argument("--regions-crs", help="CRS of a region file that has none, e.g. EPSG:4326")
    parser.add_argument("--out", required=True, help="output CSV (a JSON sidecar is written beside it)")
    parser.add_argument("--geo", help="also write indicators joined to the polygons (.geojson or .gpkg)")
    parser.add_argument("--population", help="population raster (people per cell, any CRS)")
    parser.add_argument(
        "--band", type=int,
        help="band (1-based) of multi-band product rasters, e.g. one year of a NetCDF cube (required then)",
    )
    parser.add_argument(
        "--time", help="time step of NetCDF product cubes, by the value of their time dimension (instead of --band)"
    )
    parser.add_argument("--year", type=int, help="year of the products")
    parser.add_argument(
        "--lr-units",
        type=str.lower,
        choices=("dn", "radiance"),
        help="units of --lr, as for `deeplight predict` (dn or radiance; detected when omitted)",
    )
    parser.add_argument(
        "--simulated",
        nargs="*",
        default=[],
        choices=("lr", "sr", "hr"),
        help="products made by the degradation model (also read from the raster tag simulated=true)",
    )
    parser.add_argument(
        "--lit-threshold",
        type=float,
        default=VIIRS_LIT_THRESHOLD,
        help=f"radiance lit threshold, R >= tau (default {VIIRS_LIT_THRESHOLD} nW/cm2/sr)",
    )
    parser.add_argument(
        "--lit-threshold-dn",
        type=float,
        default=DMSP_LIT_THRESHOLD_DN,
        help=f"DN lit threshold, DN > tau (default {DMSP_LIT_THRESHOLD_DN:g})",
    )
    parser.add_argument(
        "--urban-method", choices=URBAN_METHODS, default="otsu", help="urban threshold method"
    )
    parser.add_argument(
        "--urban-threshold",
        type=float,
        default=DEFAULT_URBAN_THRESHOLD,
        help=f"tau of --urban-method fixed (default {DEFAULT_URBAN_THRESHOLD:g} nW/cm2/sr)",
    )
    parser.add_argument(
        "--urban-reference", help="reference urban map (1 urban, 0 not) for --urban-method calibrated"
    )
    parser.add_argument(
        "--co2-total", type=float, help="emissions of all regions together, shared by sum of lights"
    )
    parser.add_argument("--co2-unit", default="t CO2", help="unit of --co2-total (default 't CO2')")
    parser.add_argument(
        "--co2-power-law",
        type=float,
        nargs=2,
        metavar=("A", "B"),
        help="coefficients of ln CO2 = A + B ln TNL (TNL in nW/cm2/sr*km2)",
    )
    parser.add_argument(
        "--series",
        nargs="+",
        metavar="YEAR=PATH",
        help="a time series of HR-type rasters instead of --raster/--lr/--sr, e.g. "
        "2010=ntl_2010.tif 2020=ntl_2020.tif; adds gdp_growth_prior rows",
    )
    parser.add_argument(
        "--lcr",
        nargs=2,
        type=int,
        metavar=("START", "END"),
        help="with --series: SDG 11.3.1 LCR, PGR, LCRPGR between two of its years",
    )
    parser.add_argument(
        "--population-table",
        help="CSV with columns region, year, population for --lcr (else the --population raster's rows)",
    )
    parser.add_argument(
        "--drop-empty",
        action="store_true",
        help="leave out regions that do not overlap the rasters (e.g. world countries over one city)",
    )
    parser.add_argument(
        "--crop-to-regions",
        action="store_true",
        help="read only the part of each raster around the regions (large rasters); "
        "Otsu/calibrated thresholds are then set on that part",
    )
    parser.add_argument(
        "--predict",
        metavar="MODEL",
        help="with --dataset and no --sr: reconstruct the regions' crop first, as the dashboard does, with "
        "a .safetensors checkpoint or a weight-free baseline (bicubic); shares the dashboard's prediction cache",
    )
    parser.add_argument("--model", help="model name of the SR (metadata; default with --predict: its name)")
    parser.add_argument("--checkpoint", help="checkpoint of the SR (metadata)")
    parser.set_defaults(func=run)


def _parse_series(items: list[str]) -> dict[int, dict[str, str]]:
    """Parse ``YEAR=PATH`` items into {year: {"hr": path}}."""
    series: dict[int, dict[str, str]] = {}
    for item in items:
        year, sep, path = item.partition("=")
        if not sep or not year.strip().isdigit() or not path:
            raise DeepLightError(f"--series item {item!r} must look like YEAR=PATH, e.g. 2018=ntl_2018.tif")
        series[int(year)] = {"hr": path}
    return series


def _read_population_table(path: str) -> pd.DataFrame:
    """Read the region/year/population CSV of --population-table."""
    import pandas as pd

    table = pd.read_csv(path, comment="#")
    missing = {"region", "year", "population"} - set(table.columns)
    if missing:
        raise DeepLightError(
            f"--population-table {path} lacks column(s) {sorted(missing)}; it has {list(table.columns)}"
        )
    return table


def _check_outputs(args: argparse.Namespace, products: dict[str, str], series: dict | None) -> None:
    """No output (the CSV, its JSON sidecar, --geo) may replace an input or another output."""
    from deeplight.utils_io import check_outputs_distinct

    inputs: dict[str, object] = {f"--{'raster' if name == 'hr' else name}": path for name, path in products.items()}
    for year, year_products in (series or {}).items():
        inputs[f"--series {year}"] = year_products["hr"]
    regions = args.regions if not str(args.regions).startswith("bbox:") and args.regions != "naturalearth" else None
    inputs.update({
        "--sr-std": args.sr_std,
        "--population": args.population,
        "--urban-reference": args.urban_reference,
        "--regions": regions,
        "--population-table": (args.population_table, "file") if args.population_table else None,
    })
    check_outputs_distinct(inputs, {"--out": (args.out, "csv"), "--geo": (args.geo, "file") if args.geo else None})


DATASET_EXCLUSIVE = {
    "hr": "--raster/--hr", "lr": "--lr", "series": "--series", "population": "--population",
    "band": "--band", "time": "--time", "lr_units": "--lr-units", "simulated": "--simulated",
    "urban_reference": "--urban-reference", "crop_to_regions": "--crop-to-regions", "drop_empty": "--drop-empty",
    "lcr": "--lcr", "population_table": "--population-table", "regions_crs": "--regions-crs",
}
"""Options of the file path that do not apply to ``--dataset`` (the set brings its rasters and tags)."""


def _grid_text(transform, shape) -> str:
    return f"{shape[0]}x{shape[1]} pixels at {tuple(round(v, 6) for v in tuple(transform)[:6])}"


def _on_crop_grid(path: str, option: str, scene, crop) -> "np.ndarray":
    """An SR-type raster cut to the crop's HR grid: it lies on the crop's grid (the dashboard's download)
    or on the whole scene's HR grid (``deeplight predict`` on the set's LR)."""
    import numpy as np

    from deeplight.io.raster import read_raster

    da = read_raster(path, band=1, role="hr")
    values = np.asarray(da.values, dtype=np.float32)
    transform = da.rio.transform(recalc=False)

    def _same(a, b) -> bool:
        return all(abs(x - y) <= 1e-6 * max(1.0, abs(x)) for x, y in zip(tuple(a)[:6], tuple(b)[:6]))

    crop_shape = crop.scene.hr_shape
    if values.shape == crop_shape and _same(transform, crop.scene.hr_transform):
        return values
    if values.shape == scene.hr_shape and _same(transform, scene.hr_transform):
        inv = ~scene.hr_transform
        c0, r0 = (round(v) for v in inv @ (crop.scene.hr_transform.c, crop.scene.hr_transform.f))
        return values[r0 : r0 + crop_shape[0], c0 : c0 + crop_shape[1]]
    raise DeepLightError(
        f"{option} {path}: its grid ({_grid_text(transform, values.shape)}) is neither the HR grid of data set "
        f"{scene.title} ({_grid_text(scene.hr_transform, scene.hr_shape)}) nor that of the regions' crop "
        f"({_grid_text(crop.scene.hr_transform, crop_shape)}): reconstruct the set's LR with `deeplight predict`, "
        "or download the SR GeoTIFF of the same regions from the dashboard's SDG page"
    )


def _run_dataset(args: argparse.Namespace, thresholds) -> int:
    """``--dataset``: the SDG page's path on a catalogued Scene (crop to the regions, scene_report)."""
    from shapely.ops import unary_union

    from deeplight.catalog import default_data_dir, load_scene_for
    from deeplight.io.regions import REGION_COLUMN, load_regions
    from deeplight.io.scene import crop_scene
    from deeplight.report import region_table, scene_report
    from deeplight.sdg.export import check_output_names, write_indicator_outputs
    from deeplight.utils_io import check_outputs_distinct

    given = [flag for name, flag in DATASET_EXCLUSIVE.items() if getattr(args, name, None) not in (None, False, [])]
    if given:
        raise DeepLightError(
            f"--dataset brings its own rasters, population and tags: leave out {', '.join(given)} "
            "(or give the files without --dataset)"
        )
    if args.sr_std and not args.sr:
        raise DeepLightError("--sr-std needs --sr (the uncertainty belongs to the SR product)")
    if args.predict and args.sr:
        raise DeepLightError("give either --sr (an SR raster on the set's HR grid) or --predict MODEL, not both")
    if args.year is not None and args.month is not None:
        raise DeepLightError("give either --year (annual sets) or --month YYYY-MM (monthly sets), not both")
    if args.regions and args.region:
        raise DeepLightError("give either --regions FILE or --region NAME (a region of the data set), not both")
    out = Path(args.out)
    check_outputs_distinct(
        {"--sr": args.sr, "--sr-std": args.sr_std, "--regions": args.regions if args.regions and Path(args.regions).exists() else None},
        {"--out": (args.out, "csv"), "--geo": (args.geo, "file") if args.geo else None},
    )
    check_output_names(out, args.geo)
    data_dir = Path(args.data_dir).expanduser() if args.data_dir else default_data_dir()
    scene = load_scene_for(args.dataset, args.month or args.year, data_dir=data_dir)
    if args.year is not None and scene.month is not None:
        raise DeepLightError(f"data set {args.dataset!r} is monthly: give --month YYYY-MM instead of --year")
    if args.year is not None and scene.year != args.year:
        raise DeepLightError(f"data set {args.dataset!r} has no year {args.year}; `deeplight data list` shows its times")
    if args.month is not None and scene.month != args.month:
        raise DeepLightError(
            f"data set {args.dataset!r} has no month {args.month}; `deeplight data list` shows its times"
        )
    if args.regions:
        loaded = load_regions(args.regions, name_column=args.name_column).to_crs(scene.crs)
        names, geometries = list(loaded[REGION_COLUMN]), list(loaded.geometry)
    else:
        names = args.region or list(scene.regions["name"])
        geometries = [scene.region_geometry(name) for name in names]  # an unknown name lists known ones
    regions = region_table(names, geometries, scene.crs)
    # the page's crop: the regions' bounding box plus its margin (the same grid, the same scene-level
    # Otsu threshold), without the page's in-memory size limit
    crop = crop_scene(scene, unary_union(geometries), "|".join(sorted(names)), max_hr_pixels=2**62)
    sr = _on_crop_grid(args.sr, "--sr", scene, crop) if args.sr else None
    sr_std = _on_crop_grid(args.sr_std, "--sr-std", scene, crop) if args.sr_std else None
    model_name = args.model
    if args.predict:
        sr, name = _predict_crop(args.predict, crop.scene)
        model_name = model_name or name
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        report = scene_report(crop.scene, sr, sr_std, regions, thresholds, model_name)
    for warning in caught:
        print(f"deeplight sdg: warning: {warning.message}", file=sys.stderr)
    written = write_indicator_outputs(report.table, out, geo=args.geo, regions=regions, metadata=report.metadata)
    table = report.table
    print(
        f"{scene.title}: {len(table)} rows ({table['region'].nunique()} regions x {table['product'].nunique()} "
        "products) -> " + ", ".join(str(p) for p in written)
    )
    simulated = table.attrs["metadata"].get("simulated_products", [])
    if simulated:
        print(f"SIMULATED products (made by the degradation model or generated): {', '.join(simulated)}")
    return 0


def _predict_crop(spec: str, crop_scene) -> tuple["np.ndarray", str]:
    """(SR radiance of the crop, the model's name): the dashboard's reconstruction of a region
    (:func:`deeplight.infer.predict_scene_array`, the default prediction cache)."""
    import numpy as np

    from deeplight.infer import TileCache, default_cache_dir, predict_scene_array
    from deeplight.infer.models import open_model

    model, model_id, name = open_model(spec)
    result = predict_scene_array(model, crop_scene, model_id=model_id, cache=TileCache(default_cache_dir()))
    print(f"{crop_scene.title}: SR by {name}" + (" (from the prediction cache)" if result.from_cache else ""))
    return np.asarray(result.radiance, dtype=np.float32), name


def _thresholds_of(args: argparse.Namespace):
    from deeplight.report import Thresholds

    return Thresholds(
        lit_radiance=args.lit_threshold,
        lit_dn=args.lit_threshold_dn,
        urban_method=args.urban_method,
        urban_radiance=args.urban_threshold,
        co2_total=args.co2_total,
        co2_unit=args.co2_unit,
        co2_power_law=tuple(args.co2_power_law) if args.co2_power_law else None,
    )


def run(args: argparse.Namespace) -> int:
    """Compute the indicators and write the outputs; returns the exit status."""
    if args.dataset:
        return _run_dataset(args, _thresholds_of(args))
    for name, flag in (("month", "--month"), ("region", "--region"), ("data_dir", "--data-dir"), ("predict", "--predict")):
        if getattr(args, name):
            raise DeepLightError(
                f"{flag} goes with --dataset ID (a data set of `deeplight data list`)"
                + ("; with files, give the reconstruction as --sr (deeplight predict writes it)" if name == "predict" else "")
            )
    if not args.regions:
        raise DeepLightError(
            "give --regions (a polygon file, 'naturalearth' or bbox:...), or --dataset ID to use a data set's regions"
        )
    from deeplight.io.regions import load_regions
    from deeplight.report import region_report, series_report
    from deeplight.sdg.export import write_indicator_outputs
    from deeplight.sdg.indicators import GDP_LIGHT_ELASTICITY_PRIOR

    products = {name: path for name, path in (("lr", args.lr), ("sr", args.sr), ("hr", args.hr)) if path}
    series = _parse_series(args.series) if args.series else None
    if series and products:
        raise DeepLightError("give either --series or --raster/--lr/--sr, not both")
    if not products and not series:
        raise DeepLightError("give at least one raster: --raster/--hr, --lr, --sr or --series YEAR=PATH")
    if args.lcr and not series:
        raise DeepLightError("--lcr START END needs --series with both years")
    if args.sr_std and not args.sr:
        raise DeepLightError("--sr-std needs --sr (the uncertainty belongs to the SR product)")
    out = Path(args.out)
    _check_outputs(args, products, series)
    from deeplight.sdg.export import check_output_names

    check_output_names(out, args.geo)  # every output is validated before anything is computed or written
    if args.band is not None and args.time is not None:
        raise DeepLightError("give either --band or --time, not both")
    units = {"lr": "DN" if args.lr_units == "dn" else "nW/cm2/sr"} if args.lr_units else None
    simulated_flags = {name: True for name in args.simulated} or None
    thresholds = _thresholds_of(args)

    def report_of(date_products: dict[str, str], year: int | None):
        """The one pipeline (the dashboard's): region_report of one date."""
        return region_report(
            date_products,
            regions,
            thresholds=thresholds,
            population=args.population,
            uncertainty={"sr": args.sr_std} if args.sr_std else None,
            year=year,
            simulated=simulated_flags,
            model_name=args.model,
            checkpoint=args.checkpoint,
            units=units,
            urban_reference=args.urban_reference,
            keep_empty_regions=not args.drop_empty,
            crop_to_regions=args.crop_to_regions,
            band=args.band,
            time=args.time,
        )

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        regions = load_regions(args.regions, name_column=args.name_column, crs=args.regions_crs)
        if series:
            # one region_report per year, stacked by series_report (+ gdp_growth_prior, + SDG 11.3.1)
            people = _read_population_table(args.population_table) if args.population_table else None
            report = series_report(
                {year: report_of(series[year], year) for year in sorted(series)},
                lcr=tuple(args.lcr) if args.lcr else None,
                population=people,
                gdp_elasticity=GDP_LIGHT_ELASTICITY_PRIOR,
            )
        else:
            report = report_of(products, args.year)
        table, extra_metadata = report.table, report.metadata
    for warning in caught:
        print(f"deeplight sdg: warning: {warning.message}", file=sys.stderr)
    # the same writer (and bytes) as the dashboard's "Indicators CSV" download
    written = write_indicator_outputs(table, out, geo=args.geo, regions=regions, metadata=extra_metadata)
    simulated = table.attrs["metadata"].get("simulated_products", [])
    print(
        f"{len(table)} rows ({table['region'].nunique()} regions x {table['product'].nunique()} products) -> "
        + ", ".join(str(p) for p in written)
    )
    if simulated:
        print(f"SIMULATED products (made by the degradation model): {', '.join(simulated)}")
    return 0
