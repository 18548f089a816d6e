"""429 handling through real HTTP, with headers dictated byte for byte by a scripted server.

Covers the header spellings the sandbox does not produce by itself (HTTP-date, X-RateLimit-Reset,
``Retry-After: 0``, a Daily-limit 429 without headers) and asserts on what the server saw.
"""

from __future__ import annotations

import itertools
import threading
import time
from datetime import datetime, timedelta, timezone
from email.utils import format_datetime

import pytest
import requests

from tap_zoom_defender.governor import MIN_RETRY_DELAY_S, QuotaExhausted

from .helpers import governed_get

QPS_BODY = {"code": 429, "message": "You have reached the maximum per-second rate limit."}
DAILY_BODY = {"code": 429, "message": "You have reached the maximum daily rate limit for this API."}


def _gaps(arrivals):
    times = [t for t, _ in arrivals]
    return [b - a for a, b in itertools.pairwise(times)]


@pytest.mark.parametrize(
    ("header", "make_value", "delta"),
    [
        ("Retry-After", lambda now: "1", 1.0),
        ("Retry-After", lambda now: "1.5", 1.5),
        ("X-RateLimit-Reset", lambda now: "1", 1.0),
    ],
    ids=["seconds", "fractional-seconds", "reset-delta"],
)
def test_retry_waits_the_seconds_the_header_says(
    make_governor, scripted_server, header, make_value, delta
):
    governor = make_governor(plan="pro", rate_limit_share=1.0)
    scripted_server.script((429, {header: make_value(None)}, QPS_BODY))
    with requests.Session() as session:
        response = governed_get(governor, session, scripted_server.url + "/users", "Medium")
    assert response.status_code == 200
    assert [status for _, status in scripted_server.arrivals] == [429, 200]
    # Counted from when the 429 was read, so the server sees at least that gap.
    assert _gaps(scripted_server.arrivals)[0] >= delta - 0.01


@pytest.mark.parametrize(
    ("header", "make_value"),
    [
        ("Retry-After", lambda at: at.isoformat().replace("+00:00", "Z")),
        ("Retry-After", lambda at: format_datetime(at, usegmt=True)),
        ("X-RateLimit-Reset", lambda at: f"{at.timestamp():.3f}"),
    ],
    ids=["iso-8601", "http-date", "reset-epoch"],
)
def test_retry_waits_until_the_time_the_header_names(
    make_governor, scripted_server, header, make_value
):
    governor = make_governor(plan="pro", rate_limit_share=1.0)
    # HTTP-dates have whole-second resolution: name a whole second 1-2 s away.
    at = (datetime.now(timezone.utc) + timedelta(seconds=2)).replace(microsecond=0)
    scripted_server.script((429, {header: make_value(at)}, QPS_BODY))
    with requests.Session() as session:
        governed_get(governor, session, scripted_server.url + "/report/activities", "Heavy")
    assert [status for _, status in scripted_server.arrivals] == [429, 200]
    assert scripted_server.arrival_walls[1] >= at.timestamp() - 0.01


def test_zero_retry_after_is_not_a_hot_loop(make_governor, scripted_server):
    governor = make_governor(plan="pro", rate_limit_share=1.0)
    scripted_server.script(*[(429, {"Retry-After": "0"}, QPS_BODY)] * 3)
    with requests.Session() as session:
        governed_get(governor, session, scripted_server.url + "/users", "Medium")
    assert len(scripted_server.arrivals) == 4
    assert min(_gaps(scripted_server.arrivals)) >= MIN_RETRY_DELAY_S - 0.01


def test_pause_holds_every_worker_of_the_category(make_governor, scripted_server):
    """While one request waits out Retry-After, other threads must not send that category."""
    governor = make_governor(plan="pro", rate_limit_share=1.0)
    scripted_server.script((429, {"Retry-After": "1"}, QPS_BODY))
    with requests.Session() as session:
        governor.acquire("Heavy")
        throttled = session.get(scripted_server.url + "/report/activities", timeout=30)
        delay = governor.on_429("Heavy", throttled)
        # Another worker of the same category asks to send during the pause.
        other = threading.Thread(
            target=governed_get,
            args=(governor, requests.Session(), scripted_server.url + "/report/x", "Heavy"),
        )
        other.start()
        time.sleep(delay)
        governed_get(governor, session, scripted_server.url + "/report/activities", "Heavy")
        other.join()
    first_429 = scripted_server.arrivals[0][0]
    later = [t for t, _ in scripted_server.arrivals[1:]]
    assert len(later) == 2
    assert min(later) - first_429 >= 1.0 - 0.05


def test_429_without_headers_holds_every_thread_a_full_second(make_governor, scripted_server):
    """No header says when: the whole category waits out Zoom's one-second window, not less."""
    governor = make_governor(plan="pro", rate_limit_share=1.0)
    url = scripted_server.url + "/report/activities"
    for _ in range(3):  # independent 429s (a 200 in between ends the streak): jitter's low end
        scripted_server.script((429, {}, QPS_BODY))
        with requests.Session() as session:
            governor.acquire("Heavy")
            throttled = session.get(url, timeout=30)
            assert throttled.status_code == 429
            delay = governor.on_429("Heavy", throttled)
            # Another worker of the same category asks to send right after the 429.
            other = threading.Thread(
                target=governed_get, args=(governor, requests.Session(), url, "Heavy")
            )
            other.start()
            time.sleep(delay)
            governed_get(governor, session, url, "Heavy")
            other.join()
    arrivals = scripted_server.arrivals
    assert [status for _, status in arrivals] == [429, 200, 200] * 3
    for i in range(0, 9, 3):
        refused_at = arrivals[i][0]
        assert min(t for t, _ in arrivals[i + 1 : i + 3]) - refused_at >= 1.0


def test_daily_limit_429_stops_and_is_remembered(make_governor, scripted_server):
    config = {"plan": "pro", "api_url": scripted_server.url, "account_id": "acct-1"}
    governor = make_governor(**config)
    scripted_server.script(
        (
            429,
            {"X-RateLimit-Type": "Daily-limit", "Retry-After": "2031-01-20T00:00:00Z"},
            DAILY_BODY,
        )
    )
    with requests.Session() as session, pytest.raises(QuotaExhausted) as caught:
        governed_get(governor, session, scripted_server.url + "/report/activities", "Heavy")
    assert caught.value.reset_at == datetime(2031, 1, 20, tzinfo=timezone.utc)
    assert "2031-01-20T00:00:00Z" in str(caught.value)
    assert len(scripted_server.arrivals) == 1

    # The next run the same day (same quota file, same account) stops before sending anything.
    rerun = make_governor(**config)
    with pytest.raises(QuotaExhausted) as again:
        rerun.acquire("Resource-intensive")  # shares the daily pool with Heavy on paid plans
    assert again.value.reset_at == caught.value.reset_at
    assert len(scripted_server.arrivals) == 1
    # Per-second-only categories are not part of that pool and still work.
    rerun.acquire("Medium")


def test_daily_429_without_headers_resets_at_midnight_utc(make_governor, scripted_server):
    governor = make_governor(plan="pro")
    scripted_server.script((429, {}, DAILY_BODY))
    with requests.Session() as session, pytest.raises(QuotaExhausted) as caught:
        governed_get(governor, session, scripted_server.url + "/report/activities", "Heavy")
    now = datetime.now(timezone.utc)
    midnight = datetime(now.year, now.month, now.day, tzinfo=timezone.utc) + timedelta(days=1)
    assert caught.value.reset_at == midnight
    assert len(scripted_server.arrivals) == 1


def test_zero_daily_remaining_stops_before_the_next_request(make_governor, scripted_server):
    governor = make_governor(plan="pro")
    scripted_server.script(
        (200, {"X-RateLimit-Type": "Daily-limit", "X-RateLimit-Remaining": "0"}, {"ok": True})
    )
    with requests.Session() as session:
        governed_get(governor, session, scripted_server.url + "/report/activities", "Heavy")
        with pytest.raises(QuotaExhausted):
            governed_get(governor, session, scripted_server.url + "/report/activities", "Heavy")
    assert len(scripted_server.arrivals) == 1
