"""The user's selection (data set, year, region or drawn area, model) and its URL encoding.

Kept in the URL query parameters (``?dataset=&year=&region=&aoi=&model=``) so a view can be shared.
A drawn area travels as ``aoi=lon,lat;lon,lat;...`` (EPSG:4326, 5 decimals).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from shapely.geometry import Polygon
from shapely.geometry.base import BaseGeometry

from deeplight.errors import RegionError

DRAWN_AREA = "Drawn area"
"""Region name used for a drawn rectangle/polygon."""
MAX_AOI_POINTS = 500


@dataclass(frozen=True)
class Selection:
    """What the user picked.

    Attributes:
        dataset: data set id (see :func:`app.sources.list_datasets`) or ``upload:<sha>``.
        year: year or None.
        region: region name, :data:`DRAWN_AREA`, or None (first region).
        aoi: drawn polygon in EPSG:4326 or None.
        model: model choice id or None (first available).
    """

    dataset: str = "demo"
    year: int | None = None
    region: str | None = None
    aoi: BaseGeometry | None = None
    model: str | None = None


def parse_aoi(text: str) -> BaseGeometry:
    """Parse ``lon,lat;lon,lat;...`` into a polygon (EPSG:4326).

    Raises:
        RegionError: fewer than 3 points, non-numeric values, coordinates out of range, or an
            invalid (self-intersecting / zero-area) polygon.
    """
    points = []
    for chunk in [c for c in text.split(";") if c.strip()][: MAX_AOI_POINTS + 1]:
        parts = chunk.split(",")
        if len(parts) != 2:
            raise RegionError(f"aoi point {chunk!r} is not 'lon,lat': draw the area again")
        try:
            lon, lat = float(parts[0]), float(parts[1])
        except ValueError:
            raise RegionError(f"aoi point {chunk!r} is not numeric: draw the area again") from None
        if not (-180 <= lon <= 180 and -90 <= lat <= 90):
            raise RegionError(f"aoi point {chunk!r} is outside longitude/latitude range")
        points.append((lon, lat))
    if len(points) > MAX_AOI_POINTS:
        raise RegionError(f"aoi has more than {MAX_AOI_POINTS} points: draw a simpler area")
    if len(set(points)) < 3:
        raise RegionError("aoi needs at least 3 distinct points: draw a rectangle or polygon")
    polygon = Polygon(points)
    if not polygon.is_valid or polygon.area == 0:
        raise RegionError("the drawn area is not a valid polygon (it crosses itself or has no area)")
    return polygon


def format_aoi(geometry: BaseGeometry) -> str:
    """Inverse of :func:`parse_aoi` (exterior ring of a polygon, 5 decimals)."""
    return ";".join(f"{x:.5f},{y:.5f}" for x, y in geometry.exterior.coords)


def selection_from_params(params: Mapping[str, str]) -> tuple[Selection, list[str]]:
    """Build a selection from URL query parameters; bad values are dropped with a message.

    Returns:
        ``(selection, problems)``: problems are user-facing sentences.
    """
    problems: list[str] = []
    year = None
    if params.get("year"):
        try:
            year = int(params["year"])
        except ValueError:
            problems.append(f"year={params['year']!r} in the URL is not a number; ignored")
    aoi = None
    if params.get("aoi"):
        try:
            aoi = parse_aoi(params["aoi"])
        except RegionError as exc:
            problems.append(f"drawn area in the URL ignored: {exc}")
    region = params.get("region") or None
    if aoi is not None:
        region = DRAWN_AREA
    return Selection(
        dataset=params.get("dataset") or "demo",
        year=year,
        region=region,
        aoi=aoi,
        model=params.get("model") or None,
    ), problems


def selection_to_params(selection: Selection) -> dict[str, str]:
    """URL query parameters of a selection (empty values left out)."""
    out = {"dataset": selection.dataset}
    if selection.year is not None:
        out["year"] = str(selection.year)
    if selection.aoi is not None:
        out["aoi"] = format_aoi(selection.aoi)
    elif selection.region:
        out["region"] = selection.region
    if selection.model:
        out["model"] = selection.model
    return out
