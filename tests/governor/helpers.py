"""What the tap's client does around every request, reduced to the governor's part of it."""

from __future__ import annotations

import threading
import time
from datetime import timedelta

import requests

from tap_zoom_defender.governor import RateGovernor
from tap_zoom_defender.sandbox import Sandbox

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
    response = requests.post(
        sb.oauth_url,
        params={"grant_type": "account_credentials", "account_id": sb.account_id},
        auth=(sb.client_id, sb.client_secret),
        timeout=10,
    )
    assert response.status_code == 200, response.text
    session = requests.Session()
    session.headers["Authorization"] = f"Bearer {response.json()['access_token']}"
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
