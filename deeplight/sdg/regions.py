"""Moved to :mod:`deeplight.io.regions`, the project's one region loader; re-exported here so that
``from deeplight.sdg.regions import ...`` keeps working (e.g. ``benchmarks/validate_sdg.py``)."""

from deeplight.io.regions import (  # noqa: F401
    NATURAL_EARTH_KEYWORDS,
    POLYGON_SUFFIXES,
    REGION_COLUMN,
    as_regions,
    guess_name_column,
    load_regions,
    natural_earth_countries,
    parse_bbox,
    prepare_regions,
    regions_from_bbox,
    regions_overlapping,
)
