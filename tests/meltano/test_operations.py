"""The shipped jobs and schedules, on a fresh clone, against the sandbox.

``meltano schedule list`` shows what meltano.yml ships; ``meltano schedule run`` of the hourly
SOC schedule runs in the default (dev) environment, keeps its bookmark in Meltano's state, and
a second run after new events adds exactly the new events.
"""

from __future__ import annotations

import json
from collections import Counter

from .conftest import MeltanoProject

SCHEDULES = {  # name: (interval, job, tasks)
    "zoom-to-defender-hourly": ("@hourly", "zoom-to-defender", ["tap-zoom target-defender"]),
    "zoom-to-jsonl-daily": ("@daily", "zoom-to-jsonl", ["tap-zoom target-jsonl"]),
}
OUT = "output/dev/defender"
STATE_ID = "dev:tap-zoom-to-target-defender"


def test_schedule_list_shows_the_shipped_jobs_and_schedules(project: MeltanoProject):
    done = project.meltano("schedule", "list", "--format=json")

    assert done.returncode == 0, done.stderr[-2000:]
    listed = {
        s["name"]: (s["interval"], s["job"]["name"], s["job"]["tasks"])
        for s in json.loads(done.stdout)["schedules"]["job"]
    }
    # meltano.yml may include more (per-account schedules): these two are the SOC's defaults.
    assert {name: listed.get(name) for name in SCHEDULES} == SCHEDULES


def sign_in_ids(project: MeltanoProject) -> list[str]:
    return [r["EventOriginalUid"] for r in project.rows(f"{OUT}/ZoomAuthentication_CL.jsonl")]


def bookmark(project: MeltanoProject) -> str:
    value = project.state(STATE_ID)["singer_state"]["bookmarks"]["activities"]
    return value["replication_key_value"]


def test_hourly_schedule_runs_and_the_next_run_is_incremental(project: MeltanoProject, zoom):
    done = project.meltano("schedule", "run", "zoom-to-defender-hourly")

    assert done.returncode == 0, done.stderr[-3000:]
    first = sign_in_ids(project)
    assert len(first) == len(zoom.ground_truth("activities")) > 0
    assert project.state_ids() == {STATE_ID}
    first_bookmark = bookmark(project)

    zoom.advance_clock(4 * 3600)  # new sign-ins (a small account: a few an hour)
    assert len(zoom.ground_truth("activities")) > len(first), "precondition: new events"
    done = project.meltano("schedule", "run", "zoom-to-defender-hourly")

    assert done.returncode == 0, done.stderr[-3000:]
    ids = sign_in_ids(project)
    assert not [i for i, n in Counter(ids).items() if n > 1], "a sign-in was written twice"
    assert len(ids) == len(zoom.ground_truth("activities")) > len(first)
    assert bookmark(project) > first_bookmark
    # users is a full snapshot per run: an append-only target holds one copy per run.
    users = project.rows(f"{OUT}/ZoomIdentityInfo_CL.jsonl")
    per_user = Counter(r["AdditionalFields"]["ZoomUserId"] for r in users)
    assert set(per_user.values()) == {2} and len(per_user) == len(zoom.ground_truth("users"))
