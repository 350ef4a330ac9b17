"""A content-addressed disk cache of predictions, safe for concurrent readers and writers.

Keys are SHA-256 digests of a canonical JSON description of everything the prediction depends on:
the model's weights hash (a checkpoint's sha256), the model code (:func:`prediction_code_id`), the
content hashes of the inputs, the window and the parameters (self-ensemble, units, device type). Entries are written to a temporary file and
renamed into place (readers never see a partial entry); each carries the SHA-256 of its payload, so a
corrupt or truncated entry is detected on read, deleted and recomputed. A size limit is enforced by
deleting the least recently used entries (file mtime, refreshed on every hit). ``get_or_compute``
holds a lock keyed by the request, so N concurrent callers asking for the same thing trigger exactly
one computation; the others wait and read the result. Tiled predictions claim each tile's key the
same way (:meth:`TileCache.try_lock`), so several processes on one cache compute every tile once.

Layout under the root: ``.deeplight-cache`` (the marker), ``entries/<k[:2]>/<k>.dlc`` (arrays),
``files/<k[:2]>/<k>.<name>`` (whole output files, each with a ``.sha256`` sidecar), ``locks/<k>.lock``,
``tmp/``.

The marker file is written when the cache creates its folder (or finds it empty); the cache writes
only into a marked folder and :meth:`TileCache.clear` / :meth:`TileCache.evict` delete only inside
one, and only names of the layout above, so ``deeplight cache clear --cache-dir ~/Documents`` deletes
nothing. A folder that already holds other files is never adopted: the cache then only warns and
stores nothing.
Array entry format: ``b"DLCACHE1"`` + 32-byte SHA-256 of the payload + payload (safetensors, no pickle).
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import json
import os
import re
import shutil
import tempfile
import threading
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from safetensors import SafetensorError
from safetensors.numpy import load as st_load
from safetensors.numpy import save as st_save

from deeplight.runtime import default_cache_dir as runtime_cache_dir
from deeplight.errors import ConfigError, DeepLightError
from deeplight.infer.locks import file_lock, is_locked
from deeplight.utils_io import atomic_write_text, sha256_file

MAGIC = b"DLCACHE1"
MARKER_NAME = ".deeplight-cache"
"""File that marks a folder as a DeepLight prediction cache (written by the cache itself)."""
MARKER_FORMAT = "deeplight-tile-cache"
LAYOUT_DIRS = ("entries", "files", "locks", "tmp")
"""The only sub-folders the cache creates (an unmarked folder holding only these, e.g. a cache of an
earlier DeepLight version or one another process is creating right now, may be adopted)."""
DEFAULT_MAX_BYTES = 2 * 1024**3
"""Default size limit: 2 GiB (override with ``DEEPLIGHT_CACHE_MAX_GB`` or the constructor)."""


def default_cache_dir() -> Path:
    """``$DEEPLIGHT_CACHE_DIR``, else ``$DEEPLIGHT_HOME/cache``, else ``<repo>/data/runtime/cache``
    (the one rule: :func:`deeplight.runtime.default_cache_dir`)."""
    return runtime_cache_dir()


def default_max_bytes() -> int:
    """Size limit from ``DEEPLIGHT_CACHE_MAX_GB`` (float, GiB) or :data:`DEFAULT_MAX_BYTES`."""
    value = os.environ.get("DEEPLIGHT_CACHE_MAX_GB", "").strip()
    if not value:
        return DEFAULT_MAX_BYTES
    try:
        gib = float(value)
    except ValueError as exc:
        raise ConfigError(f"DEEPLIGHT_CACHE_MAX_GB must be a number of GiB (got {value!r})") from exc
    if gib <= 0:
        raise ConfigError(f"DEEPLIGHT_CACHE_MAX_GB must be positive (got {value!r})")
    return int(gib * 1024**3)


class NotACacheFolderError(DeepLightError):
    """The folder is not marked as a DeepLight cache (see :data:`MARKER_NAME`): nothing is deleted."""


PREDICTION_CODE = (
    "models", "contracts.py", "infer/engine.py", "infer/self_ensemble.py", "infer/tiling.py", "infer/blending.py",
)
"""The package code a prediction depends on beyond the weights and inputs (under ``deeplight/``)."""


@functools.lru_cache(maxsize=1)
def prediction_code_id() -> str:
    """SHA-256 over the source of :data:`PREDICTION_CODE`, computed once per process.

    A checkpoint's hash names its weights only; the same weights give other pixels when the model code
    changes (a new default, a fixed bug), so every cache key carries this too and an upgrade never
    serves predictions of the old code.
    """
    root = Path(__file__).resolve().parents[1]
    digest = hashlib.sha256()
    for part in PREDICTION_CODE:
        path = root / part
        for file in sorted(path.rglob("*.py")) if path.is_dir() else [path]:
            digest.update(str(file.relative_to(root)).encode())
            digest.update(file.read_bytes())
    return digest.hexdigest()


def cache_key(**parts: Any) -> str:
    """SHA-256 hex digest of the canonical JSON of ``parts`` (sorted keys, no whitespace) and of the
    prediction code (:func:`prediction_code_id`)."""
    parts = {**parts, "_code": prediction_code_id()}
    text = json.dumps(parts, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


RACY_SECONDS = 2.0
"""A file changed less than this long before it was hashed is not memoised: a second change within the
file system's timestamp granularity could leave its status as it was (git's "racy" files)."""


def file_identity(path: str | os.PathLike[str]) -> dict[str, Any]:
    """What identifies a file's content without reading it: its resolved path, device, inode, size,
    and modification and status-change times in nanoseconds. Any write changes the status-change time
    (``st_ctime_ns``), which, unlike the modification time, no user call can set back."""
    st = os.stat(path)
    return {"path": os.path.realpath(path), "dev": st.st_dev, "ino": st.st_ino, "size": st.st_size,
            "mtime_ns": st.st_mtime_ns, "ctime_ns": st.st_ctime_ns}


def memoized_file_sha256(path: str | os.PathLike[str], cache: "TileCache | None") -> str:
    """SHA-256 of a file's bytes, read once per file version: the cache remembers it under the file's
    :func:`file_identity`, so a repeated ``deeplight predict`` on a country's rasters does not read and
    hash gigabytes of inputs again. A changed file (any write, a copy, a rename onto it) has another
    identity and is hashed again, so a prediction is never keyed on an old content hash; a file changed
    within :data:`RACY_SECONDS` of the hash, or while it was hashed, is not remembered. Without a usable
    cache this is :func:`deeplight.utils_io.sha256_file`."""
    if cache is None or not cache.usable():
        return sha256_file(path)
    before = file_identity(path)
    key = hashlib.sha256(json.dumps({"kind": "file_sha256", **before}, sort_keys=True).encode()).hexdigest()
    stored = cache.get_quiet(key)
    if stored is not None and stored.get("sha256") is not None and stored["sha256"].size == 32:
        return stored["sha256"].tobytes().hex()
    started = time.time_ns()
    digest = sha256_file(path)
    settled = max(before["mtime_ns"], before["ctime_ns"]) < started - int(RACY_SECONDS * 1e9)
    if settled and file_identity(path) == before:
        cache.put_or_warn(key, {"sha256": np.frombuffer(bytes.fromhex(digest), dtype=np.uint8)})
    return digest


@dataclass(frozen=True)
class CacheInfo:
    """Summary of a cache folder."""

    root: Path
    entries: int
    bytes: int
    max_bytes: int

    def describe(self) -> str:
        """Human-readable one-paragraph summary."""
        return (
            f"cache folder: {self.root}\nentries: {self.entries}\n"
            f"size: {self.bytes / 1024**2:.1f} MiB of {self.max_bytes / 1024**2:.0f} MiB limit"
        )


class TileCache:
    """Content-addressed prediction cache on disk (see module docstring).

    Args:
        root: cache folder (created on first write).
        max_bytes: size limit; least recently used entries are evicted beyond it.
    """

    def __init__(self, root: str | os.PathLike[str] | None = None, max_bytes: int | None = None) -> None:
        self.root = Path(root) if root is not None else default_cache_dir()
        self.max_bytes = int(max_bytes) if max_bytes is not None else default_max_bytes()
        if self.max_bytes <= 0:
            raise ConfigError(f"cache size limit must be positive (got {max_bytes!r} bytes)")
        self.hits = 0
        self.misses = 0
        self.corrupt = 0
        self._stats_lock = threading.Lock()
        self._size_estimate: int | None = None  # bytes, refreshed by every scan; avoids a scan per put
        self._puts_since_scan = 0  # other processes' writes are seen at the next scan (every 32 puts)
        self._marked = False  # the marker was seen or written by this instance
        self._warned = False

    # -- the marker ----------------------------------------------------------------------------
    @property
    def marker_path(self) -> Path:
        """The marker file that makes :attr:`root` a DeepLight cache folder."""
        return self.root / MARKER_NAME

    def is_marked(self) -> bool:
        """Whether :attr:`root` carries a valid cache marker (written by :meth:`ensure_folder`)."""
        try:
            data = json.loads(self.marker_path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return False
        return isinstance(data, dict) and data.get("format") == MARKER_FORMAT

    def ensure_folder(self) -> None:
        """Create :attr:`root` with its marker, or check that an existing folder is a cache folder.

        A missing or empty folder (or one that holds only the cache's own sub-folders) gets the marker.

        Raises:
            NotACacheFolderError: the folder holds other files and no marker; nothing is written there.
            OSError: the folder cannot be created or written.
        """
        if self._marked or self.is_marked():
            self._marked = True
            return
        self.root.mkdir(parents=True, exist_ok=True)
        foreign = sorted(
            p.name for p in self.root.iterdir()
            if p.name not in LAYOUT_DIRS and p.name != MARKER_NAME and not p.name.startswith(f".{MARKER_NAME}.")
        )
        layout_ok = all(not (self.root / d).exists() or (self.root / d).is_dir() for d in LAYOUT_DIRS)
        stray = [] if foreign or not layout_ok else self._non_cache_files()
        if stray:
            foreign = [str(p.relative_to(self.root)) for p in stray]
        if foreign or not layout_ok:
            shown = ", ".join(foreign[:3]) + (" ..." if len(foreign) > 3 else "")
            raise NotACacheFolderError(
                f"{self.root} is not a DeepLight cache folder (no {MARKER_NAME} marker) and already holds "
                f"other files ({shown or 'a file named like a cache folder'}): choose an empty or new "
                "folder for --cache-dir / DEEPLIGHT_CACHE_DIR"
            )
        marker = {"format": MARKER_FORMAT, "version": 1,
                  "note": "DeepLight prediction cache; `deeplight cache clear` deletes only inside such folders"}
        atomic_write_text(self.marker_path, json.dumps(marker, indent=1) + "\n")
        self._marked = True

    def _non_cache_files(self, limit: int = 4) -> list[Path]:
        """Files under the layout folders of an unmarked folder that the cache cannot have written
        (names other than ``<64 hex>.dlc``, ``<64 hex>.<name>[.sha256]``, ``*.lock``, ``*.tmp``)."""
        found = []
        patterns = {
            "entries": re.compile(r"[0-9a-f]{2}/[0-9a-f]{64}\.dlc"),
            "files": re.compile(r"[0-9a-f]{2}/[0-9a-f]{64}\.[^/]+"),
            "locks": re.compile(r"[^/]+\.lock"),
            "tmp": re.compile(r"[^/]+\.tmp"),
        }
        for folder, pattern in patterns.items():
            base = self.root / folder
            for path in base.rglob("*") if base.is_dir() else ():
                if path.is_dir() and not path.is_symlink():
                    continue
                rel = path.relative_to(base).as_posix()
                ok = pattern.fullmatch(rel) and (folder not in ("entries", "files") or rel[:2] == rel[3:5])
                if not ok or path.is_symlink():
                    found.append(path)
                    if len(found) >= limit:
                        return found
        return found

    def _require_marker(self, action: str) -> None:
        if not self.is_marked():
            raise NotACacheFolderError(
                f"{self.root} is not a DeepLight cache folder (it has no {MARKER_NAME} marker, which the "
                f"cache writes when it creates its folder): refusing to {action}; nothing was deleted. "
                "Check --cache-dir / DEEPLIGHT_CACHE_DIR (a cache made by DeepLight before the marker "
                "existed gets it on its next write, or delete that folder yourself)"
            )

    def _usable(self) -> bool:
        """:meth:`ensure_folder`, but a folder that cannot be a cache only warns (once): no caching."""
        try:
            self.ensure_folder()
            return True
        except (OSError, NotACacheFolderError) as exc:
            if not self._warned:
                self._warned = True
                warnings.warn(f"not using the prediction cache: {exc}", stacklevel=3)
            return False

    # -- paths ---------------------------------------------------------------------------------
    def entry_path(self, key: str) -> Path:
        """File of entry ``key``."""
        return self.root / "entries" / key[:2] / f"{key}.dlc"

    def lock_path(self, key: str) -> Path:
        """Lock file of request ``key``."""
        return self.root / "locks" / f"{key}.lock"

    def usable(self) -> bool:
        """Whether entries can be stored here (the folder is, or can become, a marked cache folder);
        otherwise warns once and the caller computes without caching."""
        return self._usable()

    def try_lock(self, key: str) -> contextlib.ExitStack | None:
        """Claim ``key`` across processes and threads without waiting.

        Returns:
            The held lock (release it with ``.close()``), or None when another holder has it right now
            (or the folder cannot be a cache: then nothing is locked and the caller computes alone).
        """
        if not self._usable():
            return None
        stack = contextlib.ExitStack()
        try:
            stack.enter_context(file_lock(self.lock_path(key), timeout=0))
        except (TimeoutError, OSError):
            stack.close()
            return None
        return stack

    def wait_lock(self, key: str, timeout: float | None = None):
        """Context manager holding the lock of ``key``, waiting for its current holder (a process computing
        that entry right now) to finish."""
        return file_lock(self.lock_path(key), timeout=timeout)

    def _count(self, name: str) -> None:
        with self._stats_lock:
            setattr(self, name, getattr(self, name) + 1)

    # -- entries -------------------------------------------------------------------------------
    def contains(self, key: str) -> bool:
        """Whether an entry file exists for ``key`` (its integrity is checked by :meth:`get`)."""
        return self.entry_path(key).exists()

    def get(self, key: str) -> dict[str, np.ndarray] | None:
        """The arrays stored under ``key``; None when absent or corrupt (a corrupt entry is deleted)."""
        path = self.entry_path(key)
        try:
            data = path.read_bytes()
        except FileNotFoundError:
            self._count("misses")
            return None
        arrays = self._decode(data)
        if arrays is None:
            self._count("corrupt")
            self._count("misses")
            path.unlink(missing_ok=True)
            return None
        try:
            os.utime(path)  # least-recently-used bookkeeping
        except FileNotFoundError:  # evicted meanwhile; the data we read is still valid
            pass
        self._count("hits")
        return arrays

    def get_quiet(self, key: str) -> dict[str, np.ndarray] | None:
        """:meth:`get` without counting hits, misses or corrupt entries (bookkeeping entries such as
        :func:`memoized_file_sha256`'s; a corrupt one is deleted all the same)."""
        path = self.entry_path(key)
        try:
            data = path.read_bytes()
        except OSError:
            return None
        arrays = self._decode(data)
        if arrays is None:
            path.unlink(missing_ok=True)
        return arrays

    @staticmethod
    def _decode(data: bytes) -> dict[str, np.ndarray] | None:
        header = len(MAGIC) + 32
        if len(data) < header or data[: len(MAGIC)] != MAGIC:
            return None
        payload = data[header:]
        if hashlib.sha256(payload).digest() != data[len(MAGIC):header]:
            return None
        try:
            return dict(st_load(payload))
        except (SafetensorError, ValueError):
            return None

    def put(self, key: str, arrays: dict[str, np.ndarray]) -> None:
        """Store ``arrays`` under ``key`` atomically, then evict old entries beyond the size limit.

        Raises:
            OSError: the cache folder is not writable or the disk is full (nothing partial is left).
            NotACacheFolderError: the folder holds other files and no marker (see :meth:`ensure_folder`).
        """
        self.ensure_folder()
        payload = st_save({name: np.ascontiguousarray(value) for name, value in arrays.items()})
        data = MAGIC + hashlib.sha256(payload).digest() + payload
        final = self.entry_path(key)
        final.parent.mkdir(parents=True, exist_ok=True)
        tmp_dir = self.root / "tmp"
        tmp_dir.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f"{key[:16]}.", suffix=".tmp", dir=tmp_dir)
        try:
            with os.fdopen(fd, "wb") as fh:
                fh.write(data)
            os.replace(tmp, final)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
        with self._stats_lock:
            if self._size_estimate is not None:
                self._size_estimate += len(data)
            self._puts_since_scan += 1
            scan = (self._size_estimate is None or self._size_estimate > self.max_bytes
                    or self._puts_since_scan >= 32)
        if scan:
            self.evict()

    def put_or_warn(self, key: str, arrays: dict[str, np.ndarray]) -> bool:
        """:meth:`put`, but a failure (full disk, read-only folder) only warns: a cache that cannot be
        written must not stop a prediction. Returns whether the entry was stored."""
        if not self._usable():
            return False
        try:
            self.put(key, arrays)
            return True
        except OSError as exc:
            warnings.warn(f"could not write to the prediction cache {self.root} ({exc}); continuing without "
                          "storing this result (free space or run `deeplight cache clear`)", stacklevel=2)
            return False

    def get_or_compute(
        self, key: str, compute: Callable[[], dict[str, np.ndarray]], timeout: float | None = None
    ) -> tuple[dict[str, np.ndarray], bool]:
        """Cached arrays for ``key``, computing and storing them under a lock when absent.

        Concurrent callers (threads or processes) with the same key wait for the first one, so the
        computation runs once.

        Returns:
            ``(arrays, hit)`` where ``hit`` is True when nothing was computed by this call.
        """
        arrays = self.get(key)
        if arrays is not None:
            return arrays, True
        if not self._usable():  # not a cache folder: compute, store nothing, create no lock file there
            return compute(), False
        with file_lock(self.lock_path(key), timeout=timeout):
            arrays = self.get(key)
            if arrays is not None:
                return arrays, True
            arrays = compute()
            self.put_or_warn(key, arrays)
            return arrays, False

    # -- whole files ---------------------------------------------------------------------------
    def file_path(self, key: str, name: str) -> Path:
        """Cached copy of the output file ``name`` of request ``key``."""
        return self.root / "files" / key[:2] / f"{key}.{name}"

    def put_file(self, key: str, name: str, source: str | os.PathLike[str]) -> bool:
        """Store a copy of ``source`` as file ``name`` of request ``key`` (atomic, with its SHA-256).

        A failure (full disk) only warns, like :meth:`put_or_warn`. Returns whether it was stored.
        """
        if not self._usable():
            return False
        final = self.file_path(key, name)
        tmp_dir = self.root / "tmp"
        tmp = None
        try:
            final.parent.mkdir(parents=True, exist_ok=True)
            tmp_dir.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(prefix=f"{key[:16]}.", suffix=".tmp", dir=tmp_dir)
            os.close(fd)
            shutil.copyfile(source, tmp)
            digest = sha256_file(tmp)
            atomic_write_text(f"{final}.sha256", digest)
            os.replace(tmp, final)
        except OSError as exc:
            if tmp is not None:
                Path(tmp).unlink(missing_ok=True)
            warnings.warn(f"could not write to the prediction cache {self.root} ({exc}); continuing without "
                          "storing this result (free space or run `deeplight cache clear`)", stacklevel=2)
            return False
        self.evict()
        return True

    def get_file(self, key: str, name: str, destination: str | os.PathLike[str]) -> bool:
        """Copy the cached file ``name`` of request ``key`` to ``destination`` after checking its hash.

        Returns False (and deletes the entry when it is corrupt) if there is no valid copy.
        """
        cached = self.file_path(key, name)
        sidecar = Path(f"{cached}.sha256")
        try:
            expected = sidecar.read_text(encoding="ascii").strip()
            shutil.copyfile(cached, destination)
        except FileNotFoundError:
            self._count("misses")
            return False
        if sha256_file(destination) != expected:
            self._count("corrupt")
            self._count("misses")
            cached.unlink(missing_ok=True)
            sidecar.unlink(missing_ok=True)
            Path(destination).unlink(missing_ok=True)
            return False
        try:
            os.utime(cached)
        except FileNotFoundError:
            pass
        self._count("hits")
        return True

    # -- maintenance ---------------------------------------------------------------------------
    @staticmethod
    def _is_layout_name(path: Path) -> bool:
        """``<k[:2]>/<k>...``: a file the cache wrote (its name starts with its two-character folder)."""
        folder = path.parent.name
        return len(folder) == 2 and path.name.startswith(folder) and path.is_file() and not path.is_symlink()

    def _entries(self) -> list[tuple[float, int, Path]]:
        found = []
        paths = list((self.root / "entries").glob("*/*.dlc"))
        paths += [p for p in (self.root / "files").glob("*/*") if not p.name.endswith(".sha256")]
        paths = [p for p in paths if self._is_layout_name(p)]
        for path in paths:
            try:
                stat = path.stat()
            except FileNotFoundError:
                continue
            found.append((stat.st_mtime, stat.st_size, path))
        return found

    def evict(self) -> int:
        """Delete least recently used entries until the total size is within the limit.

        Returns:
            Number of entries deleted (0 when another process is evicting right now).
        """
        entries = self._entries()
        total = sum(size for _, size, _ in entries)
        self._size_estimate, self._puts_since_scan = total, 0
        if total <= self.max_bytes or not self.is_marked():  # delete only inside a marked cache folder
            return 0
        removed = 0
        try:
            with file_lock(self.root / "locks" / "_evict.lock", timeout=0):
                for _, size, path in sorted(entries, key=lambda e: e[0]):
                    if total <= self.max_bytes:
                        break
                    path.unlink(missing_ok=True)
                    Path(f"{path}.sha256").unlink(missing_ok=True)
                    total -= size
                    removed += 1
                self._size_estimate = total
        except TimeoutError:
            return 0
        return removed

    def info(self) -> CacheInfo:
        """Number and total size of the entries."""
        entries = self._entries()
        return CacheInfo(self.root, len(entries), sum(s for _, s, _ in entries), self.max_bytes)

    def clear(self) -> int:
        """Delete every entry, stale temporary file and unheld lock file; returns entries deleted.

        Only inside a folder the cache marked as its own (:meth:`ensure_folder`), and only files named
        as the cache names them; a folder that does not exist holds nothing to delete (returns 0).

        Raises:
            NotACacheFolderError: :attr:`root` exists but has no cache marker (nothing is deleted).
        """
        if not self.root.exists():
            return 0
        self._require_marker("clear it")
        removed = 0
        for _, _, path in self._entries():
            path.unlink(missing_ok=True)
            Path(f"{path}.sha256").unlink(missing_ok=True)
            removed += 1
        for tmp in (self.root / "tmp").glob("*.tmp"):
            if tmp.is_file() and not tmp.is_symlink():
                tmp.unlink(missing_ok=True)
        for lock in (self.root / "locks").glob("*.lock"):
            if lock.is_file() and not lock.is_symlink() and not is_locked(lock):
                lock.unlink(missing_ok=True)
        return removed
