"""Expected failures of the tap, each with the exit code the CLI returns for it.

Every error a user can cause or fix (bad settings, rejected credentials, a missing scope, an
unreachable host, a broken API response, the daily quota) is one of these classes. The CLI prints
their message as ONE log line and exits with ``exit_code`` (sysexits.h values, so schedulers can
tell "fix the config" from "try again later"); anything else is a bug and keeps its traceback.

Secrets never reach a message: every value registered with :func:`register_secret` is masked by
:func:`redact`, which the CLI and the log filter apply to everything they print.
"""

from __future__ import annotations

import logging
import threading
from typing import Final

from singer_sdk.exceptions import FatalAPIError

EXIT_OK: Final = 0
EXIT_DATA: Final = 65  # EX_DATAERR: the API (or a state file) sent something we cannot parse
EXIT_UNAVAILABLE: Final = 69  # EX_UNAVAILABLE: host unreachable / Zoom kept failing
EXIT_IOERR: Final = 74  # EX_IOERR: our stdout was closed (the target died or stopped reading)
EXIT_QUOTA: Final = 75  # EX_TEMPFAIL: daily quota spent; rerun after the reset time
EXIT_API: Final = 76  # EX_PROTOCOL: Zoom answered with an error we cannot work around
EXIT_AUTH: Final = 77  # EX_NOPERM: credentials rejected or a scope is missing
EXIT_CONFIG: Final = 78  # EX_CONFIG: a setting is missing, invalid or contradictory

_MASK: Final = "***"
_secrets: set[str] = set()
_secrets_lock = threading.Lock()


def register_secret(value: str | None) -> None:
    """Remember a secret value so that :func:`redact` masks it wherever it shows up.

    Called for the client secret, refresh tokens and every access token as soon as they are
    known, so even an unexpected message (a Zoom error body echoing a token, a repr) is masked.
    """
    if value and len(value) >= 6:  # shorter values would mask ordinary words
        with _secrets_lock:
            _secrets.add(value)


def redact(text: str) -> str:
    """Return ``text`` with every registered secret replaced by ``***``."""
    with _secrets_lock:
        secrets = sorted(_secrets, key=len, reverse=True)
    for secret in secrets:
        if secret in text:
            text = text.replace(secret, _MASK)
    return text


class RedactingFilter(logging.Filter):
    """Logging filter that masks registered secrets in every record it sees.

    Installed on the root handlers by the CLI: a defence in depth, our own messages never
    contain secrets in the first place.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        """Mask secrets in the formatted message (args are folded in so none escape)."""
        try:
            message = record.getMessage()
        except Exception:  # a broken log call must not kill the sync
            return True
        masked = redact(message)
        if masked != message:
            record.msg, record.args = masked, None
        return True


class ZoomTapError(Exception):
    """Base class of every expected failure; ``str(exc)`` is the one line the user sees."""

    exit_code: int = 1

    def __init__(self, message: str) -> None:
        """Store the (already secret-free) one-line message."""
        super().__init__(redact(" ".join(message.split())))

    def __str__(self) -> str:
        """Return the message, masking secrets registered after the error was built."""
        return redact(super().__str__())


class ConfigError(ZoomTapError):
    """One or more settings are wrong; each problem names the setting to fix."""

    exit_code = EXIT_CONFIG

    def __init__(self, problems: list[str]) -> None:
        """Keep the problems separately so the CLI can print one line per problem."""
        self.problems = [redact(p) for p in problems]
        super().__init__("; ".join(self.problems))


class AuthError(ZoomTapError, FatalAPIError):
    """Zoom rejected the credentials or the app lacks a scope."""

    exit_code = EXIT_AUTH


class ZoomAPIError(ZoomTapError, FatalAPIError):
    """Zoom answered a request with an error (its code and message are in the text)."""

    exit_code = EXIT_API

    def __init__(self, message: str, *, status: int | None = None, code: int | None = None):
        """Keep Zoom's HTTP status and error code for callers that branch on them."""
        self.status = status
        self.code = code
        super().__init__(message)


class ZoomUnavailableError(ZoomTapError):
    """The host could not be reached, or Zoom kept failing after our retries."""

    exit_code = EXIT_UNAVAILABLE


class MalformedResponseError(ZoomTapError):
    """Zoom (or whatever answers at api_url) sent a body that is not the JSON we expect."""

    exit_code = EXIT_DATA


class InputFileError(ZoomTapError):
    """A --state or --catalog file the tap cannot use."""

    exit_code = EXIT_DATA


class StateError(InputFileError):
    """The state passed with --state cannot be used."""

    exit_code = EXIT_DATA


class OutputClosed(ZoomTapError):
    """The process reading the tap's stdout (the target) went away mid-sync."""

    exit_code = EXIT_IOERR


class QuotaStop(ZoomTapError):
    """The daily request quota or budget is spent; the sync stopped cleanly and can resume."""

    exit_code = EXIT_QUOTA
