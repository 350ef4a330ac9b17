"""The data catalogue: every data set DeepLight knows, each opened as one :class:`~deeplight.io.scene.Scene`.

The command line (``deeplight data list``, ``deeplight sdg --dataset``) and the dashboard list and open
the same sets through this module:

- ``demo``: the built-in synthetic demo written by ``deeplight data demo --out HOME/demo`` (made on
  first use), its big layers read lazily;
- the real sample sets found under ``DEEPLIGHT_DATA_DIR`` (the layout of ``../shared/data``, see
  ``/work/shared/data/README.md``): Shanghai's two yearly products, Cote d'Ivoire, the monthly
  Himalaya towns and Dubai, Touggourt. Their night-light rasters are VIIRS-class (~500 m); no real
  coarse twin exists, so the LR input is **simulated** from the real image by the degradation model
  (:func:`deeplight.data.degrade.degrade_dmsp_like`) and labelled "simulated LR" everywhere;
- uploads and a user's own rasters: :func:`scene_from_hr` (an HR image, LR simulated) and
  :func:`deeplight.io.scene.open_scene` (an LR image).

Where things live is given as arguments (``data_dir``, ``home``), never read from a settings object;
:func:`default_home` (the one rule, :func:`deeplight.runtime.default_home`) and :func:`default_data_dir`
read the environment variables of docs/CONTRACTS.md.
"""

from __future__ import annotations

import json
import os
import re
import zlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path

import geopandas as gpd
import numpy as np
import xarray as xr
from affine import Affine
from rasterio.crs import CRS

from deeplight.contracts import SCALE, tag_is_true
from deeplight.data.degrade import degrade_dmsp_like
from deeplight.errors import RasterError
from deeplight.io.raster import raster_grid, read_raster
from deeplight.io.regions import load_regions
from deeplight.io.scene import Layer, Scene, lr_transform_from_hr, open_scene, scene_regions, whole_scene_region
from deeplight.report import DEMO_CREDIT, DEMO_SIMULATED_LR_NOTE, DEMO_SYNTHETIC_HR_NOTE, DEMO_TITLE
from deeplight.runtime import default_home  # the one home rule, re-exported here

DATA_DIR_ENV = "DEEPLIGHT_DATA_DIR"


def default_data_dir() -> Path | None:
    """``$DEEPLIGHT_DATA_DIR`` (the real sample sets), or None when unset: then only the demo is listed."""
    value = os.environ.get(DATA_DIR_ENV, "").strip()
    return Path(value).expanduser() if value else None


def demo_dir_of(home: Path) -> Path:
    """Folder of the built-in demo under a DeepLight home (``home/demo``)."""
    return Path(home) / "demo"


SHANGHAI_REGIONS_CREDIT = "Shanghai district boundaries: public administrative boundaries"
VIIRS_LIKE_CREDIT = "NPP-VIIRS-like NTL 2000-2020: Chen et al. 2021, ESSD 13:889 (exported from Earth Engine)"
VNL_CREDIT = "NPP-VIIRS VNL: Earth Observation Group, Payne Institute (Elvidge et al. 2021, RS 13(5):922)"
CIV_NTL_CREDIT = "Cote d'Ivoire VIIRS average radiance 2024: Earth Observation Group / NOAA VIIRS DNB"
CIV_POP_CREDIT = "Population 1 km: WorldPop-style grid (CC BY 4.0)"
CIV_REGIONS_CREDIT = "Regions: OCHA COD-AB (Cote d'Ivoire ADM1)"
TOUGGOURT_CREDIT = "Touggourt VNL v2 2020: Earth Observation Group (see touggourt/COPYRIGHTS.md)"
HIMALAYA_CREDIT = (
    "VIIRS DNB monthly VCMSLCFG avg_rad and cloud-free counts: NOAA / Earth Observation Group, exported "
    "from Earth Engine by abhijitvaidya/nighttime-lights-india (MIT)"
)
DUBAI_CREDIT = (
    "VIIRS DNB monthly avg_rad 2024: NOAA / Earth Observation Group, exported from Earth Engine by "
    "A-Munshi/Geospatial-Light-Pollution-Prediction"
)
HIMALAYA_TOWNS = {"srinagar": "Srinagar", "leh": "Leh", "manali": "Manali", "ayodhya": "Ayodhya"}
"""Towns of ``real_hr/india-himalaya-viirs-monthly`` offered as monthly data sets."""
CLOUD_FREE_NOTE = (
    "months without cloud-free coverage: cells with a cloud-free count of 0 are masked (no data), "
    "not read as zero radiance"
)
SIMULATED_LR_NOTE = (
    "simulated LR: the coarse DMSP-like input was made from the real image by the DeepLight "
    "degradation model; it is not an observation"
)


@dataclass(frozen=True)
class DatasetInfo:
    """One entry of the data-set picker.

    Attributes:
        id: stable identifier used in URLs (``?dataset=``).
        title: label in the UI.
        years: available years (empty when the set has a single date).
        description: one sentence for the Home page.
        months: available months as ``"YYYY-MM"`` for a set of monthly layers (empty otherwise); a
            monthly set is stepped through by month (``?month=``), an annual one by year (``?year=``).
        lr_simulated: whether the set's LR input is made by the degradation model (every built-in and
            real set: no real coarse twin exists); False for a real LR upload.
        lr_simulated_on_open: whether opening the set runs the degradation model (the real sets: their
            LR is simulated from the HR image each time it is read); False when a simulated LR is
            stored (the demo) or already built (uploads).
    """

    id: str
    title: str
    years: tuple[int, ...]
    description: str
    months: tuple[str, ...] = ()
    lr_simulated: bool = True
    lr_simulated_on_open: bool = False

    @property
    def times(self) -> tuple[int | str, ...]:
        """The time steps of the set: its months when monthly, else its years."""
        return self.months or self.years

    @property
    def time_unit(self) -> str:
        """``"month"`` or ``"year"`` (the URL parameter and the slider's label)."""
        return "month" if self.months else "year"


def _shanghai_products(data_dir: Path) -> dict[str, tuple[str, Path, str, str]]:
    base = data_dir / "shanghai"
    return {
        "shanghai_viirs_like": (
            "Shanghai - NPP-VIIRS-like 2000-2020",
            base / "viirs_like_2000_2020",
            "NTL_Shanghai_2000_2020_{year}.tif",
            VIIRS_LIKE_CREDIT,
        ),
        "shanghai_npp_viirs": (
            "Shanghai - NPP-VIIRS (VNL) 2013-2022",
            base / "npp_viirs_2013_2022",
            "NTL_Shanghai_NPP-VIIRS_2013_2022_{year}.tif",
            VNL_CREDIT,
        ),
    }


def _years_in(folder: Path, pattern: str) -> tuple[int, ...]:
    prefix, suffix = pattern.split("{year}")
    years = []
    for path in folder.glob(pattern.replace("{year}", "*")):
        stem = path.name[len(prefix) : len(path.name) - len(suffix)]
        if stem.isdigit():
            years.append(int(stem))
    return tuple(sorted(years))


def list_datasets(data_dir: Path | None = None) -> list[DatasetInfo]:
    """Data sets available on this machine: the demo always, real sets when ``data_dir`` has them.

    Args:
        data_dir: a folder with the layout of ``../shared/data`` (``DEEPLIGHT_DATA_DIR``), or None.
    """
    out = [
        DatasetInfo(
            "demo",
            "Built-in demo (synthetic)",
            (),
            "A synthetic DeepLightMD-style scene with "
            "all five modalities and named regions; simulated LR, synthetic HR.",
        )
    ]
    if data_dir is None or not Path(data_dir).is_dir():
        return out
    data_dir = Path(data_dir)
    for dataset_id, (title, folder, pattern, _) in _shanghai_products(data_dir).items():
        years = _years_in(folder, pattern)
        if years:
            out.append(
                DatasetInfo(
                    dataset_id,
                    title,
                    years,
                    "16 districts; real VIIRS-class HR, simulated LR; a yearly time series.",
                )
            )
    if (data_dir / "cote_divoire" / "ntl.tif").exists():
        out.append(
            DatasetInfo(
                "cote_divoire",
                "Cote d'Ivoire - VIIRS 2024",
                (2024,),
                "33 regions with population; real VIIRS HR, simulated LR.",
            )
        )
    for dataset_id, (title, files, _cloud_free, _credit) in _monthly_sets(data_dir).items():
        months = tuple(sorted(files))
        if len(months) > 1:
            out.append(
                DatasetInfo(
                    dataset_id,
                    title,
                    tuple(sorted({int(m[:4]) for m in months})),
                    f"{len(months)} monthly layers {months[0]} to {months[-1]} (gaps where the source has "
                    "none); real VIIRS HR, simulated LR; cells without cloud-free coverage masked.",
                    months=months,
                )
            )
    if _touggourt_ntl(data_dir) is not None:
        out.append(
            DatasetInfo(
                "touggourt",
                "Touggourt (Algeria) - VNL 2020",
                (2020,),
                "A small oasis town, 9 hexagon cells; real VNL HR, simulated LR.",
            )
        )
    # every real set's LR is simulated from its HR image when it is opened (_real_scene); the demo's is stored
    return [out[0], *(replace(info, lr_simulated_on_open=True) for info in out[1:])]


MONTH_PATTERN = re.compile(r"^(\d{4})-(\d{2})$")


def parse_month(text: str) -> str | None:
    """``"YYYY-MM"`` (month 01-12) as given, or None when ``text`` is not such a month."""
    match = MONTH_PATTERN.match(str(text).strip())
    if match is None or not 1 <= int(match.group(2)) <= 12:
        return None
    return f"{match.group(1)}-{match.group(2)}"


def _monthly_sets(data_dir: Path) -> dict[str, tuple[str, dict[str, Path], dict[str, Path], str]]:
    """Monthly data sets found under ``real_hr/``: id -> (title, month -> raster, month -> cloud-free
    count raster (may be empty), credit)."""
    out: dict[str, tuple[str, dict[str, Path], dict[str, Path], str]] = {}
    himalaya = data_dir / "real_hr" / "india-himalaya-viirs-monthly"
    for town, name in HIMALAYA_TOWNS.items():
        files: dict[str, Path] = {}
        counts: dict[str, Path] = {}
        for path in himalaya.glob(f"viirs_{town}_*_*.tif"):
            match = re.fullmatch(rf"viirs_{town}_(\d{{4}})_(\d{{2}})(_cf)?\.tif", path.name)
            if match is None:
                continue
            month = f"{match.group(1)}-{match.group(2)}"
            (counts if match.group(3) else files)[month] = path
        if files:
            out[f"himalaya_{town}"] = (f"{name} (India) - VIIRS monthly", files, counts, HIMALAYA_CREDIT)
    dubai = data_dir / "real_hr" / "dubai-viirs-monthly-2024"
    files = {}
    for path in dubai.glob("Dubai_NTL_*.tif"):
        month = parse_month(path.stem.removeprefix("Dubai_NTL_"))
        if month is not None:
            files[month] = path
    if files:
        out["dubai_monthly"] = ("Dubai - VIIRS monthly 2024", files, {}, DUBAI_CREDIT)
    return out


def mask_without_cloud_free(radiance: np.ndarray, cloud_free: np.ndarray) -> np.ndarray:
    """Radiance with every cell of no cloud-free observation (count 0 or nodata) set to NaN.

    A VIIRS monthly composite writes 0 where no cloud-free night was seen; that is missing data,
    not darkness, so it must not enter sums or lit areas as zero.

    Args:
        radiance: (H, W) radiance (nW/cm^2/sr).
        cloud_free: (H, W) cloud-free observation counts on the same grid (NaN = nodata).

    Returns:
        A float32 copy of ``radiance`` with NaN where the count is 0 or unknown.
    """
    if radiance.shape != cloud_free.shape:
        raise RasterError(
            f"cloud-free counts {cloud_free.shape} and radiance {radiance.shape} are not on the same grid"
        )
    covered = np.isfinite(cloud_free) & (cloud_free > 0)
    return np.where(covered, radiance, np.nan).astype(np.float32)


def _touggourt_ntl(data_dir: Path) -> Path | None:
    found = sorted((data_dir / "touggourt").glob("VNL_v2_*average_masked.tif"))
    return found[0] if found else None


def _crop_to_multiple(array: np.ndarray) -> np.ndarray:
    h, w = array.shape[-2:]
    return array[..., : h - h % SCALE, : w - w % SCALE]


def simulate_lr(hr_radiance: np.ndarray, seed: int) -> np.ndarray:
    """Make a DMSP-like LR DN image (h, w) from an HR radiance image (8h, 8w).

    Uses the project's realistic degradation model (``deeplight.data.degrade.degrade_dmsp_like``:
    drift, blooming PSF, 8x aggregation, misregistration, noise, 6-bit saturation).

    Args:
        hr_radiance: (8h, 8w) radiance in nW/cm^2/sr, NaN = nodata.
        seed: seed of the degradation, fixed per scene so every session sees the same LR.

    Returns:
        (h, w) float32 DN in 0..63, NaN where too few HR pixels are valid.
    """
    lr, _info = degrade_dmsp_like(hr_radiance, seed=seed)
    return lr


SHANGHAI_DISTRICTS_EN = {
    "黄浦区": "Huangpu",
    "徐汇区": "Xuhui",
    "长宁区": "Changning",
    "静安区": "Jing'an",
    "普陀区": "Putuo",
    "虹口区": "Hongkou",
    "杨浦区": "Yangpu",
    "闵行区": "Minhang",
    "宝山区": "Baoshan",
    "嘉定区": "Jiading",
    "浦东新区": "Pudong",
    "金山区": "Jinshan",
    "松江区": "Songjiang",
    "青浦区": "Qingpu",
    "奉贤区": "Fengxian",
    "崇明区": "Chongming",
}
"""Romanised names of Shanghai's 16 districts, shown beside the Chinese name ("Pudong (浦东新区)")."""


def _regions_from(path: Path, column: str, crs: CRS) -> gpd.GeoDataFrame:
    """The regions of a data set's file through the one region loader (``deeplight sdg``'s), named by
    its known ``column``; Shanghai's districts get their romanised name in front."""
    frame = scene_regions(load_regions(path, name_column=column), crs)
    frame["name"] = [
        f"{SHANGHAI_DISTRICTS_EN[n]} ({n})" if n in SHANGHAI_DISTRICTS_EN else str(n) for n in frame["name"]
    ]
    return frame


def scene_from_hr(
    hr: xr.DataArray,
    *,
    key: str,
    title: str,
    seed: int | None = None,
    regions: str | os.PathLike[str] | gpd.GeoDataFrame | None = None,
    region_column: str | None = None,
    dmo: Layer | None = None,
    dem: Layer | None = None,
    population: Layer | None = None,
    credits: Sequence[str] = (),
    notes: Sequence[str] = (),
    year: int | None = None,
    month: str | None = None,
    labels: Mapping[str, str] | None = None,
    whole_region_name: str | None = None,
) -> Scene:
    """A Scene from a real HR radiance image, its LR input **simulated** by the degradation model.

    The path of every real data set and of an HR upload: the image is cut to whole 8x8 blocks (bottom
    and right), :func:`simulate_lr` makes the DMSP-like LR from it, and
    :func:`~deeplight.io.scene.open_scene` puts both, the optional layers and the regions on one grid
    (so an upload and a catalogued set are built by the same code).

    Args:
        hr: (H, W) radiance in nW/cm^2/sr with its CRS and transform (from :func:`read_raster`).
        key: the scene's cache key.
        title: the name shown.
        seed: seed of the degradation (default: CRC32 of ``key``, so every session sees the same LR).
        regions, region_column: see :func:`~deeplight.io.scene.open_scene` (None: one region, the
            whole raster, named ``whole_region_name``, default ``title``).
        dmo, dem, population: optional layers (paths or DataArrays; warped onto the HR grid).
        credits, year, month, labels: copied onto the Scene / used in messages.
        notes: remarks after the "simulated LR" note.

    Raises:
        RasterError: the image is smaller than one 8x8 block or has no valid pixel in whole blocks.
    """
    values = np.asarray(hr.values, dtype=np.float32)
    if values.ndim != 2:
        raise RasterError(f"{title}: the HR image must have one band, got shape {values.shape}")
    h, w = values.shape
    if h < SCALE or w < SCALE:
        raise RasterError(
            f"{title}: the HR image is {h}x{w} pixels; it needs at least {SCALE}x{SCALE} "
            "(give it as an LR image instead)"
        )
    values = _crop_to_multiple(values)
    if not np.isfinite(values).any():
        raise RasterError(f"{title}: no valid pixel in the part that fits whole {SCALE}x{SCALE} blocks")
    crs = hr.rio.crs
    transform: Affine = hr.rio.transform(recalc=False)
    lr = simulate_lr(values, seed=zlib.crc32(key.encode()) if seed is None else seed)
    lr_da = _grid_array(lr, crs, lr_transform_from_hr(transform), {"units": "DN", "simulated": "true"})
    hr_da = _grid_array(values, crs, transform, {"units": "nW/cm2/sr"})
    source = str(hr.attrs.get("source_path", title))
    lr_da.attrs["source_path"] = f"simulated from {source}"
    hr_da.attrs["source_path"] = source
    return open_scene(
        lr_da,
        hr=hr_da,
        dmo=dmo,
        dem=dem,
        population=population,
        regions=regions,
        region_column=region_column,
        lr_units="dn",
        key=key,
        title=title,
        lr_simulated=True,
        year=year,
        month=month,
        credits=credits,
        notes=(SIMULATED_LR_NOTE, *notes),
        labels=labels,
        whole_region_name=whole_region_name or title,
    )


def _grid_array(values: np.ndarray, crs: CRS, transform: Affine, attrs: dict) -> xr.DataArray:
    """(H, W) values as a rioxarray DataArray on the grid of ``transform`` (NaN nodata)."""
    h, w = values.shape
    xs = transform.c + transform.a * (np.arange(w) + 0.5)
    ys = transform.f + transform.e * (np.arange(h) + 0.5)
    da = xr.DataArray(values, dims=("y", "x"), coords={"y": ys, "x": xs}, attrs=dict(attrs))
    return da.rio.write_crs(crs).rio.write_transform(transform).rio.write_nodata(np.nan, encoded=False)


def _real_scene(
    key: str,
    title: str,
    hr_path: Path,
    region_column: tuple[Path, str] | None,
    credits: tuple[str, ...],
    year: int | None,
    population_path: Path | None = None,
    cloud_free_path: Path | None = None,
) -> Scene:
    read_notes: list[str] = []
    if cloud_free_path is not None:  # raw monthly composites: small negative noise clipped, noted
        hr_da = read_raster(hr_path, band=1, role="hr", notes=read_notes)
        counts = read_raster(cloud_free_path, band=1, allow_all_nodata=True)
        hr_da = hr_da.copy(
            data=mask_without_cloud_free(
                np.asarray(hr_da.values, dtype=np.float32), np.asarray(counts.values, dtype=np.float32)
            )
        )
    else:
        hr_da = read_raster(hr_path, band=1)
    regions = None
    if region_column is not None:
        regions = _regions_from(region_column[0], region_column[1], hr_da.rio.crs)
    if population_path is not None:
        credits = (*credits, CIV_POP_CREDIT)
    return scene_from_hr(
        hr_da,
        key=key,
        title=title,
        regions=regions,
        population=population_path,
        credits=credits,
        notes=tuple(_short_note(n) for n in read_notes),
        year=year,
    )


def _short_note(note: str) -> str:
    """A reader's note without the file path in front (the UI names the data set already)."""
    head, sep, tail = note.partition(": ")
    return tail if sep and ("/" in head or "\\" in head) else note


def load_demo_scene(demo_dir: Path) -> Scene:
    """Read the built-in demo scene written by ``deeplight data demo --out DIR`` (big layers lazily).

    Raises:
        RasterError: the demo folder is missing or incomplete (the message says how to make it).
    """
    demo_dir = Path(demo_dir)
    needed = ["hr.tif", "lr.tif", "regions.geojson"]
    missing = [n for n in needed if not (demo_dir / n).exists()]
    if missing:
        raise RasterError(
            f"demo scene not found in {demo_dir} (missing {', '.join(missing)}): run "
            f"`deeplight data demo --out {demo_dir}` (or `make demo`)"
        )

    def _optional(name: str) -> Path | None:
        path = demo_dir / name
        return path if path.exists() else None

    lr_simulated = tag_is_true(raster_grid(demo_dir / "lr.tif")["tags"], default=True)
    notes = (DEMO_SIMULATED_LR_NOTE,) if lr_simulated else ()
    notes = (*notes, DEMO_SYNTHETIC_HR_NOTE)
    manifest = demo_dir / "manifest.json"
    if manifest.exists():
        try:
            json.loads(manifest.read_text())
        except json.JSONDecodeError as exc:
            raise RasterError(f"{manifest}: not valid JSON ({exc}); remake the demo") from None
    grid = raster_grid(demo_dir / "hr.tif")
    crs = CRS.from_wkt(grid["crs"]) if grid["crs"] else None
    if crs is None:
        raise RasterError(f"{demo_dir / 'hr.tif'}: has no CRS; remake the demo with `deeplight data demo --out {demo_dir}`")
    return open_scene(
        demo_dir / "lr.tif",
        hr=demo_dir / "hr.tif",
        dmo=_optional("dmo.tif"),
        dem=_optional("dem.tif"),
        isp=_optional("isp.tif"),
        population=_optional("population.tif"),
        regions=_regions_from(demo_dir / "regions.geojson", "name", crs),
        lr_units="dn",
        lazy=True,
        key=f"demo:{(demo_dir / 'hr.tif').stat().st_mtime_ns}",
        title=DEMO_TITLE,
        lr_simulated=lr_simulated,
        hr_synthetic=True,
        credits=(DEMO_CREDIT,),
        notes=notes,
    )


def load_scene_for(
    dataset_id: str,
    year: int | str | None = None,
    *,
    data_dir: Path | None = None,
    home: Path | None = None,
) -> Scene:
    """Load the scene of one data set (and time step) as listed by :func:`list_datasets`.

    Args:
        dataset_id: id of the set (``deeplight data list`` shows them).
        year: the year of an annual set, or the ``"YYYY-MM"`` month of a monthly set (None, or a
            step the set does not have: its latest).
        data_dir: the real sets' folder (``DEEPLIGHT_DATA_DIR``), or None.
        home: the DeepLight home whose ``demo/`` holds the built-in demo (default :func:`default_home`);
            the demo is generated there on first use (offline, ~10 s on 2 cores).

    Raises:
        RasterError: the data set or year is not available on this machine.
    """
    if dataset_id == "demo":
        demo_dir = demo_dir_of(default_home() if home is None else Path(home))
        if not (demo_dir / "manifest.json").exists():
            from deeplight.data.demo import make_demo

            make_demo(demo_dir)
        return load_demo_scene(demo_dir)
    if data_dir is None:
        raise RasterError(
            f"data set {dataset_id!r} needs DEEPLIGHT_DATA_DIR pointing at the shared data folder "
            "(or --data-dir); `deeplight data list` shows the sets available"
        )
    data_dir = Path(data_dir)
    districts = data_dir / "shanghai" / "boundaries" / "shanghai_districts_boundary.shp"
    products = _shanghai_products(data_dir)
    if dataset_id in products:
        title, folder, pattern, credit = products[dataset_id]
        years = _years_in(folder, pattern)
        if not years:
            raise RasterError(f"no rasters matching {pattern} in {folder}")
        if isinstance(year, str) and year.strip().isdigit():
            year = int(year)
        chosen = year if year in years else years[-1]
        return _real_scene(
            f"{dataset_id}:{chosen}",
            f"{title.split(' - ')[0]} {chosen}",
            folder / pattern.format(year=chosen),
            (districts, "Name"),
            (credit, SHANGHAI_REGIONS_CREDIT),
            chosen,
        )
    monthly = _monthly_sets(data_dir)
    if dataset_id in monthly:
        title, files, counts, credit = monthly[dataset_id]
        months = sorted(files)
        chosen = parse_month(str(year)) if year is not None else None
        if chosen not in files:
            chosen = months[-1]
        place = title.split(" - ")[0]
        scene = _real_scene(
            f"{dataset_id}:{chosen}",
            f"{place} {chosen}",
            files[chosen],
            None,
            (credit,),
            int(chosen[:4]),
            cloud_free_path=counts.get(chosen),
        )
        regions = whole_scene_region(scene.crs, scene.hr_transform, scene.hr_shape, f"{place} whole raster")
        notes = scene.notes + ((CLOUD_FREE_NOTE,) if counts else ())
        return replace(scene, regions=regions, month=chosen, notes=notes)
    if dataset_id == "cote_divoire":
        base = data_dir / "cote_divoire"
        return _real_scene(
            "cote_divoire:2024",
            "Cote d'Ivoire 2024",
            base / "ntl.tif",
            (base / "adm1_rf_zonal.geojson", "ADM1_FR"),
            (CIV_NTL_CREDIT, CIV_REGIONS_CREDIT),
            2024,
            population_path=base / "pop.tif",
        )
    if dataset_id == "touggourt":
        ntl = _touggourt_ntl(data_dir)
        if ntl is None:
            raise RasterError(f"no VNL raster in {data_dir / 'touggourt'}")
        scene = _real_scene("touggourt:2020", "Touggourt 2020", ntl, None, (TOUGGOURT_CREDIT,), 2020)
        cells = scene_regions(load_regions(data_dir / "touggourt" / "algeria-touggourt-hexcells.geojson"), scene.crs)
        town = scene_regions(load_regions(data_dir / "touggourt" / "algeria-touggourt-feature.geojson"), scene.crs)
        regions = gpd.GeoDataFrame(
            {"name": ["Touggourt (area of interest)"] + [f"hexagon {i + 1}" for i in range(len(cells))]},
            geometry=list(town.geometry) + list(cells.geometry),
            crs=scene.crs,
        )
        return replace(scene, regions=regions)
    known = ", ".join(info.id for info in list_datasets(data_dir))
    raise RasterError(
        f"unknown data set {dataset_id!r} (under {data_dir}); choose one of: {known} (`deeplight data list`)"
    )
