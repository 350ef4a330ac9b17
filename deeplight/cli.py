"""The ``deeplight`` command: dispatches to the command groups that each package registers.

Each group lives beside the code it drives (``deeplight/<package>/cli.py``) and exposes
``register(subparsers)``, which adds its sub-commands and sets ``func`` on their parsers.

Errors: bad input of any kind - DeepLight's own errors, but also operating-system errors (a missing,
read-only or full output folder), MemoryError, invalid CRS strings, raster-library and YAML errors,
non-finite numbers, wrong value types - end with one line ``deeplight: error: ...`` on stderr naming
the file or field and what to do, and exit status 2. ``deeplight --debug ...`` (or
``DEEPLIGHT_DEBUG=1``) also prints the full traceback. Warnings (tolerated input, e.g. clipped
radiance noise) are one line ``deeplight: warning: ...``; a ``DEEPLIGHT_DATA_DIR`` that is not the
shared data folder is reported the same way before the command runs.
"""

from __future__ import annotations

import argparse
import errno
import logging
import os
import sys
import traceback
import warnings
from collections.abc import Sequence

from deeplight import __version__
from deeplight.errors import DeepLightError
from deeplight.runtime import prepare_process

LOG_LEVELS = ("debug", "info", "warning", "error")
EXIT_ERROR = 2
"""Exit status of every error answered with a message (the same as argparse's usage errors)."""
EXIT_INTERRUPTED = 130
DEBUG_HINT = "run `deeplight --debug ...` for the full traceback"


def build_parser() -> argparse.ArgumentParser:
    """The full argument parser with every registered command group."""
    parser = argparse.ArgumentParser(
        prog="deeplight",
        description="Reconstruct high-resolution night-time lights and derive SDG indicators.",
    )
    parser.add_argument("--version", action="version", version=f"deeplight {__version__}")
    parser.add_argument(
        "--debug",
        action="store_true",
        default=os.environ.get("DEEPLIGHT_DEBUG", "").strip() not in ("", "0"),
        help="print the full traceback of an error (also DEEPLIGHT_DEBUG=1)",
    )
    parser.add_argument(
        "--log-level",
        choices=LOG_LEVELS,
        default=os.environ.get("DEEPLIGHT_LOG_LEVEL", "warning").strip().lower() or "warning",
        help="messages of the library's loggers shown on stderr (default warning; also DEEPLIGHT_LOG_LEVEL)",
    )
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    # the command groups live beside the code they drive; imported here, in --help order
    from deeplight.data import cli as data_cli
    from deeplight.eval import cli as eval_cli
    from deeplight.infer import cli as infer_cli
    from deeplight.models import cli as models_cli
    from deeplight.sdg import cli as sdg_cli
    from deeplight.train import cli as train_cli

    for group in (data_cli, models_cli, train_cli, eval_cli, infer_cli, sdg_cli):
        group.register(subparsers)
    return parser


def configure_logging(level: str) -> None:
    """Send the ``deeplight.*`` loggers to stderr at ``level`` (progress bars stay on tqdm)."""
    if level not in LOG_LEVELS:
        raise DeepLightError(f"--log-level {level!r} (or DEEPLIGHT_LOG_LEVEL) must be one of {', '.join(LOG_LEVELS)}")
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("deeplight: %(levelname)s: %(name)s: %(message)s"))
    logger = logging.getLogger("deeplight")
    logger.handlers[:] = [handler]
    logger.setLevel(level.upper())
    logger.propagate = False


def _output_hint(args: argparse.Namespace) -> str:
    out = getattr(args, "out", None)
    return f" (--out {out})" if out else ""


def _config_hint(args: argparse.Namespace) -> str:
    config = getattr(args, "config", None)
    return f" in {config} (or its --set overrides)" if config else " in the arguments"


def _crs_fields(args: argparse.Namespace) -> str:
    fields = [
        f"--{name.replace('_', '-')} {value!r}"
        for name, value in sorted(vars(args).items())
        if "crs" in name.lower() and isinstance(value, str) and value
    ]
    return f" ({', '.join(fields)})" if fields else ""


def _input_names(args: argparse.Namespace) -> list[str]:
    """File names among the arguments that exist on disk (what the command reads), outputs excluded."""
    names = []
    for key, value in vars(args).items():
        if key in ("out", "geo", "func") or key.startswith("_"):
            continue
        for item in value if isinstance(value, (list, tuple)) else [value]:
            if isinstance(item, (str, os.PathLike)) and item and os.path.isfile(item):
                names.append(os.fspath(item))
    return names


def _inputs_hint(args: argparse.Namespace) -> str:
    names = _input_names(args)
    return f" (input{'s' if len(names) > 1 else ''}: {', '.join(names)})" if names else ""


def _details(exc: BaseException) -> list[str]:
    """The messages of an exception and of its causes, most specific (deepest) first, without GDAL's
    "See previous exception" placeholders."""
    chain, seen = [], set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        chain.append(current)
        current = current.__cause__ or current.__context__
    texts = [" ".join(str(e).split()) for e in reversed(chain)]
    return [t for t in dict.fromkeys(texts) if t and "see previous exception" not in t.lower()]


def _os_error_message(exc: OSError, args: argparse.Namespace) -> str:
    """One line for an operating-system error: what happened to which file and what to do."""
    name = exc.filename if exc.filename is not None else None
    target = f" {name}" if name is not None else _output_hint(args)
    if exc.filename2 is not None:
        target += f" -> {exc.filename2}"
    code = exc.errno
    if code == errno.ENOSPC or "no space left" in str(exc).lower():
        return f"no space left on the device while writing{target or ' the output'}: free space or choose another --out"
    if code == errno.EDQUOT:
        return f"disk quota exceeded while writing{target}: free space or choose another --out"
    if code == errno.EROFS:
        return f"read-only file system:{target} cannot be written; choose a writable output folder (--out)"
    if isinstance(exc, PermissionError) or code in (errno.EACCES, errno.EPERM):
        return f"permission denied:{target}; choose a file/folder you may read or write, or fix its permissions"
    if isinstance(exc, FileNotFoundError):
        return f"no such file or directory:{target}; check the path"
    if isinstance(exc, IsADirectoryError):
        return f"{target.strip()} is a folder, a file was expected; give a file path"
    if isinstance(exc, NotADirectoryError):
        return f"{target.strip()}: a part of this path is a file, not a folder; check the path"
    if code == errno.ENAMETOOLONG:
        return f"file name too long:{target}; choose a shorter path"
    if code == errno.EMFILE or code == errno.ENFILE:
        return f"too many open files while opening{target}: raise the limit (ulimit -n) or use fewer workers"
    reason = exc.strerror or str(exc) or type(exc).__name__
    return f"{reason}:{target or ' (no file named)'}; check the path, the folder's permissions and free space"


def error_message(exc: BaseException, args: argparse.Namespace) -> str | None:
    """The ``deeplight: error:`` text for an exception, or None for an unexpected one (a bug)."""
    import yaml
    from pyproj.exceptions import CRSError as ProjCRSError
    from rasterio.errors import CRSError as RasterioCRSError

    from deeplight.io.cog import RASTER_LIB_ERRORS

    if isinstance(exc, DeepLightError):
        return str(exc)
    if isinstance(exc, (ProjCRSError, RasterioCRSError)):
        return (
            f"invalid CRS{_crs_fields(args)}: {exc}; give an EPSG code such as EPSG:4326, a WKT or a "
            "PROJ string"
        )
    if isinstance(exc, RASTER_LIB_ERRORS):  # before OSError: RasterioIOError is both
        details = _details(exc)
        if any("no space left" in d.lower() for d in details):
            return (
                f"no space left on the device while writing{_output_hint(args) or ' the output'}: "
                "free space or choose another --out"
            )
        named = [d for d in details if any(name in d for name in _input_names(args))]
        detail = (named or details or [type(exc).__name__])[0]
        files = "" if named else _inputs_hint(args)
        return (
            f"a raster could not be read or written ({detail}){files}: check that each raster is a complete, "
            "readable GeoTIFF (`deeplight data info FILE`; a truncated or damaged file must be "
            "copied again) and that the output folder is writable"
        )
    if isinstance(exc, OSError):
        if getattr(exc, "errno", None) is None and not exc.filename and str(exc):
            return str(exc)  # an OSError raised with a message of our own (it names the file)
        return _os_error_message(exc, args)
    if isinstance(exc, MemoryError):
        return (
            f"not enough memory for this input{_inputs_hint(args)}: crop the input to the area you "
            "need, use smaller tiles (--tile) or a smaller batch (--batch-size), or a machine with more memory"
        )
    if isinstance(exc, yaml.YAMLError):
        where = getattr(args, "config", None) or "a YAML file"
        return f"{where} is not valid YAML ({' '.join(str(exc).split())}): fix the syntax"
    if isinstance(exc, UnicodeDecodeError):
        return f"a text input is not UTF-8 ({exc}); save it as UTF-8" + (
            f" (config: {args.config})" if getattr(args, "config", None) else ""
        )
    if isinstance(exc, ValueError):
        return str(exc) or f"invalid value{_config_hint(args)}"
    if isinstance(exc, ArithmeticError):
        return f"{exc}: check the numbers{_config_hint(args)} (a value may be non-finite, zero or out of range)"
    if isinstance(exc, TypeError):
        return f"a value has the wrong type ({exc}): check the values{_config_hint(args)}"
    return None


def _show_warning(message, category, filename, lineno, file=None, line=None) -> None:  # noqa: ARG001
    """Warnings of a command as one line ``deeplight: warning: ...`` (no source line)."""
    text = " ".join(str(message).split())
    try:
        print(f"deeplight: warning: {text}", file=sys.stderr if file is None else file)
    except (OSError, ValueError):
        pass


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the console script; returns the exit status."""
    # First, before any command imports torch: passive OpenMP waits (unless the user chose a policy)
    # and glibc malloc thresholds (deeplight.runtime; torch's thread count is set per command)
    prepare_process()
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        configure_logging(args.log_level)
    except DeepLightError as exc:  # a bad DEEPLIGHT_LOG_LEVEL (argparse checks only --log-level)
        print(f"deeplight: error: {exc}", file=sys.stderr)
        return EXIT_ERROR
    if not getattr(args, "func", None):
        parser.print_help()
        return 1
    from deeplight.utils_io import data_dir_problem

    problem = data_dir_problem()
    if problem:
        print(f"deeplight: warning: {problem}", file=sys.stderr)
    try:
        with warnings.catch_warnings():
            warnings.showwarning = _show_warning
            result = args.func(args)
    except KeyboardInterrupt:
        if args.debug:
            traceback.print_exc()
        print("deeplight: interrupted (outputs are only renamed into place when complete)", file=sys.stderr)
        return EXIT_INTERRUPTED
    except BrokenPipeError:  # `deeplight ... | head`: the reader left; not an error of ours
        try:
            sys.stdout = open(os.devnull, "w")  # noqa: SIM115 - so that the exit flush stays quiet
        except OSError:
            pass
        return 141
    except Exception as exc:  # noqa: BLE001 - every failure ends with one clear line, traceback on --debug
        if args.debug:
            traceback.print_exc()
        message = error_message(exc, args)
        if message is None:
            message = (
                f"unexpected {type(exc).__name__}: {exc}; this looks like a bug in deeplight: "
                f"{DEBUG_HINT} and report it"
            )
        elif isinstance(exc, (TypeError, ArithmeticError)) and not args.debug:
            message += f" [{type(exc).__name__}; {DEBUG_HINT}]"
        print(f"deeplight: error: {message}", file=sys.stderr)
        return EXIT_ERROR
    return int(result or 0)


if __name__ == "__main__":
    raise SystemExit(main())
