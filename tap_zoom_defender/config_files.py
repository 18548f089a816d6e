"""Read ``--config`` files for both CLIs (tap and target) without a traceback on a bad file.

The SDK reads them inside click's option parsing and raises FileNotFoundError, a JSON decode
error, or a TypeError deep in a dict merge when the file holds a list instead of an object: each
printed a traceback and exited 1 like a bug. A config file the plugin cannot use is a settings
problem: one ``Configuration error: --config <path>: <problem>; <fix>`` log line and exit 78
(EX_CONFIG), the code both CLIs use for every other settings problem.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import click
import simplejson
from singer_sdk.helpers._util import load_json
from singer_sdk.plugin_base import _ConfigInput

from tap_zoom_defender.json_kind import json_kind

EXIT_CONFIG = 78  # EX_CONFIG, as tap_zoom_defender.errors and defender.errors define it


class ConfigFileError(Exception):
    """A ``--config`` file that cannot be read as a JSON object (the message names it)."""


def read_config_file(path: str) -> dict[str, Any]:
    """Return the settings object in ``path``; raise ConfigFileError saying what to fix."""
    file = Path(path)
    try:
        text = file.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigFileError(f"--config {path}: file not found; check the path") from None
    except IsADirectoryError:
        raise ConfigFileError(f"--config {path}: is a directory; give the JSON file") from None
    except UnicodeDecodeError:
        raise ConfigFileError(f"--config {path}: not UTF-8 text; save it as UTF-8 JSON") from None
    except OSError as exc:
        raise ConfigFileError(
            f"--config {path}: cannot be read ({exc.strerror or type(exc).__name__}); check its "
            "permissions"
        ) from None
    try:
        settings = load_json(text)
    except (json.JSONDecodeError, simplejson.JSONDecodeError) as exc:
        raise ConfigFileError(
            f"--config {path}: not valid JSON ({exc.msg} at line {exc.lineno} column "
            f"{exc.colno}); fix the file"
        ) from None
    except ValueError:
        raise ConfigFileError(f"--config {path}: not valid JSON; fix the file") from None
    if not isinstance(settings, dict):
        raise ConfigFileError(
            f"--config {path}: holds {json_kind(settings)}, not a JSON object of settings "
            '(e.g. {"client_id": "..."}); fix the file'
        )
    return settings


def parse_config_option(value: tuple[str, ...]) -> _ConfigInput:
    """Parse ``--config`` values (paths or ``ENV``) as the SDK does, or raise ConfigFileError."""
    config: dict[str, Any] = {}
    parse_env = False
    for path in value:
        if path == "ENV":
            parse_env = True
        else:
            config |= read_config_file(path)
    return _ConfigInput(config=config, parse_env=parse_env)


class ConfigFileErrors:
    """Mixin for a Singer plugin class (before ``Tap``/``Target`` in the bases)."""

    @classmethod
    def cb_config(cls, ctx: click.Context, param: click.Option, value: tuple[str, ...]) -> Any:
        """Parse ``--config``; a file it cannot use is one error line and exit 78."""
        del param
        try:
            return parse_config_option(value)
        except ConfigFileError as exc:
            cls.logger.error("Configuration error: %s", exc)  # type: ignore[attr-defined]
            ctx.exit(EXIT_CONFIG)
