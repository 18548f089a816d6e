"""Environments share neither state nor output: the demo's run, then a newcomer's own runs.

The demo step runs as ``make demo`` runs it (``tap_zoom_defender.demo.pipeline_env``: the demo's
own system database and state backend in demo-output/). The newcomer's first ``meltano run``
(default environment dev) and a prod run then start from scratch, write to their own folders,
and leave the demo's files and state alone.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

from tap_zoom_defender.demo import pipeline_env

from .conftest import MeltanoProject

RUN = ("run", "tap-zoom", "target-jsonl")


def digest(folder: Path) -> dict[str, str]:
    """Every file under ``folder`` with the SHA-256 of its content."""
    return {
        str(path.relative_to(folder)): hashlib.sha256(path.read_bytes()).hexdigest()
        for path in sorted(folder.rglob("*"))
        if path.is_file()
    }


def test_demo_then_dev_then_prod_each_start_from_scratch_in_their_own_folders(
    project: MeltanoProject, zoom
):
    root = project.root
    sign_ins = len(zoom.ground_truth("activities"))
    demo_out = root / "demo-output"
    demo_out.mkdir()  # demo.main() makes it before anything else
    info = {
        "api_url": zoom.api_url,
        "oauth_url": zoom.oauth_url,
        "account_id": zoom.account_id,
        "client_id": zoom.client_id,
        "client_secret": zoom.client_secret,
    }
    # What demo.py adds to the environment (its state backend, system database, credentials).
    added = {k: v for k, v in pipeline_env(info, out=demo_out).items() if os.environ.get(k) != v}
    demo_env = {**added, "TAP_ZOOM_LOOKBACK_DAYS": "3"}

    done = project.meltano("--environment=demo", "run", "--full-refresh", *RUN[1:], env=demo_env)

    assert done.returncode == 0, done.stderr[-3000:]
    assert len(project.rows("demo-output/jsonl/activities.jsonl")) == sign_ins
    assert (demo_out / "meltano.db").is_file()
    assert (demo_out / "state" / "demo:tap-zoom-to-target-jsonl" / "state.json").is_file()
    assert project.state_ids() == set(), "the demo left state in the project's system database"
    demo_files = digest(demo_out / "jsonl")

    # A newcomer's first own run: the default environment (dev) against the sandbox.
    done = project.meltano(*RUN)

    assert done.returncode == 0, done.stderr[-3000:]
    assert len(project.rows("output/dev/jsonl/activities.jsonl")) == sign_ins, "not from scratch"
    assert digest(demo_out / "jsonl") == demo_files, "the dev run touched demo-output/"
    assert project.state_ids() == {"dev:tap-zoom-to-target-jsonl"}

    # prod: credentials as a .env would give them (here the sandbox's); its own folder and state.
    prod = {
        "TAP_ZOOM_API_URL": zoom.api_url,
        "TAP_ZOOM_OAUTH_URL": zoom.oauth_url,
        "TAP_ZOOM_ACCOUNT_ID": zoom.account_id,
        "TAP_ZOOM_CLIENT_ID": zoom.client_id,
        "TAP_ZOOM_CLIENT_SECRET": zoom.client_secret,
        "TAP_ZOOM_QUOTA_STATE_PATH": str(root / "prod-quota.sqlite"),
    }
    done = project.meltano("--environment=prod", *RUN, env=prod)

    assert done.returncode == 0, done.stderr[-3000:]
    # prod keeps target-jsonl's default: a new timestamped file per stream and run.
    (prod_file,) = (root / "output/prod/jsonl").glob("activities-*.jsonl")
    assert len(project.rows(str(prod_file.relative_to(root)))) == sign_ins, "not from scratch"
    assert len(project.rows("output/dev/jsonl/activities.jsonl")) == sign_ins
    assert digest(demo_out / "jsonl") == demo_files
    assert project.state_ids() == {"dev:tap-zoom-to-target-jsonl", "prod:tap-zoom-to-target-jsonl"}
