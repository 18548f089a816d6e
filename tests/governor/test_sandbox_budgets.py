"""The governor's rules checked where Zoom would check them: in the sandbox's request log.

Every request goes over real HTTP to a sandbox that enforces Zoom's sliding per-second windows and
daily pools; assertions read what the sandbox admitted, rejected and when.
"""

from __future__ import annotations

import itertools
import json
import subprocess
import sys
import threading
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from tap_zoom_defender.governor import QuotaExhausted, RateGovernor
from tap_zoom_defender.throttle_settings import validate_config
from tests.rate_windows import max_in_any_window

from .helpers import (
    ACTIVITIES,
    OPERATION_LOGS,
    api_session,
    governed_get,
    report_params,
    run_pipelines,
    run_workers,
)

SMALL = {"users": 5, "days": 2, "seed": 7}


def _next_midnight() -> datetime:
    now = datetime.now(timezone.utc)
    return datetime(now.year, now.month, now.day, tzinfo=timezone.utc) + timedelta(days=1)


@pytest.mark.parametrize(("share", "heavy_budget", "medium_budget"), [(1.0, 10, 20), (0.5, 5, 10)])
def test_never_more_than_the_budget_in_any_second(
    sandbox_factory, make_governor, share, heavy_budget, medium_budget
):
    """Several workers per category, Heavy and Medium at once, for about three seconds."""
    sb = sandbox_factory(**SMALL)  # Pro: Heavy 10/s, Medium 20/s
    governor = make_governor(**sb.tap_config(rate_limit_share=share))
    params = report_params(sb)
    statuses: list[int] = []

    def heavy_worker() -> None:
        with api_session(sb) as session:
            for _ in range(heavy_budget * 3 // 4):
                response = governed_get(governor, session, sb.api_url + ACTIVITIES, "Heavy", params)
                statuses.append(response.status_code)

    def medium_worker() -> None:
        with api_session(sb) as session:
            for _ in range(medium_budget * 3 // 2):
                response = governed_get(governor, session, sb.api_url + "/users", "Medium")
                statuses.append(response.status_code)

    medium = threading.Thread(target=run_workers, args=(2, medium_worker))
    medium.start()
    run_workers(4, heavy_worker)
    medium.join()

    assert statuses and set(statuses) == {200}
    log = [e for e in sb.request_log if e.category in ("Heavy", "Medium")]
    assert len(log) == len(statuses)  # not one retry was needed
    assert [e for e in log if e.status == 429] == []
    assert max_in_any_window([e.t for e in log if e.category == "Heavy"]) <= heavy_budget
    assert max_in_any_window([e.t for e in log if e.category == "Medium"]) <= medium_budget


def test_two_pipelines_splitting_the_account_stay_within_it(sandbox_factory, tmp_path):
    """Two jobs on one account, each with rate_limit_share 0.5, never exceed the account."""
    sb = sandbox_factory(**SMALL)
    params = report_params(sb)
    pipelines = [
        RateGovernor.from_config(
            sb.tap_config(rate_limit_share=0.5, quota_state_path=str(tmp_path / f"q{i}.sqlite"))
        )
        for i in range(2)
    ]

    def pipeline(governor: RateGovernor) -> None:
        def worker() -> None:
            with api_session(sb) as session:
                for _ in range(5):
                    assert (
                        governed_get(governor, session, sb.api_url + ACTIVITIES, "Heavy", params)
                    ).status_code == 200

        run_workers(2, worker)

    run_pipelines(pipelines, pipeline)
    heavy = [e for e in sb.request_log if e.category == "Heavy"]
    assert len(heavy) == 20
    assert [e for e in heavy if e.status == 429] == []
    assert max_in_any_window([e.t for e in heavy]) <= 10


def test_daily_budget_stops_before_sending_and_holds_for_the_day(sandbox_factory, make_governor):
    sb = sandbox_factory(**SMALL)
    config = sb.tap_config(daily_request_budget=4)
    governor = make_governor(**config)
    params = report_params(sb)
    with api_session(sb) as session:
        # Both report endpoints draw on the same budget, as on Zoom.
        for path in (ACTIVITIES, OPERATION_LOGS, ACTIVITIES, OPERATION_LOGS):
            assert governed_get(governor, session, sb.api_url + path, "Heavy", params).ok
        with pytest.raises(QuotaExhausted) as caught:
            governed_get(governor, session, sb.api_url + ACTIVITIES, "Heavy", params)
        # Light/Medium calls are outside the Heavy budget and keep working.
        assert governed_get(governor, session, sb.api_url + "/users", "Medium").ok

    assert caught.value.reset_at == _next_midnight()
    assert str(caught.value).startswith("daily_request_budget of 4 ")
    assert governor.daily_used() == 4
    heavy = [e for e in sb.request_log if e.category == "Heavy"]
    assert len(heavy) == 4

    # A second run the same UTC day (same account, same quota file) sends nothing Heavy.
    rerun = make_governor(**config)
    with pytest.raises(QuotaExhausted):
        rerun.acquire("Heavy")
    assert len([e for e in sb.request_log if e.category == "Heavy"]) == 4

    # The count is per UTC day: tomorrow the budget is whole again.
    tomorrow = RateGovernor(
        validate_config(config),
        clock=lambda: datetime.now(timezone.utc) + timedelta(days=1),
    )
    try:
        tomorrow.acquire("Heavy")
        assert tomorrow.daily_used() == 1
    finally:
        tomorrow.close()


def test_pipelines_sharing_the_quota_file_share_one_daily_budget(sandbox_factory, tmp_path):
    """Two governors (each its own SQLite connection, as two processes would have)."""
    sb = sandbox_factory(**SMALL)
    config = sb.tap_config(daily_request_budget=6, quota_state_path=str(tmp_path / "q.sqlite"))
    pipelines = [RateGovernor.from_config(config) for _ in range(2)]
    spent: list[int] = []

    def spend(governor: RateGovernor) -> None:
        while True:
            try:
                governor.acquire("Heavy")
            except QuotaExhausted:
                return
            spent.append(1)

    run_pipelines(pipelines, spend)
    assert len(spent) == 6


def test_zoom_daily_limit_429_stops_and_is_remembered(sandbox_factory, make_governor):
    sb = sandbox_factory(**SMALL, daily_quota=3)
    params = report_params(sb)
    with api_session(sb) as other_app:  # another app on the account spends Zoom's quota
        for _ in range(3):
            assert other_app.get(sb.api_url + ACTIVITIES, params=params, timeout=10).ok
    config = sb.tap_config()
    governor = make_governor(**config)
    with api_session(sb) as session, pytest.raises(QuotaExhausted) as caught:
        governed_get(governor, session, sb.api_url + OPERATION_LOGS, "Heavy", params)

    heavy = [e for e in sb.request_log if e.category == "Heavy"]
    assert [(e.status, e.rate_type) for e in heavy][-1] == (429, "Daily-limit")
    assert len(heavy) == 4  # exactly one request met the daily limit; no retry followed
    sandbox_day = sb.now().date() + timedelta(days=1)
    assert caught.value.reset_at == datetime(
        sandbox_day.year, sandbox_day.month, sandbox_day.day, tzinfo=timezone.utc
    )
    assert "Daily-limit" in str(caught.value)

    rerun = make_governor(**config)
    with pytest.raises(QuotaExhausted):
        rerun.acquire("Heavy")
    assert len([e for e in sb.request_log if e.category == "Heavy"]) == 4


def test_last_request_of_zooms_daily_quota_stops_the_next_one(sandbox_factory, make_governor):
    """Zoom's X-RateLimit-Remaining: 0 on a success means the next Heavy call would be a 429."""
    sb = sandbox_factory(**SMALL, daily_quota=3)
    governor = make_governor(**sb.tap_config())
    params = report_params(sb)
    with api_session(sb) as session:
        for _ in range(3):
            assert governed_get(governor, session, sb.api_url + ACTIVITIES, "Heavy", params).ok
        with pytest.raises(QuotaExhausted):
            governed_get(governor, session, sb.api_url + ACTIVITIES, "Heavy", params)
    heavy = [e for e in sb.request_log if e.category == "Heavy"]
    assert [e.status for e in heavy] == [200, 200, 200]


def test_429_without_headers_backs_off_growing_not_hot(sandbox_factory, make_governor):
    sb = sandbox_factory(**SMALL)
    sb.set_faults(ACTIVITIES, bare_429_rate=1.0, max_faults=2)
    governor = make_governor(**sb.tap_config(rate_limit_share=1.0))
    with api_session(sb) as session:
        response = governed_get(
            governor, session, sb.api_url + ACTIVITIES, "Heavy", report_params(sb)
        )
    assert response.status_code == 200
    heavy = [e for e in sb.request_log if e.category == "Heavy"]
    assert [(e.status, e.rate_type) for e in heavy][:2] == [(429, None), (429, None)]
    assert len(heavy) == 3
    assert governor.daily_used() == 1  # rejected requests are not charged to the daily budget
    gaps = [later.t - earlier.t for earlier, later in itertools.pairwise(heavy)]
    # Jittered exponential backoff from Zoom's one-second window: at least 1 s, then 2 s.
    assert gaps[0] >= 1.0
    assert gaps[1] >= 2.0


def test_slows_down_when_another_app_is_busy_and_recovers(sandbox_factory, make_governor):
    """Another app spends 6 of the account's 10 Heavy requests/s; then it stops."""
    sb = sandbox_factory(**SMALL)
    governor = make_governor(**sb.tap_config(rate_limit_share=1.0))
    params = report_params(sb)
    busy_until = time.monotonic() + 2.5
    stop_other_app = threading.Event()
    paces: list[float] = []

    def other_app() -> None:
        with api_session(sb) as session:
            while not stop_other_app.is_set():
                session.get(sb.api_url + OPERATION_LOGS, params=params, timeout=10)
                stop_other_app.wait(1 / 6)

    def our_worker(until: float) -> None:
        with api_session(sb) as session:
            while time.monotonic() < until:
                assert governed_get(governor, session, sb.api_url + ACTIVITIES, "Heavy", params).ok
                paces.append(governor.current_per_second("Heavy"))

    other = threading.Thread(target=other_app)
    other.start()
    try:
        run_workers(3, our_worker, busy_until)
    finally:
        stop_other_app.set()
        other.join()
    pace_when_other_app_stopped = governor.current_per_second("Heavy")
    ours = [e for e in sb.request_log if e.path.endswith(ACTIVITIES)]
    throttled = [e for e in ours if e.status == 429]
    assert throttled, "the busy account must have pushed back"
    assert min(paces) < 10  # the governor slowed down
    # Never a hot loop: every 429 pauses the category at least 0.5 s (no header -> backoff).
    assert len(throttled) <= 3 * (2.5 / 0.5)

    # Each quiet second gives back a tenth of the budget. A 429 still in flight when the other
    # app stopped may pause the category for its backoff (up to 4 s) and cut the pace once more,
    # so the test waits (bounded) for two steps back rather than timing a fixed window.
    quiet_from = time.time() + 1.0  # answers to requests sent while the other app was busy
    target = min(10, pace_when_other_app_stopped + 2)
    deadline = time.monotonic() + 10
    while governor.current_per_second("Heavy") < target and time.monotonic() < deadline:
        run_workers(2, our_worker, time.monotonic() + 0.5)
    assert governor.current_per_second("Heavy") >= target
    assert [e for e in sb.request_log if e.t > quiet_from and e.status == 429] == []


def test_processes_with_shared_rate_limits_pace_together(sandbox_factory, tmp_path):
    """Two OS processes, each allowed the whole account, together stay within it when shared."""
    sb = sandbox_factory(**SMALL)
    config = sb.tap_config(
        rate_limit_share=1.0,
        shared_rate_limits=True,
        quota_state_path=str(tmp_path / "shared.sqlite"),
        params=report_params(sb),
    )
    script = Path(__file__).with_name("pipeline_process.py")
    processes = [
        subprocess.Popen(
            [sys.executable, str(script), json.dumps(config), "15"],
            stdout=subprocess.PIPE,
            text=True,
        )
        for _ in range(2)
    ]
    outputs = [process.communicate(timeout=60)[0] for process in processes]
    assert [process.returncode for process in processes] == [0, 0]
    statuses = [status for output in outputs for status in json.loads(output)]
    assert statuses == [200] * 30
    heavy = [e for e in sb.request_log if e.category == "Heavy"]
    assert len(heavy) == 30
    assert max_in_any_window([e.t for e in heavy]) <= 10
