"""SIGTERM / SIGINT for target-defender: finish the tap's output, make it durable, exit non-zero.

A scheduler stops a pipeline by signalling the whole process group: the tap and the target get
SIGTERM together. The tap then stops at a safe point and writes a final STATE covering every
record it wrote (:mod:`tap_zoom_defender.graceful_stop`). If the target stopped reading at the
signal, as the SDK's handler does (it drains the sinks and exits 0 from inside the handler),
that final STATE never arrives: the rows after the previous STATE are durable but never
acknowledged, and the next run writes them again (65,451 duplicate rows over 22 SIGTERMs in
the chaos campaign of issue 9).

So the handler only notes the signal. The target keeps reading, for at most
:data:`STOP_GRACE_S`, until the tap closes its output (normally within a second); everything
received is then made durable and the last STATE acknowledged, as at a normal end. If the tap
keeps writing past the grace period (only the target was signalled) or a second signal comes,
the target stops reading: records received after the last STATE are not written, because no
acknowledged STATE covers them and the tap sends them again on the next run (writing them would
only duplicate them). Either way the process exits ``128 + signal`` so the scheduler records
a cut run, not a success.
"""

from __future__ import annotations

import codecs
import io
import os
import select
import signal
import threading
import time
from collections.abc import Iterable, Iterator
from typing import IO

STOP_GRACE_S = 10.0
"""How long after a stop signal the target waits for the tap to finish its output.

The tap stops within a second (a token refresh in flight at most ~30 s); Kubernetes sends
SIGKILL 30 s after SIGTERM by default, which leaves the rest for the final drain.
"""

POLL_S = 0.5
"""Longest wait for input before the grace deadline is checked again."""

READ_BYTES = 64 * 1024


class InputStop:
    """The target's stop flag: which signal, and until when input is still read."""

    def __init__(self) -> None:
        """No signal yet."""
        self.signum: int | None = None
        self.deadline: float | None = None  # monotonic
        self.cut = False  # input was abandoned before its end: unacknowledged rows are dropped

    def install(self) -> None:
        """Handle SIGTERM and SIGINT (main thread only)."""
        if threading.current_thread() is threading.main_thread():
            for signum in (signal.SIGTERM, signal.SIGINT):
                signal.signal(signum, self._on_signal)

    @property
    def exit_code(self) -> int | None:
        """``128 + signal`` once a stop signal arrived, else None."""
        return None if self.signum is None else 128 + self.signum

    def expired(self) -> bool:
        """Tell whether input must no longer be read."""
        return self.deadline is not None and time.monotonic() >= self.deadline

    def _on_signal(self, signum: int, frame: object) -> None:
        """Note the signal; nothing else (the main thread may be mid-write)."""
        del frame
        if self.signum is None:
            self.signum = signum
            self.deadline = time.monotonic() + STOP_GRACE_S
        else:  # a second signal: stop reading now
            self.deadline = time.monotonic()


def read_lines(source: IO[str] | Iterable[str], stop: InputStop) -> Iterator[str]:
    """Yield the input's lines until its end, or until ``stop`` says to stop reading.

    A real file descriptor (the pipe from the tap, or ``--input FILE``) is read with ``select``
    and ``os.read`` in 64 KiB chunks (nothing else reads that descriptor), so a wait for input
    can end at the grace deadline; anything else (a test's ``StringIO``) is iterated as is.
    """
    fileno = _fileno(source)
    if fileno is None:
        for line in source:
            if stop.expired():
                stop.cut = True
                return
            yield line
        return
    decoder = codecs.getincrementaldecoder("utf-8")()
    pending: list[str] = []  # the unfinished line, in pieces (a STATE line can be megabytes)
    while True:
        if stop.expired():
            stop.cut = True
            return
        ready, _, _ = select.select([fileno], [], [], POLL_S)
        if not ready:
            continue
        chunk = os.read(fileno, READ_BYTES)
        if not chunk:
            break
        text = decoder.decode(chunk)
        if "\n" not in text:
            pending.append(text)
            continue
        lines = text.split("\n")  # the last piece is unfinished ("" after a newline)
        if pending:
            lines[0] = "".join(pending) + lines[0]
        tail = lines.pop()
        pending = [tail] if tail else []
        for line in lines:
            yield line + "\n"
            if stop.expired():
                stop.cut = True
                return
    rest = "".join(pending) + decoder.decode(b"", final=True)
    if rest:
        yield rest


def _fileno(source: object) -> int | None:
    try:
        return source.fileno()  # type: ignore[attr-defined]
    except (AttributeError, OSError, io.UnsupportedOperation):
        return None


STOP = InputStop()
"""The process's one stop flag (signals are per process)."""

__all__ = ["STOP", "STOP_GRACE_S", "InputStop", "read_lines"]
