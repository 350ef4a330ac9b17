"""The user's selection (data set, year or month, region or drawn area, model) and its URL encoding.

Kept in the URL query parameters (``?dataset=&year=&month=&region=&aoi=&model=``) so a view can be
shared. A drawn area travels as ``aoi=lon,lat;lon,lat;...`` (EPSG:4326, 5 decimals). A monthly data
set is stepped by ``month=YYYY-MM`` instead of ``year=``.

Page controls (the difference map's toggle and "before" date, the series layout, the CO2 inputs...)
travel as :class:`ViewParam` s: each page declares the ones it draws, and
:func:`view_from_params` / :func:`view_to_params` turn them into and out of query parameters (a
value equal to its default is left out, so plain links stay short).
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

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
        month: ``"YYYY-MM"`` of a monthly data set, or None.
        region: region name, :data:`DRAWN_AREA`, or None (first region).
        aoi: drawn polygon in EPSG:4326 or None.
        model: model choice id or None (first available).
    """

    dataset: str = "demo"
    year: int | None = None
    region: str | None = None
    aoi: BaseGeometry | None = None
    model: str | None = None
    month: str | None = None


MONTH_RE = re.compile(r"^\d{4}-(0[1-9]|1[0-2])$")


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
    month = None
    if params.get("month"):
        if MONTH_RE.match(params["month"]):
            month = params["month"]
        else:
            problems.append(f"month={params['month']!r} in the URL is not a YYYY-MM month; ignored")
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
        month=month,
    ), problems


def selection_to_params(selection: Selection) -> dict[str, str]:
    """URL query parameters of a selection (empty values left out)."""
    out = {"dataset": selection.dataset}
    if selection.year is not None:
        out["year"] = str(selection.year)
    if selection.month is not None:
        out["month"] = selection.month
    if selection.aoi is not None:
        out["aoi"] = format_aoi(selection.aoi)
    elif selection.region:
        out["region"] = selection.region
    if selection.model:
        out["model"] = selection.model
    return out


VIEW_KINDS = ("bool", "int", "float", "str", "time", "list")


@dataclass(frozen=True)
class ViewParam:
    """A page control whose value is kept in the URL.

    Attributes:
        key: the widget's key in ``st.session_state``.
        param: the query parameter's name.
        kind: ``"bool"`` (``1``/``0``), ``"int"``, ``"float"``, ``"str"``, ``"time"`` (a year as int
            or a ``YYYY-MM`` month as text) or ``"list"`` (comma-separated text values).
        default: the widget's own default; a value equal to it is not written to the URL. None: the
            page picks a default from the data (the value is then always written once set).
        choices: allowed values of a ``"str"`` or ``"list"`` control (others dropped with a message),
            or None for free text.
    """

    key: str
    param: str
    kind: str = "str"
    default: Any = None
    choices: tuple[str, ...] | None = None

    def __post_init__(self) -> None:
        if self.kind not in VIEW_KINDS:
            raise ValueError(f"unknown view parameter kind {self.kind!r}; one of {VIEW_KINDS}")


def _parse_view_value(spec: ViewParam, text: str) -> Any:
    """The value of one query parameter (raises ValueError when it does not parse)."""
    if spec.kind == "bool":
        if text not in ("0", "1", "true", "false"):
            raise ValueError("not 0 or 1")
        return text in ("1", "true")
    if spec.kind == "int":
        return int(text)
    if spec.kind == "float":
        value = float(text)
        if not math.isfinite(value):
            raise ValueError("not a finite number")
        return value
    if spec.kind == "time":
        if text.isdigit() and len(text) == 4:
            return int(text)
        if MONTH_RE.match(text):
            return text
        raise ValueError("not a year (YYYY) or a month (YYYY-MM)")
    if spec.kind == "list":
        values = [v for v in text.split(",") if v]
        if spec.choices is not None and any(v not in spec.choices for v in values):
            raise ValueError(f"values must be among {', '.join(spec.choices)}")
        return values
    if spec.choices is not None and text not in spec.choices:
        raise ValueError(f"not one of {', '.join(spec.choices)}")
    return text


def _format_view_value(spec: ViewParam, value: Any) -> str:
    if spec.kind == "bool":
        return "1" if value else "0"
    if spec.kind == "float":
        return f"{float(value):.10g}"
    if spec.kind == "list":
        return ",".join(str(v) for v in value)
    return str(value)


def view_from_params(
    params: Mapping[str, str], specs: Iterable[ViewParam]
) -> tuple[dict[str, Any], list[str]]:
    """Values of the page controls found in the URL, by widget key; bad values dropped with a message.

    Returns:
        ``(values, problems)``: only controls present (and valid) in ``params`` have a value.
    """
    values: dict[str, Any] = {}
    problems: list[str] = []
    for spec in specs:
        text = params.get(spec.param)
        if text is None or text == "":
            continue
        try:
            values[spec.key] = _parse_view_value(spec, str(text))
        except ValueError as exc:
            problems.append(f"{spec.param}={text!r} in the URL ignored: {exc}")
    return values, problems


def view_to_params(values: Mapping[str, Any], specs: Iterable[ViewParam]) -> dict[str, str]:
    """Query parameters of the page controls (left out: unset values and values equal to the default)."""
    out: dict[str, str] = {}
    for spec in specs:
        if spec.key not in values:
            continue
        value = values[spec.key]
        if value is None or (spec.default is not None and value == spec.default):
            continue
        if spec.kind == "list" and spec.default is not None and list(value) == list(spec.default):
            continue
        out[spec.param] = _format_view_value(spec, value)
    return out
