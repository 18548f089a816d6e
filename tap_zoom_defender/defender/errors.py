"""Errors target-defender turns into one clear log line and a non-zero exit code.

Every expected failure (bad settings, bad Singer input, a destination refusing data) is raised as
a ``DefenderError`` whose message already names the problem and the setting to fix, so the CLI
can print it as a single line instead of a traceback. Messages never contain secrets.
"""

from __future__ import annotations

# sysexits.h values, so a scheduler can tell "fix the input" from "try again later" from "fix
# the settings" (78 is also what tap-zoom-defender exits with for its own settings). 1 is left
# to permanent refusals by the destination and to bugs (which keep their traceback).
EXIT_FAILURE = 1
EXIT_DATAERR = 65
EXIT_TEMPFAIL = 75
EXIT_CONFIG = 78


class DefenderError(Exception):
    """An expected failure: the message is the single line the user sees."""

    exit_code: int = EXIT_FAILURE


class ConfigError(DefenderError):
    """One or more settings are missing, invalid or contradictory (exit 78, EX_CONFIG).

    Kept as a list so the CLI prints ONE ``Configuration error: ...`` line per problem; each
    problem already says which setting to change.
    """

    exit_code = EXIT_CONFIG

    def __init__(self, problems: list[str]) -> None:
        """Keep every problem; the joined text is only for callers that print the exception."""
        self.problems = list(problems)
        super().__init__("; ".join(self.problems))


class InputError(DefenderError):
    """A Singer message or record this target cannot map (names the stream and field)."""

    exit_code = EXIT_DATAERR


class DeliveryError(DefenderError):
    """A batch could not be written durably; STATE was withheld.

    The message says whether the rows reached the dead-letter file or are kept nowhere.
    """

    def __init__(self, message: str, *, temporary: bool = False) -> None:
        """Keep whether a later re-run may succeed without changing anything (exit 75)."""
        super().__init__(message)
        self.temporary = temporary
        self.exit_code = EXIT_TEMPFAIL if temporary else EXIT_FAILURE
