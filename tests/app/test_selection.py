"""URL encoding of the selection and parsing of drawn areas."""

from __future__ import annotations

import pytest

from app.selection import (
    DRAWN_AREA,
    Selection,
    format_aoi,
    parse_aoi,
    selection_from_params,
    selection_to_params,
)
from deeplight.errors import RegionError


def test_aoi_round_trip():
    polygon = parse_aoi("121.1,31.1;121.3,31.1;121.3,31.3;121.1,31.3;121.1,31.1")
    assert polygon.area == pytest.approx(0.04)
    assert parse_aoi(format_aoi(polygon)).equals(polygon)


@pytest.mark.parametrize(
    ("text", "match"),
    [
        ("1,2;3,4", "at least 3 distinct points"),
        ("1,2;3;5,6", "not 'lon,lat'"),
        ("a,b;1,2;3,4", "not numeric"),
        ("200,2;3,4;5,6", "outside longitude/latitude"),
        ("0,0;1,1;1,0;0,1", "not a valid polygon"),
    ],
)
def test_bad_aoi_is_a_clear_region_error(text, match):
    with pytest.raises(RegionError, match=match):
        parse_aoi(text)


def test_params_round_trip_and_drawn_area_wins():
    selection = Selection(
        dataset="shanghai_npp_viirs", year=2020, region="Pudong (浦东新区)", model="bicubic"
    )
    params = selection_to_params(selection)
    assert params == {
        "dataset": "shanghai_npp_viirs",
        "year": "2020",
        "region": "Pudong (浦东新区)",
        "model": "bicubic",
    }
    back, problems = selection_from_params(params)
    assert back == selection and problems == []
    drawn, _ = selection_from_params({"dataset": "demo", "region": "X", "aoi": "0,0;1,0;1,1;0,1"})
    assert drawn.region == DRAWN_AREA and drawn.aoi is not None
    assert "aoi" in selection_to_params(drawn) and "region" not in selection_to_params(drawn)


def test_bad_params_are_reported_not_raised():
    selection, problems = selection_from_params({"year": "x", "aoi": "1,2"})
    assert selection.year is None and selection.aoi is None and selection.dataset == "demo"
    assert len(problems) == 2 and "not a number" in problems[0] and "drawn area" in problems[1]
