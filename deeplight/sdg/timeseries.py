"""Indicators over several years, and the SDG 11.3.1 land-consumption indicators.

:func:`compute_time_series` runs :func:`compute_indicators` once per year (the coverage of the
regions is recomputed per call; each year can be on its own grid) and adds, for each pair of
consecutive years, ``gdp_growth_prior`` = 0.3 x (ln TNL_end - ln TNL_start), labelled as a PRIOR
(Henderson, Storeygard & Weil 2012; :func:`gdp_growth_rows`). ``deeplight sdg --series`` does not call
it: it runs :func:`deeplight.report.region_report` per year (the single-date pipeline, with the
Gini rows and units as words) and stacks them with :func:`deeplight.report.series_report`, which adds
the same :func:`gdp_growth_rows`.
:func:`land_consumption_table` turns two years of urban extent and population into LCR, PGR and
LCRPGR (UN-Habitat SDG 11.3.1 metadata).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd

from deeplight.errors import DeepLightError
from deeplight.sdg.compute import TIDY_COLUMNS, compute_indicators
from deeplight.sdg.indicators import (
    GDP_LIGHT_ELASTICITY_PRIOR,
    gdp_growth_from_lights,
    land_consumption_rate,
    lcr_pgr_ratio,
    population_growth_rate,
)
from deeplight.io.georaster import RasterInput
from deeplight.io.regions import REGION_COLUMN, as_regions


def compute_time_series(
    products_by_year: Mapping[int, Mapping[str, RasterInput]],
    regions: Any,
    *,
    population_by_year: Mapping[int, RasterInput] | None = None,
    elasticity: float = GDP_LIGHT_ELASTICITY_PRIOR,
    **kwargs: Any,
) -> pd.DataFrame:
    """Tidy table over years: :func:`compute_indicators` per year plus ``gdp_growth_prior`` rows.

    Args:
        products_by_year: year -> {product name -> raster}.
        regions: output of ``load_regions`` or anything it accepts.
        population_by_year: year -> population raster (optional; a year without one has no
            population indicators).
        elasticity: GDP-lights elasticity for ``gdp_growth_prior`` (0.3: a prior).
        **kwargs: passed to :func:`compute_indicators` (thresholds, urban method, simulated...).

    Returns:
        The concatenated tidy table; ``attrs["metadata"]`` of the last year with ``years`` added.
    """
    if not products_by_year:
        raise DeepLightError("compute_time_series needs at least one year of products")
    regions = as_regions(regions, kwargs.pop("name_column", None))
    tables = []
    metadata: dict[str, Any] = {}
    for year in sorted(products_by_year):
        population = (population_by_year or {}).get(year)
        table = compute_indicators(
            products_by_year[year], regions, year=int(year), population=population, **kwargs
        )
        metadata = dict(table.attrs.get("metadata", {}))
        tables.append(table)
    frame = pd.concat(tables, ignore_index=True)
    years = sorted(int(y) for y in products_by_year)
    growth = gdp_growth_rows(frame, elasticity)
    if len(growth):
        frame = pd.concat([frame, growth], ignore_index=True)
    frame["year"] = frame["year"].astype("Int64")
    metadata["years"] = years
    frame.attrs["metadata"] = metadata
    return frame


def gdp_growth_rows(table: pd.DataFrame, elasticity: float = GDP_LIGHT_ELASTICITY_PRIOR) -> pd.DataFrame:
    """``gdp_growth_prior`` rows between consecutive years of a tidy table over several years.

    For each region, product and pair of consecutive years of the table (its ``year`` column),
    elasticity x (ln TNL_end - ln TNL_start), labelled as a PRIOR (Henderson, Storeygard & Weil 2012).
    :func:`compute_time_series` and :func:`deeplight.report.series_report` (``deeplight sdg --series``)
    both add them with this function.

    Returns:
        Tidy rows (:data:`TIDY_COLUMNS`, year = the end year); empty with fewer than two years.
    """
    years = sorted(int(y) for y in table["year"].dropna().unique())
    tnl = table[table["indicator"] == "sum_of_lights"]
    rows = []
    for (region, product), group in tnl.groupby([REGION_COLUMN, "product"], sort=False):
        by_year = dict(zip(group["year"].astype(int), group["value"], strict=True))
        simulated = bool(group["simulated"].any())
        for start, end in zip(years[:-1], years[1:], strict=True):
            if start in by_year and end in by_year:
                rows.append(
                    {
                        "region": region,
                        "product": product,
                        "year": end,
                        "indicator": "gdp_growth_prior",
                        "value": gdp_growth_from_lights(by_year[start], by_year[end], elasticity),
                        "unit": "ln GDP change",
                        "lower": np.nan,
                        "upper": np.nan,
                        "simulated": simulated,
                        "method": f"PRIOR: elasticity {elasticity:g} x change in ln TNL since {start} "
                        "(Henderson, Storeygard & Weil 2012)",
                        "note": "",
                    }
                )
    out = pd.DataFrame(rows, columns=list(TIDY_COLUMNS))
    out["year"] = out["year"].astype("Int64")
    return out


def _ratio_note(lcr: float, pgr: float) -> str:
    if not np.isfinite(pgr):
        return "population unknown for one of the years: PGR and LCRPGR undefined"
    if pgr <= 0:
        return "PGR <= 0 (population not growing): LCRPGR undefined"
    if not np.isfinite(lcr):
        return "urban area zero or unknown in one of the years: LCR undefined"
    return ""


def land_consumption_table(
    table: pd.DataFrame,
    year_start: int,
    year_end: int,
    *,
    population: pd.DataFrame | Mapping[tuple[str, int], float] | None = None,
    urban_indicator: str = "urban_area",
) -> pd.DataFrame:
    """SDG 11.3.1 rows (lcr, pgr, lcrpgr) per region and product from a time-series table.

    Args:
        table: tidy table holding ``urban_indicator`` for both years (and ``population`` rows
            when ``population`` is None).
        year_start, year_end: the two years (year_end > year_start).
        population: people per region and year, as a DataFrame with columns region, year,
            population, or a mapping (region, year) -> people; None takes the table's population rows.
        urban_indicator: which area to use (``urban_area`` or ``lit_area``).

    Returns:
        Tidy rows (columns of the indicator table); LCRPGR is NaN with a warning when PGR <= 0.

    Raises:
        DeepLightError: years not in the table, or year_end <= year_start.
    """
    if year_end <= year_start:
        raise DeepLightError(f"SDG 11.3.1 needs year_end > year_start; got {year_start} and {year_end}")
    span = float(year_end - year_start)
    present = set(table["year"].dropna().astype(int))
    missing = {year_start, year_end} - present
    if missing:
        raise DeepLightError(
            f"years {sorted(missing)} are not in the indicator table (it has {sorted(present)})"
        )
    if population is None:
        pop_rows = table[table["indicator"] == "population"]
        people = {
            (r, int(y), p): v
            for r, y, p, v in zip(
                pop_rows["region"], pop_rows["year"], pop_rows["product"], pop_rows["value"], strict=True
            )
        }

        def pop_of(region: str, year: int, product: str) -> float:
            return people.get((region, year, product), np.nan)
    else:
        if isinstance(population, pd.DataFrame):
            mapping = {
                (r, int(y)): float(v)
                for r, y, v in zip(
                    population["region"], population["year"], population["population"], strict=True
                )
            }
        else:
            mapping = {(str(k[0]), int(k[1])): float(v) for k, v in population.items()}

        def pop_of(region: str, year: int, product: str) -> float:
            return mapping.get((region, year), np.nan)

    urban = table[table["indicator"] == urban_indicator]
    rows = []
    for (region, product), group in urban.groupby(["region", "product"], sort=False):
        by_year = dict(zip(group["year"].astype(int), group["value"], strict=True))
        simulated = bool(group["simulated"].any())
        lcr = land_consumption_rate(by_year.get(year_start, np.nan), by_year.get(year_end, np.nan), span)
        pgr = population_growth_rate(
            pop_of(region, year_start, product), pop_of(region, year_end, product), span
        )
        ratio = lcr_pgr_ratio(lcr, pgr, region=f"{region} ({product})")
        base = {
            "region": region,
            "product": product,
            "year": year_end,
            "unit": "1/yr",
            "lower": np.nan,
            "upper": np.nan,
            "simulated": simulated,
            "note": "",
        }
        period = f"{year_start}-{year_end}"
        rows.append(
            {
                **base,
                "indicator": "lcr",
                "value": lcr,
                "method": f"ln(U{year_end}/U{year_start})/{span:g} ({urban_indicator}), {period}",
            }
        )
        rows.append(
            {
                **base,
                "indicator": "pgr",
                "value": pgr,
                "method": f"ln(P{year_end}/P{year_start})/{span:g}, {period}",
            }
        )
        rows.append(
            {
                **base,
                "indicator": "lcrpgr",
                "value": ratio,
                "unit": "1",
                "method": f"LCR/PGR, {period} (NaN when PGR <= 0)",
                "note": _ratio_note(lcr, pgr),
            }
        )
    out = pd.DataFrame(rows, columns=list(TIDY_COLUMNS))
    out["year"] = out["year"].astype("Int64")
    return out
