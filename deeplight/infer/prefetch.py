"""Reading the next batches of tiles while the model computes the current one.

:class:`Prefetcher` runs an iterator (the tile reader of :func:`deeplight.infer.tiled.run_tiled`) in a
background thread and hands its items over through a bounded queue, so GDAL's decoding and the
numpy work of reading tile ``k + 1`` overlap the model's work on tile ``k`` (both release the GIL for
their heavy parts). At most ``depth`` items wait in the queue, plus the one the thread is producing,
so memory stays bounded by a few batches. Items come out in order; an exception raised by the iterator
is raised by the consumer at the same position; :meth:`Prefetcher.close` stops the thread early.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Iterable, Iterator
from typing import Generic, TypeVar

T = TypeVar("T")

_DONE = object()


class _Raised:
    def __init__(self, exc: BaseException) -> None:
        self.exc = exc


class Prefetcher(Generic[T]):
    """Iterate ``items`` in a daemon thread, at most ``depth`` items ahead of the consumer.

    Args:
        items: any iterable; it is iterated in the background thread only (a generator's own state,
            e.g. the tile claims of ``run_tiled``, is touched by that thread alone while it runs).
        depth: items read ahead and waiting (>= 1).
        name: thread name (for debuggers and logs).
    """

    def __init__(self, items: Iterable[T], depth: int = 1, name: str = "deeplight-prefetch") -> None:
        if depth < 1:
            raise ValueError(f"depth must be at least 1 (got {depth})")
        self._items = iter(items)
        self._queue: queue.Queue = queue.Queue(maxsize=depth)
        self._stop = threading.Event()
        self._finished = False
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)
        self._thread.start()

    def _put(self, item: object) -> bool:
        while not self._stop.is_set():
            try:
                self._queue.put(item, timeout=0.05)
                return True
            except queue.Full:
                continue
        return False

    def _run(self) -> None:
        try:
            for item in self._items:
                if self._stop.is_set() or not self._put(item):
                    return
        except BaseException as exc:  # handed to the consumer, raised there
            self._put(_Raised(exc))
            return
        self._put(_DONE)

    def __iter__(self) -> Iterator[T]:
        return self

    def __next__(self) -> T:
        if self._finished:
            raise StopIteration
        item = self._queue.get()
        if item is _DONE:
            self._finished = True
            self._thread.join()
            raise StopIteration
        if isinstance(item, _Raised):
            self._finished = True
            self._thread.join()
            raise item.exc
        return item

    def close(self) -> None:
        """Stop reading ahead, wait for the thread, and close the underlying iterator (its ``finally``
        blocks run)."""
        self._stop.set()
        self._finished = True
        while self._thread.is_alive():
            try:
                self._queue.get(timeout=0.05)
            except queue.Empty:
                pass
        self._thread.join()
        close = getattr(self._items, "close", None)
        if close is not None:
            close()

    def __del__(self) -> None:  # a consumer that forgot close() must not leave the thread blocked
        self._stop.set()
