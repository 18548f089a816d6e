"""Dagster, started through Meltano's dagster utility, and driven over its GraphQL API.

``meltano invoke dagster:dev`` runs the webserver and the daemon (run queue, schedules, run
monitoring) on the project copy's code location (orchestration/dagster). The test launches runs
as an operator or a sensor would: ``launchRun`` over HTTP; the daemon dequeues them and each run
is its own worker process (``dagster api execute_run``) running ``meltano run``.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import time
from pathlib import Path

import psutil
import pytest
import requests

from .fleet import MELTANO

LOCATION = "meltano"
REPOSITORY = "__repository__"
DONE = ("SUCCESS", "FAILURE", "CANCELED")

_LAUNCH = """
mutation($params: ExecutionParams!) {
  launchRun(executionParams: $params) {
    __typename
    ... on LaunchRunSuccess { run { runId } }
    ... on PythonError { message }
    ... on RunConfigValidationInvalid { errors { message } }
    ... on InvalidSubsetError { message }
    ... on PipelineNotFoundError { message }
  }
}"""
_STATUS = """
query($id: ID!) { runOrError(runId: $id) { __typename ... on Run { status tags { key value } } } }
"""
_TERMINATE = """
mutation($id: String!) {
  terminateRun(runId: $id, terminatePolicy: MARK_AS_CANCELED_IMMEDIATELY) { __typename }
}"""
_LOGS = """
query($id: ID!) {
  logsForRun(runId: $id) { ... on EventConnection { events { ... on MessageEvent { message } } } }
}"""
_CHILD_RUNS = """
query($value: String!) {
  runsOrError(filter: {tags: [{key: "dagster/parent_run_id", value: $value}]}) {
    ... on Runs { results { runId status } }
  }
}"""
_JOBS = """
{ repositoriesOrError { ... on RepositoryConnection { nodes { location { name } jobs { name } } }
  ... on PythonError { message } } }"""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Dagster:
    """``meltano invoke dagster:dev`` in its own process group, and a GraphQL client for it."""

    def __init__(self, project: Path, env: dict[str, str], log: Path) -> None:
        """Start the webserver and daemon; wait until the code location is loaded."""
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}/graphql"
        self.log_path = log
        self._log = log.open("w")
        self.proc = subprocess.Popen(
            # --no-install: the utility's venv is the project's own (linked); Meltano 4.4 would
            # reinstall it for the copy's path (it ignores MELTANO_AUTO_INSTALL=false).
            [
                MELTANO,
                "invoke",
                "--no-install",
                "dagster:dev",
                "-h",
                "127.0.0.1",
                "-p",
                str(self.port),
            ],
            cwd=project,
            env=env,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # one group: the webserver, daemon and code servers
        )

    def query(self, query: str, **variables: object) -> dict:
        reply = requests.post(self.url, json={"query": query, "variables": variables}, timeout=30)
        reply.raise_for_status()
        body = reply.json()
        assert "errors" not in body, body["errors"]
        return body["data"]

    def wait_ready(self, jobs: list[str], timeout: float = 120.0) -> None:
        """Wait until the webserver answers and the code location has ``jobs``."""
        deadline = time.monotonic() + timeout
        last = ""
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                break
            try:
                nodes = self.query(_JOBS)["repositoriesOrError"].get("nodes") or []
                loaded = {j["name"] for n in nodes for j in n["jobs"]}
                if set(jobs) <= loaded:
                    return
                last = f"loaded jobs: {sorted(loaded)}"
            except (requests.RequestException, AssertionError) as exc:
                last = str(exc)
            time.sleep(1.0)
        tail = self.tail()
        self.stop()
        pytest.fail(f"Dagster did not come up ({last}):\n{tail}")

    def launch(self, job: str, tags: dict[str, str] | None = None) -> str:
        """Submit a run of ``job`` to the queue; return its run id."""
        params = {
            "selector": {
                "repositoryLocationName": LOCATION,
                "repositoryName": REPOSITORY,
                "jobName": job,
            },
            "runConfigData": {},
            "executionMetadata": {
                "tags": [{"key": k, "value": v} for k, v in (tags or {}).items()]
            },
        }
        result = self.query(_LAUNCH, params=params)["launchRun"]
        assert result["__typename"] == "LaunchRunSuccess", result
        return result["run"]["runId"]

    def run(self, run_id: str) -> dict:
        """``{"status": ..., "tags": {...}}`` of a run."""
        run = self.query(_STATUS, id=run_id)["runOrError"]
        return {"status": run["status"], "tags": {t["key"]: t["value"] for t in run["tags"]}}

    def status(self, run_id: str) -> str:
        return self.run(run_id)["status"]

    def wait(self, run_ids: list[str], timeout: float = 150.0) -> dict[str, str]:
        """Wait until every run has finished; return ``run id -> status``."""
        deadline = time.monotonic() + timeout
        statuses: dict[str, str] = {}
        while time.monotonic() < deadline:
            statuses = {r: self.status(r) for r in run_ids}
            if all(s in DONE for s in statuses.values()):
                return statuses
            time.sleep(0.5)
        raise AssertionError(f"runs did not finish in {timeout:.0f}s: {statuses}")

    def retry_of(self, run_id: str, timeout: float = 60.0) -> str:
        """The run Dagster launched by itself to retry ``run_id`` (``run_retries``)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            found = self.query(_CHILD_RUNS, value=run_id)["runsOrError"].get("results") or []
            if found:
                return found[0]["runId"]
            time.sleep(0.5)
        raise AssertionError(f"Dagster launched no retry of {run_id} in {timeout:.0f}s")

    def terminate(self, run_id: str) -> None:
        """Mark a run whose worker is gone as canceled (what an operator does in the UI)."""
        self.query(_TERMINATE, id=run_id)

    def logs(self, run_id: str, last: int = 60) -> str:
        """The run's last event-log messages (for failure reports)."""
        events = self.query(_LOGS, id=run_id)["logsForRun"].get("events") or []
        return "\n".join(e.get("message") or "" for e in events[-last:])

    def tail(self, chars: int = 4000) -> str:
        if not self._log.closed:
            self._log.flush()
        return self.log_path.read_text(errors="replace")[-chars:]

    def stop(self) -> None:
        """Stop every process of the group (SIGTERM, then SIGKILL)."""
        if self.proc.poll() is None:
            for sig, wait in ((signal.SIGTERM, 20), (signal.SIGKILL, 10)):
                try:
                    os.killpg(self.proc.pid, sig)
                except ProcessLookupError:
                    break
                try:
                    self.proc.wait(timeout=wait)
                    break
                except subprocess.TimeoutExpired:
                    continue
        _kill_group_leftovers(self.proc.pid)
        self._log.close()


def _kill_group_leftovers(pgid: int) -> None:
    for proc in psutil.process_iter(["pid"]):
        try:
            if os.getpgid(proc.pid) == pgid:
                proc.kill()
        except (ProcessLookupError, psutil.Error):
            continue


def run_worker_of(extractor: str) -> psutil.Process | None:
    """The Dagster run worker whose ``meltano run`` runs ``extractor``.

    The code server starts each run in a process of its own (``multiprocessing`` spawn; the
    run launcher without a code server uses ``dagster api execute_run``): the nearest such
    ancestor of the ``meltano run`` process.
    """
    for proc in psutil.process_iter(["cmdline"]):
        cmd = proc.info["cmdline"] or []
        if "run" in cmd and extractor in cmd and any(c.endswith("meltano") for c in cmd):
            for parent in proc.parents():
                try:
                    line = " ".join(parent.cmdline())
                except psutil.Error:
                    continue
                if "multiprocessing" in line or "execute_run" in line:
                    return parent
    return None


def kill_worker(worker: psutil.Process) -> list[int]:
    """SIGKILL the run worker and every process under it at once, as when its pod dies."""
    victims = [worker, *worker.children(recursive=True)]
    for proc in victims:
        try:
            proc.send_signal(signal.SIGKILL)
        except psutil.NoSuchProcess:
            continue
    psutil.wait_procs(victims, timeout=10)
    return [p.pid for p in victims]
