"""The tap's command line: expected problems end as one log line and a documented exit code.

Expected problems (bad settings, rejected credentials, a missing scope, Zoom errors, the daily
quota) end the CLI with one clear log line and a documented exit code, never a traceback:

=====  ==========================================================================
code   meaning
=====  ==========================================================================
0      success
65     Zoom (or whatever answers at api_url) sent data we cannot parse; a --state or
       --catalog file of the wrong shape, or a bookmark later than now
69     Zoom unreachable, or kept failing after retries: try again later
75     daily quota/budget spent: data so far emitted, state saved; rerun after reset
76     Zoom rejected a request (its code and message are in the line)
77     credentials rejected, or the app lacks a scope (the line names it)
78     a setting is missing, invalid or contradictory (the line names it), or the
       --config file is missing, not JSON or not a JSON object
74     the target stopped reading the tap's output (broken pipe)
130    stopped by SIGINT, 143 by SIGTERM: what was written is covered by the last STATE
1      a bug: the traceback is printed
=====  ==========================================================================
"""

from __future__ import annotations

import logging
import sys
from typing import TYPE_CHECKING, Any

from singer_sdk.plugin_base import SingerCommand
from typing_extensions import override

from tap_zoom_defender import authorize
from tap_zoom_defender.errors import ConfigError, QuotaStop, RedactingFilter, ZoomTapError
from tap_zoom_defender.governor import QuotaExhausted
from tap_zoom_defender.graceful_stop import STOP, StopRequested

if TYPE_CHECKING:
    from tap_zoom_defender.tap import TapZoom


class ZoomCommand(SingerCommand):
    """The SDK's command, but expected errors end as one log line and their exit code."""

    tap_class: type[TapZoom]  # set by TapZoom.get_singer_command (for the authorize command)

    @override
    def main(self, args: Any = None, *rest: Any, **kwargs: Any) -> Any:
        """Run the CLI; a ZoomTapError becomes one line (per config problem) and exit code."""
        argv = list(sys.argv[1:] if args is None else args)
        if argv[:1] == [authorize.COMMAND] and self.name != authorize.COMMAND:  # the subcommand
            command = ZoomCommand(**authorize.command_spec(self.tap_class), logger=self.logger)
            command.tap_class = self.tap_class
            kwargs.setdefault("prog_name", f"{self.name} {authorize.COMMAND}")
            return command.main(argv[1:], *rest, **kwargs)
        install_redaction()
        STOP.install()  # before the tap exists: a signal during start-up is a stop too
        try:
            return super().main(args, *rest, **kwargs)
        except SystemExit as exc:
            if STOP.signum is not None and not exc.code:  # finished, but asked to stop
                sys.exit(StopRequested(STOP.signum).exit_code)
            raise
        except QuotaExhausted as exc:  # only outside a sync (e.g. --test): a sync stops cleanly
            self.logger.warning("Stopped: %s; run again after the reset", exc)
            sys.exit(QuotaStop.exit_code)
        except ZoomTapError as exc:
            if isinstance(exc, ConfigError):
                for problem in exc.problems:
                    self.logger.error("Configuration error: %s", problem)
            elif isinstance(exc, (QuotaStop, StopRequested)):
                self.logger.warning("%s", exc)
            else:
                self.logger.error("%s", exc)
            sys.exit(exc.exit_code)


def install_redaction() -> None:
    """Mask registered secrets in every log line, whichever logger wrote it."""
    for handler in logging.getLogger().handlers:
        if not any(isinstance(f, RedactingFilter) for f in handler.filters):
            handler.addFilter(RedactingFilter())
