"""tap-zoom-defender | target-defender against the Zoom sandbox: rows == ground truth, mapped.

Two incremental runs (the second with the state the target acknowledged, after new events
appeared): the union of rows equals the sandbox's ground truth mapped through the profile, and
no event row is written twice.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest

from tap_zoom_defender.defender.mapping import PROFILES, MappingContext

from . import reference as ref
from .singer_io import read_rows, write_config

TAP = str(Path(sys.executable).with_name("tap-zoom-defender"))
TARGET = str(Path(sys.executable).with_name("target-defender"))
MELTANO = str(Path(sys.executable).with_name("meltano"))
PROJECT = Path(__file__).resolve().parents[2]
# The account lives 5 h behind the wall clock and 4 h pass between the runs; the tap's bookmark
# is its wall-clock start, and it re-reads late_arrival_hours (6, meltano.yml's value) before
# it, so the second run sees the sandbox's new events. That overlap also proves the tap +
# target write nothing twice.
LATE_HOURS = 6

EVENT_TABLES = {
    "asim": {"activities": "ZoomAuthentication_CL", "operation_logs": "ZoomAuditEvent_CL"},
    "cloudappevents": {"activities": "ZoomCloudAppEvents_CL",
                       "operation_logs": "ZoomCloudAppEvents_CL"},
}  # fmt: skip
KEYS = {"ZoomAuthentication_CL": "EventOriginalUid", "ZoomAuditEvent_CL": "EventOriginalUid",
        "ZoomCloudAppEvents_CL": "ReportId", "ZoomIdentityInfo_CL": "ReportId"}  # fmt: skip


def pipe_run(
    sb,
    tmp: Path,
    profile: str,
    state: dict | None,
    *,
    target_extra: dict | None = None,
    env: dict[str, str] | None = None,
    tap_extra: dict | None = None,
    expect_target_exit: int = 0,
) -> dict | None:
    """Run ``tap | target`` as a real pipe; return the last STATE the target acknowledged."""
    tap_config = write_config(
        tmp / "tap.json",
        {"account_id": sb.account_id, "client_id": sb.client_id,
         "client_secret": sb.client_secret, "api_url": sb.api_url, "oauth_url": sb.oauth_url,
         "lookback_days": 4, "late_arrival_hours": LATE_HOURS,
         "quota_state_path": str(tmp / "quota.sqlite"), **(tap_extra or {})},
    )  # fmt: skip
    target_config = write_config(
        tmp / "target.json",
        {"output_dir": str(tmp / "out"), "schema_profile": profile, **(target_extra or {})},
    )
    args = [TAP, "--config", str(tap_config)]
    if state:
        state_file = tmp / "state-in.json"
        state_file.write_text(json.dumps(state))
        args += ["--state", str(state_file)]
    with open(tmp / "tap.log", "ab") as tap_log:
        tap = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=tap_log)
        target = subprocess.run(
            [TARGET, "--config", str(target_config)], stdin=tap.stdout, capture_output=True,
            timeout=240, check=False, env={**os.environ, **(env or {})},
        )  # fmt: skip
        tap.stdout.close()
        tap_exit = tap.wait(timeout=60)
    assert target.returncode == expect_target_exit, target.stderr.decode()[-3000:]
    if expect_target_exit:  # the target stopped reading: the tap sees a closed pipe (74)
        return None
    assert tap_exit == 0, (tmp / "tap.log").read_text()[-3000:]
    lines = [json.loads(x) for x in target.stdout.decode().splitlines() if x.strip()]
    assert lines, "the target acknowledged no STATE"
    return lines[-1]


def ensure_meltano_plugins() -> None:
    """Install the Meltano plugins once (``make test`` does it too); never skip the run."""
    installed = (
        PROJECT / ".meltano/extractors/tap-zoom",
        PROJECT / ".meltano/loaders/target-defender",
    )
    if not all(path.is_dir() for path in installed):
        subprocess.run(
            [MELTANO, "install"], cwd=PROJECT, check=True, capture_output=True, timeout=600
        )


def meltano_run(sb, tmp: Path, profile: str, state: dict | None) -> None:
    """``meltano run tap-zoom target-defender`` (Meltano keeps the state between runs)."""
    del state  # Meltano's own state backend (a file here, isolated from the demo) has it
    env = {
        **os.environ,
        "ZOOM_SANDBOX_API_URL": sb.api_url,
        "ZOOM_SANDBOX_OAUTH_URL": sb.oauth_url,
        "ZOOM_SANDBOX_ACCOUNT_ID": sb.account_id,
        "ZOOM_SANDBOX_CLIENT_ID": sb.client_id,
        "ZOOM_SANDBOX_CLIENT_SECRET": sb.client_secret,
        "TAP_ZOOM_LOOKBACK_DAYS": "4",
        "TAP_ZOOM_QUOTA_STATE_PATH": str(tmp / "quota.sqlite"),
        "TARGET_DEFENDER_OUTPUT_DIR": str(tmp / "out"),
        "TARGET_DEFENDER_SCHEMA_PROFILE": profile,
        "MELTANO_DATABASE_URI": f"sqlite:///{tmp}/meltano.db",
        "MELTANO_STATE_BACKEND_URI": f"file://{tmp}/meltano-state",
    }
    done = subprocess.run(
        [MELTANO, "--environment=demo", "run", "tap-zoom", "target-defender"],
        cwd=PROJECT, env=env, capture_output=True, text=True, timeout=300, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    return None


def _comparable(row: dict, key: str) -> str:
    """A row without the tap's key (ground truth has none), as canonical JSON."""
    row = {k: v for k, v in row.items() if k != key}
    for nested in ("AdditionalFields", "RawEventData"):
        value = row.get(nested)
        if isinstance(value, dict):
            value = {k: v for k, v in value.items() if k != "event_id"}
            if isinstance(value.get("ZoomRecord"), dict):
                value["ZoomRecord"] = {
                    k: v for k, v in value["ZoomRecord"].items() if k != "event_id"
                }
            row[nested] = value
    return json.dumps(row, sort_keys=True, ensure_ascii=False)


@pytest.mark.parametrize(
    ("runner", "profile"), [(meltano_run, "asim"), (pipe_run, "cloudappevents")],
    ids=["meltano-asim", "pipe-cloudappevents"],
)  # fmt: skip
def test_two_incremental_runs_equal_ground_truth_without_duplicates(
    sandbox_factory, tmp_path, runner, profile
):
    if runner is meltano_run:
        ensure_meltano_plugins()
    # Every event must lie in the tap's past (it asks Zoom up to its own wall-clock "now").
    start = dt.datetime.now(dt.timezone.utc).replace(microsecond=0) - dt.timedelta(hours=5)
    sb = sandbox_factory(users=12, days=2, late_fraction=0.0, now=start)
    out = tmp_path / "out"
    state = runner(sb, tmp_path, profile, None)
    first = {t: len(read_rows(out / f"{t}.jsonl")) for t in set(EVENT_TABLES[profile].values())}
    sb.advance_clock(4 * 3600)  # new sign-ins and admin operations happen
    runner(sb, tmp_path, profile, state)

    for stream, table in EVENT_TABLES[profile].items():
        rows = read_rows(out / f"{table}.jsonl")
        key = KEYS[table]
        dupes = [k for k, n in Counter(r[key] for r in rows).items() if n > 1]
        assert not dupes, f"{table}: {len(dupes)} rows written twice"
        bad = [ref.disallowed_values(table, r) for r in rows if ref.disallowed_values(table, r)]
        assert not bad, f"{table}: values the schema does not allow, e.g. {bad[0]}"
        mapping = PROFILES[profile][stream]
        ctx = MappingContext(stream=stream, display_name=lambda _e: None)
        expected = Counter(
            _comparable(mapping.map(record, ctx), key) for record in sb.ground_truth(stream)
        )
        mine = rows
        if table == "ZoomCloudAppEvents_CL":
            mine = [r for r in rows if r["IsAdminOperation"] == (stream == "operation_logs")]
            # Display names come from the users stream (test_first_run_names checks them).
            mine = [{**r, "AccountDisplayName": None} for r in mine]
        got = Counter(_comparable(r, key) for r in mine)
        assert got == expected, (
            f"{table}/{stream}: {sum((expected - got).values())} missing, "
            f"{sum((got - expected).values())} unexpected"
        )
    assert sum(first.values()) < sum(
        len(read_rows(out / f"{t}.jsonl")) for t in set(EVENT_TABLES[profile].values())
    ), "the second run brought no new events: the incremental path was not exercised"

    users = read_rows(out / "ZoomIdentityInfo_CL.jsonl")
    # users is a snapshot per run: each run writes every user once, unchanged users keep keys
    assert Counter(Counter(r["ReportId"] for r in users).values()) == {
        2: len(sb.ground_truth("users"))
    }
