"""Procedural, physically consistent multi-modal scenes in the style of DeepLightMD.

DeepLightMD (Zhang et al., IJCAI 2024) pairs LR DMSP-like night lights with HR lights, 7-band daytime
reflectance (DMO), a DEM and an impervious-surface product (ISP); the data were never released, so
this module makes stand-ins whose layers are causally linked the way real ones are:

1. terrain: a fractal surface (spectral synthesis, ``beta`` ~ 3) scaled to a random relief;
2. water: lakes/sea in the lowest terrain plus meandering rivers that carve valleys;
3. settlements: centres drawn with probability rising on flat, low land near water; populations
   Pareto-distributed (Zipf's law for city sizes, Gabaix 1999, QJE 114:739) so a few large cities
   and many villages; built-up density falls off negative-exponentially from each centre
   (Clark 1951, J. R. Stat. Soc. A 114:490) with a ragged fractal edge;
4. roads: a hierarchy linking every settlement to the nearest larger one, plus a street grid in
   built-up areas;
5. ISP: impervious fraction from built-up density and roads (0 on water);
6. land cover fractions (water, impervious, vegetation, bare) -> 7-band Landsat-8-like surface
   reflectance by linear spectral mixing of typical endmember spectra (values typical of the USGS
   spectral library for water, green vegetation, concrete/asphalt and dry soil; rounded, our
   choice);
7. HR radiance: city brightness growing with population, times impervious fraction, with
   log-normal variability, plus lit roads and a faint background (nW/cm^2/sr);
8. LR: the DMSP-like degradation model (:mod:`deeplight.data.degrade`), labelled *simulated*.

Everything is deterministic given the seed; any LR size works (HR is 8x).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
from affine import Affine
from scipy import ndimage

from deeplight.data.degrade import DegradationInfo, DegradationParams, degrade_dmsp_like
from deeplight.data.noise import fractal_noise, rescale01
from deeplight.contracts import SCALE
from deeplight.errors import ConfigError

LANDCOVER_CLASSES: dict[int, str] = {0: "water", 1: "built-up", 2: "vegetation", 3: "bare"}
"""Codes of the dominant land-cover map the generator also returns."""

# Landsat-8 OLI bands 1-7 surface reflectance of the endmembers (rounded typical spectra).
ENDMEMBERS: dict[str, np.ndarray] = {
    "water": np.array([0.045, 0.040, 0.050, 0.030, 0.015, 0.008, 0.005]),
    "impervious": np.array([0.110, 0.120, 0.140, 0.160, 0.200, 0.230, 0.210]),
    "vegetation": np.array([0.025, 0.035, 0.075, 0.045, 0.380, 0.190, 0.090]),
    "bare": np.array([0.080, 0.100, 0.150, 0.220, 0.290, 0.360, 0.300]),
}


@dataclass(frozen=True)
class SynthConfig:
    """Knobs of the scene generator (defaults: a DeepLightMD-like 130 m HR grid).

    Attributes:
        pixel_size_m: HR pixel size, m (130: Luojia 1-01).
        relief_m: (min, max) of the random terrain relief, m.
        base_elevation_m: (min, max) of the lowest terrain point, m.
        terrain_beta: spectral exponent of the terrain (Saupe 1988; ~3 looks natural).
        water_fraction: (min, max) share of lakes/sea (lowest terrain).
        rivers: (min, max) number of rivers.
        settlements_per_1000km2: mean number of settlement centres per 1000 km^2 (our choice).
        zipf_alpha: Pareto exponent of settlement populations (Zipf's law: ~1, Gabaix 1999).
        min_population: smallest settlement.
        max_population: cap on one settlement.
        people_per_km2_built: population density of fully built land (our choice, 8000).
        rural_people_per_km2: density on non-built land (our choice, 60).
        city_peak_radiance: radiance (nW/cm^2/sr) of fully built land in a 10 000-people town.
        city_brightness_exponent: radiance grows as (population / 1e4) ** this (our choice).
        road_radiance: radiance of a lit major road near towns, nW/cm^2/sr.
        background_radiance: mean background (airglow, scattered light), nW/cm^2/sr.
        degradation: parameters of the LR degradation model.
    """

    pixel_size_m: float = 130.0
    relief_m: tuple[float, float] = (40.0, 700.0)
    base_elevation_m: tuple[float, float] = (0.0, 400.0)
    terrain_beta: float = 3.2
    water_fraction: tuple[float, float] = (0.01, 0.10)
    rivers: tuple[int, int] = (0, 3)
    settlements_per_1000km2: float = 12.0
    zipf_alpha: float = 1.05
    min_population: float = 1500.0
    max_population: float = 3.0e6
    people_per_km2_built: float = 8000.0
    rural_people_per_km2: float = 60.0
    city_peak_radiance: float = 30.0
    city_brightness_exponent: float = 0.3
    road_radiance: float = 6.0
    background_radiance: float = 0.15
    degradation: DegradationParams = field(default_factory=DegradationParams)


@dataclass
class SyntheticScene:
    """One generated scene; arrays are on the HR grid unless noted.

    Attributes:
        lr: ``(h, w)`` simulated DMSP-like DN (float32).
        hr: ``(8h, 8w)`` radiance, nW/cm^2/sr.
        dmo: ``(7, 8h, 8w)`` surface reflectance.
        dem: elevation, m.
        isp: impervious fraction 0..1.
        water: bool water mask.
        builtup: built-up density 0..1.
        roads: bool road mask.
        landcover: dominant class codes (:data:`LANDCOVER_CLASSES`).
        population: persons per HR pixel.
        settlements: list of ``(row, col, population)`` of the settlement centres.
        degradation: what the degradation model drew.
        hr_transform: affine transform of the HR grid (set by the caller's placement).
        crs: CRS string of the grid.
        seed: the seed.
    """

    lr: np.ndarray
    hr: np.ndarray
    dmo: np.ndarray
    dem: np.ndarray
    isp: np.ndarray
    water: np.ndarray
    builtup: np.ndarray
    roads: np.ndarray
    landcover: np.ndarray
    population: np.ndarray
    settlements: list[tuple[int, int, float]]
    degradation: DegradationInfo
    hr_transform: Affine
    crs: str
    seed: int


def _terrain(shape, cfg: SynthConfig, rng) -> np.ndarray:
    relief = rng.uniform(*cfg.relief_m)
    base = rng.uniform(*cfg.base_elevation_m)
    surface = rescale01(fractal_noise(shape, cfg.terrain_beta, rng))
    return base + relief * surface ** rng.uniform(1.0, 2.0)  # flatter lowlands, steeper hills


def _curve_points(p0, p1, bend: float, rng, spacing: float = 0.5) -> np.ndarray:
    """Points along a quadratic Bezier from p0 to p1 with a random sideways bend."""
    p0, p1 = np.asarray(p0, float), np.asarray(p1, float)
    chord = p1 - p0
    length = float(np.hypot(*chord))
    normal = np.array([-chord[1], chord[0]]) / max(length, 1e-9)
    control = (p0 + p1) / 2 + normal * rng.normal(0.0, bend) * length
    n = max(int(length * 1.3 / spacing), 2)
    t = np.linspace(0.0, 1.0, n)[:, None]
    return (1 - t) ** 2 * p0 + 2 * (1 - t) * t * control + t**2 * p1


def _rasterise(points: np.ndarray, shape) -> np.ndarray:
    mask = np.zeros(shape, dtype=bool)
    rows = np.round(points[:, 0]).astype(int)
    cols = np.round(points[:, 1]).astype(int)
    keep = (rows >= 0) & (rows < shape[0]) & (cols >= 0) & (cols < shape[1])
    mask[rows[keep], cols[keep]] = True
    return mask


def _edge_point(shape, rng) -> tuple[float, float]:
    side = rng.integers(4)
    h, w = shape
    if side == 0:
        return (0.0, rng.uniform(0, w - 1))
    if side == 1:
        return (h - 1.0, rng.uniform(0, w - 1))
    if side == 2:
        return (rng.uniform(0, h - 1), 0.0)
    return (rng.uniform(0, h - 1), w - 1.0)


def _water(dem: np.ndarray, cfg: SynthConfig, rng) -> tuple[np.ndarray, np.ndarray]:
    """Lakes/sea in the lowest terrain and rivers carving valleys; returns (dem, water)."""
    shape = dem.shape
    rivers = np.zeros(shape, dtype=bool)
    for _ in range(int(rng.integers(cfg.rivers[0], cfg.rivers[1] + 1))):
        path = _curve_points(_edge_point(shape, rng), _edge_point(shape, rng), 0.25, rng)
        river = _rasterise(path, shape)
        width = rng.uniform(0.5, 2.0)
        if width > 1.0:
            river = ndimage.binary_dilation(river, iterations=round(width - 0.5))
        rivers |= river
    if rivers.any():
        distance = ndimage.distance_transform_edt(~rivers)
        valley = rng.uniform(15, 60)  # pixels
        depth = (dem - dem.min()) * 0.6
        dem = dem - depth * np.exp(-distance / valley)
        dem = np.where(rivers, np.minimum(dem, np.min(dem[rivers]) + 2.0), dem)
    level = np.quantile(dem, rng.uniform(*cfg.water_fraction))
    lakes = dem <= level
    water = lakes | rivers
    dem = np.where(lakes, level, dem)
    return dem, water


def _slope_deg(dem: np.ndarray, pixel: float) -> np.ndarray:
    gy, gx = np.gradient(dem, pixel)
    return np.degrees(np.arctan(np.hypot(gx, gy)))


def _settlements(dem, water, slope, cfg: SynthConfig, rng) -> list[tuple[int, int, float]]:
    shape = dem.shape
    area_km2 = shape[0] * shape[1] * (cfg.pixel_size_m / 1000.0) ** 2
    count = int(rng.poisson(cfg.settlements_per_1000km2 * area_km2 / 1000.0))
    if count == 0:
        return []
    step = 4
    if water.any():
        near_water = np.exp(
            -ndimage.distance_transform_edt(~water[::step, ::step]) * step * cfg.pixel_size_m / 5000.0
        )
    else:
        near_water = np.zeros(water[::step, ::step].shape)
    low = 1.0 - rescale01(dem[::step, ::step])
    flat = np.exp(-slope[::step, ::step] / 3.0)
    suitability = (0.15 + near_water) * (0.3 + low) * flat * (~water[::step, ::step])
    total = suitability.sum()
    if total <= 0:
        return []
    flat_index = rng.choice(suitability.size, size=count, p=(suitability / total).ravel())
    rows, cols = np.unravel_index(flat_index, suitability.shape)
    pops = cfg.min_population * rng.uniform(size=count) ** (-1.0 / cfg.zipf_alpha)
    pops = np.minimum(pops, cfg.max_population)
    jitter = rng.uniform(0, step, size=(2, count))
    return [
        (int(min(r * step + jr, shape[0] - 1)), int(min(c * step + jc, shape[1] - 1)), float(p))
        for r, c, jr, jc, p in zip(rows, cols, jitter[0], jitter[1], pops)
    ]


def _builtup(shape, settlements, water, slope, cfg: SynthConfig, rng):
    """Built-up density 0..1 and per-pixel town brightness (nW/cm^2/sr of fully built land)."""
    texture = np.exp(0.5 * fractal_noise(shape, 2.0, rng))
    builtup = np.zeros(shape)
    brightness = np.zeros(shape)
    km = cfg.pixel_size_m / 1000.0
    for row, col, pop in settlements:
        area_km2 = pop / cfg.people_per_km2_built * 2.0
        radius_px = max(math.sqrt(area_km2 / math.pi) / km, 1.0)
        reach = math.ceil(radius_px * 4) + 1
        r0, r1 = max(row - reach, 0), min(row + reach + 1, shape[0])
        c0, c1 = max(col - reach, 0), min(col + reach + 1, shape[1])
        yy, xx = np.ogrid[r0:r1, c0:c1]
        distance = np.hypot(yy - row, xx - col)
        density = np.clip(1.3 * np.exp(-distance / (0.55 * radius_px)), 0, 1)
        window = builtup[r0:r1, c0:c1]
        combined = 1 - (1 - window) * (1 - density)
        level = cfg.city_peak_radiance * (pop / 1e4) ** cfg.city_brightness_exponent
        brightness[r0:r1, c0:c1] = np.maximum(brightness[r0:r1, c0:c1], level * (density > 0.02))
        builtup[r0:r1, c0:c1] = combined
    builtup = np.clip(builtup * texture, 0, 1)
    builtup = np.where(builtup < 0.08, 0.0, builtup)  # fragmented fringe -> open land
    builtup *= np.exp(-slope / 12.0) * (~water)
    return builtup, brightness


def _roads(shape, settlements, builtup, rng) -> np.ndarray:
    roads = np.zeros(shape, dtype=bool)
    ordered = sorted(settlements, key=lambda s: -s[2])
    for index, (row, col, _pop) in enumerate(ordered[1:], start=1):
        larger = np.array([(r, c) for r, c, _ in ordered[:index]], dtype=float)
        nearest = larger[np.argmin(np.hypot(larger[:, 0] - row, larger[:, 1] - col))]
        roads |= _rasterise(_curve_points((row, col), nearest, 0.15, rng), shape)
    if len(ordered) >= 2:  # a trunk road leaving the scene from the largest town
        roads |= _rasterise(_curve_points(ordered[0][:2], _edge_point(shape, rng), 0.1, rng), shape)
    spacing = int(rng.integers(5, 9))
    angle = rng.uniform(0, math.pi / 2)
    yy, xx = np.mgrid[0 : shape[0], 0 : shape[1]]
    u = xx * math.cos(angle) + yy * math.sin(angle)
    v = -xx * math.sin(angle) + yy * math.cos(angle)
    grid = (np.mod(u, spacing) < 1.0) | (np.mod(v, spacing) < 1.0)
    streets = grid & (builtup > 0.35)
    return roads | streets


def place_grid(
    index: int,
    shape_hr: tuple[int, int],
    pixel_size_m: float,
    origin: tuple[float, float] = (200_000.0, 4_400_000.0),
    per_row: int = 40,
) -> Affine:
    """HR transform of the ``index``-th clip on a non-overlapping layout in UTM zone 50N.

    Clips are laid out left to right, ``per_row`` per row, with a 10 % gap, starting at
    ``origin`` (easting, northing of the first clip's upper-left corner, m).
    """
    height_m = shape_hr[0] * pixel_size_m
    width_m = shape_hr[1] * pixel_size_m
    row, col = divmod(index, per_row)
    x0 = origin[0] + col * width_m * 1.1
    y0 = origin[1] - row * height_m * 1.1
    return Affine(pixel_size_m, 0.0, x0, 0.0, -pixel_size_m, y0)


SYNTH_CRS = "EPSG:32650"
"""CRS of generated scenes: WGS 84 / UTM zone 50N (eastern China, where DeepLightMD was made)."""


def generate_scene(
    lr_shape: tuple[int, int] | int,
    seed: int,
    config: SynthConfig | None = None,
    *,
    hr_transform: Affine | None = None,
    crs: str = SYNTH_CRS,
) -> SyntheticScene:
    """Generate one synthetic multi-modal scene.

    Args:
        lr_shape: LR size ``(h, w)`` (or one int for a square); HR is ``(8h, 8w)``.
        seed: seed of every random draw; the same seed gives the same scene.
        config: generator settings.
        hr_transform: placement of the HR grid (default: :func:`place_grid` index 0).
        crs: CRS of the placement.

    Returns:
        A :class:`SyntheticScene`.

    Raises:
        ConfigError: non-positive size.
    """
    cfg = config or SynthConfig()
    if isinstance(lr_shape, int):
        lr_shape = (lr_shape, lr_shape)
    if min(lr_shape) < 1:
        raise ConfigError(f"LR size must be positive, got {lr_shape}")
    scale = cfg.degradation.scale
    shape = (lr_shape[0] * scale, lr_shape[1] * scale)
    rng = np.random.default_rng(np.random.SeedSequence([int(seed), 0x5EED]))
    dem = _terrain(shape, cfg, rng)
    dem, water = _water(dem, cfg, rng)
    slope = _slope_deg(dem, cfg.pixel_size_m)
    settlements = _settlements(dem, water, slope, cfg, rng)
    builtup, brightness = _builtup(shape, settlements, water, slope, cfg, rng)
    roads = _roads(shape, settlements, builtup, rng) & ~water if settlements else np.zeros(shape, bool)
    isp = np.clip(0.95 * builtup + 0.6 * roads, 0.0, 1.0)
    isp = np.where(water, 0.0, ndimage.gaussian_filter(isp, 0.5))
    # Land-cover fractions: water, impervious, vegetation (moisture, altitude), bare.
    elevation01 = rescale01(dem)
    moisture = rescale01(fractal_noise(shape, 2.5, rng))
    near_water = (
        np.exp(-ndimage.distance_transform_edt(~water) * cfg.pixel_size_m / 3000.0)
        if water.any()
        else np.zeros(shape)
    )
    veg_share = np.clip(
        0.35 + 0.55 * moisture + 0.25 * near_water - 0.45 * elevation01 - 0.01 * slope, 0.05, 0.98
    )
    water_f = water.astype(np.float64)
    veg = (1 - water_f) * (1 - isp) * veg_share
    bare = np.clip((1 - water_f) * (1 - isp) - veg, 0.0, 1.0)
    fractions = np.stack([water_f, isp, veg, bare])
    landcover = np.argmax(fractions, axis=0).astype(np.uint8)
    spectra = np.stack([ENDMEMBERS[k] for k in ("water", "impervious", "vegetation", "bare")])
    dmo = np.einsum("kb,khw->bhw", spectra, fractions)
    dmo *= rng.uniform(0.92, 1.08)  # per-scene illumination/atmosphere
    dmo += rng.normal(0.0, 0.006, size=dmo.shape)
    dmo = np.clip(dmo, 0.0, 1.0)
    # Night lights.
    variability = np.exp(rng.normal(-0.08, 0.4, size=shape))
    town_lights = brightness * isp**1.3 * variability
    if settlements:
        town_glow = ndimage.gaussian_filter(brightness, 12.0)
        road_lights = roads * cfg.road_radiance * np.clip(town_glow / cfg.city_peak_radiance, 0.1, 3)
    else:
        road_lights = np.zeros(shape)
    background = cfg.background_radiance * np.exp(0.3 * fractal_noise(shape, 2.0, rng))
    hr = np.where(water, background * 0.5, town_lights + road_lights + background)
    km2 = (cfg.pixel_size_m / 1000.0) ** 2
    population = km2 * (
        cfg.people_per_km2_built * builtup + cfg.rural_people_per_km2 * (1 - water_f) * (1 - builtup)
    )
    lr, info = degrade_dmsp_like(hr, cfg.degradation, seed=int(seed))
    if hr_transform is None:
        hr_transform = place_grid(0, shape, cfg.pixel_size_m)
    return SyntheticScene(
        # reflectance kept to 2**-14 (6e-5) and elevation to 1/8 m: finer than the sensors, and
        # binary-exact steps leave low mantissa bits zero, so the GeoTIFFs compress 3-5x
        lr=lr,
        hr=hr.astype(np.float32),
        dmo=(np.round(dmo * 16384) / 16384).astype(np.float32),
        dem=(np.round(dem * 8) / 8).astype(np.float32),
        isp=isp.astype(np.float32),
        water=water,
        builtup=builtup.astype(np.float32),
        roads=roads,
        landcover=landcover,
        population=population.astype(np.float32),
        settlements=settlements,
        degradation=info,
        hr_transform=hr_transform,
        crs=crs,
        seed=int(seed),
    )


def synthetic_to_scene(scene: SyntheticScene):
    """The generated scene as a :class:`deeplight.io.scene.Scene` (LR simulated, HR synthetic), with
    one region covering the whole raster."""
    from deeplight.io.scene import Scene, whole_scene_region

    return Scene(
        key=f"synthetic:{scene.seed}:{scene.lr.shape[0]}x{scene.lr.shape[1]}",
        title=f"synthetic scene (seed {scene.seed})",
        lr=scene.lr,
        hr=scene.hr,
        crs=scene.crs,
        hr_transform=scene.hr_transform,
        lr_simulated=True,
        regions=whole_scene_region(scene.crs, scene.hr_transform, scene.hr.shape, "whole scene"),
        dmo=scene.dmo,
        dem=scene.dem,
        isp=scene.isp,
        population=scene.population,
        hr_synthetic=True,
        sources={"all": f"synthetic seed {scene.seed}"},
    )
