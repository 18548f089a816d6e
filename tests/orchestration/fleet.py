"""The accounts of orchestration/accounts.meltano.yml, each on its own Zoom sandbox.

The project is copied (meltano.yml, the files its ``include_paths`` name, orchestration/) into a
temporary folder with the plugins' virtual environments linked in, so no ``.env``, system database,
output or state of the working tree is read or written. Every account's credentials, endpoints,
token store, quota store and output come from its own variables, as in a deployment.
"""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
from collections import Counter
from contextlib import closing
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
import yaml

from tap_zoom_defender.sandbox import Sandbox, SandboxConfig
from tests import project_copy

PROJECT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
MELTANO = str(BIN / "meltano")
ENVIRONMENT = "prod"
CONTAINER = "zoom-meltano-state"
JOB_TAG = "meltano/job"  # orchestration/dagster/definitions.py tags every run with it
DAGSTER_VENV = PROJECT / ".meltano" / "utilities" / "dagster" / "venv"
#: Variables of the caller that would change what Meltano, the plugins or Dagster do.
FOREIGN = ("TAP_ZOOM", "TARGET_", "MELTANO_", "ZOOM_SANDBOX_", "DAGSTER_")
ACTIVITY_FIELDS = ("email", "time", "type", "ip_address", "client_type", "version")
OPERATION_FIELDS = ("time", "operator", "category_type", "action", "operation_detail")
FIELDS = {"activities": ACTIVITY_FIELDS, "operation_logs": OPERATION_FIELDS}


def busy_anchor() -> datetime:
    """A Tuesday-to-Thursday 15:00 UTC at least eight days ago (busy office hours).

    Far enough back that the clocks can be advanced by a day and a half and still stay behind
    the wall clock: the tap reads up to the earlier of its own and Zoom's "now".
    """
    day = datetime.now(timezone.utc) - timedelta(days=8)
    while day.weekday() not in (1, 2, 3):
        day -= timedelta(days=1)
    return day.replace(hour=15, minute=0, second=0, microsecond=0)


def declared_accounts() -> dict[str, str]:
    """``account -> plan`` of every ``tap-zoom-<account>`` in orchestration/accounts.meltano.yml."""
    data = yaml.safe_load((PROJECT / "orchestration" / "accounts.meltano.yml").read_text())
    accounts = {}
    for plugin in data["plugins"]["extractors"]:
        if plugin.get("inherit_from") == "tap-zoom":
            accounts[plugin["name"].removeprefix("tap-zoom-")] = plugin["config"]["plan"]
    return accounts


def require_orchestrator() -> None:
    """Fail (not skip) with what to run when the dagster utility is not installed."""
    if not (DAGSTER_VENV / "bin" / "dagster").exists():
        pytest.fail(
            f"Meltano's dagster utility is not installed ({DAGSTER_VENV} is missing): run "
            "`make install` (meltano install); `make test` does it."
        )


def copy_project(dest: Path) -> Path:
    """meltano.yml, its include_paths files and orchestration/ (no node_modules); venvs linked."""
    return project_copy.copy_project(
        dest,
        plugin_kinds=("extractors", "loaders", "utilities"),
        trees=("orchestration",),
        link_venv=False,
    )


@dataclass
class Account:
    """One Zoom account: its sandbox, its Meltano names and its private files."""

    name: str
    sandbox: Sandbox
    home: Path
    oauth_app: bool = False  # an OAuth app's rotating refresh token instead of Server-to-Server
    refresh_token: str = ""
    delivered: list[dict[str, int]] = field(default_factory=list)

    @property
    def upper(self) -> str:
        return self.name.upper().replace("-", "_")

    @property
    def job(self) -> str:
        """The Dagster job dagster-meltano makes of the Meltano job ``zoom-<account>``."""
        return f"zoom_{self.name}".replace("-", "_")

    @property
    def state_id(self) -> str:
        return f"{ENVIRONMENT}:tap-zoom-{self.name}-to-target-jsonl-{self.name}"

    @property
    def output(self) -> Path:
        return self.home / "jsonl"

    @property
    def quota_path(self) -> Path:
        return self.home / "quota.sqlite"

    @property
    def token_store(self) -> Path:
        return self.home / "zoom-refresh-token.json"

    @property
    def secrets(self) -> list[str]:
        return [s for s in (self.sandbox.client_secret, self.refresh_token) if s]

    def variables(self) -> dict[str, str]:
        """The account's TAP_ZOOM_<ACCOUNT>_* and TARGET_JSONL_<ACCOUNT>_* variables."""
        sb, tap, target = self.sandbox, f"TAP_ZOOM_{self.upper}_", f"TARGET_JSONL_{self.upper}_"
        if self.oauth_app:
            self.refresh_token = self.refresh_token or sb.issue_refresh_token()
            credential = {tap + "REFRESH_TOKEN": self.refresh_token}
        else:
            credential = {tap + "ACCOUNT_ID": sb.account_id}
        return {
            **credential,
            tap + "CLIENT_ID": sb.client_id,
            tap + "CLIENT_SECRET": sb.client_secret,
            tap + "API_URL": sb.api_url,
            tap + "OAUTH_URL": sb.oauth_url,
            tap + "TOKEN_STORE_PATH": str(self.token_store),
            tap + "QUOTA_STATE_PATH": str(self.quota_path),
            target + "DESTINATION_PATH": str(self.output),
        }

    def rows(self, stream: str) -> list[dict]:
        """Every line target-jsonl has written for ``stream`` so far."""
        path = self.output / f"{stream}.jsonl"
        if not path.exists():
            return []
        return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]

    def take_new_rows(self) -> dict[str, list[dict]]:
        """Rows written since the last call (the files only grow), per stream."""
        seen = self.delivered[-1] if self.delivered else {}
        now = {s: self.rows(s) for s in ("users", *FIELDS)}
        self.delivered.append({s: len(rows) for s, rows in now.items()})
        return {s: rows[seen.get(s, 0) :] for s, rows in now.items()}

    def quota_matches_zoom(self) -> bool:
        """The account's own quota store counted exactly the Heavy requests its Zoom served.

        The store keeps only today's (UTC, wall clock) count, so today's requests are compared.
        """
        with closing(sqlite3.connect(self.quota_path)) as conn:
            rows = dict(conn.execute("SELECT day, SUM(used) FROM daily_usage GROUP BY day"))
        served = Counter(
            datetime.fromtimestamp(e.t, timezone.utc).date().isoformat()
            for e in self.sandbox.request_log
            if e.category == "Heavy" and e.status == 200
        )
        return bool(rows) and all(served[day] == used for day, used in rows.items())


def start_accounts(root: Path) -> dict[str, Account]:
    """One sandbox per declared account, each with its own data and credentials.

    The second account authenticates as an OAuth app (refresh token + its token store), the
    others as Server-to-Server apps: both modes of the tap, side by side.
    """
    anchor = busy_anchor()
    accounts = {}
    for seed, (name, plan) in enumerate(sorted(declared_accounts().items()), start=11):
        config = SandboxConfig(
            plan=plan,
            users=20 + seed,
            days=2,
            seed=seed,
            now=anchor,
            late_fraction=0.0,
            events_per_user_day=24,
            operation_logs_per_day=96,
            account_id=f"{name}-account-id",
            client_id=f"{name}-client-id",
            client_secret=f"{name}-client-secret-{seed}-not-a-real-one",
        )
        home = root / name
        home.mkdir(parents=True)
        accounts[name] = Account(name, Sandbox(config).start(), home, oauth_app=seed == 12)
    return accounts


def base_env(project: Path, azurite_connection: str, dagster_home: Path) -> dict[str, str]:
    """The environment of a deployment: remote state in Azurite, its own system database."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(FOREIGN)}
    env.update(
        PATH=f"{BIN}{os.pathsep}{env.get('PATH', '')}",
        MELTANO_ENVIRONMENT=ENVIRONMENT,
        MELTANO_DATABASE_URI=f"sqlite:///{project / 'meltano-system.db'}",
        MELTANO_AUTO_INSTALL="false",
        MELTANO_SEND_ANONYMOUS_USAGE_STATS="false",
        MELTANO_STATE_BACKEND_URI=f"azure://{CONTAINER}/zoom",
        MELTANO_STATE_BACKEND_AZURE_CONNECTION_STRING=azurite_connection,
        DAGSTER_DAGSTER_HOME=str(dagster_home),
        DAGSTER_MELTANO_SCHEDULES="stopped",
    )
    return env


def meltano(project: Path, env: dict[str, str], *args: str) -> subprocess.CompletedProcess:
    """Run ``meltano ARGS`` in the project copy (text output)."""
    return subprocess.run(
        [MELTANO, *args], cwd=project, env=env, capture_output=True, text=True, timeout=120,
        check=False,
    )  # fmt: skip


def state_ids(project: Path, env: dict[str, str]) -> set[str]:
    """``meltano state list`` against the Azure backend."""
    done = meltano(project, env, "state", "list")
    assert done.returncode == 0, done.stderr[-3000:]
    return {line.strip() for line in done.stdout.splitlines() if line.strip()}


def states(project: Path, env: dict[str, str], ids: list[str]) -> dict[str, dict]:
    """``meltano state get ID`` for each id (in parallel), as JSON."""
    command = [MELTANO, "state", "get"]
    pipes = {"stdout": subprocess.PIPE, "stderr": subprocess.PIPE, "text": True}
    procs = {i: subprocess.Popen([*command, i], cwd=project, env=env, **pipes) for i in ids}
    result = {}
    for i, proc in procs.items():
        out, err = proc.communicate(timeout=120)
        assert proc.returncode == 0, f"meltano state get {i}: {err[-3000:]}"
        result[i] = json.loads(out)
    return result


def bookmark(state: dict, stream: str) -> datetime:
    """The stream's replication_key_value in a Meltano state (``singer_state``)."""
    value = state["singer_state"]["bookmarks"][stream]["replication_key_value"]
    return when(value)


def when(value: str) -> datetime:
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


def key(stream: str, record: dict) -> tuple:
    """A record's documented Zoom fields (what the sandbox's ground truth holds)."""
    return tuple(record.get(name) for name in FIELDS[stream])


def as_counter(stream: str, records: list[dict]) -> Counter:
    return Counter(key(stream, r) for r in records)
