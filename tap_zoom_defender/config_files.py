"""Read ``--config`` files for both CLIs (tap and target) without a traceback on a bad path.

The SDK raises FileNotFoundError / a JSON decode error from deep inside click's option parsing,
which prints a traceback. A wrong config path is a user error: click's own one-line
``Invalid value for '--config'`` message and exit code 2 say it better.
"""

from __future__ import annotations

import json
from typing import Any

import click
import simplejson
from singer_sdk.plugin_base import _ConfigInput


def parse_config_option(value: tuple[str, ...]) -> _ConfigInput:
    """Parse ``--config`` values (paths or ``ENV``) as the SDK does, or fail in one line."""
    try:
        return _ConfigInput.from_cli_args(*value)
    except FileNotFoundError as exc:
        raise click.BadParameter(f"{exc} Check the path.", param_hint="'--config'") from None
    except (json.JSONDecodeError, simplejson.JSONDecodeError) as exc:
        raise click.BadParameter(
            f"not valid JSON ({exc.msg} at line {exc.lineno} column {exc.colno}); fix the file",
            param_hint="'--config'",
        ) from None


class ConfigFileErrors:
    """Mixin for a Singer plugin class (before ``Tap``/``Target`` in the bases)."""

    @classmethod
    def cb_config(cls, ctx: click.Context, param: click.Option, value: tuple[str, ...]) -> Any:
        """Parse ``--config``; a missing or broken file is one line and exit 2, not a traceback."""
        del ctx, param
        return parse_config_option(value)
