"""Size limits checked *before* anything is read, so a small file cannot exhaust the memory.

A compressed GeoTIFF of 1 MB may declare 16000 x 16000 pixels (1 GB as float32), a sparse one
200000 x 200000, and a 1 MB zip may expand to a 1 GB GeoJSON. Every reader checks the declared size
against a limit first and refuses with a message that names the file, its declared size, the limit
and what to do. The limits are environment variables (read at each call, so a test or a server can
set them):

=============================== ============== ===============================================
variable                        default        what it bounds
=============================== ============== ===============================================
``DEEPLIGHT_MAX_PIXELS``        200 000 000    pixels x bands of a raster read whole into memory
                                               (``data degrade``, ``data info`` statistics,
                                               ``sdg`` products, scene layers)
``DEEPLIGHT_MAX_STREAM_PIXELS`` 100 000 000    LR pixels of a raster streamed by windows
                                               (``predict``: the output is 64x as many)
``DEEPLIGHT_UPLOAD_MAX_PIXELS`` 16 000 000     pixels of the HR grid a dashboard upload makes
                                               (an LR upload's HR grid is 64x its pixels)
``DEEPLIGHT_MAX_VECTOR_MB``     256            MiB of a region file, and the expanded size of a
                                               zipped one (checked before extracting)
=============================== ============== ===============================================
"""

from __future__ import annotations

import os
import shutil
import zipfile
from pathlib import Path, PurePosixPath

import numpy as np

from deeplight.errors import ConfigError, RasterError, RegionError

MAX_PIXELS_ENV = "DEEPLIGHT_MAX_PIXELS"
MAX_STREAM_PIXELS_ENV = "DEEPLIGHT_MAX_STREAM_PIXELS"
UPLOAD_MAX_PIXELS_ENV = "DEEPLIGHT_UPLOAD_MAX_PIXELS"
MAX_VECTOR_MB_ENV = "DEEPLIGHT_MAX_VECTOR_MB"

DEFAULT_MAX_PIXELS = 200_000_000
DEFAULT_MAX_STREAM_PIXELS = 100_000_000
DEFAULT_UPLOAD_MAX_PIXELS = 16_000_000
DEFAULT_MAX_VECTOR_MB = 256

READ_MODES = ("whole", "stream", "upload")


class TooLargeError(RasterError):
    """A file declares more pixels (or expands to more bytes) than the configured limit."""


def _env_number(name: str, default: float, *, integer: bool = True) -> float:
    raw = os.environ.get(name, "").strip()
    if not raw:
        return default
    try:
        value = float(raw.replace("_", ""))
    except ValueError:
        raise ConfigError(f"{name}={raw!r} is not a number: give a positive number (default {default:g})") from None
    if not np.isfinite(value) or value <= 0:
        raise ConfigError(f"{name}={raw!r} must be a positive, finite number (default {default:g})")
    return int(value) if integer else value


def max_pixels() -> int:
    """``DEEPLIGHT_MAX_PIXELS``: most pixels x bands read whole into memory."""
    return int(_env_number(MAX_PIXELS_ENV, DEFAULT_MAX_PIXELS))


def max_stream_pixels() -> int:
    """``DEEPLIGHT_MAX_STREAM_PIXELS``: most LR pixels of a raster streamed by windows (``predict``)."""
    return int(_env_number(MAX_STREAM_PIXELS_ENV, DEFAULT_MAX_STREAM_PIXELS))


def upload_max_pixels() -> int:
    """``DEEPLIGHT_UPLOAD_MAX_PIXELS``: most pixels of the HR grid a dashboard upload makes."""
    return int(_env_number(UPLOAD_MAX_PIXELS_ENV, DEFAULT_UPLOAD_MAX_PIXELS))


def max_vector_bytes() -> int:
    """``DEEPLIGHT_MAX_VECTOR_MB`` in bytes: largest region file (or expanded zip) read."""
    return int(_env_number(MAX_VECTOR_MB_ENV, DEFAULT_MAX_VECTOR_MB, integer=False) * 1024**2)


def _millions(n: float) -> str:
    return f"{n / 1e6:,.1f} million" if n >= 1e5 else f"{int(n):,}"


def _bytes_text(n: float) -> str:
    for unit, size in (("GB", 1024**3), ("MB", 1024**2), ("kB", 1024)):
        if n >= size:
            return f"{n / size:.1f} {unit}"
    return f"{int(n)} bytes"


def check_pixel_count(
    label: str, width: int, height: int, bands: int = 1, *, mode: str = "whole", hint: str = "",
    limit_factor: int = 1,
) -> None:
    """Refuse a raster whose declared size is over the limit of ``mode``, before reading any pixel.

    Args:
        label: what the raster is and its file, e.g. ``"LR raster /data/lr.tif"``.
        width, height, bands: the declared size (of the window that would be read).
        mode: ``"whole"`` (:func:`max_pixels`), ``"stream"`` (:func:`max_stream_pixels`, bands ignored)
            or ``"upload"`` (:func:`upload_max_pixels`, ``width x height`` is the HR grid).
        hint: extra advice appended to the message (e.g. ``"or use --crop-to-regions"``).
        limit_factor: the limit is this many times the variable's value (64 for an auxiliary layer
            read on the 8x finer HR grid of a streamed LR raster).

    Raises:
        TooLargeError: naming the file, its declared size, the limit, the variable and what to do.
        ConfigError: the variable is not a positive number.
    """
    if mode not in READ_MODES:
        raise ValueError(f"mode must be one of {READ_MODES}, got {mode!r}")
    if mode == "whole":
        limit, variable, count = max_pixels(), MAX_PIXELS_ENV, width * height * max(bands, 1)
    elif mode == "stream":
        limit, variable, count = max_stream_pixels(), MAX_STREAM_PIXELS_ENV, width * height
    else:
        limit, variable, count = upload_max_pixels(), UPLOAD_MAX_PIXELS_ENV, width * height * max(bands, 1)
    limit *= max(int(limit_factor), 1)
    if count <= limit:
        return
    band_text = f" x {bands} bands" if bands > 1 and mode != "stream" else ""
    memory = f", about {_bytes_text(count * 4)} as float32" if mode != "stream" else ""
    what = {
        "whole": "pixels read into memory",
        "stream": "pixels read block by block",
        "upload": "pixels on the HR grid it would make; an LR upload's HR grid has 64x its pixels",
    }[mode]
    factor = f"{limit_factor} x " if limit_factor > 1 else ""
    raise TooLargeError(
        f"{label} declares {width} x {height} pixels{band_text} ({_millions(count)} {what}{memory}), over the "
        f"limit of {_millions(limit)} set by {factor}{variable}: crop it to the area you need (e.g. gdal_translate "
        f"-projwin MINX MAXY MAXX MINY in.tif out.tif){hint}, or raise {variable} if this machine has the "
        "memory and time"
    )


def check_vector_file_size(path: str | os.PathLike[str], label: str | None = None) -> None:
    """Refuse a region file larger than ``DEEPLIGHT_MAX_VECTOR_MB`` before parsing it.

    Raises:
        RegionError: naming the file, its size and the limit.
    """
    path = Path(path)
    try:
        size = path.stat().st_size
    except OSError:
        return  # the reader reports a missing file itself
    limit = max_vector_bytes()
    if size > limit:
        raise RegionError(
            f"{label or f'region file {path}'} is {_bytes_text(size)}, over the limit of {_bytes_text(limit)} "
            f"set by {MAX_VECTOR_MB_ENV}: simplify or clip the polygons first (e.g. ogr2ogr -simplify), or "
            f"raise {MAX_VECTOR_MB_ENV}"
        )


def extract_zip_safely(
    archive: str | os.PathLike[str], destination: str | os.PathLike[str], label: str | None = None
) -> list[Path]:
    """Extract a zip archive into ``destination`` within the expanded-size limit, never outside it.

    The sizes the archive declares are checked first (``DEEPLIGHT_MAX_VECTOR_MB``); then every member is
    copied in chunks while counting the bytes actually produced, so an archive that lies about its sizes
    is stopped at the limit too. Member paths are flattened to their file names (``../../x`` cannot
    escape ``destination``); folders, links and hidden macOS files are skipped.

    Returns:
        The extracted files.

    Raises:
        RegionError: not a zip archive, corrupt, encrypted, or over the limit (naming the archive, the
            expanded size and the limit). Nothing stays in ``destination`` on error.
    """
    archive, destination = Path(archive), Path(destination)
    name = label or f"zip archive {archive}"
    limit = max_vector_bytes()
    try:
        zf = zipfile.ZipFile(archive)
    except (zipfile.BadZipFile, OSError, ValueError) as exc:
        raise RegionError(f"{name} is not a readable zip archive ({exc}): zip the files again") from None
    written: list[Path] = []
    try:
        with zf:
            members = [
                m for m in zf.infolist()
                if not m.is_dir() and not PurePosixPath(m.filename).name.startswith(".")
                and "__MACOSX" not in PurePosixPath(m.filename).parts
            ]
            declared = sum(m.file_size for m in members)
            if declared > limit:
                raise RegionError(
                    f"{name} expands to {_bytes_text(declared)} ({len(members)} file(s)), over the limit of "
                    f"{_bytes_text(limit)} set by {MAX_VECTOR_MB_ENV}: zip only the region layer you need, "
                    f"simplified, or raise {MAX_VECTOR_MB_ENV}"
                )
            destination.mkdir(parents=True, exist_ok=True)
            total = 0
            for member in members:
                if member.flag_bits & 0x1:
                    raise RegionError(f"{name}: {member.filename} is encrypted; zip it without a password")
                target = destination / PurePosixPath(member.filename).name
                if target.exists():
                    raise RegionError(
                        f"{name} holds two files named {target.name}; zip one region layer per archive"
                    )
                with zf.open(member) as src, open(target, "wb") as dst:
                    written.append(target)
                    while True:
                        chunk = src.read(1 << 20)
                        if not chunk:
                            break
                        total += len(chunk)
                        if total > limit:
                            raise RegionError(
                                f"{name} expands to more than {_bytes_text(limit)} (the limit set by "
                                f"{MAX_VECTOR_MB_ENV}; it declared {_bytes_text(declared)}): zip only the region "
                                f"layer you need, or raise {MAX_VECTOR_MB_ENV}"
                            )
                        dst.write(chunk)
    except (zipfile.BadZipFile, zipfile.LargeZipFile, EOFError, NotImplementedError) as exc:
        _remove(written)
        raise RegionError(
            f"{name} is corrupt or uses an unsupported compression ({exc}): zip the files again"
        ) from None
    except BaseException:
        _remove(written)
        raise
    return written


def _remove(paths: list[Path]) -> None:
    for path in paths:
        try:
            if path.is_dir():
                shutil.rmtree(path)
            else:
                path.unlink(missing_ok=True)
        except OSError:
            pass
