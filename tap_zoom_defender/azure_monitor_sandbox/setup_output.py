"""The project's Azure set-up, read the way a workspace would receive it: as generated files.

``python -m tap_zoom_defender.defender.azure_setup`` prints the custom-table commands, the DCR
JSON and the ARM template an administrator deploys. The emulator runs it in a separate process
and parses its output, exactly like files passed with ``--tables``/``--dcr``/``--template``; it
imports nothing of target-defender.
"""

from __future__ import annotations

import functools
import json
import subprocess
import sys
from typing import Any

GENERATOR = "tap_zoom_defender.defender.azure_setup"
# Placeholders: the emulator has one workspace, whatever the DCR names.
_WORKSPACE = "/subscriptions/00000000-0000-0000-0000-000000000000/resourceGroups/sandbox/providers/Microsoft.OperationalInsights/workspaces/sandbox"  # noqa: E501


class SetupOutputError(RuntimeError):
    """The generator failed or printed something unreadable."""


@functools.lru_cache(maxsize=16)
def _run(*args: str) -> str:
    done = subprocess.run(
        [sys.executable, "-m", GENERATOR, *args], capture_output=True, text=True, timeout=120
    )
    if done.returncode != 0:
        raise SetupOutputError(
            f"{GENERATOR} {' '.join(args)} exited {done.returncode}: "
            f"{(done.stderr or done.stdout).strip()[-1000:]}"
        )
    return done.stdout


def generated_dcr(profile: str) -> dict[str, Any]:
    """Return the DCR JSON ``azure_setup dcr --profile <profile>`` prints."""
    text = _run(
        "dcr",
        "--profile",
        profile,
        "--workspace-resource-id",
        _WORKSPACE,
        "--location",
        "westeurope",
    )
    try:
        return json.loads(text)
    except ValueError as exc:
        raise SetupOutputError(f"{GENERATOR} dcr --profile {profile}: not JSON ({exc})") from None


def generated_tables(profile: str) -> str:
    """Return the ``az ... table create`` commands of ``azure_setup tables --profile P``."""
    return _run(
        "tables", "--profile", profile, "--resource-group", "sandbox", "--workspace", "sandbox"
    )


def generated_template(profile: str) -> dict[str, Any]:
    """Return the ARM template ``azure_setup template --profile <profile>`` prints.

    Tables, DCR and the ASIM parsers as workspace functions, deployed by ``arm.py``.
    """
    text = _run("template", "--profile", profile, "--workspace", "sandbox")
    try:
        document = json.loads(text)
    except ValueError as exc:
        raise SetupOutputError(
            f"{GENERATOR} template --profile {profile}: not JSON ({exc})"
        ) from None
    if not isinstance(document, dict):
        raise SetupOutputError(f"{GENERATOR} template --profile {profile}: not a JSON object")
    return document
