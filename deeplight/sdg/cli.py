"""``deeplight sdg``: SDG indicators per region from night-light rasters, to CSV + JSON (+ GeoJSON/GPKG).

One date goes through :func:`deeplight.report.region_report`, the function the dashboard's SDG page
calls, and its CSV through the same writer as the page's download: the same rasters, regions, model
and thresholds give the same table. ``--series`` runs the same region_report once per year and
stacks the tables with :func:`deeplight.report.series_report` (``period`` and ``masked`` columns, as
the page's series), then adds ``gdp_growth_prior`` and, with ``--lcr``, SDG 11.3.1 rows.

Example::

    deeplight sdg --raster hr.tif --lr lr.tif --sr sr.tif --regions districts.shp --out x.csv \
        --population pop.tif --name-column Name --year 2018 --geo x.gpkg
"""

from __future__ import annotations

import argparse
import sys
import warnings
from pathlib import Path

import pandas as pd

from deeplight.errors import DeepLightError
from deeplight.sdg.thresholds import (
    DEFAULT_URBAN_THRESHOLD,
    DMSP_LIT_THRESHOLD_DN,
    URBAN_METHODS,
    VIIRS_LIT_THRESHOLD,
)


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
        "--regions",
        required=True,
        help="polygon file (GeoJSON, GPKG, SHP, zipped SHP), 'naturalearth', or bbox:minx,miny,maxx,maxy",
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
        "--lr-units", choices=("DN", "radiance"), help="units of --lr (detected when omitted)"
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
    parser.add_argument("--model", help="model name of the SR (metadata)")
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


def run(args: argparse.Namespace) -> int:
    """Compute the indicators and write the outputs; returns the exit status."""
    from deeplight.io.regions import load_regions
    from deeplight.report import Thresholds, region_report, series_report
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
    units = {"lr": "DN" if args.lr_units == "DN" else "nW/cm2/sr"} if args.lr_units else None
    simulated_flags = {name: True for name in args.simulated} or None
    thresholds = Thresholds(
        lit_radiance=args.lit_threshold,
        lit_dn=args.lit_threshold_dn,
        urban_method=args.urban_method,
        urban_radiance=args.urban_threshold,
        co2_total=args.co2_total,
        co2_unit=args.co2_unit,
        co2_power_law=tuple(args.co2_power_law) if args.co2_power_law else None,
    )

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
