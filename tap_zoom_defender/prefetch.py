"""Fetch independent listings concurrently; hand their records back in order, in bounded memory.

The SDK fetches one page at a time, so a 7-day backfill at 150 ms per request uses a fraction of
the account's Heavy budget. Zoom's listings (one per day window, one per user status) are
independent, but each one pages strictly in sequence (``next_page_token``), so the only way to
use the budget is several listings in flight at once. The Singer side must not notice:

* records still leave through the ONE thread the SDK writes from (the *consumer*), listing by
  listing in plan order, so state stays resumable at completed windows;
* each listing's records go to a :class:`Spool`: kept in RAM up to ``memory_records``, then
  pickled to an anonymous temp file (deleted by the OS when closed), so listings fetched ahead of
  the one being emitted never pile up in RAM;
* at most ``lookahead`` listings beyond the oldest unreleased one are started, which bounds the
  disk used too;
* an error in a worker (``QuotaExhausted``, ``ZoomTapError``, anything) is stored in that
  listing's spool and raised on the consumer thread when it reaches that listing, after the
  records fetched before it: the same order of events as the one-request-at-a-time path;
* the first page of the first listing is fetched alone: a bad token, a missing scope or a spent
  quota then costs one request, not one per worker, and its latency sizes the pool
  (:func:`pool_size`);
* every stream's prefetcher may run from the start of the sync (the tap starts them all before
  the SDK emits the first stream), so listings of streams that share a rate budget take turns
  through one :class:`ListingSlots` per rate category: at most as many listings in flight as one
  stream alone would use, and the stream the SDK emits first is served first.

Workers only *fetch*; every request still goes through the stream's governed request path (and
so through the process-wide rate governor). ``workers=1`` is the plain sequential path: no
thread, each page requested only when the consumer needs it.
"""

from __future__ import annotations

import heapq
import itertools
import math
import os
import pickle
import tempfile
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

from singer_sdk import typing as th

from tap_zoom_defender.graceful_stop import STOP, StopRequested

T = TypeVar("T")
Segment = tuple[int, list]
"""``(tag, records)``: a batch of records and the window (tag) they belong to."""

DEFAULT_MEMORY_RECORDS = 2400
"""Records a spool keeps in RAM before it writes to its temp file (8 pages of 300)."""

MAX_POOL_SIZE = 32
DEFAULT_MAX_WORKERS = 8


def config_properties() -> list[th.Property]:
    """Return the concurrency setting for the tap's config schema."""
    return [
        th.Property(
            "max_workers",
            th.IntegerType,
            default=DEFAULT_MAX_WORKERS,
            description=(
                "Most listings (report windows, user statuses) fetched at once, 1 to "
                f"{MAX_POOL_SIZE}. The tap uses fewer when the rate budget times the measured "
                "latency needs fewer. 1 = one request at a time (the SDK's way). Requests are "
                "paced by the rate governor either way."
            ),
        )
    ]


def check_config(config: Mapping[str, Any]) -> list[str]:
    """Problems with the concurrency setting, one sentence each naming it."""
    value = config.get("max_workers")
    if value is None:
        return []
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= MAX_POOL_SIZE:
        return [f"max_workers={value!r} must be a whole number from 1 to {MAX_POOL_SIZE}"]
    return []


def pool_size(
    *, budget_per_second: float, latency_s: float, max_workers: int, listings: int
) -> int:
    """Workers needed to keep ``budget_per_second`` requests in flight at ``latency_s`` each.

    Little's law: requests in flight = rate x time per request. The time per request seen by one
    worker is the latency plus its share of the client work (parsing, keying), so 50% headroom
    and one spare; never more workers than listings, never more than ``max_workers``.
    """
    wanted = math.ceil(budget_per_second * max(latency_s, 0.0) * 1.5) + 1
    return max(1, min(max_workers, listings, max(2, wanted)))


class ListingSlots:
    """How many listings of one rate category are paged at once, across every stream's pool.

    Each stream sizes its pool for the whole budget (Little's law, :func:`pool_size`), since it
    may end up alone in the category; several streams started together would then keep twice
    the requests in flight that the budget can admit. A worker holds a slot while it pages a
    listing; there are as many slots as the budget can keep busy (the largest figure a stream
    gave :meth:`widen`). Waiting workers are served by priority, ``(stream's turn in the sync,
    listing index)``, so the stream being emitted is never starved by one only fetching ahead.
    """

    def __init__(self) -> None:
        """No slots until a pool calls :meth:`widen`."""
        self.capacity = 0
        self._busy = 0
        self._waiting: list[tuple[tuple[int, int], int]] = []
        self._tickets = itertools.count()
        self._cond = threading.Condition()

    def widen(self, capacity: int) -> None:
        """Allow at least ``capacity`` listings at once (a pool of that size was started)."""
        with self._cond:
            if capacity > self.capacity:
                self.capacity = capacity
                self._cond.notify_all()

    def acquire(self, priority: tuple[int, int], cancelled: threading.Event) -> bool:
        """Wait for a slot (lowest ``priority`` first); False if ``cancelled`` was set meanwhile."""
        with self._cond:
            entry = (priority, next(self._tickets))
            heapq.heappush(self._waiting, entry)
            try:
                while not cancelled.is_set() and (
                    self._busy >= self.capacity or self._waiting[0] != entry
                ):
                    self._cond.wait()
                if cancelled.is_set():
                    return False
                self._busy += 1
                return True
            finally:
                self._waiting.remove(entry)
                heapq.heapify(self._waiting)
                self._cond.notify_all()

    def release(self) -> None:
        """Give a slot back (the listing is finished, failed or cancelled)."""
        with self._cond:
            self._busy -= 1
            self._cond.notify_all()

    def wake(self) -> None:
        """Let waiters re-check their cancel flag."""
        with self._cond:
            self._cond.notify_all()


@dataclass
class _Entry:
    tag: int
    records: list | None  # in RAM, or None when spilled
    offset: int = 0
    length: int = 0
    taken: bool = False


@dataclass
class Spool:
    """The records of one listing, in fetch order, in RAM up to a limit and on disk beyond it.

    One producer (a worker, or the consumer itself in sequential mode) appends segments; the
    consumer takes them in order, filtered by tag, blocking until the listing is finished.
    """

    memory_records: int = DEFAULT_MEMORY_RECORDS
    _entries: list[_Entry] = field(default_factory=list)
    _in_memory: int = 0
    _file: Any = None
    _size: int = 0
    _done: bool = False
    _error: BaseException | None = None
    _cond: threading.Condition = field(default_factory=threading.Condition)
    _pull: Callable[[], bool] | None = None  # sequential mode: fetch one more page
    _closed: bool = False
    spilled_records: int = 0

    def put(self, tag: int, records: list) -> None:
        """Append one segment (producer side); dropped once the spool is closed."""
        if not records:
            return
        with self._cond:
            if self._closed:  # a worker finishing its page after close(): no new temp file
                return
            if self._in_memory + len(records) <= self.memory_records:
                self._entries.append(_Entry(tag, records))
                self._in_memory += len(records)
            else:
                data = pickle.dumps(records, protocol=pickle.HIGHEST_PROTOCOL)
                if self._file is None:
                    self._file = tempfile.TemporaryFile(prefix="tap-zoom-spool-")
                os.pwrite(self._file.fileno(), data, self._size)
                self._entries.append(_Entry(tag, None, self._size, len(data)))
                self._size += len(data)
                self.spilled_records += len(records)
            self._cond.notify_all()

    def finish(self, error: BaseException | None = None) -> None:
        """Mark the listing complete (or failed with ``error``, raised to the consumer)."""
        with self._cond:
            self._done = True
            self._error = error
            self._cond.notify_all()

    @property
    def done(self) -> bool:
        """True once the producer finished (successfully or not)."""
        return self._done

    @property
    def drained(self) -> bool:
        """True once the listing is finished and every segment was taken."""
        with self._cond:
            return self._done and all(entry.taken for entry in self._entries)

    def take(self, wanted: Callable[[int], bool]) -> Iterator[list]:
        """Yield the record batches whose tag is ``wanted``, in order, until the listing ends.

        Segments with other tags stay for a later call. Raises the producer's error (after
        yielding everything fetched before it).
        """
        index = 0
        while True:
            with self._cond:
                while index >= len(self._entries) and not self._done:
                    if self._pull is not None:
                        break
                    with STOP.interruptible():  # waiting for a worker's page
                        self._cond.wait()
                if index >= len(self._entries) and self._done:
                    if self._error is not None:
                        raise self._error
                    return
                entry = self._entries[index] if index < len(self._entries) else None
            if entry is None:  # sequential mode: fetch the next page on this thread
                assert self._pull is not None
                if not self._pull():
                    self.finish()
                continue
            index += 1
            if entry.taken or not wanted(entry.tag):
                continue
            yield self._load(entry)

    def _load(self, entry: _Entry) -> list:
        with self._cond:
            entry.taken = True
            records = entry.records
            if records is not None:
                entry.records = None
                self._in_memory -= len(records)
                return records
        data = os.pread(self._file.fileno(), entry.length, entry.offset)
        # Our own temp file, written by this process a moment ago: trusted data.
        return pickle.loads(data)  # noqa: S301

    def close(self) -> None:
        """Drop the records and delete the temp file."""
        with self._cond:
            self._closed = True
            self._entries.clear()
            self._in_memory = 0
            if self._file is not None:
                self._file.close()
                self._file = None


class Prefetcher(Generic[T]):
    """Run ``fetch(task)`` for each task with a bounded worker pool; spools in task order.

    ``fetch(task)`` returns an iterator of :data:`Segment`; it runs on a worker thread (or on
    the consumer thread when ``workers == 1``) and must touch no shared state except the
    thread-safe governor/authenticator. The consumer calls :meth:`spool` for task indexes in
    increasing order and :meth:`release` once it no longer needs one.
    """

    def __init__(
        self,
        tasks: Sequence[T],
        fetch: Callable[[T], Iterator[Segment]],
        *,
        workers: int | Callable[[float], int],
        lookahead: int | None = None,
        memory_records: int = DEFAULT_MEMORY_RECORDS,
        name: str = "fetch",
        slots: ListingSlots | None = None,
        priority: int = 0,
    ) -> None:
        """Prepare (nothing starts until :meth:`start` or the first :meth:`spool` call).

        ``workers`` is a number, or a function of the first request's latency (seconds) that
        returns one (see :func:`pool_size`); with a function the listings always run on worker
        threads (at least one), so they are fetched while the consumer is busy elsewhere.
        ``lookahead``: how many tasks beyond the one the consumer is at may be started (default:
        the pool size, at least 2). ``slots``: shared with the pools of other streams of the
        same rate category; ``priority`` is this pool's turn among them (lower goes first).
        """
        self._tasks = list(tasks)
        self._fetch = fetch
        self._workers_spec = workers
        self._lookahead = lookahead or 2
        self._lookahead_spec = lookahead
        self._memory_records = memory_records
        self._name = name
        self._slots = slots
        self._priority = priority
        self._spools: dict[int, Spool] = {}
        self._released: set[int] = set()
        self._next = 0  # next task index a worker may take
        self._position = 0  # highest task index the consumer asked for
        self._cond = threading.Condition()
        self._cancelled = threading.Event()
        self._threads: list[threading.Thread] = []
        self._started = False
        self.workers = 0
        self.first_latency_s: float | None = None

    # --------------------------------------------------------------------------- consumer

    def start(self) -> None:
        """Send the first request now and start the pool (idempotent).

        The tap calls this for every stream when the sync starts, long before the SDK gets to
        the stream; otherwise the first :meth:`spool` call does.
        """
        if not self._started:
            self._start()

    @property
    def failed_early(self) -> bool:
        """True when the first request (sent alone by :meth:`start`) failed.

        Its error waits in the first spool for the consumer; starting more work that would
        only meet the same bad token, missing scope or spent quota is pointless.
        """
        first = self._spools.get(0)
        return first is not None and first.done and first._error is not None

    def spool(self, index: int) -> Spool:
        """Return the spool of task ``index`` (starting the fetch if needed)."""
        self.start()
        if not 0 <= index < len(self._tasks) or index in self._released:
            raise RuntimeError(f"{self._name}: listing {index} is not available (a bug)")
        with self._cond:
            if index > self._position:
                self._position = index
                self._cond.notify_all()
            spool = self._spools.get(index)
            if spool is not None:
                return spool
            if self.workers <= 1:
                return self._sequential_spool(index)
            while index not in self._spools:  # a worker is about to start it
                with STOP.interruptible():
                    self._cond.wait()
            return self._spools[index]

    def release(self, index: int) -> None:
        """Delete the spool of task ``index``: the consumer is done with it."""
        with self._cond:
            spool = self._spools.pop(index, None)
            self._released.add(index)
        if spool is not None:
            spool.close()

    def close(self) -> None:
        """Stop the workers (after their current request) and delete every spool (idempotent)."""
        self._cancelled.set()
        with self._cond:
            spools = list(self._spools.values())
            self._spools.clear()
            self._cond.notify_all()
        if self._slots is not None:
            self._slots.wake()
        for spool in spools:
            spool.close()

    def __enter__(self) -> Prefetcher[T]:
        """Use as a context manager so workers stop and temp files go on any exit."""
        return self

    def __exit__(self, *exc: object) -> None:
        """Close."""
        self.close()

    # ---------------------------------------------------------------------------- workers

    def _start(self) -> None:
        self._started = True
        spec = self._workers_spec
        if not self._tasks or (isinstance(spec, int) and spec <= 1):
            self.workers = 1
            return
        # The first page of the first task alone: one request finds a bad token, a missing
        # scope or a spent quota, and measures the latency that sizes the pool.
        first = Spool(memory_records=self._memory_records)
        self._spools[0] = first
        self._next = 1
        iterator = self._fetch(self._tasks[0])
        started = time.monotonic()
        try:
            with STOP.interruptible():  # the first request, on the caller's (main) thread
                segment = next(iterator, None)
        except StopRequested:
            first.finish()
            raise
        except Exception as exc:  # raised to the consumer when it reads task 0
            first.finish(exc)
            self.workers = 1
            return
        self.first_latency_s = time.monotonic() - started
        if segment is None:
            first.finish()
        else:
            first.put(*segment)
        workers = spec if isinstance(spec, int) else spec(self.first_latency_s)
        self.workers = max(1, min(workers, MAX_POOL_SIZE, len(self._tasks)))
        if self.workers == 1 and isinstance(spec, int):
            if segment is not None:
                first._pull = self._puller(first, iterator)
            return
        if self._slots is not None:
            self._slots.widen(self.workers)
        self._lookahead = self._lookahead_spec or max(self.workers, 2)
        for number in range(self.workers):
            if number == 0 and segment is not None:
                target = self._continue_first(iterator)
            else:
                target = self._worker
            thread = threading.Thread(target=target, name=f"{self._name}-{number + 1}", daemon=True)
            self._threads.append(thread)
            thread.start()

    def _continue_first(self, iterator: Iterator[Segment]) -> Callable[[], None]:
        def run() -> None:
            self._drain_in_slot(0, self._spools[0], iterator)
            self._worker()

        return run

    def _worker(self) -> None:
        while True:
            with self._cond:
                while (
                    not self._cancelled.is_set()
                    and self._next < len(self._tasks)
                    and self._next > self._position + self._lookahead
                ):
                    self._cond.wait()
                if self._cancelled.is_set() or self._next >= len(self._tasks):
                    return
                index = self._next
                self._next += 1
                spool = Spool(memory_records=self._memory_records)
                self._spools[index] = spool
                self._cond.notify_all()
            self._drain_in_slot(index, spool, None)

    def _drain_in_slot(self, index: int, spool: Spool, iterator: Iterator[Segment] | None) -> None:
        """Fetch task ``index`` (or go on with ``iterator``) while holding a listing slot."""
        slots = self._slots
        if slots is not None and not slots.acquire((self._priority, index), self._cancelled):
            close = getattr(iterator, "close", None)
            if close:
                close()
            spool.finish()
            return
        try:
            self._drain(spool, iterator or self._fetch(self._tasks[index]))
        finally:
            if slots is not None:
                slots.release()

    def _drain(self, spool: Spool, iterator: Iterator[Segment]) -> None:
        try:
            for segment in iterator:
                if self._cancelled.is_set():
                    break
                spool.put(*segment)
        except BaseException as exc:  # handed to the consumer, raised there in order
            spool.finish(exc)
        else:
            spool.finish()
        finally:
            close = getattr(iterator, "close", None)
            if close:
                close()

    # ------------------------------------------------------------------------- sequential

    def _sequential_spool(self, index: int) -> Spool:
        """Sequential mode: a spool filled on the consumer thread, one page per pull."""
        spool = Spool(memory_records=self._memory_records)
        self._spools[index] = spool
        spool._pull = self._puller(spool, self._fetch(self._tasks[index]))
        return spool

    @staticmethod
    def _puller(spool: Spool, iterator: Iterator[Segment]) -> Callable[[], bool]:
        def pull() -> bool:
            try:
                with STOP.interruptible():  # a request on the consumer's (main) thread
                    segment = next(iterator)
            except StopIteration:
                return False
            except BaseException as exc:
                spool._pull = None
                spool.finish(exc)
                return True
            spool.put(*segment)
            return True

        return pull


__all__ = ["DEFAULT_MAX_WORKERS", "ListingSlots", "Prefetcher", "Segment", "Spool", "pool_size"]
