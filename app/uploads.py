"""Scenes from a user's upload: an NTL GeoTIFF, optional auxiliary rasters and an optional region file.

Safety: sizes are checked before anything is parsed (bytes: ``DEEPLIGHT_UPLOAD_MB``; declared pixels of
the HR grid the upload makes: ``DEEPLIGHT_UPLOAD_MAX_PIXELS``; a zip's expanded size:
``DEEPLIGHT_MAX_VECTOR_MB``); bytes are written into a fresh temporary folder under fixed names (the
user's file name is never used as a path); every parse error becomes a
:class:`~deeplight.errors.DeepLightError` with a message for the user, and the folder is deleted.

Validation: the same as the command line's (:mod:`deeplight.io.validation`, the regions reader of
:mod:`deeplight.io.regions`): one band for the night-light raster, 7 for the DMO, no +-inf, some valid
pixel, radiance not below -2 nW/cm2/sr (small noise clipped to 0 with a note) nor above 1e6, DN in 0..63,
auxiliary layers and regions that overlap the raster.
"""

from __future__ import annotations

import hashlib
import re
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

from deeplight.catalog import CLOUD_FREE_NOTE, mask_without_cloud_free, scene_from_hr
from deeplight.contracts import SCALE
from deeplight.errors import DeepLightError, RasterError, RegionError
from deeplight.io import read_raster
from deeplight.io.coverage import transforms_match
from deeplight.io.limits import check_pixel_count
from deeplight.io.scene import Scene, hr_transform_from_lr, open_scene, same_grid, scene_regions
from deeplight.io.validation import check_overlap, inspect_raster

RASTER_SUFFIXES = (".tif", ".tiff")
REGION_SUFFIXES = (".geojson", ".json", ".gpkg", ".zip")
ROLES = ("hr", "lr")
"""``hr``: the upload is the HR reference (LR simulated, metrics possible); ``lr``: a real LR."""


@dataclass(frozen=True)
class UploadedFile:
    """Bytes of one uploaded file and the name the user gave it (used for messages only)."""

    name: str
    data: bytes


def _check(upload: UploadedFile, suffixes: tuple[str, ...], limit_mb: int, what: str) -> str:
    suffix = Path(upload.name).suffix.lower()
    if suffix not in suffixes:
        raise DeepLightError(
            f"{what} {upload.name!r}: unsupported file type {suffix or '(none)'}; "
            f"upload one of {', '.join(suffixes)}"
        )
    if len(upload.data) > limit_mb * 1024 * 1024:
        raise DeepLightError(
            f"{what} {upload.name!r} is {len(upload.data) / 1024**2:.1f} MiB, over the "
            f"{limit_mb} MiB limit (DEEPLIGHT_UPLOAD_MB); crop it to your region first"
        )
    if not upload.data:
        raise DeepLightError(f"{what} {upload.name!r} is empty")
    return suffix


def _read_uploaded_raster(
    folder: Path, stem: str, upload: UploadedFile, limit_mb: int, what: str, *, role: str,
    expected_bands: int | None = None, notes: list[str] | None = None,
):
    """Write the bytes under a fixed name and read them through the shared validator (the CLI's checks)."""
    path = _store(folder, stem, upload, limit_mb, what)
    label = f"{what} {upload.name!r}"
    try:
        return read_raster(path, role=role, label=label, expected_bands=expected_bands,
                           single_band=expected_bands is None, notes=notes)
    except RasterError as exc:
        raise RasterError(_hide(exc, path)) from None


def _store(folder: Path, stem: str, upload: UploadedFile, limit_mb: int, what: str) -> Path:
    suffix = _check(upload, RASTER_SUFFIXES, limit_mb, what)
    path = folder / f"deeplight-upload-{stem}{suffix}"  # a fixed name, hidden from messages by _hide
    path.write_bytes(upload.data)
    return path


def _hide(exc: BaseException, path: Path) -> str:
    """The message without the temporary folder's path (the user knows the file by its name)."""
    text = str(exc).replace(str(path), "the file").replace(str(path.parent), "the upload folder")
    return text.replace(path.name, "the file")


def _inspect_upload(folder: Path, stem: str, upload: UploadedFile, limit_mb: int, what: str, **kwargs):
    path = _store(folder, stem, upload, limit_mb, what)
    try:
        return inspect_raster(path, label=f"{what} {upload.name!r}", mode=None, **kwargs)
    except RasterError as exc:
        raise RasterError(_hide(exc, path)) from None


def _bounds(transform, shape) -> tuple[float, float, float, float]:
    h, w = shape
    xs = (transform.c, transform.c + transform.a * w)
    ys = (transform.f, transform.f + transform.e * h)
    return min(xs), min(ys), max(xs), max(ys)


def upload_key(ntl: UploadedFile, role: str, lr_units: str, extra: dict[str, UploadedFile | None]) -> str:
    """``upload:<sha256 prefix>`` of every uploaded byte, each part tagged with what it is
    (``extra``: ``{"dmo": file, "dem": ..., "regions": ..., "cloud_free": ...}``), and the options: the
    same upload, the same key; the same bytes in another role, another key. The user's file names do
    not count (a file renamed is the same data)."""
    digest = hashlib.sha256()
    digest.update(b"ntl|" + hashlib.sha256(ntl.data).digest())
    for part, upload in sorted(extra.items()):
        if upload is not None:
            digest.update(f"|{part}|".encode() + hashlib.sha256(upload.data).digest())
    digest.update(f"|{role}|{lr_units}".encode())
    return "upload:" + digest.hexdigest()[:16]


def series_key(dated: dict, counts: dict, role: str, lr_units: str, extra: dict[str, UploadedFile | None]) -> str:
    """``upload:<sha256 prefix>`` of a time series: each night-light and count file's bytes with the date
    its name gives (the same bytes under other dates are another series), the shared layers, options."""
    digest = hashlib.sha256()
    for tag, files in (("ntl", dated), ("cloud_free", counts)):
        for when, upload in files.items():
            digest.update(f"{tag}|{when}|".encode() + hashlib.sha256(upload.data).digest())
    digest.update(upload_key(next(iter(dated.values())), role, lr_units, extra).encode())
    return "upload:" + digest.hexdigest()[:16]


def build_upload_scene(
    ntl: UploadedFile,
    *,
    role: str,
    lr_units: str = "radiance",
    dmo: UploadedFile | None = None,
    dem: UploadedFile | None = None,
    regions: UploadedFile | None = None,
    cloud_free: UploadedFile | None = None,
    limit_mb: int = 50,
) -> Scene:
    """Build a scene from uploaded files.

    Args:
        ntl: the night-light GeoTIFF (one band).
        role: ``"hr"``: it is the HR reference in nW/cm^2/sr (LR is simulated from it by the degradation
            model, metrics vs HR possible); ``"lr"``: it is a real coarse image to reconstruct.
        lr_units: for ``role="lr"``: ``"radiance"`` (nW/cm^2/sr, mapped to nominal DN with
            ``radiance_to_nominal_dn``) or ``"dn"`` (DMSP-like 0..63).
        dmo: optional 7-band surface reflectance GeoTIFF (any CRS; warped onto the HR grid).
        dem: optional elevation GeoTIFF in metres.
        regions: optional region file (GeoJSON, GeoPackage, zipped Shapefile).
        cloud_free: optional cloud-free observation counts on the night-light raster's grid (a
            VIIRS monthly ``cf_cvg`` layer): cells with a count of 0 are masked (no data), not read as
            dark (:func:`deeplight.catalog.mask_without_cloud_free`, the rule of the built-in sets).
        limit_mb: largest accepted file.

    Returns:
        The scene, keyed ``upload:<hash>``.

    Raises:
        DeepLightError (RasterError, RegionError): unsupported, oversized, corrupt or unusable files.
    """
    if role not in ROLES:
        raise DeepLightError(f"role must be one of {ROLES}, got {role!r}")
    if lr_units not in ("radiance", "dn"):
        raise DeepLightError(f"LR units must be 'radiance' or 'dn', got {lr_units!r}")
    key = upload_key(ntl, role, lr_units, {"dmo": dmo, "dem": dem, "regions": regions, "cloud_free": cloud_free})
    ntl_role = "hr" if role == "hr" else ("lr_radiance" if lr_units == "radiance" else "lr")
    ntl_label = f"night-light raster {ntl.name!r}"
    title = Path(ntl.name).name[:60]
    notes: list[str] = []
    value_notes: list[str] = []
    with tempfile.TemporaryDirectory(prefix="deeplight-upload-") as tmp:
        folder = Path(tmp)
        header = _inspect_upload(
            folder, "ntl", ntl, limit_mb, "night-light raster", role=ntl_role, single_band=True,
            band_hint="pick one band first, e.g. gdal_translate -b 1 in.tif out.tif",
        )
        factor = 1 if role == "hr" else SCALE
        check_pixel_count(ntl_label, header.width * factor, header.height * factor, 1, mode="upload")
        da = _read_uploaded_raster(folder, "ntl", ntl, limit_mb, "night-light raster", role=ntl_role,
                                   notes=value_notes)
        da.attrs["source_path"] = ntl_label  # messages name the upload, never the temporary file
        crs, transform = da.rio.crs, da.rio.transform(recalc=False)
        if cloud_free is not None:
            da = _mask_cloud_free(folder, da, cloud_free, limit_mb, ntl_label)
            notes.append(CLOUD_FREE_NOTE)
        if role == "hr":
            h, w = da.shape[-2:]
            if h < SCALE or w < SCALE:
                raise RasterError(
                    f"night-light raster {ntl.name!r} is {h}x{w} pixels; as HR it needs at "
                    f"least {SCALE}x{SCALE} (upload it as LR instead)"
                )
            hr = np.asarray(da.values, dtype=np.float32)[: h - h % SCALE, : w - w % SCALE]
            if not np.isfinite(hr).any():
                raise RasterError(f"{ntl_label}: no valid pixel in the part that fits whole {SCALE}x{SCALE} blocks")
            if np.nanmax(hr) <= 63 and np.nanmin(hr) >= 0 and np.allclose(hr[np.isfinite(hr)] % 1, 0):
                notes.append("the HR values look like DN (integers 0..63); HR is expected in nW/cm²/sr")
            hr_transform = transform
            hr_shape = hr.shape
        else:
            hr_transform = hr_transform_from_lr(transform)
            hr_shape = (da.shape[-2] * SCALE, da.shape[-1] * SCALE)
            notes.append("real LR upload: no HR reference, so full-reference metrics are not available")
            if lr_units == "radiance":
                notes.append(
                    "LR radiance mapped to nominal DMSP-like DN (deeplight.contracts.radiance_to_nominal_dn)"
                )
        notes.extend(value_notes)
        scene_bounds = _bounds(hr_transform, hr_shape)
        aux, labels = {}, {}
        for name, upload, bands in (("dmo", dmo, 7), ("dem", dem, 1)):
            if upload is None:
                continue
            what = f"{name.upper()} raster"
            aux_header = _inspect_upload(folder, name, upload, limit_mb, what, role=name, expected_bands=bands)
            check_overlap(aux_header, crs, scene_bounds, ntl_label)
            aux[name] = _read_uploaded_raster(folder, name, upload, limit_mb, what, role=name, expected_bands=bands)
            labels[name] = f"{what} {upload.name!r}"
        region_frame = None
        if regions is not None:
            from deeplight.io.regions import regions_overlapping

            region_frame = _read_regions(folder, regions, limit_mb, crs)
            region_frame, dropped = regions_overlapping(
                region_frame, crs, scene_bounds, source=f"region file {regions.name!r}", target=ntl_label
            )
            if dropped:
                shown = ", ".join(dropped[:5]) + (" ..." if len(dropped) > 5 else "")
                notes.append(f"{len(dropped)} region(s) of {regions.name!r} do not overlap the raster and were left "
                             f"out: {shown}")
        # the scene is built by the catalogue's code path: an HR upload as a real data set (LR
        # simulated by deeplight.catalog.scene_from_hr), an LR upload through deeplight.io.open_scene
        common = dict(
            key=key, title=title, regions=region_frame, credits=(f"User upload: {title}",),
            labels={"lr": ntl_label, "hr": ntl_label, **labels}, whole_region_name="Whole upload", **aux,
        )
        if role == "hr":
            return scene_from_hr(da, seed=int(key[7:15], 16), notes=tuple(notes), **common)
        return open_scene(da, lr_units=lr_units, lr_simulated=False, notes=tuple(notes), **common)


def _mask_cloud_free(folder: Path, da, cloud_free: UploadedFile, limit_mb: int, ntl_label: str):
    """``da`` with NaN wherever the uploaded cloud-free count is 0 or unknown (same grid required)."""
    what = "cloud-free count raster"
    counts = _read_uploaded_raster(folder, "cloud_free", cloud_free, limit_mb, what, role="count")
    differs = []
    if counts.shape[-2:] != da.shape[-2:]:
        differs.append(f"shape {counts.shape[-2]}x{counts.shape[-1]} vs {da.shape[-2]}x{da.shape[-1]}")
    if counts.rio.crs != da.rio.crs:
        differs.append(f"CRS {counts.rio.crs} vs {da.rio.crs}")
    a, b = counts.rio.transform(recalc=False), da.rio.transform(recalc=False)
    if not transforms_match(a, b):
        differs.append(f"origin/pixel size ({a.c:.6g}, {a.f:.6g}; {a.a:.6g}) vs ({b.c:.6g}, {b.f:.6g}; {b.a:.6g})")
    if differs:
        raise RasterError(
            f"{what} {cloud_free.name!r} is not on the grid of the {ntl_label} ({'; '.join(differs)}); upload "
            "the cf_cvg layer of the same composite"
        )
    values = np.asarray(da.values, dtype=np.float32)
    masked = mask_without_cloud_free(values.reshape(values.shape[-2:]), np.asarray(counts.values).reshape(values.shape[-2:]))
    if not np.isfinite(masked).any():
        raise RasterError(
            f"{ntl_label}: no cell has a cloud-free observation in {cloud_free.name!r}; this month has no usable data"
        )
    return da.copy(data=masked.reshape(values.shape))


MAX_SERIES_STEPS = 120
"""Most dated files one time-series upload may hold (ten years of months)."""
MAX_SESSION_UPLOAD_BYTES = 768 * 1024**2
"""Memory one browser session's uploads may hold together (``app.services.SessionUploads``); a time
series is refused while it is built once its LR and HR arrays alone pass it."""
_MONTH = re.compile(r"(?<!\d)((?:19|20)\d{2})[-_.]?(0[1-9]|1[0-2])(?!\d)")
_RANGE = re.compile(r"(?<!\d)((?:19|20)\d{2})(0[1-9]|1[0-2])\d{2}-((?:19|20)\d{2})(0[1-9]|1[0-2])\d{2}(?!\d)")
_YEAR = re.compile(r"(?<!\d)((?:19|20)\d{2})(?!\d)")
_NOT_A_MONTH = re.compile(r"(?<!\d)(?:19|20)\d{2}[-_.](?:00|1[3-9]|[2-9]\d)(?!\d)")


def date_in_name(name: str) -> str | int | None:
    """The date a file's name carries: ``"YYYY-MM"`` for a month (``2024-03``, ``2024_03``,
    ``202403``, a VIIRS range within one month ``20210101-20210131``), an ``int`` year
    (``VNL_2021.tif``), None when it has none, several, or a year with an impossible two-digit month
    (``2024-00``, ``2024-13``)."""
    stem = Path(name).name
    for suffix in (".tiff", ".tif"):
        if stem.lower().endswith(suffix):
            stem = stem[: -len(suffix)]
    ranges = _RANGE.findall(stem)  # VIIRS monthly names: SVDNB_npp_20210101-20210131_...
    if ranges:
        months = {f"{y0}-{m0}" for y0, m0, y1, m1 in ranges if (y0, m0) == (y1, m1)}
        return months.pop() if len(months) == 1 and len(ranges) == 1 else None
    months = {f"{y}-{m}" for y, m in _MONTH.findall(stem)}
    if len(months) == 1:
        return months.pop()
    if months or _NOT_A_MONTH.search(stem):  # several months, or a year with a month that is none (2024-00)
        return None
    years = {int(y) for y in _YEAR.findall(stem)}
    return years.pop() if len(years) == 1 else None


@dataclass(frozen=True)
class UploadSeries:
    """A time-series upload: one scene per year or month, all on one grid, with one set of regions and
    auxiliary layers (those of the first step).

    Attributes:
        key: ``upload:<hash>`` of every byte and option; each step's scene is keyed ``<key>:<date>``.
        title: name shown in the picker.
        steps: date -> scene, oldest first (dates: ``"YYYY-MM"`` or int years).
        notes: remarks about the series as a whole.
    """

    key: str
    title: str
    steps: dict
    notes: tuple[str, ...] = ()

    @property
    def monthly(self) -> bool:
        return isinstance(next(iter(self.steps)), str)

    @property
    def lr_simulated(self) -> bool:
        return self.latest.lr_simulated

    @property
    def latest(self) -> Scene:
        return self.steps[next(reversed(self.steps))]

    def step(self, when) -> Scene:
        """The scene of ``when`` (a month ``"YYYY-MM"``, a year as int or text); None: the latest.

        Raises:
            RasterError: the series has no such date (it lists the dates it has).
        """
        if when is None:
            return self.latest
        key = str(when) if self.monthly else (int(when) if str(when).strip().isdigit() else None)
        if key not in self.steps:
            raise RasterError(
                f"{self.title} has no date {when}; it has {', '.join(map(str, self.steps))}"
            )
        return self.steps[key]


def _dated(files: Sequence[UploadedFile], what: str) -> dict:
    """date -> file, checked: every name dated, all months or all years, no date twice."""
    out: dict = {}
    for upload in files:
        when = date_in_name(upload.name)
        if when is None:
            raise DeepLightError(
                f"{what} {upload.name!r}: no single date in its name; in a series name each file with its "
                "year (ntl_2021.tif) or month (ntl_2021-03.tif)"
            )
        if when in out:
            raise DeepLightError(f"{what}s {out[when].name!r} and {upload.name!r} both have the date {when}")
        out[when] = upload
    if len({type(w) for w in out}) > 1:
        raise DeepLightError(
            f"{what}s mix years and months ({', '.join(sorted(map(str, out)))}); upload one kind per series"
        )
    return dict(sorted(out.items()))


def build_upload_series(
    ntls: Sequence[UploadedFile],
    *,
    role: str,
    lr_units: str = "radiance",
    dmo: UploadedFile | None = None,
    dem: UploadedFile | None = None,
    regions: UploadedFile | None = None,
    cloud_free: Sequence[UploadedFile] = (),
    limit_mb: int = 50,
    max_bytes: int = MAX_SESSION_UPLOAD_BYTES,
) -> UploadSeries:
    """Build a time series from several dated night-light GeoTIFFs (one per year or month).

    Each file becomes a scene through :func:`build_upload_scene` (the same checks and labels as one
    upload); the date comes from its name (:func:`date_in_name`). All files must lie on the first one's
    grid; the auxiliary layers and regions are read once and shared by every step. Cloud-free count
    files are matched to the months by the date in their names; a month without one is not masked.

    Args:
        max_bytes: most memory the steps' LR and HR arrays may hold together.

    Raises:
        DeepLightError: fewer than 2 or more than :data:`MAX_SERIES_STEPS` files, more than
            ``max_bytes`` of arrays, an undated or
            doubly dated name, years mixed with months, a count file of no uploaded month, a file off
            the first one's grid, or any error of :func:`build_upload_scene`.
    """
    what = "night-light raster"
    if not 2 <= len(ntls) <= MAX_SERIES_STEPS:
        raise DeepLightError(
            f"a time series needs 2 to {MAX_SERIES_STEPS} night-light files, got {len(ntls)}"
        )
    dated = _dated(ntls, what)
    counts = _dated(cloud_free, "cloud-free count raster") if cloud_free else {}
    unmatched = [counts[w].name for w in counts if w not in dated]
    if unmatched:
        raise DeepLightError(
            f"cloud-free count raster(s) {', '.join(map(repr, unmatched))} match no uploaded night-light date "
            f"({', '.join(map(str, dated))})"
        )
    key = series_key(dated, counts, role, lr_units, {"dmo": dmo, "dem": dem, "regions": regions})
    steps: dict = {}
    first: Scene | None = None
    held = 0
    for when, upload in dated.items():
        label = f"{what} {upload.name!r}"
        scene = build_upload_scene(
            upload, role=role, lr_units=lr_units, limit_mb=limit_mb, cloud_free=counts.get(when),
            **({"dmo": dmo, "dem": dem, "regions": regions} if first is None else {}),
        )
        if first is None:
            first = scene
        elif not same_grid(first, scene):
            raise RasterError(
                f"{label} is not on the grid of {dated[next(iter(dated))].name!r} (CRS, pixel size, origin and "
                "size must match); a series is one place on one grid"
            )
        else:
            shared = {k: v for k, v in first.sources.items() if k in ("dmo", "dem")}
            scene = replace(scene, regions=first.regions, dmo=first.dmo, dem=first.dem,
                            sources={**scene.sources, **shared})
        held += sum(a.nbytes for a in (scene.lr, scene.hr) if isinstance(a, np.ndarray))
        if held > max_bytes:
            raise DeepLightError(
                f"the series is too large to keep in memory: after {upload.name!r} ({len(steps) + 1} of "
                f"{len(dated)} files) it holds {held / 1024**2:.0f} MiB, over the {max_bytes / 1024**2:.0f} MiB a "
                "session may keep; crop the files to your region or upload fewer dates"
            )
        month = when if isinstance(when, str) else None
        steps[when] = replace(
            scene, key=f"{key}:{when}", title=f"{scene.title} ({when})",
            year=int(str(when)[:4]), month=month,
        )
    first_name, last_name = dated[next(iter(dated))].name, dated[next(reversed(dated))].name
    unit = "months" if isinstance(next(iter(dated)), str) else "years"
    title = f"{Path(first_name).name[:40]} ... ({len(steps)} {unit})"
    notes = (f"time series of {len(steps)} {unit}, {next(iter(dated))} to {next(reversed(dated))}, "
             f"dated by the file names ({Path(first_name).name} ... {Path(last_name).name})",)
    return UploadSeries(key, title, steps, notes)


def _read_regions(folder: Path, upload: UploadedFile, limit_mb: int, crs):
    """The uploaded region file through the one region loader (the CLI's checks and name rule), as a
    Scene's region table (:func:`deeplight.io.scene.scene_regions`)."""
    from deeplight.io.regions import load_regions

    suffix = _check(upload, REGION_SUFFIXES, limit_mb, "region file")
    path = folder / f"deeplight-upload-regions{suffix}"
    path.write_bytes(upload.data)
    try:
        frame = load_regions(path, label=f"region file {upload.name!r}")
    except (RegionError, DeepLightError) as exc:
        raise RegionError(_hide(exc, path)) from None
    except Exception as exc:  # noqa: BLE001 - any parser failure is a bad upload, not a crash
        raise RegionError(
            f"region file {upload.name!r} could not be read ({type(exc).__name__}); "
            "upload a GeoJSON, GeoPackage or zipped Shapefile with a CRS"
        ) from None
    return scene_regions(frame, crs)


def region_from_upload(upload: UploadedFile, limit_mb: int = 50):
    """One polygon (EPSG:4326) from an uploaded region file, to use as a drawn area.

    Several features are merged; a result with several parts is replaced by its convex hull (the
    URL keeps one polygon), and it is simplified to at most a few hundred vertices.

    Returns:
        ``(polygon, note)``; note says what was changed ("" when nothing).

    Raises:
        RegionError / DeepLightError: unsupported, oversized or unreadable file.
    """
    from shapely.geometry import Polygon

    from app.selection import MAX_AOI_POINTS

    with tempfile.TemporaryDirectory(prefix="deeplight-region-") as tmp:
        frame = _read_regions(Path(tmp), upload, limit_mb, "EPSG:4326")
    merged = frame.geometry.union_all()
    note = ""
    if not isinstance(merged, Polygon):
        merged = merged.convex_hull
        note = f"{len(frame)} feature(s) with several parts: their convex hull is used"
    tolerance = 1e-5
    while len(merged.exterior.coords) > MAX_AOI_POINTS - 1:
        merged = merged.simplify(tolerance, preserve_topology=True)
        tolerance *= 2
        note = note or "the outline was simplified to fit in the URL"
    return Polygon(merged.exterior.coords), note
