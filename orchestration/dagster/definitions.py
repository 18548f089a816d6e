"""Dagster code location: every Meltano job of this project as a Dagster job (docs/scale-out.md).

Loaded by the Dagster processes that Meltano's ``dagster`` utility starts
(``meltano invoke dagster:dev``, ``dagster:webserver``, ``dagster:daemon``, ``dagster:code-server``;
see orchestration/dagster.meltano.yml). ``dagster-meltano`` reads ``meltano job list`` and
``meltano schedule list`` and makes one Dagster job per Meltano job (one op running
``meltano run <tasks> --force``) and one Dagster schedule per Meltano schedule, so the accounts in
orchestration/accounts.meltano.yml need nothing here: a new account's job appears on the next load.

Two deployment switches, both environment variables:

* ``MELTANO_PROJECT_ROOT`` (set by ``meltano invoke``): the Meltano project whose jobs are loaded;
  ``meltano`` must be on PATH (dagster-meltano calls it by name).
* ``DAGSTER_MELTANO_SCHEDULES``: ``running`` (default, as dagster-meltano makes them) or
  ``stopped`` (schedules are loaded but tick only once turned on in the UI or with
  ``dagster schedule start``; the tests use this so no schedule fires during a test).

Each job is rebuilt from dagster-meltano's graph with two additions: its op runs in the run
worker's own process (``in_process_executor``: a run is one process, one pod with the Kubernetes
run launcher, that Dagster starts, watches and can kill), and its runs carry the tag
``meltano/job=<job>``, on which dagster.yaml's run queue allows one run at a time: two runs of one
account never share its state, token store and quota at once.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from dagster import (
    DefaultScheduleStatus,
    Definitions,
    JobDefinition,
    ScheduleDefinition,
    in_process_executor,
)
from dagster_meltano import MeltanoResource, load_jobs_from_meltano_project

JOB_TAG = "meltano/job"
"""Run tag naming the Meltano job; dagster.yaml limits runs to one per value."""
PROJECT_ROOT = os.environ.get("MELTANO_PROJECT_ROOT") or str(Path(__file__).resolve().parents[2])
PROJECT_CACHE = "DAGSTER_MELTANO_PROJECT_JSON"
"""Jobs and schedules as the code server read them, inherited by the run workers it spawns."""


def _schedule_status() -> DefaultScheduleStatus:
    value = os.environ.get("DAGSTER_MELTANO_SCHEDULES", "running").strip().lower()
    if value not in ("running", "stopped"):
        raise ValueError(f"DAGSTER_MELTANO_SCHEDULES must be running or stopped, not {value!r}")
    return DefaultScheduleStatus.RUNNING if value == "running" else DefaultScheduleStatus.STOPPED


def _with_status(schedule: ScheduleDefinition, status: DefaultScheduleStatus) -> ScheduleDefinition:
    return ScheduleDefinition(
        name=schedule.name,
        job_name=schedule.job_name,
        cron_schedule=schedule.cron_schedule,
        execution_timezone="UTC",
        default_status=status,
        description=f"Meltano schedule {schedule.name} (UTC).",
    )


def _one_run_at_a_time(job: JobDefinition) -> JobDefinition:
    return job.graph.to_job(
        name=job.name,
        description=job.description,
        resource_defs={"meltano": job.resource_defs["meltano"]},
        tags={JOB_TAG: job.name},
        executor_def=in_process_executor,
    )


def _unique(loaded: list) -> list:
    """Drop repeated names (first wins).

    Meltano 4.4 lists the jobs and schedules of an ``include_paths`` file twice when an
    environment is active (``MELTANO_ENVIRONMENT``, as in every deployment): ``deep_merge``
    extends the cached meltano.yml lists in place on the second load. Dagster refuses two
    definitions of one name, so the copies go.
    """
    seen: dict[str, object] = {}
    for definition in loaded:
        seen.setdefault(definition.name, definition)
    return list(seen.values())


def _load(project_root: str) -> list:
    """dagster-meltano's jobs and schedules, asking the Meltano CLI once per code server.

    dagster-meltano runs ``meltano job list`` and ``meltano schedule list`` on every import of
    this file, and every run worker imports it again (seconds of CPU each). The code server
    keeps what it read in an environment variable; the run workers it spawns inherit it and
    reuse it, so a run executes exactly the job its code server loaded.
    """
    resource = MeltanoResource(project_dir=project_root)  # a singleton in dagster-meltano
    cached = os.environ.get(PROJECT_CACHE)
    if cached:
        resource.__dict__["meltano_yaml"] = json.loads(cached)  # its cached_property
    loaded = load_jobs_from_meltano_project(project_root)
    os.environ[PROJECT_CACHE] = json.dumps(resource.meltano_yaml)
    return loaded


def build_definitions(project_root: str = PROJECT_ROOT) -> Definitions:
    """Jobs and schedules of the Meltano project at ``project_root``."""
    loaded = _unique(_load(project_root))
    status = _schedule_status()
    return Definitions(
        jobs=[_one_run_at_a_time(d) for d in loaded if isinstance(d, JobDefinition)],
        schedules=[_with_status(d, status) for d in loaded if isinstance(d, ScheduleDefinition)],
    )


defs = build_definitions()
