"""SIGTERM / SIGINT for the tap: stop at a safe point, write what was counted, exit 128 + signal.

Schedulers (Kubernetes, Airflow, Dagster, systemd, Ctrl-C) stop a task with SIGTERM or SIGINT and
record its exit code. The SDK's own handler writes a STATE message *from inside the signal
handler* and calls ``sys.exit(0)``. Both are wrong for a pipeline that must not lose data:

* the handler runs between two bytecodes of whatever the main thread was doing, which may be
  the middle of writing a RECORD line: a second write from the handler tears that line, or (in a
  ``BufferedWriter``) raises "reentrant call"; the state it writes may be mid-update;
* exit 0 tells the scheduler the sync finished, so a cut run is recorded as a success.

Here the handler only *notes* the signal. The sync then stops at the next safe point:

* between records (:meth:`GracefulStop.check`, called by every stream's ``get_records`` before
  it hands out a record), so every record handed to the SDK was written and counted; the stream's
  usual error path then settles its state and writes the final STATE, which covers exactly
  what was written;
* or at once, if the main thread is only *waiting* (:meth:`GracefulStop.interruptible`: for a
  worker's page, for the rate governor, for an HTTP response on its own thread): nothing is
  half-done there, so the handler raises :class:`StopRequested` right away instead of letting
  a long request or a rate-limit pause delay the stop;
* never inside :meth:`GracefulStop.critical` (a token refresh: Zoom has already rotated the
  refresh token once the request left, so the answer must be received and stored before the
  process may end). A signal that arrives there takes effect when the section ends.

:class:`StopRequested` is an expected error like the others (:mod:`tap_zoom_defender.errors`):
the CLI prints one line and exits ``128 + signal`` (143 for SIGTERM, 130 for SIGINT), the
shell's convention for "ended by that signal", which every scheduler reads as a failure.
"""

from __future__ import annotations

import contextlib
import signal
import threading
from collections.abc import Iterator

from tap_zoom_defender.errors import ZoomTapError

STOP_SIGNALS = (signal.SIGTERM, signal.SIGINT)


class StopRequested(ZoomTapError):
    """A stop signal arrived; the sync ended at a safe point (exit ``128 + signal``)."""

    def __init__(self, signum: int) -> None:
        """Name the signal; the exit code follows the shell's ``128 + N`` convention."""
        self.signum = signum
        self.exit_code = 128 + signum
        name = signal.Signals(signum).name
        super().__init__(
            f"Stopped by {name}: every record written is covered by the last STATE; "
            "run again to resume from it"
        )


class GracefulStop:
    """Notes stop signals; raises :class:`StopRequested` only where that is safe.

    Counters are touched by the main thread only (the only thread Python runs signal handlers
    on); on other threads every method is a no-op, so shared code can call them anywhere.
    """

    def __init__(self) -> None:
        """No signal yet."""
        self.signum: int | None = None
        self._waiting = 0  # depth of interruptible() on the main thread
        self._critical = 0  # depth of critical() on the main thread

    def install(self) -> None:
        """Handle SIGTERM and SIGINT (main thread only; elsewhere Python refuses)."""
        if threading.current_thread() is threading.main_thread():
            for signum in STOP_SIGNALS:
                signal.signal(signum, self._on_signal)

    @property
    def requested(self) -> bool:
        """True once a stop signal arrived."""
        return self.signum is not None

    def check(self) -> None:
        """Raise :class:`StopRequested` if a signal arrived (call at safe points only)."""
        if self.signum is not None and not self._critical and _on_main_thread():
            raise StopRequested(self.signum)

    @contextlib.contextmanager
    def interruptible(self) -> Iterator[None]:
        """Mark a wait that a signal may cut short: the handler raises inside it."""
        if not _on_main_thread():
            yield
            return
        self.check()
        self._waiting += 1
        try:
            yield
        finally:
            self._waiting -= 1

    @contextlib.contextmanager
    def critical(self) -> Iterator[None]:
        """Mark work that must finish once started (a token refresh): no raise inside it."""
        if not _on_main_thread():
            yield
            return
        self._critical += 1
        try:
            yield
        finally:
            self._critical -= 1
        if self._waiting:  # the wait around us may be long: stop now that it is safe
            self.check()

    def _on_signal(self, signum: int, frame: object) -> None:
        """Note the first signal; raise only while the main thread merely waits.

        Nothing is logged or written here: the handler may run in the middle of a write (or
        while the logging lock is held), and a second write would tear the line (or deadlock).
        """
        del frame
        if self.signum is None:
            self.signum = signum
        if self._waiting and not self._critical:
            raise StopRequested(self.signum)


def _on_main_thread() -> bool:
    return threading.current_thread() is threading.main_thread()


STOP = GracefulStop()
"""The process's one stop flag (signals are per process)."""

__all__ = ["STOP", "GracefulStop", "StopRequested"]
