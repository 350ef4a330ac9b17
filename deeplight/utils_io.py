"""Small file helpers shared by every writer: atomic writes and content hashes."""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path


@contextlib.contextmanager
def atomic_path(final: str | os.PathLike[str], suffix: str | None = None) -> Iterator[Path]:
    """Yield a temporary path beside ``final``; rename it onto ``final`` only if the block succeeds.

    The temporary file lives in the same folder (same file system, so the rename is atomic) and is
    removed on any error, so a crash never leaves a half-written file under the final name.

    Raises:
        PermissionError / OSError: the folder is not writable (the message names it).
    """
    final = Path(final)
    folder = final.parent if str(final.parent) else Path(".")
    folder.mkdir(parents=True, exist_ok=True)
    if not os.access(folder, os.W_OK):
        raise PermissionError(f"cannot write to folder {folder}: choose a writable output folder")
    fd, tmp = tempfile.mkstemp(prefix=f".{final.name}.", suffix=suffix or final.suffix + ".tmp", dir=folder)
    os.close(fd)
    tmp_path = Path(tmp)
    umask = os.umask(0)
    os.umask(umask)
    os.chmod(tmp_path, 0o666 & ~umask)  # mkstemp makes 0600; give the final file ordinary permissions
    try:
        yield tmp_path
        os.replace(tmp_path, final)
    except BaseException:
        tmp_path.unlink(missing_ok=True)
        raise


def atomic_write_bytes(final: str | os.PathLike[str], data: bytes) -> None:
    """Write ``data`` to ``final`` atomically (temp file, fsync, rename)."""
    with atomic_path(final) as tmp:
        with open(tmp, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())


def atomic_write_text(final: str | os.PathLike[str], text: str) -> None:
    """Write UTF-8 ``text`` to ``final`` atomically."""
    atomic_write_bytes(final, text.encode("utf-8"))


def sha256_file(path: str | os.PathLike[str], chunk: int = 1 << 20) -> str:
    """Hex SHA-256 of a file's bytes, read in chunks."""
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(chunk), b""):
            digest.update(block)
    return digest.hexdigest()


def read_json(path: str | os.PathLike[str]) -> object:
    """Parse a JSON file; a corrupt or unreadable one raises an error that names it.

    Raises:
        DeepLightError: the file is not valid UTF-8 JSON (message names the file and what to do).
    """
    from deeplight.errors import DeepLightError

    try:
        return json.loads(Path(path).read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise DeepLightError(f"{path} is not valid JSON ({exc}): restore it or remove it and re-create it") from exc


# -- outputs must never replace inputs ---------------------------------------------------------
SHAPEFILE_PARTS = (".shx", ".dbf", ".prj", ".cpg", ".qix", ".sbn", ".sbx")
FILE_KINDS = ("file", "checkpoint", "csv", "table", "shapefile")
"""How a path implies the files beside it (see :func:`implied_files`)."""


def implied_files(path: str | os.PathLike[str], kind: str | None = None) -> list[tuple[Path, str]]:
    """The files a path stands for: the file itself plus the sidecars read or written beside it.

    Args:
        path: a file (or a stem, for ``checkpoint`` and ``table``).
        kind: ``"checkpoint"`` (``x``, ``x.safetensors`` or ``x.json`` -> both files, docs/CONTRACTS.md),
            ``"csv"`` (indicator CSV + its ``.json`` sidecar), ``"table"`` (a stem -> ``.csv`` + ``.md``),
            ``"shapefile"`` (``.shp`` + ``.shx``/``.dbf``/``.prj``/...), ``"file"`` (just the file); None:
            guessed from the suffix (``.safetensors`` -> checkpoint, ``.csv`` -> csv, ``.shp`` ->
            shapefile, else file). Every file also implies its ``<file>.sha256`` hash sidecar.

    Returns:
        ``[(absolute path, what it is), ...]``, the given file first.
    """
    p = Path(os.path.expanduser(os.fspath(path)))
    suffix = p.suffix.lower()
    if kind is None:
        kind = {".safetensors": "checkpoint", ".csv": "csv", ".shp": "shapefile"}.get(suffix, "file")
    if kind not in FILE_KINDS:
        raise ValueError(f"unknown file kind {kind!r}; one of {FILE_KINDS}")
    found: list[tuple[Path, str]]
    if kind == "checkpoint":
        stem = p.with_suffix("") if suffix in (".safetensors", ".json") else p
        parts = [(stem.with_suffix(".safetensors"), "weights"), (stem.with_suffix(".json"), "metadata sidecar")]
        found = [(p, "file")] + [(f, what) for f, what in parts if f != p]
    elif kind == "table":
        found = [(p.with_suffix(".csv"), "CSV table"), (p.with_suffix(".md"), "Markdown table")]
    else:
        found = [(p, "file")]
        if kind == "csv":
            found.append((p.with_suffix(".json"), "JSON sidecar"))
        elif kind == "shapefile":
            found += [(p.with_suffix(s), f"{s} part") for s in SHAPEFILE_PARTS]
    found += [(Path(f"{f}.sha256"), "hash sidecar") for f, _ in list(found)]
    return [(_absolute(f), what) for f, what in found]


def _absolute(path: Path) -> Path:
    try:
        return Path(os.path.abspath(path)).resolve()
    except (OSError, RuntimeError):  # a symlink loop or an unreadable folder: compare as written
        return Path(os.path.abspath(path))


def _same_file(a: Path, b: Path) -> bool:
    if a == b:
        return True
    try:
        return os.path.samefile(a, b)  # hard links, bind mounts
    except OSError:
        return False


def _specs(group: object) -> list[tuple[str, Path, str | None]]:
    items = group.items() if hasattr(group, "items") else ((None, value) for value in group)  # type: ignore[union-attr]
    out = []
    for label, spec in items:
        if spec is None or spec == "":
            continue
        path, kind = spec if isinstance(spec, tuple) else (spec, None)
        if path is None or path == "":
            continue
        out.append((str(label) if label is not None else str(path), Path(os.fspath(path)), kind))
    return out


def _describe(label: str, what: str, file: Path) -> str:
    return f"{label} ({file})" if what == "file" else f"the {what} of {label} ({file})"


def check_outputs_distinct(inputs: object, outputs: object) -> None:
    """Refuse a command whose outputs would replace one of its inputs (or another of its outputs).

    Paths are made absolute and resolved (symlinks followed, hard links detected), and each one is
    expanded into the files it implies (:func:`implied_files`: a checkpoint's ``.json``, a CSV's
    ``.json`` sidecar, a shapefile's parts, hash sidecars), so ``--out <the checkpoint>`` or
    ``--geo <the CSV's JSON sidecar>`` is caught before anything is read or written.

    Args:
        inputs: ``{label: path}`` (label as the user knows it, e.g. ``"--checkpoint"``) or a list of
            paths; a value may be ``(path, kind)`` with a kind of :func:`implied_files`; None is skipped.
        outputs: the same, for the files the command writes.

    Raises:
        ConfigError: an output file (or a sidecar it implies) is an input file or one of its sidecars,
            or two outputs would write the same file. The message names both and what to do.
    """
    from deeplight.errors import ConfigError

    expanded_inputs = [
        (label, what, file) for label, path, kind in _specs(inputs) for file, what in implied_files(path, kind)
    ]
    seen_outputs: list[tuple[str, str, Path]] = []
    for out_label, out_path, out_kind in _specs(outputs):
        own: dict[Path, str] = {}
        for out_file, out_what in implied_files(out_path, out_kind):
            if out_file in own:
                raise ConfigError(
                    f"{out_label} {out_path}: its {out_what} would be "
                    + ("the file itself" if own[out_file] == "file" else f"the same file as its {own[out_file]}")
                    + f" ({out_file}); give {out_label} another name or suffix"
                )
            own[out_file] = out_what
            for in_label, in_what, in_file in expanded_inputs:
                if _same_file(out_file, in_file):
                    raise ConfigError(
                        f"output {_describe(out_label, out_what, out_file)} is one of the inputs: it would "
                        f"replace input {_describe(in_label, in_what, in_file)}; choose another path for "
                        f"{out_label} (no output may overwrite an input)"
                    )
            for other_label, other_what, other_file in seen_outputs:
                if other_label != out_label and _same_file(out_file, other_file):
                    raise ConfigError(
                        f"outputs {other_label} and {out_label} would both write {out_file}: "
                        f"choose different paths for {other_label} and {out_label}"
                    )
            seen_outputs.append((out_label, out_what, out_file))


# -- outputs are checked before anything is written ----------------------------------------------
def check_output_path(path: str | os.PathLike[str], label: str = "--out", *, suffixes: tuple[str, ...] = ()) -> None:
    """Refuse an output path that cannot be written, before any work and without creating anything.

    Checks: not an existing folder; the suffix is one of ``suffixes`` (when given); the nearest existing
    folder above it is a folder (not a file) and writable (``os.access``, which also sees read-only
    mounts). Missing folders are fine: the writer creates them.

    Raises:
        ConfigError: naming the option, the path and what to do.
    """
    from deeplight.errors import ConfigError

    p = Path(os.path.expanduser(os.fspath(path)))
    if suffixes and p.suffix.lower() not in suffixes:
        raise ConfigError(
            f"{label} {p}: unsupported output type {p.suffix or '(no suffix)'}; use a file name ending in "
            f"{' or '.join(suffixes)}"
        )
    if p.is_dir():
        raise ConfigError(f"{label} {p} is a folder; give a file name inside it")
    existing = p.parent if str(p.parent) else Path(".")
    while not existing.exists() and existing != existing.parent:
        existing = existing.parent
    if not existing.is_dir():
        raise ConfigError(f"{label} {p}: {existing} is a file, not a folder; choose another output path")
    if not os.access(existing, os.W_OK | os.X_OK):
        raise ConfigError(
            f"{label} {p}: the folder {existing} is not writable (read-only or no permission); choose a "
            "writable output folder"
        )


# -- hash sidecars (``<file>.sha256``) ------------------------------------------------------------
def hash_sidecar(path: str | os.PathLike[str]) -> Path:
    """``<file>.sha256``: where the SHA-256 of ``path`` is recorded."""
    return Path(f"{os.fspath(path)}.sha256")


def read_hash_sidecar(path: str | os.PathLike[str]) -> list[str] | None:
    """The digests recorded for ``path`` (one or, during a replacement, two), or None without a sidecar."""
    sidecar = hash_sidecar(path)
    try:
        text = sidecar.read_text(encoding="ascii")
    except FileNotFoundError:
        return None
    except (OSError, UnicodeDecodeError):
        return []
    return [line.split()[0].lower() for line in text.splitlines() if line.strip()]


def replace_with_hash(staged: str | os.PathLike[str], final: str | os.PathLike[str]) -> str:
    """Rename a fully written ``staged`` file onto ``final`` and record its SHA-256 in ``<final>.sha256``.

    Crash-safe in every step: the sidecar first lists the new digest *and* the one of the file being
    replaced, then the rename happens, then the sidecar keeps only the new digest; at any moment the
    file under ``final`` matches a digest in its sidecar. Returns the new digest.
    """
    final = Path(final)
    digest = sha256_file(staged)
    previous = read_hash_sidecar(final) or []
    if not previous and final.exists():
        previous = [sha256_file(final)]
    atomic_write_text(hash_sidecar(final), "\n".join([digest, *[d for d in previous if d != digest][:1]]) + "\n")
    os.replace(staged, final)
    atomic_write_text(hash_sidecar(final), f"{digest}  {final.name}\n")
    return digest


# -- settings that point at data ------------------------------------------------------------------
DATA_DIR_ENV = "DEEPLIGHT_DATA_DIR"


def default_data_dir() -> Path:
    """``$DEEPLIGHT_DATA_DIR``, else ``../shared/data`` beside the repository."""
    env = os.environ.get(DATA_DIR_ENV)
    if env:
        return Path(env)
    return Path(__file__).resolve().parents[1].parent / "shared" / "data"
DATA_DIR_ENTRIES = ("shanghai", "cote_divoire", "touggourt", "naturalearth_lowres", "real_hr")
"""Folders of the shared data layout (``../shared/data``); at least one must be there."""


def data_dir_problem(environ: dict[str, str] | None = None) -> str | None:
    """What is wrong with ``DEEPLIGHT_DATA_DIR``, or None when it is unset or looks right.

    The variable must name a folder with the layout of the shared sample data (``shanghai/``,
    ``cote_divoire/``, ``touggourt/``, ``naturalearth_lowres/``, ``real_hr/``); a wrong value used to
    be ignored silently, so the real data sets were just missing.
    """
    value = (os.environ if environ is None else environ).get(DATA_DIR_ENV, "").strip()
    if not value:
        return None
    folder = Path(os.path.expanduser(value))
    expects = (
        f"it must name the folder of the shared sample data, which holds {', '.join(DATA_DIR_ENTRIES[:4])}/ or "
        f"{DATA_DIR_ENTRIES[4]}/ (the layout of ../shared/data beside the repository); unset it to use only "
        "the built-in demo"
    )
    if not folder.exists():
        return f"{DATA_DIR_ENV}={value!r} does not exist: {expects}"
    if not folder.is_dir():
        return f"{DATA_DIR_ENV}={value!r} is a file, not a folder: {expects}"
    if not any((folder / name).is_dir() for name in DATA_DIR_ENTRIES):
        return f"{DATA_DIR_ENV}={value!r} holds none of the expected folders: {expects}"
    return None
