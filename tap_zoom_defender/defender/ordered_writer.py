"""Write batches and acknowledge STATE in input order, on one thread beside the reader.

The SDK drains synchronously: at each STATE the reader stops while every sink writes (an fsync,
or an HTTP round trip per megabyte to Azure Monitor) and only then reads on. Here a drain hands
the batch to this writer and the reader goes back to mapping records while the batch is written.
The guarantee is unchanged, because one thread does everything in the order it was handed over:
a STATE is written to stdout only after every batch handed over before it is durable.

- **Bounded**: at most ``max_pending_rows`` rows wait (beyond the batch being written), so memory
  does not grow with the input; the reader waits when the writer falls behind.
- **First failure wins**: once a write fails, nothing after it is written and no later STATE is
  acknowledged; the reader gets the same error at its next hand-over, or from :meth:`finish`.
"""

from __future__ import annotations

import collections
import threading
from collections.abc import Callable
from typing import Any

from tap_zoom_defender.defender.destinations import Destination

DEFAULT_MAX_PENDING_ROWS = 40_000
"""Four of the SDK's full batches (10,000 rows): enough to keep the writer busy, little memory."""

_WAIT_S = 0.5  # longest single wait, so a stop signal is handled promptly on the reader thread


class OrderedWriter:
    """A FIFO of ``write`` and ``acknowledge`` steps run by one daemon thread."""

    def __init__(
        self,
        destination: Destination,
        emit_state: Callable[[dict], None],
        max_pending_rows: int = DEFAULT_MAX_PENDING_ROWS,
    ) -> None:
        """Start the writer thread (it waits for work)."""
        self.destination = destination
        self._emit_state = emit_state
        self.max_pending_rows = max_pending_rows
        self._steps: collections.deque[tuple[str, Any, Any]] = collections.deque()
        self._pending_rows = 0
        self._busy = False
        self._error: BaseException | None = None
        self._closed = False
        self._cond = threading.Condition()
        self._thread = threading.Thread(target=self._run, name="target-writer", daemon=True)
        self._thread.start()

    def write(self, table: str, rows: list[dict[str, Any]]) -> None:
        """Hand rows over for ``table`` (waits while too many rows are pending)."""
        if not rows:
            return
        with self._cond:
            while (
                self._error is None
                and self._steps
                and self._pending_rows + len(rows) > self.max_pending_rows
            ):
                self._cond.wait(_WAIT_S)
            self._raise_failure()
            self._steps.append(("write", table, rows))
            self._pending_rows += len(rows)
            self._cond.notify_all()

    def acknowledge(self, state: dict) -> None:
        """Write ``state`` to stdout once every batch handed over before it is durable."""
        with self._cond:
            self._raise_failure()
            self._steps.append(("state", state, None))
            self._cond.notify_all()

    def finish(self) -> None:
        """Wait until everything handed over is done; raise the first failure, if any."""
        with self._cond:
            while self._error is None and (self._steps or self._busy):
                self._cond.wait(_WAIT_S)
            self._raise_failure()

    def close(self) -> None:
        """Stop the thread once its steps are done (or dropped after a failure)."""
        with self._cond:
            self._closed = True
            self._cond.notify_all()
        self._thread.join()

    def _raise_failure(self) -> None:
        if self._error is not None:
            raise self._error

    def _run(self) -> None:
        while True:
            with self._cond:
                while not self._steps and not self._closed:
                    self._cond.wait()
                if not self._steps:
                    return
                kind, first, second = self._steps.popleft()
                self._busy = True
            try:
                if self._error is None:
                    if kind == "write":
                        self.destination.write(first, second)
                    else:
                        self._emit_state(first)
            except BaseException as exc:  # handed to the reader thread as it is
                self._error = exc
            finally:
                with self._cond:
                    if kind == "write":
                        self._pending_rows -= len(second)
                    self._busy = False
                    self._cond.notify_all()
