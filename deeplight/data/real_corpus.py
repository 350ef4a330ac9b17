"""A corpus of real night-time-light HR tiles, with whole places held out for validation and test.

Real VIIRS-class rasters of ``$DEEPLIGHT_DATA_DIR`` (default ``../shared/data``; see its
``README.md`` and ``real_hr/README.md`` + ``MANIFEST.tsv``) are grouped into *places*
(``configs/real_places.yaml``), each assigned to one split: ``train``, ``real-val`` or
``real-test``. Every file is converted to radiance (nW/cm^2/sr), cut into square HR tiles, and the
LR input of each tile is **simulated** by the DMSP-like degradation model
(:func:`deeplight.data.degrade.degrade_dmsp_like`; SCIENCE.md section 2): no co-registered real
coarse/fine pair exists. Auxiliary modalities (DMO, DEM, ISP) do not exist for these places; samples
carry zeros with ``present = [1, 0, 0, 0]``.

Pieces:

* :func:`load_places` - read and validate the places file into :class:`PlaceSpec` objects.
* :func:`build_tiles` - tile the places of one split into a :class:`TileSet` (float32 ``(N, T, T)``
  radiance with NaN nodata, plus a :class:`TileRef` per tile).
* :class:`RandomDegradation` - per-sample degradation parameters drawn around the ``realistic``
  preset, so a model trained on them covers a range of real sensors; :func:`simulate_lr` applies
  one draw (DN mode, or a coarse-radiance mode mapped like ``deeplight predict --lr-units
  radiance``).
* :class:`RealCorpusDataset` - the torch dataset (docs/CONTRACTS.md sample dicts).
* :class:`MixedDataset` - synthetic clips and real tiles mixed in a seeded proportion (training).

Randomness is drawn from ``numpy.random.default_rng((seed, epoch, index))`` like the other datasets
of :mod:`deeplight.data.datasets`: reproducible, different per epoch (``set_epoch``), independent of
DataLoader workers and DDP ranks.

Sources of the data: see the ``credit`` of each place in ``configs/real_places.yaml`` (NASA Black
Marble, Roman et al. 2018; EOG / Payne Institute VIIRS, Elvidge et al. 2021; NPP-VIIRS-like, Chen et
al. 2021, ESSD 13:889).
"""

from __future__ import annotations

import glob
import math
import os
import zlib
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any

import numpy as np
import rasterio.errors
import torch
import yaml
from rasterio.windows import Window
from torch.utils.data import Dataset

from deeplight.data.datasets import _Epoch
from deeplight.data.degrade import DegradationInfo, DegradationParams, degrade_dmsp_like, preset_params
from deeplight.contracts import SCALE, radiance_to_nominal_dn
from deeplight.data.samples import TENSOR_KEYS, augment_sample, draw_augmentation, make_sample
from deeplight.errors import ConfigError, RasterError
from deeplight.io.raster import raster_grid, read_window

PathLike = str | os.PathLike[str]

KINDS: tuple[str, ...] = ("megacity", "mid-size city", "dim rural", "desert/flare")
"""Coarse kinds of place; each held-out split must span several of them."""
SPLITS: tuple[str, ...] = ("train", "real-val", "real-test")
"""Splits a place can belong to (whole places, never tiles of one place in two splits)."""
HELD_OUT: tuple[str, ...] = ("real-val", "real-test")
DEFAULT_PLACES = Path(__file__).resolve().parents[2] / "configs" / "real_places.yaml"
"""The committed places file (``configs/real_places.yaml`` of the repository)."""

LIT_RADIANCE = 2.0
"""A tile is *lit* when any valid pixel reaches this radiance (nW/cm^2/sr; the Black Marble noise
floor, as the lit-area metric of docs/training.md)."""
DARK_KEEP = 0.15
"""Share of fully dark tiles kept (seeded), so the model also sees empty land."""
MIN_VALID = 0.5
"""Default minimum share of valid (finite) pixels in a kept tile."""
MAX_TILES_PER_PLACE = 600
"""Default cap of tiles per place and split (drawn evenly over the place's files)."""
DATA_DIR_HINT = "set DEEPLIGHT_DATA_DIR to the shared data folder"

_TOP_KEYS = ("places",)
_PLACE_KEYS = ("name", "kind", "split", "files", "units", "window", "min_valid", "credit")
_REQUIRED_PLACE_KEYS = ("name", "kind", "split", "files", "units", "credit")
_UNITS_KEYS = ("scale", "label", "nodata_as")
_PIXEL_WINDOW_KEYS = ("row", "col", "height", "width")


# --------------------------------------------------------------------------------------------- specs
@dataclass(frozen=True)
class PlaceWindow:
    """A sub-region of every file of a place: pixels or a WGS84 box.

    Attributes:
        pixels: ``(row, col, height, width)`` in the file's pixel grid, or None.
        bbox: ``(west, south, east, north)`` in degrees (EPSG:4326), or None. Exactly one is set.
    """

    pixels: tuple[int, int, int, int] | None = None
    bbox: tuple[float, float, float, float] | None = None


@dataclass(frozen=True)
class PlaceSpec:
    """One place of the corpus, validated.

    Attributes:
        name: unique id.
        kind: one of :data:`KINDS`.
        split: one of :data:`SPLITS`.
        patterns: the glob patterns as written (relative to ``data_dir``).
        files: matched files, relative to ``data_dir`` (POSIX style), sorted.
        data_dir: the shared data folder the patterns were matched in.
        scale: factor from the raw values to radiance in nW/cm^2/sr.
        units_label: what the raw values are (e.g. "rescaled uint8, approximate").
        nodata_as: ``"nan"`` (declared nodata -> NaN) or ``"zero"`` (declared nodata is the
            product's dark value -> 0).
        window: optional sub-region read from every file.
        min_valid: minimum valid share of a tile for this place (None: the dataset default).
        credit: source and licence text.
        source: the places file this came from.
    """

    name: str
    kind: str
    split: str
    patterns: tuple[str, ...]
    files: tuple[str, ...]
    data_dir: Path
    scale: float
    units_label: str
    nodata_as: str = "nan"
    window: PlaceWindow | None = None
    min_valid: float | None = None
    credit: str = ""
    source: str = ""

    @property
    def paths(self) -> list[Path]:
        """Absolute paths of :attr:`files`."""
        return [self.data_dir / f for f in self.files]


def _where(source: str, index: int, entry: Any) -> str:
    name = entry.get("name") if isinstance(entry, dict) else None
    return f"{source}: place {name!r} (entry {index + 1})" if name else f"{source}: place entry {index + 1}"


def _number(value: Any, where: str, field_name: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise ConfigError(f"{where}: {field_name} must be a finite number, got {value!r}")
    return float(value)


def _parse_window(value: Any, where: str) -> PlaceWindow:
    if not isinstance(value, dict):
        raise ConfigError(
            f"{where}: window must be a mapping {{row, col, height, width}} or {{bbox: [west, south, east, north]}}"
        )
    if "bbox" in value:
        extra = sorted(set(value) - {"bbox"})
        if extra:
            raise ConfigError(f"{where}: unknown key {extra[0]!r} in window; a bbox window has only 'bbox'")
        box = value["bbox"]
        if not isinstance(box, (list, tuple)) or len(box) != 4:
            raise ConfigError(f"{where}: window.bbox must be [west, south, east, north] in degrees, got {box!r}")
        west, south, east, north = (_number(v, where, "window.bbox") for v in box)
        if not (west < east and south < north and -180 <= west and east <= 180 and -90 <= south and north <= 90):
            raise ConfigError(
                f"{where}: window.bbox {list(box)} must have west < east, south < north, within +-180 / +-90 degrees"
            )
        return PlaceWindow(bbox=(west, south, east, north))
    unknown = sorted(set(value) - set(_PIXEL_WINDOW_KEYS))
    if unknown:
        raise ConfigError(
            f"{where}: unknown key {unknown[0]!r} in window; valid keys: {', '.join(_PIXEL_WINDOW_KEYS)} or bbox"
        )
    missing = [k for k in _PIXEL_WINDOW_KEYS if k not in value]
    if missing:
        raise ConfigError(f"{where}: window lacks {', '.join(missing)} (needs row, col, height, width in pixels)")
    numbers = []
    for key in _PIXEL_WINDOW_KEYS:
        v = value[key]
        if isinstance(v, bool) or not isinstance(v, int) or v < 0 or (key in ("height", "width") and v < 1):
            least = "positive" if key in ("height", "width") else "non-negative"
            raise ConfigError(f"{where}: window.{key} must be a {least} integer, got {v!r}")
        numbers.append(int(v))
    return PlaceWindow(pixels=tuple(numbers))  # type: ignore[arg-type]


def _match(pattern: str, data_dir: Path, where: str) -> list[str]:
    if not isinstance(pattern, str) or not pattern.strip():
        raise ConfigError(f"{where}: each entry of files must be a non-empty glob pattern string, got {pattern!r}")
    pure = PurePosixPath(pattern)
    if pure.is_absolute() or Path(pattern).is_absolute() or ".." in pure.parts:
        raise ConfigError(
            f"{where}: file pattern {pattern!r} must be relative to the shared data folder (no leading / and no ..)"
        )
    found = sorted(
        Path(p).as_posix() for p in glob.glob(pattern, root_dir=data_dir) if (data_dir / p).is_file()
    )
    if not found:
        raise RasterError(
            f"{where}: file pattern {pattern!r} matches no file in {data_dir}: {DATA_DIR_HINT}"
            + ("" if data_dir.is_dir() else f" ({data_dir} does not exist)")
        )
    return found


def _parse_place(entry: Any, index: int, data_dir: Path, source: str) -> PlaceSpec:
    where = _where(source, index, entry)
    if not isinstance(entry, dict):
        raise ConfigError(f"{where}: must be a mapping with keys {', '.join(_REQUIRED_PLACE_KEYS)}")
    for key in entry:
        if key not in _PLACE_KEYS:
            raise ConfigError(f"{where}: unknown key {key!r}; valid keys: {', '.join(_PLACE_KEYS)}")
    missing = [k for k in _REQUIRED_PLACE_KEYS if k not in entry]
    if missing:
        raise ConfigError(f"{where}: missing key(s) {', '.join(missing)}")
    name = entry["name"]
    if not isinstance(name, str) or not name.strip():
        raise ConfigError(f"{where}: name must be a non-empty string, got {name!r}")
    kind, split = entry["kind"], entry["split"]
    if kind not in KINDS:
        raise ConfigError(f"{where}: kind {kind!r} is not one of {', '.join(KINDS)}")
    if split not in SPLITS:
        raise ConfigError(f"{where}: split {split!r} is not one of {', '.join(SPLITS)}")
    patterns = entry["files"]
    if isinstance(patterns, str):
        patterns = [patterns]
    if not isinstance(patterns, list) or not patterns:
        raise ConfigError(f"{where}: files must be a non-empty list of glob patterns")
    files: list[str] = []
    for pattern in patterns:
        for f in _match(pattern, data_dir, where):
            if f not in files:
                files.append(f)
    units = entry["units"]
    if not isinstance(units, dict):
        raise ConfigError(f"{where}: units must be a mapping {{scale, label, nodata_as}}")
    for key in units:
        if key not in _UNITS_KEYS:
            raise ConfigError(f"{where}: unknown key {key!r} in units; valid keys: {', '.join(_UNITS_KEYS)}")
    if "scale" not in units:
        raise ConfigError(f"{where}: units.scale (factor to nW/cm2/sr) is required")
    scale = _number(units["scale"], where, "units.scale")
    if scale <= 0:
        raise ConfigError(f"{where}: units.scale must be > 0, got {scale}")
    label = units.get("label", "nW/cm2/sr")
    if not isinstance(label, str):
        raise ConfigError(f"{where}: units.label must be a string, got {label!r}")
    nodata_as = units.get("nodata_as", "nan")
    if nodata_as not in ("nan", "zero"):
        raise ConfigError(f"{where}: units.nodata_as must be 'nan' or 'zero', got {nodata_as!r}")
    window = _parse_window(entry["window"], where) if entry.get("window") is not None else None
    min_valid = entry.get("min_valid")
    if min_valid is not None:
        min_valid = _number(min_valid, where, "min_valid")
        if not 0 < min_valid <= 1:
            raise ConfigError(f"{where}: min_valid must be within (0, 1], got {min_valid}")
    credit = entry["credit"]
    if not isinstance(credit, str) or not credit.strip():
        raise ConfigError(f"{where}: credit must name the source (non-empty string)")
    return PlaceSpec(
        name=name, kind=kind, split=split, patterns=tuple(patterns), files=tuple(sorted(files)), data_dir=data_dir,
        scale=scale, units_label=label, nodata_as=nodata_as, window=window, min_valid=min_valid,
        credit=" ".join(credit.split()), source=source,
    )


def load_places(
    path: PathLike = "configs/real_places.yaml",
    data_dir: PathLike | None = None,
    *,
    min_heldout_places: int = 4,
    min_heldout_kinds: int = 3,
) -> list[PlaceSpec]:
    """Read and validate a places file.

    Args:
        path: the YAML file (relative paths against the working directory; when it does not exist
            there, against the repository root, so the default works from anywhere).
        data_dir: the shared data folder the patterns are relative to (default
            :func:`deeplight.utils_io.default_data_dir`: ``$DEEPLIGHT_DATA_DIR`` or
            ``../shared/data`` beside the repository).
        min_heldout_places: each of ``real-val`` and ``real-test`` needs at least this many places.
        min_heldout_kinds: ... of at least this many different kinds.

    Returns:
        The places in file order.

    Raises:
        ConfigError: missing or unparsable file, unknown key (named), bad kind/split/units/window,
            a place name used twice (a place in two splits), a file claimed by two places, or a
            held-out split with too few places or kinds.
        RasterError: a pattern matches no file (the message names the pattern, the folder searched
            and says to set ``DEEPLIGHT_DATA_DIR``).
    """
    from deeplight.utils_io import default_data_dir

    file = Path(path)
    if not file.is_file() and not file.is_absolute():
        repo_relative = Path(__file__).resolve().parents[2] / file
        if repo_relative.is_file():
            file = repo_relative
    if not file.is_file():
        raise ConfigError(f"places file {path} not found: pass an existing YAML file (see configs/real_places.yaml)")
    source = str(path)
    try:
        values = yaml.safe_load(file.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        raise ConfigError(f"places file {source} is not valid YAML: {exc}") from exc
    if not isinstance(values, dict):
        raise ConfigError(f"places file {source} must be a mapping with a 'places' list")
    for key in values:
        if key not in _TOP_KEYS:
            raise ConfigError(f"places file {source}: unknown key {key!r}; valid keys: {', '.join(_TOP_KEYS)}")
    entries = values.get("places")
    if not isinstance(entries, list) or not entries:
        raise ConfigError(f"places file {source}: 'places' must be a non-empty list of places")
    root = Path(data_dir) if data_dir is not None else default_data_dir()
    places = [_parse_place(entry, i, root, source) for i, entry in enumerate(entries)]

    seen: dict[str, PlaceSpec] = {}
    for place in places:
        if place.name in seen:
            other = seen[place.name]
            raise ConfigError(
                f"places file {source}: place {place.name!r} is listed twice (splits {other.split} and "
                f"{place.split}); a place belongs to exactly one split"
            )
        seen[place.name] = place
    owner: dict[str, PlaceSpec] = {}
    for place in places:
        for f in place.files:
            if f in owner:
                raise ConfigError(
                    f"places file {source}: file {f} is matched by place {owner[f].name!r} ({owner[f].split}) "
                    f"and by place {place.name!r} ({place.split}); no two places may share a file: narrow the patterns"
                )
            owner[f] = place
    for split in HELD_OUT:
        chosen = [p for p in places if p.split == split]
        kinds = sorted({p.kind for p in chosen})
        if len(chosen) < min_heldout_places or len(kinds) < min_heldout_kinds:
            raise ConfigError(
                f"places file {source}: split {split} has {len(chosen)} place(s) of {len(kinds)} kind(s) "
                f"({', '.join(p.name for p in chosen) or 'none'}); it needs >= {min_heldout_places} places of "
                f">= {min_heldout_kinds} different kinds"
            )
    return places


# -------------------------------------------------------------------------------------------- tiling
@dataclass(frozen=True)
class TileRef:
    """Where one HR tile came from.

    Attributes:
        index: position in the tile array.
        place: place name.
        file: file relative to the shared data folder.
        window: ``(row, col, height, width)`` in the file's pixel grid (the place's window offset
            included); it may extend past the raster's last row/column, where the tile is NaN.
    """

    index: int
    place: str
    file: str
    window: tuple[int, int, int, int]


@dataclass
class TileSet:
    """HR tiles of one split, in memory.

    Attributes:
        tiles: ``(N, T, T)`` float32 radiance in nW/cm^2/sr, NaN = nodata.
        refs: one :class:`TileRef` per tile.
        grids: file -> ``(crs_wkt, transform 6-tuple)`` of the file's pixel grid (for georeferencing
            a tile: ``transform * Affine.translation(col, row)``).
        counts: place -> tiles kept; ``candidates``: place -> tiles passing the valid-share test
            before dark sampling and the cap.
    """

    tiles: np.ndarray
    refs: list[TileRef]
    grids: dict[str, tuple[str | None, tuple[float, ...]]] = field(default_factory=dict)
    counts: dict[str, int] = field(default_factory=dict)
    candidates: dict[str, int] = field(default_factory=dict)

    @property
    def nbytes(self) -> int:
        """Bytes held by :attr:`tiles`."""
        return int(self.tiles.nbytes)


def _stable_seed(*parts: Any) -> int:
    """A seed from strings/ints that does not change between processes (unlike ``hash``)."""
    return zlib.crc32("|".join(str(p) for p in parts).encode("utf-8"))


def _file_window(grid: dict, window: PlaceWindow | None, where: str) -> Window:
    """The pixel window of a place in a raster (``grid``: :func:`deeplight.io.raster.raster_grid`)."""
    full = Window(0, 0, grid["width"], grid["height"])
    if window is None:
        return full
    if window.pixels is not None:
        row, col, height, width = window.pixels
        wanted = Window(col, row, width, height)
    else:
        from rasterio.warp import transform_bounds
        from rasterio.windows import from_bounds

        if grid["crs"] is None:
            raise RasterError(f"{where}: has no CRS, so a bbox window cannot be placed; use a pixel window")
        bounds = transform_bounds("EPSG:4326", grid["crs"], *window.bbox, densify_pts=21)  # type: ignore[misc]
        wanted = from_bounds(*bounds, transform=grid["transform"]).round_offsets().round_lengths()
    try:
        clipped = wanted.intersection(full)
    except rasterio.errors.WindowError:
        clipped = None
    if clipped is None or clipped.width < 1 or clipped.height < 1:
        raise RasterError(
            f"{where}: the place's window does not overlap the raster ({grid['height']}x{grid['width']} pixels)"
        )
    return Window(int(clipped.col_off), int(clipped.row_off), int(clipped.width), int(clipped.height))


def read_place_file(place: PlaceSpec, file: str) -> tuple[np.ndarray, Window, str | None, tuple[float, ...]]:
    """One file of a place as radiance.

    Args:
        place: the place (units, window).
        file: one of ``place.files``.

    Returns:
        ``(radiance, window, crs_wkt, transform)``: ``radiance`` is float32 ``(h, w)`` in
        nW/cm^2/sr for the place's window of band 1 (declared nodata -> NaN, or 0 with
        ``nodata_as: zero``; NaN stays NaN; negatives -> 0); ``window`` is where it lies in the
        file; ``crs_wkt`` and ``transform`` describe the whole file's grid.

    Raises:
        RasterError: the file cannot be read (named), or the window misses the raster.
    """
    path = place.data_dir / file
    where = f"{path} (place {place.name!r})"
    fill = 0.0 if place.nodata_as == "zero" else np.nan
    try:
        grid = raster_grid(path)
    except RasterError as exc:
        raise RasterError(f"{exc} (place {place.name!r}); {DATA_DIR_HINT}") from None
    window = _file_window(grid, place.window, where)
    try:
        raw = read_window(path, window, band=1, fill=fill)
    except RasterError as exc:
        raise RasterError(f"{exc} (place {place.name!r}); {DATA_DIR_HINT}") from None
    crs = grid["crs"]
    transform = tuple(grid["transform"])[:6]
    radiance = raw * np.float32(place.scale)
    radiance[~np.isfinite(radiance)] = np.nan
    np.maximum(radiance, 0.0, out=radiance, where=np.isfinite(radiance))
    return radiance.astype(np.float32, copy=False), window, crs, transform


def _starts(length: int, size: int, stride: int) -> list[int]:
    """Tile origins along one axis: 0, stride, ... until a tile reaches the end (the last may overhang)."""
    starts, s = [], 0
    while True:
        starts.append(s)
        if s + size >= length:
            return starts
        s += stride


def _window_sums(mask: np.ndarray, rows: list[int], cols: list[int], size: int, stride: int) -> np.ndarray:
    """Sum of ``mask`` over each ``size`` x ``size`` window at ``rows`` x ``cols`` (zero past the edges).

    Sums blocks of ``gcd(size, stride)`` pixels first (a reshape), then windows on that small grid.
    """
    g = math.gcd(size, stride)
    h, w = mask.shape
    hb, wb = -(-h // g), -(-w // g)
    padded = np.zeros((hb * g, wb * g), dtype=np.uint8)
    padded[:h, :w] = mask
    blocks = padded.reshape(hb, g, wb, g).sum(axis=(1, 3), dtype=np.int64)
    integral = np.zeros((hb + 1, wb + 1), dtype=np.int64)
    integral[1:, 1:] = blocks.cumsum(axis=0).cumsum(axis=1)
    k = size // g
    r0 = np.asarray(rows)[:, None] // g
    c0 = np.asarray(cols)[None, :] // g
    r1, c1 = np.minimum(r0 + k, hb), np.minimum(c0 + k, wb)
    return integral[r1, c1] - integral[r0, c1] - integral[r1, c0] + integral[r0, c0]


def _quotas(counts: list[int], cap: int) -> list[int]:
    """Spread ``cap`` evenly over files holding ``counts`` candidates (water filling)."""
    if sum(counts) <= cap:
        return list(counts)
    quotas = [0] * len(counts)
    remaining = cap
    order = sorted(range(len(counts)), key=lambda i: counts[i])
    for k, i in enumerate(order):
        share = remaining // (len(order) - k)
        quotas[i] = min(counts[i], share)
        remaining -= quotas[i]
    for i in sorted(order, key=lambda i: counts[i] - quotas[i], reverse=True):  # hand out the remainder
        if remaining <= 0:
            break
        if quotas[i] < counts[i]:
            quotas[i] += 1
            remaining -= 1
    return quotas


def build_tiles(
    places: list[PlaceSpec],
    split: str,
    hr_size: int = 128,
    *,
    stride: int | None = None,
    min_valid: float = MIN_VALID,
    lit_radiance: float = LIT_RADIANCE,
    dark_keep: float = DARK_KEEP,
    max_tiles_per_place: int = MAX_TILES_PER_PLACE,
    seed: int = 0,
) -> TileSet:
    """Cut the places of one split into HR tiles.

    Each file is converted to radiance (:func:`read_place_file`) and covered by ``hr_size`` square
    windows every ``stride`` pixels (the last row/column of windows may overhang the raster: that
    part is NaN). A window is a candidate when at least ``min_valid`` (or the place's own
    ``min_valid``) of its pixels are valid. Every lit candidate (any pixel >= ``lit_radiance``) is
    kept and a seeded ``dark_keep`` share of the fully dark ones; then at most
    ``max_tiles_per_place`` are drawn per place, spread evenly over its files (so a monthly series
    does not outweigh an annual raster). Files are read twice (statistics, then pixels) so memory
    holds only the kept tiles.

    Args:
        places: from :func:`load_places`.
        split: which split to tile (``train``, ``real-val``, ``real-test``).
        hr_size: tile side in HR pixels, a multiple of 8 (``SCALE``).
        stride: step between windows (default ``hr_size``: non-overlapping, a clean grid for
            whole-place evaluation; training may use ``hr_size // 2``).
        min_valid: default minimum valid share of a tile.
        lit_radiance: radiance (nW/cm^2/sr) that makes a tile lit.
        dark_keep: share of dark candidates kept.
        max_tiles_per_place: cap per place (0 = no cap).
        seed: seed of the dark sampling and the cap draw.

    Returns:
        A :class:`TileSet`; tiles ordered by place (file order of the places file), file, row, col.

    Raises:
        ConfigError: bad sizes, or no place in ``split``.
        RasterError: a file cannot be read.
    """
    if hr_size < SCALE or hr_size % SCALE:
        raise ConfigError(f"hr_size must be a positive multiple of {SCALE}, got {hr_size}")
    stride = int(stride or hr_size)
    if stride < 1:
        raise ConfigError(f"stride must be >= 1, got {stride}")
    if not 0 <= dark_keep <= 1 or not 0 < min_valid <= 1:
        raise ConfigError("dark_keep must be within [0, 1] and min_valid within (0, 1]")
    chosen = [p for p in places if p.split == split]
    if not chosen:
        raise ConfigError(
            f"no place in split {split!r}; splits present: {sorted({p.split for p in places})} (choose one of {SPLITS})"
        )
    area = float(hr_size * hr_size)
    plan: list[tuple[PlaceSpec, str, list[tuple[int, int]]]] = []
    grids: dict[str, tuple[str | None, tuple[float, ...]]] = {}
    counts: dict[str, int] = {}
    candidates: dict[str, int] = {}
    for place in chosen:
        threshold = place.min_valid if place.min_valid is not None else min_valid
        per_file: list[list[tuple[int, int]]] = []
        for j, file in enumerate(place.files):
            radiance, _, crs, transform = read_place_file(place, file)
            grids[file] = (crs, transform)
            valid = np.isfinite(radiance)
            with np.errstate(invalid="ignore"):
                lit = radiance >= lit_radiance  # NaN compares False
            rows = _starts(radiance.shape[0], hr_size, stride)
            cols = _starts(radiance.shape[1], hr_size, stride)
            valid_share = _window_sums(valid, rows, cols, hr_size, stride) / area
            lit_count = _window_sums(lit, rows, cols, hr_size, stride)
            rng = np.random.default_rng(_stable_seed(seed, "dark", place.name, file))
            keep = []
            for a, r in enumerate(rows):
                for b, c in enumerate(cols):
                    if valid_share[a, b] < threshold:
                        continue
                    candidates[place.name] = candidates.get(place.name, 0) + 1
                    dark_draw = rng.random()  # drawn for every candidate: stable when thresholds change
                    if lit_count[a, b] > 0 or dark_draw < dark_keep:
                        keep.append((r, c))
            per_file.append(keep)
            del radiance, valid, lit
        quotas = _quotas([len(k) for k in per_file], max_tiles_per_place) if max_tiles_per_place else [
            len(k) for k in per_file
        ]
        for file, keep, quota in zip(place.files, per_file, quotas):
            if quota < len(keep):
                rng = np.random.default_rng(_stable_seed(seed, "cap", place.name, file))
                pick = np.sort(rng.choice(len(keep), size=quota, replace=False))
                keep = [keep[i] for i in pick]
            if keep:
                plan.append((place, file, keep))
        counts[place.name] = int(sum(quotas))
    total = sum(len(k) for _, _, k in plan)
    tiles = np.full((total, hr_size, hr_size), np.nan, dtype=np.float32)
    refs: list[TileRef] = []
    for place, file, keep in plan:
        radiance, window, _, _ = read_place_file(place, file)
        h, w = radiance.shape
        for r, c in keep:
            i = len(refs)
            rh, cw = min(hr_size, h - r), min(hr_size, w - c)
            tiles[i, :rh, :cw] = radiance[r : r + rh, c : c + cw]
            refs.append(
                TileRef(index=i, place=place.name, file=file,
                        window=(int(window.row_off) + r, int(window.col_off) + c, hr_size, hr_size))
            )
        del radiance
    return TileSet(tiles=tiles, refs=refs, grids=grids, counts=counts, candidates=candidates)


# --------------------------------------------------------------------------------------- degradation
LR_MODES: tuple[str, ...] = ("dn", "radiance")


@dataclass(frozen=True)
class DegradationDraw:
    """One sample's degradation.

    Attributes:
        params: forward-model parameters.
        lr_mode: ``"dn"`` (the DMSP-like DN of :func:`degrade_dmsp_like`) or ``"radiance"`` (the
            model's coarse radiance with multiplicative noise, mapped to nominal DN).
        seed: seed of :func:`degrade_dmsp_like` (and of the radiance-mode noise).
    """

    params: DegradationParams
    lr_mode: str
    seed: int


class RandomDegradation:
    """Degradation parameters drawn per sample, centred on the ``realistic`` preset.

    With probability ``p_preset`` the parameters are exactly the ``realistic`` preset (what
    ``deeplight data degrade`` uses by default); otherwise each is drawn independently:

    ======================  ==============================================================
    psf_core_sigma_lr       U(0.2, 0.6) LR px (preset 0.35)
    psf_tail_sigma_lr       U(0.8, 2.5) LR px (1.5)
    bloom_max_fraction      U(0, 0.7) (0.5)
    bloom_half_radiance     log-uniform(5, 80) nW/cm^2/sr (20)
    gain_drift_sigma        U(0.05, 0.3) (0.15)
    offset_drift_sigma_dn   U(0, 1) DN (0.5)
    saturation_dn           63; with prob ``p_low_saturation`` U(45, 63)
    shift_sigma_lr          U(0, 0.8) LR px (0.5)
    max_rotation_deg        U(0, 1) degrees (0.5)
    noise_sigma_dn          U(0, 1) DN (0.5)
    noise_relative          U(0, 0.05) (0.02)
    aggregation             area; with prob ``p_bicubic`` bicubic
    ======================  ==============================================================

    The ranges are our choice: about 0.5x to 2x the preset's values (whose sources are in
    :class:`deeplight.data.degrade.DegradationParams`), wide enough to cover different DMSP
    satellites and years (inter-calibration, Elvidge et al. 2009) and VIIRS-derived coarse inputs.
    Independently, the LR mode is ``"radiance"`` with probability ``p_radiance`` (else ``"dn"``).

    Args:
        p_preset: probability of the exact ``realistic`` preset.
        p_radiance: probability of the coarse-radiance LR mode.
        p_low_saturation: probability of a saturation cap below 63.
        p_bicubic: probability of bicubic aggregation.
    """

    def __init__(
        self, *, p_preset: float = 0.3, p_radiance: float = 0.2, p_low_saturation: float = 0.15,
        p_bicubic: float = 0.1,
    ) -> None:
        for name, p in (("p_preset", p_preset), ("p_radiance", p_radiance),
                        ("p_low_saturation", p_low_saturation), ("p_bicubic", p_bicubic)):
            if not 0 <= p <= 1:
                raise ConfigError(f"RandomDegradation {name} must be a probability in [0, 1], got {p}")
        self.p_preset, self.p_radiance = p_preset, p_radiance
        self.p_low_saturation, self.p_bicubic = p_low_saturation, p_bicubic
        self.preset = preset_params("realistic")

    def draw(self, rng: np.random.Generator) -> DegradationDraw:
        """Draw one sample's degradation from ``rng`` (a fixed number of draws whatever the branch)."""
        u = rng.random(16)
        seed = int(rng.integers(0, 2**31 - 1))
        lr_mode = "radiance" if u[0] < self.p_radiance else "dn"
        if u[1] < self.p_preset:
            return DegradationDraw(params=self.preset, lr_mode=lr_mode, seed=seed)
        lo, hi = math.log(5.0), math.log(80.0)
        params = preset_params(
            "realistic",
            psf_core_sigma_lr=0.2 + 0.4 * u[2],
            psf_tail_sigma_lr=0.8 + 1.7 * u[3],
            bloom_max_fraction=0.7 * u[4],
            bloom_half_radiance=math.exp(lo + (hi - lo) * u[5]),
            gain_drift_sigma=0.05 + 0.25 * u[6],
            offset_drift_sigma_dn=1.0 * u[7],
            saturation_dn=45.0 + 18.0 * u[9] if u[8] < self.p_low_saturation else 63.0,
            shift_sigma_lr=0.8 * u[10],
            max_rotation_deg=1.0 * u[11],
            noise_sigma_dn=1.0 * u[12],
            noise_relative=0.05 * u[13],
            aggregation="bicubic" if u[14] < self.p_bicubic else "area",
        )
        return DegradationDraw(params=_replace_params(params, preset="randomised"), lr_mode=lr_mode, seed=seed)

    def for_sample(self, seed: int, epoch: int, index: int) -> DegradationDraw:
        """The draw of sample ``index`` in ``epoch`` for run ``seed`` (deterministic)."""
        return self.draw(np.random.default_rng((int(seed), int(epoch), int(index))))


def _replace_params(params: DegradationParams, **changes: Any) -> DegradationParams:
    """``dataclasses.replace`` for :class:`DegradationParams` (re-validated)."""
    import dataclasses

    return dataclasses.replace(params, **changes)


def simulate_lr(hr_radiance: np.ndarray, draw: DegradationDraw) -> tuple[np.ndarray, DegradationInfo]:
    """The simulated LR of one HR tile.

    Args:
        hr_radiance: ``(H, W)`` radiance in nW/cm^2/sr, NaN = nodata, sides multiples of 8.
        draw: the degradation.

    Returns:
        ``(lr_dn, info)``: ``lr_dn`` is ``(H/8, W/8)`` float32 DN (NaN = invalid LR pixel). In
        ``"dn"`` mode it is :func:`degrade_dmsp_like`'s output. In ``"radiance"`` mode it is the
        forward model's coarse radiance (same misregistration, PSF and aggregation, no DN
        response: ``info.lr_radiance``) times ``1 + noise_relative * N(0, 1)`` per pixel (clipped
        at 0), mapped by :func:`deeplight.contracts.radiance_to_nominal_dn` - exactly what
        ``deeplight predict --lr-units radiance`` does to a radiance LR raster.
    """
    lr_dn, info = degrade_dmsp_like(hr_radiance, draw.params, seed=draw.seed)
    if draw.lr_mode == "dn":
        return lr_dn, info
    if draw.lr_mode != "radiance":
        raise ConfigError(f"lr_mode must be one of {LR_MODES}, got {draw.lr_mode!r}")
    rng = np.random.default_rng((draw.seed, 0x4AD1A))
    noise = rng.standard_normal(info.lr_radiance.shape).astype(np.float32)
    noisy = info.lr_radiance * np.maximum(1.0 + np.float32(draw.params.noise_relative) * noise, 0.0)
    return np.asarray(radiance_to_nominal_dn(noisy), dtype=np.float32), info


# ------------------------------------------------------------------------------------------- dataset
def _tensor_keys(sample: dict[str, Any]) -> dict[str, torch.Tensor]:
    return {k: sample[k] for k in TENSOR_KEYS}


class RealCorpusDataset(Dataset, _Epoch):
    """Real HR tiles of one split with simulated LR (sample dicts of docs/CONTRACTS.md).

    Items hold exactly the tensor keys ``lr`` (1, h, w) normalised DN, ``hr`` (1, H, W) normalised
    radiance, ``valid`` (1, H, W), ``dmo`` (7, H, W) zeros, ``dem`` and ``isp`` (1, H, W) zeros and
    ``present = [1, 0, 0, 0]`` (NaN -> 0 everywhere), so they batch with the synthetic clips of
    :class:`deeplight.train.preloaded.PreloadedClips`.

    Args:
        places: from :func:`load_places`, or the path of a places file.
        split: ``train``, ``real-val`` or ``real-test``.
        hr_size: tile side (HR pixels, multiple of 8); LR is ``hr_size // 8``.
        seed: run seed.
        augment: random rot90/flip (seeded by (seed, epoch, index)).
        randomize: per-sample :class:`RandomDegradation` (default: True for ``train``, False
            otherwise). When False item ``i`` gets the ``realistic`` preset in DN mode with seed
            ``seed + i`` (reproducible validation; the LR is computed once and cached), and items
            take the places in turn, so a prefix of the split covers every place.
        stride: window step (default ``hr_size // 2`` for ``train``, else ``hr_size``).
        max_tiles_per_place, min_valid, dark_keep: see :func:`build_tiles`.
        degradation: the random degradation (default :class:`RandomDegradation()`).
        data_dir: shared data folder when ``places`` is a path.

    Attributes:
        description: one line naming the split, the places and their tile counts (model card).
        places: names of the places with at least one tile.
        tileset: the :class:`TileSet` (tiles, refs, grids, counts).

    Raises:
        ConfigError: no place in the split, or none of its places yields a tile.
        RasterError: unreadable files (named).
    """

    def __init__(
        self,
        places: list[PlaceSpec] | PathLike,
        split: str,
        hr_size: int = 128,
        seed: int = 0,
        augment: bool = False,
        randomize: bool | None = None,
        *,
        stride: int | None = None,
        max_tiles_per_place: int = MAX_TILES_PER_PLACE,
        min_valid: float = MIN_VALID,
        dark_keep: float = DARK_KEEP,
        degradation: RandomDegradation | None = None,
        data_dir: PathLike | None = None,
    ) -> None:
        if not isinstance(places, list):
            places = load_places(places, data_dir)
        self.split = split
        self.hr_size = int(hr_size)
        self.seed = int(seed)
        self.augment = bool(augment)
        self.randomize = (split == "train") if randomize is None else bool(randomize)
        if stride is None:
            stride = max(SCALE, hr_size // 2) if split == "train" else hr_size
        self.tileset = build_tiles(
            places, split, hr_size, stride=stride, min_valid=min_valid, dark_keep=dark_keep,
            max_tiles_per_place=max_tiles_per_place, seed=seed,
        )
        if not self.tileset.refs:
            raise ConfigError(
                f"split {split!r} gives no HR tile of {hr_size} px from places "
                f"{', '.join(p.name for p in places if p.split == split)}: lower hr_size or min_valid"
            )
        self.degradation = degradation or RandomDegradation()
        self.realistic = preset_params("realistic")
        self.specs = {p.name: p for p in places if p.split == split}
        self.places = [name for name, n in self.tileset.counts.items() if n > 0]
        self._by_place: dict[str, list[int]] = {}
        for ref in self.tileset.refs:
            self._by_place.setdefault(ref.place, []).append(ref.index)
        self.order = self._interleaved() if not self.randomize else np.arange(len(self.tileset.refs))
        self._position = np.empty_like(self.order)
        self._position[self.order] = np.arange(len(self.order))
        self._lr_cache: dict[int, np.ndarray] = {}
        counts = ", ".join(f"{name} {n}" for name, n in self.tileset.counts.items())
        source = next(iter(self.specs.values())).source if self.specs else ""
        lr = "randomised DMSP-like degradation" if self.randomize else "realistic preset, seed + item index"
        self.description = (
            f"real night-light tiles, split {split} ({len(self)} HR tiles of {hr_size} px from {len(self.places)} "
            f"places of {source}: {counts}); LR simulated ({lr}); no aux layers"
        )

    def _interleaved(self) -> np.ndarray:
        """Item order of a held-out split: places taken in turn (each place's tiles in a seeded order),
        so any prefix - e.g. the first ``data.max_val_batches`` batches - covers every place."""
        queues = []
        for name, tiles in self._by_place.items():
            rng = np.random.default_rng(_stable_seed(self.seed, "order", name))
            queues.append([tiles[i] for i in rng.permutation(len(tiles))])
        order = [q[k] for k in range(max(len(q) for q in queues)) for q in queues if k < len(q)]
        return np.asarray(order, dtype=np.int64)

    @property
    def refs(self) -> list[TileRef]:
        """The :class:`TileRef` of each item, in item order (``refs[i]`` is where ``self[i]`` came from)."""
        return [self.tileset.refs[t] for t in self.order]

    def __len__(self) -> int:
        return len(self.tileset.refs)

    def draw(self, index: int, key: int | None = None) -> tuple[DegradationDraw, np.random.Generator]:
        """The degradation of item ``index`` and the generator that continues with its augmentation.

        ``key`` (used by :class:`MixedDataset`) makes a separate stream, so one tile drawn by
        several mixed items gets different degradations.
        """
        parts = (self.seed, self.epoch, int(index)) if key is None else (self.seed, self.epoch, int(index), int(key))
        rng = np.random.default_rng(parts)
        if self.randomize:
            return self.degradation.draw(rng), rng
        return DegradationDraw(params=self.realistic, lr_mode="dn", seed=self.seed + int(index)), rng

    def sample(self, index: int, key: int | None = None) -> dict[str, torch.Tensor]:
        """Item ``index`` (``key``: see :meth:`draw`)."""
        if not 0 <= index < len(self):
            raise IndexError(f"item index {index} out of range 0..{len(self) - 1}")
        hr = self.tileset.tiles[self.order[index]]
        draw, rng = self.draw(index, key)
        if not self.randomize and index in self._lr_cache:
            lr_dn = self._lr_cache[index]
        else:
            lr_dn, _ = simulate_lr(hr, draw)
            if not self.randomize:
                self._lr_cache[index] = lr_dn
        sample = make_sample(lr_dn, hr_radiance=hr)
        if self.augment:
            sample = augment_sample(sample, *draw_augmentation(rng))
        return _tensor_keys(sample)

    def __getitem__(self, index: int) -> dict[str, torch.Tensor]:
        return self.sample(int(index))

    def place_tiles(self, name: str) -> list[tuple[TileRef, dict[str, Any]]]:
        """Every tile of one place with its sample, for whole-place evaluation.

        Returns:
            ``[(ref, sample), ...]`` in file/row/col order; ``ref.window`` is ``(row, col, height,
            width)`` in ``ref.file``'s pixel grid. Samples use the dataset's degradation setting
            (the fixed ``realistic`` preset for held-out splits), no augmentation, and carry
            ``crs`` (WKT) and ``transform`` (6 floats of the tile's HR grid) besides the tensors.

        Raises:
            KeyError: ``name`` is not a place of this split (the message lists them).
        """
        from affine import Affine

        if name not in self._by_place:
            raise KeyError(f"no tile of place {name!r} in split {self.split}; places: {', '.join(self.places)}")
        out = []
        augment, self.augment = self.augment, False
        try:
            for t in self._by_place[name]:
                ref = self.tileset.refs[t]
                sample: dict[str, Any] = self.sample(int(self._position[t]))
                crs, transform = self.tileset.grids[ref.file]
                row, col = ref.window[0], ref.window[1]
                sample["crs"] = crs
                sample["transform"] = tuple(Affine(*transform) @ Affine.translation(col, row))[:6]
                out.append((ref, sample))
        finally:
            self.augment = augment
        return out

    def tile_counts(self) -> dict[str, int]:
        """Tiles per place."""
        return dict(self.tileset.counts)


class MixedDataset(Dataset, _Epoch):
    """Synthetic clips with a seeded share of real tiles in their place (training).

    Item ``i`` is real with probability ``real_fraction``, decided (together with which real tile)
    by ``numpy.random.default_rng((seed, epoch, i, 0x5EA1))``: deterministic, different per epoch,
    the same on every DDP rank and worker. The length is the synthetic set's, so the run's steps
    and epochs are unchanged. Items hold only the tensor keys (docs/CONTRACTS.md), so both sources
    collate; modality dropout of the trainer still applies (real items have no aux layers anyway).

    Args:
        synthetic: dataset of synthetic clips (HR side must equal the real tiles').
        real: :class:`RealCorpusDataset` (or any dataset of the same sample dicts).
        real_fraction: share of items drawn from ``real`` (0..1).
        seed: run seed.

    Raises:
        ConfigError: ``real_fraction`` outside 0..1, an empty source, or HR sizes that differ.
    """

    def __init__(self, synthetic: Dataset, real: Dataset, real_fraction: float, seed: int = 0) -> None:
        if not 0.0 <= real_fraction <= 1.0:
            raise ConfigError(f"real_fraction must be within 0..1, got {real_fraction}")
        if len(synthetic) == 0 or len(real) == 0:  # type: ignore[arg-type]
            raise ConfigError("MixedDataset needs a non-empty synthetic and real dataset")
        synth_hr = tuple(synthetic[0]["hr"].shape[-2:])
        real_hr = tuple(real[0]["hr"].shape[-2:])
        if synth_hr != real_hr:
            raise ConfigError(
                f"synthetic clips have HR {synth_hr[0]}x{synth_hr[1]} px but the real tiles {real_hr[0]}x{real_hr[1]}: "
                f"set data.real_hr_size to {synth_hr[0]} (or make synthetic clips with --lr-size {real_hr[0] // SCALE})"
            )
        self.synthetic, self.real = synthetic, real
        self.real_fraction = float(real_fraction)
        self.seed = int(seed)
        synth_desc = getattr(synthetic, "description", type(synthetic).__name__)
        real_desc = getattr(real, "description", type(real).__name__)
        self.description = (
            f"mixed training data: {1 - self.real_fraction:.0%} synthetic [{synth_desc}] + "
            f"{self.real_fraction:.0%} real [{real_desc}]"
        )

    def set_epoch(self, epoch: int) -> None:
        """Select this epoch's mix and tell both sources."""
        self.epoch = int(epoch)
        for source in (self.synthetic, self.real):
            if hasattr(source, "set_epoch"):
                source.set_epoch(epoch)

    def __len__(self) -> int:
        return len(self.synthetic)  # type: ignore[arg-type]

    def source(self, index: int) -> tuple[str, int]:
        """``("real", tile)`` or ``("synthetic", index)`` for item ``index`` this epoch."""
        rng = np.random.default_rng((self.seed, self.epoch, int(index), 0x5EA1))
        u = rng.random()
        tile = int(rng.integers(len(self.real)))  # type: ignore[arg-type]
        if u < self.real_fraction:
            return "real", tile
        return "synthetic", int(index)

    def __getitem__(self, index: int) -> dict[str, torch.Tensor]:
        kind, j = self.source(index)
        if kind == "real":
            item = self.real.sample(j, key=index) if hasattr(self.real, "sample") else self.real[j]
        else:
            item = self.synthetic[j]
        return {k: item[k] for k in TENSOR_KEYS}


def describe_places(places: list[PlaceSpec]) -> str:
    """One line per split naming its places and kinds (for logs and model cards)."""
    lines = []
    for split in SPLITS:
        chosen = [p for p in places if p.split == split]
        if chosen:
            kinds = Counter(p.kind for p in chosen)
            lines.append(
                f"{split}: {', '.join(p.name for p in chosen)} ({', '.join(f'{k} {n}' for k, n in kinds.items())})"
            )
    return "; ".join(lines)
