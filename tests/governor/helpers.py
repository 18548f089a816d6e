"""What the tap's client does around every request, reduced to the governor's part of it."""

from __future__ import annotations

import threading
import time
from datetime import timedelta

import requests

from tap_zoom_defender.governor import RateGovernor
from tap_zoom_defender.sandbox import Sandbox
from tests.sandbox.helpers import s2s_token

ACTIVITIES = "/report/activities"
OPERATION_LOGS = "/report/operationlogs"


def governed_get(
    governor: RateGovernor,
    session: requests.Session,
    url: str,
    category: str,
    params: dict | None = None,
    attempts: int = 8,
) -> requests.Response:
    """Acquire, send, and on a 429 wait what the governor says; return the first non-429."""
    for _ in range(attempts):
        governor.acquire(category)
        response = session.get(url, params=params, timeout=30)
        if response.status_code == 429:
            time.sleep(governor.on_429(category, response))
            continue
        governor.on_response(category, response)
        return response
    raise AssertionError(f"still throttled after {attempts} attempts")


def api_session(sb: Sandbox) -> requests.Session:
    """A session holding a Server-to-Server access token for ``sb``."""
    session = requests.Session()
    session.headers["Authorization"] = f"Bearer {s2s_token(sb)}"
    return session


def report_params(sb: Sandbox) -> dict[str, str]:
    """One day of report, small pages: the request is what is measured, not the payload."""
    today = sb.now().date()
    return {
        "from": (today - timedelta(days=1)).isoformat(),
        "to": today.isoformat(),
        "page_size": "5",
    }


def run_workers(count: int, target, *args: object) -> None:
    """Run ``target(*args)`` in ``count`` threads and wait; re-raise the first failure."""
    errors: list[BaseException] = []

    def guarded() -> None:
        try:
            target(*args)
        except BaseException as exc:  # handed to the test thread
            errors.append(exc)

    threads = [threading.Thread(target=guarded) for _ in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    if errors:
        raise errors[0]


def run_pipelines(pipelines: list[RateGovernor], target) -> None:
    """Run ``target(governor)`` per governor, each in a thread like a job; then close them."""
    try:
        runners = [threading.Thread(target=target, args=(g,)) for g in pipelines]
        for runner in runners:
            runner.start()
        for runner in runners:
            runner.join()
    finally:
        for governor in pipelines:
            governor.close()
