"""SDG indicators from night-time lights: zonal statistics per region on LR, SR and HR, exported
as a tidy CSV (with a metadata header), a JSON sidecar and GeoJSON/GeoPackage.

See docs/sdg.md for usage and ../shared/docs/SCIENCE.md section 4 for the formulas.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from deeplight.lazy import lazy_exports

if TYPE_CHECKING:  # the eager imports, for type checkers and editors; at run time each loads on first use
    from deeplight.sdg.compute import TIDY_COLUMNS, compute_indicators
    from deeplight.sdg.export import (
        indicators_to_csv_bytes,
        indicators_to_geo_export,
        indicators_to_geodataframe,
        indicators_to_geojson_bytes,
        indicators_to_geopackage_bytes,
        indicators_to_json_sidecar,
        read_indicators_csv,
        write_geo,
        write_indicators,
    )
    from deeplight.sdg.indicators import (
        co2_disaggregation,
        co2_pixel_disaggregation,
        co2_power_law,
        electricity_access_proxy,
        gdp_growth_from_lights,
        land_consumption_rate,
        lcr_pgr_ratio,
        lit_area,
        lit_share,
        population_growth_rate,
        sum_of_lights,
    )
    from deeplight.io.pixel_area import pixel_area_m2
    from deeplight.sdg.population import population_on_grid, population_per_region
    from deeplight.io.regions import load_regions, natural_earth_countries, regions_from_bbox
    from deeplight.sdg.thresholds import calibrated_threshold, otsu_threshold
    from deeplight.sdg.timeseries import compute_time_series, land_consumption_table
    from deeplight.sdg.urban import confusion_scores, urban_extent_accuracy
    from deeplight.sdg.zonal import zonal_statistics

_PROVIDERS = {
    "TIDY_COLUMNS": "deeplight.sdg.compute",
    "compute_indicators": "deeplight.sdg.compute",
    "indicators_to_csv_bytes": "deeplight.sdg.export",
    "indicators_to_geo_export": "deeplight.sdg.export",
    "indicators_to_geodataframe": "deeplight.sdg.export",
    "indicators_to_geojson_bytes": "deeplight.sdg.export",
    "indicators_to_geopackage_bytes": "deeplight.sdg.export",
    "indicators_to_json_sidecar": "deeplight.sdg.export",
    "read_indicators_csv": "deeplight.sdg.export",
    "write_geo": "deeplight.sdg.export",
    "write_indicators": "deeplight.sdg.export",
    "co2_disaggregation": "deeplight.sdg.indicators",
    "co2_pixel_disaggregation": "deeplight.sdg.indicators",
    "co2_power_law": "deeplight.sdg.indicators",
    "electricity_access_proxy": "deeplight.sdg.indicators",
    "gdp_growth_from_lights": "deeplight.sdg.indicators",
    "land_consumption_rate": "deeplight.sdg.indicators",
    "lcr_pgr_ratio": "deeplight.sdg.indicators",
    "lit_area": "deeplight.sdg.indicators",
    "lit_share": "deeplight.sdg.indicators",
    "population_growth_rate": "deeplight.sdg.indicators",
    "sum_of_lights": "deeplight.sdg.indicators",
    "pixel_area_m2": "deeplight.io.pixel_area",
    "population_on_grid": "deeplight.sdg.population",
    "population_per_region": "deeplight.sdg.population",
    "load_regions": "deeplight.io.regions",
    "natural_earth_countries": "deeplight.io.regions",
    "regions_from_bbox": "deeplight.io.regions",
    "calibrated_threshold": "deeplight.sdg.thresholds",
    "otsu_threshold": "deeplight.sdg.thresholds",
    "compute_time_series": "deeplight.sdg.timeseries",
    "land_consumption_table": "deeplight.sdg.timeseries",
    "confusion_scores": "deeplight.sdg.urban",
    "urban_extent_accuracy": "deeplight.sdg.urban",
    "zonal_statistics": "deeplight.sdg.zonal",
}
__getattr__, __dir__ = lazy_exports("deeplight.sdg", _PROVIDERS)

__all__ = sorted(_PROVIDERS)
