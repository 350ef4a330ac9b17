"""Inter-process file locks (advisory ``flock`` on POSIX, ``msvcrt.locking`` on Windows).

Each :func:`file_lock` call opens its own file descriptor, so the lock also excludes other threads of
the same process (``flock`` locks belong to the open file description).
"""

from __future__ import annotations

import contextlib
import os
import time
from collections.abc import Iterator
from pathlib import Path

try:
    import fcntl
except ImportError:  # pragma: no cover - Windows
    fcntl = None  # type: ignore[assignment]
    import msvcrt


class LockTimeout(TimeoutError):
    """The lock was not obtained within the timeout."""


def _try_lock(fd: int, shared: bool) -> bool:
    if fcntl is not None:
        try:
            fcntl.flock(fd, (fcntl.LOCK_SH if shared else fcntl.LOCK_EX) | fcntl.LOCK_NB)
            return True
        except BlockingIOError:
            return False
    try:  # pragma: no cover - Windows has no shared locks here
        msvcrt.locking(fd, msvcrt.LK_NBLCK, 1)
        return True
    except OSError:  # pragma: no cover
        return False


def _unlock(fd: int) -> None:
    if fcntl is not None:
        fcntl.flock(fd, fcntl.LOCK_UN)
    else:  # pragma: no cover
        os.lseek(fd, 0, os.SEEK_SET)
        msvcrt.locking(fd, msvcrt.LK_UNLCK, 1)


@contextlib.contextmanager
def file_lock(
    path: str | os.PathLike[str], *, shared: bool = False, timeout: float | None = None, poll: float = 0.05
) -> Iterator[None]:
    """Hold an exclusive (or shared) lock on ``path`` (created if missing) for the block.

    Args:
        path: the lock file.
        shared: a reader lock that coexists with other shared holders.
        timeout: seconds to wait; None waits forever.
        poll: seconds between attempts.

    Raises:
        LockTimeout: not obtained within ``timeout``.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o666)
    try:
        deadline = None if timeout is None else time.monotonic() + timeout
        while not _try_lock(fd, shared):
            if deadline is not None and time.monotonic() >= deadline:
                raise LockTimeout(f"lock {path} still held by another process after {timeout} s")
            time.sleep(poll)
        try:
            yield
        finally:
            _unlock(fd)
    finally:
        os.close(fd)


def is_locked(path: str | os.PathLike[str]) -> bool:
    """True when another holder has an exclusive or shared lock on ``path`` right now."""
    if not Path(path).exists():
        return False
    fd = os.open(path, os.O_RDWR)
    try:
        if _try_lock(fd, shared=False):
            _unlock(fd)
            return False
        return True
    finally:
        os.close(fd)
