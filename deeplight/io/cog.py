"""Writing Cloud-Optimized GeoTIFFs atomically, with the tags every DeepLight raster carries.

Every raster the project writes has the tags ``units``, ``modality``, ``simulated`` ("true" or
"false") and ``provenance`` (docs/CONTRACTS.md). There is one writer, :class:`StreamingCogWriter`
(:func:`write_cog` is a thin call of it for an in-memory array): it copies the target's profile onto
a hidden uncompressed GeoTIFF in the target folder, writes it by row blocks while checksumming them,
converts it to a COG in one compression pass, flushes the COG, reads it back in full
(:func:`verify_checksums`) and renames it onto the final name only when it reads back as written, so
an interrupted run or a full disk never leaves a half-written raster under the final name.
"""

from __future__ import annotations

import errno
import glob
import os
import secrets
import shutil
import sys
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import rasterio
from affine import Affine
from rasterio.crs import CRS
from rasterio.errors import RasterioError
from rasterio.windows import Window

try:  # GDAL errors raised as CPLE_* exceptions (e.g. "TIFFAppendToStrip:Seek error" on a full disk)
    from rasterio._err import CPLE_BaseError
except ImportError:  # pragma: no cover - a rasterio without the private module
    CPLE_BaseError = RasterioError

from deeplight.errors import RasterError

if TYPE_CHECKING:
    import xarray as xr

PathLike = str | os.PathLike[str]
RASTER_LIB_ERRORS: tuple[type[BaseException], ...] = (RasterioError, CPLE_BaseError)
"""What rasterio / GDAL raise on a failed read or write (with OSError)."""
REQUIRED_TAGS = ("units", "modality", "simulated", "provenance")


def _as_bands(array: np.ndarray) -> np.ndarray:
    if array.ndim == 2:
        return array[None]
    if array.ndim == 3:
        return array
    raise RasterError(f"cannot write an array of shape {array.shape}: need (y, x) or (band, y, x)")


def check_tags(path: PathLike, tags: Mapping[str, object] | None) -> dict[str, str]:
    """The tags of a DeepLight raster as strings (bools as "true"/"false"), checked.

    Raises:
        RasterError: a tag of :data:`REQUIRED_TAGS` is missing, or ``simulated`` is not true/false.
    """
    tags = dict(tags or {})
    missing = [key for key in REQUIRED_TAGS if key not in tags]
    if missing:
        raise RasterError(f"{path}: tags {missing} are required on every DeepLight raster")
    str_tags = {k: (str(v).lower() if isinstance(v, bool) else str(v)) for k, v in tags.items()}
    if str_tags["simulated"] not in ("true", "false"):
        raise RasterError(f"{path}: tag simulated must be true or false, got {tags['simulated']!r}")
    return str_tags


def write_cog(
    data: xr.DataArray | np.ndarray,
    path: PathLike,
    *,
    crs: CRS | str | None = None,
    transform: Affine | Sequence[float] | None = None,
    nodata: float | None = np.nan,
    tags: Mapping[str, object] | None = None,
    band_descriptions: Sequence[str] | None = None,
    dtype: str = "float32",
    compress: str = "DEFLATE",
    level: int = 1,
    overview_resampling: str = "average",
    overwrite: bool = True,
) -> Path:
    """Write an in-memory array as a Cloud-Optimized GeoTIFF (tiled, with overviews), atomically.

    A thin call of :class:`StreamingCogWriter` with one target and one block (the whole array), so
    every raster DeepLight writes - degrade, the demo, predict, the exports - goes through one
    temporary-file / verify / rename scheme.

    Args:
        data: ``(y, x)`` or ``(band, y, x)`` array; a DataArray supplies ``crs``/``transform``
            from its ``.rio`` accessor when they are not given.
        path: output file (``.tif``); its folder is created.
        crs: CRS (EPSG string, WKT or :class:`rasterio.crs.CRS`).
        transform: affine transform of the pixel grid (or its 6 coefficients ``a, b, c, d, e, f``).
        nodata: nodata value written in the header (NaN by default for float rasters).
        tags: dataset tags; must include ``units``, ``modality``, ``simulated`` and
            ``provenance``. Values are stored as strings (bools as "true"/"false").
        band_descriptions: optional per-band names.
        dtype: pixel type on disk.
        compress: GDAL compression.
        level: compression level; 1 (measured on synthetic float rasters: the same size as the
            default level 6 within 1 %, in half the time).
        overview_resampling: how overviews are computed ("average" for continuous values,
            "nearest" or "mode" for classes).
        overwrite: when False and ``path`` exists, raise instead of replacing it.

    Returns:
        The written path.

    Raises:
        RasterError: missing CRS/transform/tags, bad shape, refusing to overwrite, or a failed write
            (a full disk is said so: "no space left on the device while writing <path>"). The file is
            reopened and read back fully (:func:`verify_checksums`) before the atomic rename, so
            ``path`` holds either its previous content or a complete, verified raster.
    """
    path = Path(path)
    xarray = sys.modules.get("xarray")  # not imported for ndarrays: no DataArray exists without it
    if xarray is not None and isinstance(data, xarray.DataArray):
        import rioxarray  # noqa: F401  (the .rio accessor)

        if crs is None and data.rio.crs is not None:
            crs = data.rio.crs
        if transform is None:
            transform = data.rio.transform(recalc=False)
        array = np.asarray(data.values)
    else:
        array = np.asarray(data)
    if crs is None:
        raise RasterError(f"{path}: refusing to write a raster without a CRS; pass crs=")
    if transform is None:
        raise RasterError(f"{path}: refusing to write a raster without a transform; pass transform=")
    str_tags = check_tags(path, tags)
    if not overwrite and path.exists():
        raise RasterError(f"{path}: exists; refusing to overwrite (remove it or choose another path)")
    bands = _as_bands(array).astype(dtype, copy=False)
    count, height, width = bands.shape
    if band_descriptions is not None and len(band_descriptions) != count:
        raise RasterError(f"{path}: {len(band_descriptions)} band descriptions for {count} bands")
    blocksize = 256 if min(height, width) > 256 else 128
    writer = StreamingCogWriter(
        [(path, str_tags)], width=width, height=height, crs=crs, transform=transform, count=count,
        dtype=dtype, nodata=nodata, band_descriptions=band_descriptions, blocksize=blocksize,
        overviews="AUTO" if min(height, width) > 2 * blocksize else "NONE",
        overview_resampling=overview_resampling, compress=compress, level=level, exclusive=False,
    )
    with writer:
        writer.write_rows(0, 0, bands)
        writer.finish()
        writer.commit()
    return path


def fsync_file(path: PathLike) -> None:
    """Flush a written file to the device (a full disk can surface only here)."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def free_bytes(folder: PathLike) -> int | None:
    """Bytes free for an unprivileged user in ``folder`` (None when unknown)."""
    try:
        return shutil.disk_usage(folder).free
    except OSError:
        return None


LOW_SPACE_BYTES = 16 * 1024**2
"""Below this much free space, a file that does not read back is reported as a full disk."""


def write_error(path: PathLike, exc: BaseException) -> RasterError:
    """A :class:`RasterError` for a failed write of ``path``: a full disk said clearly, else the cause."""
    path = Path(path)
    if isinstance(exc, RasterError):
        return exc
    free = free_bytes(path.parent)
    no_space = getattr(exc, "errno", None) in (errno.ENOSPC, errno.EDQUOT) or "no space left" in str(exc).lower()
    # GDAL's own messages ("TIFFAppendToStrip:Seek error") rarely say why: ask the device
    if no_space or (free is not None and free < LOW_SPACE_BYTES and not isinstance(exc, PermissionError)):
        return RasterError(
            f"no space left on the device while writing {path}: free space or choose another --out "
            f"(nothing was written under {path.name})"
        )
    if isinstance(exc, OSError) and exc.errno is None and str(exc):  # our own message, e.g. an unwritable folder
        return RasterError(f"cannot write {path}: {exc}")
    if getattr(exc, "errno", None) == errno.EROFS:
        return RasterError(f"cannot write {path}: read-only file system; choose a writable output folder")
    if isinstance(exc, PermissionError):
        return RasterError(f"cannot write {path}: permission denied; choose a writable output folder")
    reason = getattr(exc, "strerror", None) or str(exc) or type(exc).__name__
    return RasterError(f"writing {path} failed ({reason}): check the output folder and free space")


def _header_problems(
    src: rasterio.io.DatasetReader,
    shape: tuple[int, int, int],
    dtype: np.dtype,
    crs: CRS | None,
    transform: Affine | None,
    tags: Mapping[str, str] | None,
) -> list[str]:
    count, height, width = shape
    problems = []
    if (src.count, src.height, src.width) != (count, height, width):
        problems.append(f"{src.count}x{src.height}x{src.width} instead of {count}x{height}x{width}")
    if any(np.dtype(d) != np.dtype(dtype) for d in src.dtypes):
        problems.append(f"dtype {src.dtypes[0]} instead of {np.dtype(dtype)}")
    if crs is not None and src.crs is None:
        problems.append("no CRS")
    if transform is not None and not src.transform.almost_equals(transform):
        problems.append("a different transform")
    written_tags = src.tags()
    if tags is not None and any(written_tags.get(k) != tags[k] for k in REQUIRED_TAGS if k in tags):
        problems.append("missing tags")
    return problems


def verify_written(
    tmp: PathLike,
    final: PathLike,
    bands: np.ndarray,
    *,
    crs: CRS | None = None,
    transform: Affine | None = None,
    tags: Mapping[str, str] | None = None,
) -> None:
    """Reopen a just-written raster and read it back fully against the in-memory ``bands``.

    The same check as :func:`verify_checksums` (size, band count, dtype, CRS, transform, tags, then
    every block of every band; NaN equals NaN), with the checksums taken from ``bands``.

    Raises:
        RasterError: the file does not read back as written (a full disk said so when space is low).
    """
    bands = _as_bands(np.asarray(bands))
    expected = []
    for band in bands:
        checksum = PixelChecksum()
        checksum.add(band)
        expected.append(checksum)
    verify_checksums(tmp, final, expected, height=bands.shape[1], width=bands.shape[2], dtype=bands.dtype,
                     crs=crs, transform=transform, tags=tags)


_MASK64 = (1 << 64) - 1


class PixelChecksum:
    """A checksum of one band's pixels that does not depend on the order blocks are added in.

    Built from the pixels' bit patterns (all NaNs count as one pattern), weighted by row and by
    column, so a lost, zeroed or misplaced block changes it. Lets a writer that streams rows
    (:func:`deeplight.infer.raster.predict_raster`) verify a file it cannot hold in memory.
    """

    CHUNK_ROWS = 64

    def __init__(self) -> None:
        self.state = (0, 0, 0)
        self.pixels = 0

    def add(self, block: np.ndarray, row0: int = 0, col0: int = 0) -> None:
        """Add a 2-D ``block`` whose top-left pixel is at (``row0``, ``col0``) of the band."""
        block = np.asarray(block)
        if block.ndim != 2:
            raise ValueError(f"PixelChecksum.add needs a 2-D block, got shape {block.shape}")
        total, by_row, by_col = self.state
        cols = np.arange(col0, col0 + block.shape[1], dtype=np.uint64) * np.uint64(2) + np.uint64(1)
        for start in range(0, block.shape[0], self.CHUNK_ROWS):
            chunk = np.ascontiguousarray(block[start : start + self.CHUNK_ROWS])
            if np.issubdtype(chunk.dtype, np.floating):
                chunk = np.where(np.isnan(chunk), np.array(np.nan, chunk.dtype), chunk)
            bits = chunk.view(np.dtype(f"u{chunk.dtype.itemsize}")).astype(np.uint64)
            rows = np.arange(row0 + start, row0 + start + bits.shape[0], dtype=np.uint64) * np.uint64(2) + np.uint64(1)
            total += int(bits.sum(dtype=np.uint64))
            by_row += int((bits.sum(axis=1, dtype=np.uint64) * rows).sum(dtype=np.uint64))
            by_col += int((bits.sum(axis=0, dtype=np.uint64) * cols).sum(dtype=np.uint64))
        self.state = (total & _MASK64, by_row & _MASK64, by_col & _MASK64)
        self.pixels += block.size

    def __eq__(self, other: object) -> bool:
        return isinstance(other, PixelChecksum) and (self.state, self.pixels) == (other.state, other.pixels)

    __hash__ = None  # type: ignore[assignment] - mutable


def verify_checksums(
    tmp: PathLike,
    final: PathLike,
    expected: Sequence[PixelChecksum],
    *,
    height: int,
    width: int,
    dtype: str | np.dtype = "float32",
    crs: CRS | None = None,
    transform: Affine | None = None,
    tags: Mapping[str, str] | None = None,
) -> None:
    """Like :func:`verify_written`, for a raster written in pieces: read every block of every band
    back and compare each band's :class:`PixelChecksum` with the one of what was written.

    Raises:
        RasterError: the file does not read back as written (a full disk said so when space is low).
    """
    try:
        with rasterio.open(tmp, NUM_THREADS=COG_THREADS) as src:  # blocks of a window decoded in parallel
            problems = _header_problems(src, (len(expected), height, width), np.dtype(dtype), crs, transform, tags)
            for band, want in enumerate(expected, start=1):
                if problems:
                    break
                got = PixelChecksum()
                for window in _read_back_windows(src, band):
                    got.add(src.read(band, window=window), window.row_off, window.col_off)
                if got != want:
                    problems.append(f"different pixel values in band {band} (checksum mismatch)")
    except RASTER_LIB_ERRORS as exc:
        problems = [f"it cannot be read back ({exc})"]
    if problems:
        _raise_unverified(final, problems)


READ_BACK_BYTES = 64 << 20
"""Bytes of one window of the read-back check (:func:`verify_checksums`)."""


def _read_back_windows(src: rasterio.io.DatasetReader, band: int) -> list[Window]:
    """Windows covering ``band``: rows of blocks, as wide as :data:`READ_BACK_BYTES` allows (a
    multiple of the block width). On the Cote d'Ivoire HR COG (11360 x 10888, 512^2 blocks) the
    read back and checksummed block by block took 3.0 s, by rows of blocks decoded with GDAL's threads
    2.2 s (2-core machine; each in a fresh process: GDAL's block cache would hide the decoding)."""
    block_h, block_w = src.block_shapes[band - 1]
    row_bytes = block_h * np.dtype(src.dtypes[band - 1]).itemsize
    step = max(block_w, READ_BACK_BYTES // max(row_bytes, 1) // block_w * block_w)
    return [
        Window(col, row, min(step, src.width - col), min(block_h, src.height - row))
        for row in range(0, src.height, block_h)
        for col in range(0, src.width, step)
    ]


def _raise_unverified(final: PathLike, problems: list[str]) -> None:
    final = Path(final)
    free = free_bytes(final.parent)
    if free is not None and free < LOW_SPACE_BYTES:
        raise RasterError(
            f"no space left on the device while writing {final}: free space or choose another --out "
            f"(the file written had {'; '.join(problems)}; {free} bytes free; nothing was written under "
            f"{final.name})"
        )
    raise RasterError(
        f"writing {final} failed: the file written had {'; '.join(problems)}; nothing was written under "
        f"{final.name}. Check the output folder and free space, then run again"
    )


# ------------------------------------------------------------------ the one writer (rasters of any size)
STREAM_BLOCK = 512
"""Internal tile size (pixels) of the partial GeoTIFF and of the COG of ``deeplight predict``."""
TOKEN_CHARS = 8
"""Length of the random token in the hidden names of a non-exclusive write (:class:`StreamingCogWriter`)."""


def hidden_path(out: Path, what: str) -> Path:
    """The hidden working file ``.<name>.<what>`` beside ``out``."""
    return out.with_name(f".{out.name}.{what}")


def remove_stream_leftovers(path: Path) -> None:
    """Delete the hidden files of an earlier or failed write of ``path`` (partial GeoTIFF, COG temp and
    GDAL's overview temp ``.cog.tmp.ovr.tmp``, with or without a writer's token); never the final file,
    never a lock."""
    prefix = glob.escape(f".{path.name}.")
    token = "?" * TOKEN_CHARS + "."
    for pattern in (f"{prefix}partial.tif*", f"{prefix}cog.tmp*", f"{prefix}{token}partial.tif*",
                    f"{prefix}{token}cog.tmp*"):
        for leftover in path.parent.glob(pattern):
            leftover.unlink(missing_ok=True)


def _write_rows(dst: rasterio.io.DatasetWriter, row0: int, rows: np.ndarray) -> None:
    """Write full-width rows - ``(h, width)`` of band 1 or ``(bands, h, width)`` - from ``row0`` (a seam
    for tests that simulate a full disk)."""
    from rasterio.windows import Window

    window = Window(0, row0, rows.shape[-1], rows.shape[-2])
    if rows.ndim == 2:
        dst.write(rows, 1, window=window)
    else:
        dst.write(rows, window=window)


COG_THREADS = "ALL_CPUS"
"""GDAL threads compressing the COG (its ``NUM_THREADS`` option: blocks and overviews compressed in
parallel)."""
COG_DEFLATE_LEVEL = 1
"""DEFLATE level of the COGs: on a float32 HR 4096^2 radiance raster with the floating-point
predictor, level 1 took 0.85 s and level 6 (GDAL's default) 1.4-1.5 s, for 69.4 vs 68.8 MB (+0.9%)."""
_LEVELLED = ("DEFLATE", "ZSTD", "LZMA", "LERC_DEFLATE", "LERC_ZSTD", "WEBP", "JPEG")
"""Compressions with a LEVEL (or quality) option."""


def _partial_to_cog(partial: Path, tmp: Path, **options: str) -> None:
    """The one compression pass: the uncompressed partial GeoTIFF -> a COG with overviews (``options``
    are the COG driver's creation options)."""
    import rasterio.shutil

    rasterio.shutil.copy(partial, tmp, driver="COG", **options)
    os.chmod(tmp, 0o644)  # outputs are meant to be shared


class StreamingCogWriter:
    """THE raster writer: COGs written by row blocks, verified, then renamed into place together.

    Every raster DeepLight writes goes through it - :func:`write_cog` (degrade, the demo, the
    dashboard's exports) with one block, ``deeplight predict`` with rows as tiles are blended.
    Rows go to a hidden tiled, *uncompressed* GeoTIFF (``.<name>.partial.tif``, the profile of the
    target: size, bands, dtype, CRS, transform, nodata, tags, band names) while a
    :class:`PixelChecksum` per band follows them; :meth:`finish` converts each to a COG
    (``.<name>.cog.tmp``) in the one compression pass (DEFLATE level 1 with GDAL's ``NUM_THREADS``;
    the partial used to be DEFLATE-compressed too, single-threaded, and decompressed again for the
    COG: HR 4096^2 took 4.7 s to write and convert, 2.2-2.8 s now, load 3 on 2 cores), deletes the
    partial, flushes the COG and reads it back in full against the checksums, header and tags
    (:func:`verify_checksums`); :meth:`commit` renames them, the first target last, so its presence
    means the whole set is complete. :meth:`adopt` takes finished COGs from elsewhere (a cache)
    through the same check-and-rename. A failure is a :class:`RasterError` naming the target (a full
    disk said so), and whatever this writer left is removed on exit.

    Args:
        targets: ``(final path, tags)`` per output; tags must hold :data:`REQUIRED_TAGS`.
        width, height: raster size (pixels).
        crs, transform: georeferencing of every target.
        count: bands of every target.
        dtype, nodata: pixel type and nodata value (NaN is dropped for integer types).
        band_descriptions: optional per-band names.
        blocksize: tile size of the partial and of the COG (pixels, a multiple of 16).
        overviews: the COG driver's ``OVERVIEWS`` ("AUTO" or "NONE").
        overview_resampling: "average" for continuous values, "nearest" or "mode" for classes.
        compress, level: the COG's compression and its level.
        exclusive: the caller holds a lock on the targets (``deeplight predict``): the hidden files have
            fixed names and the leftovers of a killed earlier run are removed on entry. Otherwise their
            names carry a random token, so two writers of one path never touch each other's files.
    """

    def __init__(
        self, targets: Sequence[tuple[PathLike, Mapping[str, object]]], *, width: int, height: int,
        crs: CRS | str | None, transform: Affine | Sequence[float], count: int = 1, dtype: str = "float32",
        nodata: float | None = np.nan, band_descriptions: Sequence[str] | None = None,
        blocksize: int = STREAM_BLOCK, overviews: str = "AUTO", overview_resampling: str = "average",
        compress: str = "DEFLATE", level: int = COG_DEFLATE_LEVEL, exclusive: bool = True,
    ) -> None:
        self.targets = [(Path(p), check_tags(p, t)) for p, t in targets]
        self.width, self.height, self.count = int(width), int(height), int(count)
        self.crs = None if crs is None else CRS.from_user_input(crs)
        self.transform = transform if isinstance(transform, Affine) else Affine(*list(transform)[:6])
        self.dtype = np.dtype(dtype)
        if nodata is not None and np.issubdtype(self.dtype, np.integer) and np.isnan(nodata):
            nodata = None
        self.nodata = nodata
        self.band_descriptions = None if band_descriptions is None else list(band_descriptions)
        self.blocksize = int(blocksize)
        self.cog_options = {
            "COMPRESS": compress.upper(), "BLOCKSIZE": str(self.blocksize), "OVERVIEWS": overviews,
            "OVERVIEW_RESAMPLING": overview_resampling.upper(), "BIGTIFF": "IF_SAFER", "NUM_THREADS": COG_THREADS,
        }
        if compress.upper() in _LEVELLED:
            self.cog_options["LEVEL"] = str(level)
        if compress.upper() != "NONE":  # floating-point predictor: 20-40 % smaller float rasters
            self.cog_options["PREDICTOR"] = "YES" if np.issubdtype(self.dtype, np.floating) else "NO"
        self.exclusive = exclusive
        token = "" if exclusive else secrets.token_hex(TOKEN_CHARS // 2) + "."
        self.hidden = [(hidden_path(p, f"{token}partial.tif"), hidden_path(p, f"{token}cog.tmp"))
                       for p, _ in self.targets]
        self.checksums = [[PixelChecksum() for _ in range(self.count)] for _ in self.targets]
        self._datasets: list[rasterio.io.DatasetWriter | None] = [None] * len(self.targets)
        self._finished = False

    @property
    def cog_paths(self) -> list[Path]:
        """The verified COG temporaries (valid between :meth:`finish` and :meth:`commit`)."""
        return [tmp for _, tmp in self.hidden]

    def _failed(self, index: int, exc: BaseException) -> RasterError:
        """A failed write of any target is reported under the first one: the set is what was asked for
        (``--out``), and none of it is written."""
        return write_error(self.targets[0][0], exc)

    def __enter__(self) -> "StreamingCogWriter":
        for index, (path, _) in enumerate(self.targets):
            try:
                path.parent.mkdir(parents=True, exist_ok=True)
                if not os.access(path.parent, os.W_OK):
                    raise PermissionError(f"cannot write to folder {path.parent}: choose a writable output folder")
            except OSError as exc:
                raise self._failed(index, exc) from exc
            if self.exclusive:
                remove_stream_leftovers(path)
        return self

    def _partial(self, index: int) -> rasterio.io.DatasetWriter:
        """The open partial GeoTIFF of target ``index`` (created on first use)."""
        dataset = self._datasets[index]
        if dataset is None:
            profile = {
                "driver": "GTiff", "dtype": self.dtype.name, "count": self.count, "width": self.width,
                "height": self.height, "crs": self.crs, "transform": self.transform, "nodata": self.nodata,
                "tiled": True, "blockxsize": self.blocksize, "blockysize": self.blocksize, "compress": "none",
                "BIGTIFF": "IF_SAFER",
            }
            dataset = rasterio.open(self.hidden[index][0], "w", **profile)
            self._datasets[index] = dataset
            dataset.update_tags(**self.targets[index][1])
            for band, text in enumerate(self.band_descriptions or [], start=1):
                dataset.set_band_description(band, text)
        return dataset

    def write_rows(self, index: int, row0: int, rows: np.ndarray) -> None:
        """Write full-width ``rows`` of target ``index`` from row ``row0``: ``(h, width)`` for a one-band
        target, ``(count, h, width)`` for any."""
        rows = np.asarray(rows, dtype=self.dtype)
        bands = rows[None] if rows.ndim == 2 else rows
        if bands.ndim != 3 or bands.shape[0] != self.count or bands.shape[2] != self.width:
            raise ValueError(f"rows of shape {rows.shape} for a {self.count}-band raster {self.width} wide")
        try:
            _write_rows(self._partial(index), row0, rows)
        except (OSError, *RASTER_LIB_ERRORS) as exc:
            raise self._failed(index, exc) from exc
        for checksum, band in zip(self.checksums[index], bands, strict=True):
            checksum.add(band, row0)

    def finish(self) -> list[Path]:
        """Close, convert to COG, flush and verify every target; returns the COG temporaries."""
        for index, ((partial, cog_tmp), (path, tags)) in enumerate(zip(self.hidden, self.targets, strict=True)):
            try:
                self._partial(index).close()
                _partial_to_cog(partial, cog_tmp, **self.cog_options)
                partial.unlink(missing_ok=True)  # its disk space is free before the read-back
                # read the COG back in full before it may be renamed: a full disk does not always raise
                fsync_file(cog_tmp)
            except (OSError, *RASTER_LIB_ERRORS) as exc:
                raise self._failed(index, exc) from exc
            verify_checksums(
                cog_tmp, path, self.checksums[index], height=self.height, width=self.width, dtype=self.dtype,
                crs=self.crs, transform=self.transform, tags=tags,
            )
        self._finished = True
        return self.cog_paths

    def adopt(self, fetch: Callable[[int, Path], bool]) -> bool:
        """Take finished COGs from elsewhere instead of writing them (a cache of an identical request).

        ``fetch(index, tmp)`` copies target ``index``'s COG to ``tmp`` and says whether it had one.
        Each copy is flushed and its header checked (size, bands, dtype, grid, tags); then
        :meth:`commit` renames them like written ones.

        Returns:
            False (nothing kept) when a copy is missing or is not the raster the targets describe.
        """
        kept = True
        for index, (_, cog_tmp) in enumerate(self.hidden):
            try:
                if not fetch(index, cog_tmp):
                    kept = False
                    break
                os.chmod(cog_tmp, 0o644)
                fsync_file(cog_tmp)
                with rasterio.open(cog_tmp) as src:
                    shape = (self.count, self.height, self.width)
                    if _header_problems(src, shape, self.dtype, self.crs, self.transform, self.targets[index][1]):
                        kept = False
                        break
            except RASTER_LIB_ERRORS:
                kept = False
                break
            except OSError as exc:
                self._remove_cogs()
                raise self._failed(index, exc) from exc
        if not kept:
            self._remove_cogs()
        self._finished = kept
        return kept

    def _remove_cogs(self) -> None:
        for _, cog_tmp in self.hidden:
            cog_tmp.unlink(missing_ok=True)

    def commit(self) -> None:
        """Rename the verified COGs into place (the first target last)."""
        if not self._finished:
            raise RuntimeError("StreamingCogWriter.commit() before finish() or adopt()")
        for index in reversed(range(len(self.targets))):
            try:
                os.replace(self.hidden[index][1], self.targets[index][0])
            except OSError as exc:
                raise self._failed(index, exc) from exc

    def __exit__(self, *exc_info) -> None:
        for dataset in self._datasets:
            if dataset is not None and not dataset.closed:
                dataset.close()
        for (path, _), (partial, cog_tmp) in zip(self.targets, self.hidden, strict=True):
            if self.exclusive:
                remove_stream_leftovers(path)
            else:  # only this writer's files (the COG temp and GDAL's overview temp beside it)
                partial.unlink(missing_ok=True)
                for leftover in path.parent.glob(glob.escape(cog_tmp.name) + "*"):
                    leftover.unlink(missing_ok=True)
