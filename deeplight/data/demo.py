"""The built-in demo scene: a fictional, fully synthetic "country" with all five modalities.

``make run`` and ``make test`` create it first (``deeplight data demo --out DIR``), so it is
idempotent (skips when ``DIR/manifest.json`` records the same seed and version and every file is
there) and fast (seconds on one core). Files (see docs/data.md): ``hr.tif``, ``lr.tif``
(simulated), ``dmo.tif``, ``dem.tif``, ``isp.tif``, ``population.tif``, ``regions.geojson`` and
``manifest.json``.

Placement: WGS 84 / UTM zone 50N (EPSG:32650), centred near 117.3 E, 31.8 N (Anhui, eastern China,
one of DeepLight's province-scale test areas). Only the coordinates are real; the land, the towns
and the lights are fictional.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path

import geopandas as gpd
import numpy as np
from affine import Affine
from shapely.geometry import MultiPoint, box
from shapely.ops import voronoi_diagram

from deeplight import __version__
from deeplight.data.synth import SYNTH_CRS, SynthConfig, generate_scene
from deeplight.data.synth_writer import write_scene_rasters
from deeplight.io.modalities import DMO_BAND_NAMES
from deeplight.utils_io import atomic_path, atomic_write_text

DEMO_VERSION = 2
"""Bump when the demo's content changes, so old demo folders are regenerated."""
DEMO_SEED = 2024
DEMO_LR_SIZE = 192
DEMO_HR_PIXEL_M = 130.0
DEMO_ORIGIN = (428_000.0, 3_619_000.0)
"""Upper-left corner (easting, northing, m, EPSG:32650): centre near 117.3 E, 31.8 N."""
DEMO_FILES: tuple[str, ...] = (
    "hr.tif",
    "lr.tif",
    "dmo.tif",
    "dem.tif",
    "isp.tif",
    "population.tif",
    "regions.geojson",
)
PROVINCE_NAMES: tuple[str, ...] = (
    "Aldmere",
    "Brisk Vale",
    "Corran",
    "Dunhollow",
    "Eastmarch",
    "Fenwick",
    "Glenmoor",
    "Highreach",
    "Ivory Coastlands",
    "Juniper Downs",
    "Kestrel Plain",
    "Lowfield",
)


@dataclass
class DemoResult:
    """What :func:`make_demo` did: the folder, whether it (re)generated, and the manifest."""

    folder: Path
    generated: bool
    manifest: dict


def _regions(
    hr_transform: Affine, shape: tuple[int, int], rng: np.random.Generator, count: int
) -> gpd.GeoDataFrame:
    """``count`` Voronoi provinces tiling the scene, named, in EPSG:4326."""
    x0, y0 = hr_transform.c, hr_transform.f
    x1 = x0 + hr_transform.a * shape[1]
    y1 = y0 + hr_transform.e * shape[0]
    extent = box(min(x0, x1), min(y0, y1), max(x0, x1), max(y0, y1))
    minx, miny, maxx, maxy = extent.bounds
    margin = 0.08 * (maxx - minx)
    points = np.column_stack(
        [rng.uniform(minx + margin, maxx - margin, count), rng.uniform(miny + margin, maxy - margin, count)]
    )
    cells = voronoi_diagram(MultiPoint([tuple(p) for p in points]), envelope=extent.buffer(1e5))
    polygons = []
    for point in points:
        for cell in cells.geoms:
            if cell.contains(MultiPoint([tuple(point)]).geoms[0]):
                polygons.append(cell.intersection(extent))
                break
    order = np.lexsort((points[:, 0], -points[:, 1]))  # name provinces north-west to south-east
    frame = gpd.GeoDataFrame(
        {
            "name": [PROVINCE_NAMES[i] for i in range(count)],
            "region_id": [f"DEMO-{i + 1:02d}" for i in range(count)],
            "area_km2": [polygons[j].area / 1e6 for j in order],
        },
        geometry=[polygons[j] for j in order],
        crs=SYNTH_CRS,
    )
    return frame.to_crs("EPSG:4326")


def _manifest_matches(folder: Path, seed: int, lr_size: int) -> dict | None:
    path = folder / "manifest.json"
    if not path.is_file():
        return None
    try:
        manifest = json.loads(path.read_text())
    except (OSError, json.JSONDecodeError):
        return None
    if manifest.get("seed") != seed or manifest.get("demo_version") != DEMO_VERSION:
        return None
    if manifest.get("lr", {}).get("shape") != [lr_size, lr_size]:
        return None
    if not all((folder / name).is_file() for name in DEMO_FILES):
        return None
    return manifest


def make_demo(
    out: str | os.PathLike[str], *, seed: int = DEMO_SEED, force: bool = False, lr_size: int = DEMO_LR_SIZE
) -> DemoResult:
    """Create (or find up to date) the demo scene in ``out``.

    Args:
        out: folder to write (created).
        seed: generator seed.
        force: regenerate even when an up-to-date demo is there.
        lr_size: LR size (192 gives HR 1536x1536 at 130 m; smaller values are for tests).

    Returns:
        A :class:`DemoResult`.
    """
    folder = Path(out)
    if not force:
        existing = _manifest_matches(folder, seed, lr_size)
        if existing is not None:
            return DemoResult(folder, False, existing)
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "manifest.json").unlink(missing_ok=True)  # stale until the new one is written
    config = SynthConfig(pixel_size_m=DEMO_HR_PIXEL_M)
    shape = (lr_size * 8, lr_size * 8)
    hr_transform = Affine(DEMO_HR_PIXEL_M, 0.0, DEMO_ORIGIN[0], 0.0, -DEMO_HR_PIXEL_M, DEMO_ORIGIN[1])
    scene = generate_scene(lr_size, seed, config, hr_transform=hr_transform, crs=SYNTH_CRS)
    provenance = f"deeplight {__version__} built-in demo (synthetic, fictional country), seed {seed}"
    # every layer is generated or simulated, none observed: simulated=true on each (the LR's tags add
    # the degradation parameters; the HR-grid layers are "synthetic", made by the scene generator)
    common = {"provenance": provenance, "synthetic": "true", "fictional": "true", "simulated": "true"}
    rasters = ("lr", "hr", "dmo", "dem", "isp", "population")
    lr_transform, _ = write_scene_rasters(scene, folder, common, rasters)
    rng = np.random.default_rng(np.random.SeedSequence([seed, 0x9E61]))
    regions = _regions(hr_transform, shape, rng, int(rng.integers(8, 13)))
    with atomic_path(folder / "regions.geojson") as tmp:
        regions.to_file(tmp, driver="GeoJSON")
    os.chmod(folder / "regions.geojson", 0o644)
    manifest = {
        "kind": "deeplight-demo",
        "demo_version": DEMO_VERSION,
        "deeplight_version": __version__,
        "seed": seed,
        "synthetic": True,
        "fictional": True,
        "simulated_lr": True,
        "location": "coordinates near 117.3 E, 31.8 N (Anhui, China); the country is fictional",
        "crs": SYNTH_CRS,
        "hr": {
            "shape": list(shape),
            "pixel_size_m": DEMO_HR_PIXEL_M,
            "transform": list(tuple(hr_transform)[:6]),
        },
        "lr": {
            "shape": [lr_size, lr_size],
            "pixel_size_m": DEMO_HR_PIXEL_M * 8,
            "transform": list(tuple(lr_transform)[:6]),
        },
        "files": {
            "hr.tif": {
                "what": "HR night-time light radiance (synthetic: generated by the DeepLight scene "
                "generator, not observed)",
                "units": "nW/cm2/sr",
                "simulated": True,
                "synthetic": True,
                "origin": "generated",
            },
            "lr.tif": {
                "what": "DMSP-like LR simulated by the degradation model from the synthetic hr.tif",
                "units": "DN 0-63",
                "simulated": True,
                "synthetic": True,
                "origin": "degradation model applied to hr.tif",
            },
            "dmo.tif": {
                "what": "7-band Landsat-8-like surface reflectance (synthetic)",
                "units": "reflectance 0-1",
                "bands": list(DMO_BAND_NAMES),
                "simulated": True,
                "synthetic": True,
                "origin": "generated",
            },
            "dem.tif": {
                "what": "elevation (synthetic)",
                "units": "m",
                "simulated": True,
                "synthetic": True,
                "origin": "generated",
            },
            "isp.tif": {
                "what": "impervious surface fraction (synthetic)",
                "units": "fraction 0-1",
                "simulated": True,
                "synthetic": True,
                "origin": "generated",
            },
            "population.tif": {
                "what": "population count (synthetic, from built-up density)",
                "units": "persons per HR pixel",
                "simulated": True,
                "synthetic": True,
                "origin": "generated",
            },
            "regions.geojson": {
                "what": f"{len(regions)} fictional provinces",
                "column": "name",
                "crs": "EPSG:4326",
            },
        },
        "degradation": scene.degradation.to_tags(),
        "population_total": float(scene.population.sum()),
        "settlements": len(scene.settlements),
        "regions": list(regions["name"]),
    }
    atomic_write_text(folder / "manifest.json", json.dumps(manifest, indent=2))
    os.chmod(folder / "manifest.json", 0o644)
    return DemoResult(folder, True, manifest)
