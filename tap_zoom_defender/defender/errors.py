"""Errors target-defender turns into one clear log line and a non-zero exit code.

Every expected failure (bad settings, bad Singer input, a destination refusing data) is raised as
a ``DefenderError`` whose message already names the problem and the setting to fix, so the CLI
can print it as a single line instead of a traceback. Messages never contain secrets.
"""

from __future__ import annotations

# sysexits.h: EX_DATAERR for input we cannot map, EX_TEMPFAIL for "try again later".
EXIT_FAILURE = 1
EXIT_DATAERR = 65
EXIT_TEMPFAIL = 75


class DefenderError(Exception):
    """An expected failure: the message is the single line the user sees."""

    exit_code: int = EXIT_FAILURE


class InputError(DefenderError):
    """A Singer message or record this target cannot map (names the stream and field)."""

    exit_code = EXIT_DATAERR


class DeliveryError(DefenderError):
    """A batch could not be written durably; it was dead-lettered and STATE was withheld."""

    def __init__(self, message: str, *, temporary: bool = False) -> None:
        """Keep whether a later re-run may succeed without changing anything (exit 75)."""
        super().__init__(message)
        self.temporary = temporary
        self.exit_code = EXIT_TEMPFAIL if temporary else EXIT_FAILURE
