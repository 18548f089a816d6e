"""Real Meltano against real Zoom sandboxes, in a throwaway copy of the project (a fresh clone).

The copy holds this repository's ``meltano.yml`` (and whatever its ``include_paths`` name), no
``.env``, no system database, no output and no state: what a newcomer has after cloning. The
plugins' virtual environments are the project's own (``make test`` installs them; they are
installed here if missing), linked into the copy's ``.meltano/``, and ``.venv`` is linked too so
the docs' ``.venv/bin/meltano`` commands run as written. ``MELTANO_AUTO_INSTALL`` is off, so a run
in the copy never reinstalls a plugin (an editable install would then point at the copy).
"""

from __future__ import annotations

import datetime as dt
import json
import os
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tap_zoom_defender.sandbox import Sandbox, SandboxConfig
from tests.project_copy import copy_project

PROJECT = Path(__file__).resolve().parents[2]
MELTANO = str(Path(sys.executable).with_name("meltano"))
PLUGINS = {
    "extractors": ("tap-zoom",),
    "loaders": ("target-jsonl", "target-defender", "target-duckdb"),
}
#: Variables of the caller that would change what Meltano or the plugins do in the copy.
_FOREIGN = ("TAP_ZOOM", "TARGET_", "MELTANO_", "ZOOM_SANDBOX_")


def ensure_plugins_installed() -> None:
    """``meltano install`` in the project once, if a plugin's virtual environment is missing."""
    missing = [
        name
        for kind, names in PLUGINS.items()
        for name in names
        if not (PROJECT / ".meltano" / kind / name / "venv").is_dir()
    ]
    if missing:
        subprocess.run(
            [MELTANO, "install"], cwd=PROJECT, check=True, capture_output=True, timeout=900
        )


def sandbox_variables(sb: Sandbox) -> dict[str, str]:
    """The ``ZOOM_SANDBOX_*`` variables the dev and demo environments read."""
    return {
        "ZOOM_SANDBOX_API_URL": sb.api_url,
        "ZOOM_SANDBOX_OAUTH_URL": sb.oauth_url,
        "ZOOM_SANDBOX_ACCOUNT_ID": sb.account_id,
        "ZOOM_SANDBOX_CLIENT_ID": sb.client_id,
        "ZOOM_SANDBOX_CLIENT_SECRET": sb.client_secret,
    }


@dataclass
class MeltanoProject:
    """A fresh copy of the project; commands run in it with ``env`` (plus per-call extras)."""

    root: Path
    env: dict[str, str]

    def meltano(
        self, *args: str, env: dict[str, str] | None = None, timeout: float = 300
    ) -> subprocess.CompletedProcess:
        """Run ``meltano ARGS`` in the copy; return the finished process (text output)."""
        return subprocess.run(
            [MELTANO, *args], cwd=self.root, env={**self.env, **(env or {})},
            capture_output=True, text=True, timeout=timeout, check=False,
        )  # fmt: skip

    def sh(self, script: str, timeout: float = 300) -> subprocess.CompletedProcess:
        """Run a bash script in the copy (the docs' commands, as written)."""
        return subprocess.run(
            ["bash", "-c", script], cwd=self.root, env=self.env,
            capture_output=True, text=True, timeout=timeout, check=False,
        )  # fmt: skip

    def rows(self, relative: str) -> list[dict]:
        """The JSON lines of a file under the copy (empty when the file is missing)."""
        path = self.root / relative
        if not path.exists():
            return []
        return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]

    def state_ids(self) -> set[str]:
        """``meltano state list``: the state ids in the project's own backend."""
        done = self.meltano("state", "list")
        assert done.returncode == 0, done.stderr[-2000:]
        return {line.strip() for line in done.stdout.splitlines() if line.strip()}

    def state(self, state_id: str) -> dict:
        """``meltano state get ID`` as JSON."""
        done = self.meltano("state", "get", state_id)
        assert done.returncode == 0, done.stderr[-2000:]
        return json.loads(done.stdout)


def make_project(dest: Path, sb: Sandbox) -> MeltanoProject:
    """A fresh copy whose dev environment points at ``sb`` (as the docs' exports do)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(_FOREIGN)}
    env.update(sandbox_variables(sb))
    env.update(
        MELTANO_AUTO_INSTALL="false",
        MELTANO_SEND_ANONYMOUS_USAGE_STATS="false",
        # The sandbox holds 2 days of history; 3 days of lookback read all of it.
        TAP_ZOOM_LOOKBACK_DAYS="3",
    )
    return MeltanoProject(copy_project(dest, plugin_kinds=PLUGINS), env)


def start_sandbox() -> Sandbox:
    """A small Pro account, 5 hours behind the wall clock, no late arrivals.

    The tap reads up to its own wall-clock "now", so every event lies in its past, and a test
    can advance the account's clock by up to 5 hours to make new events for the next run.
    """
    now = dt.datetime.now(dt.timezone.utc).replace(microsecond=0) - dt.timedelta(hours=5)
    config = SandboxConfig(users=12, days=2, seed=7, late_fraction=0.0, now=now)
    return Sandbox(config).start()


@pytest.fixture(scope="module")
def zoom() -> Iterator[Sandbox]:
    """One sandbox per test module (Meltano runs are slow; the sandbox is not)."""
    ensure_plugins_installed()
    sb = start_sandbox()
    yield sb
    sb.stop()


@pytest.fixture
def project(tmp_path: Path, zoom: Sandbox) -> MeltanoProject:
    """A fresh copy of the project per test, its dev environment on the module's sandbox."""
    return make_project(tmp_path / "project", zoom)
