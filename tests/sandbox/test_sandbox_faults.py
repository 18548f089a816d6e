"""Injected faults, each seen through real HTTP the way a client would meet it."""

from __future__ import annotations

import json

import pytest
import requests

from .helpers import fetch_all, window

ACTIVITIES = "/report/activities"


def _get(s, sb, **extra):
    return s.get(sb.api_url + ACTIVITIES, params={**window(sb, 1), **extra}, timeout=10)


def test_server_errors_then_recovery(sandbox, api):
    s = api(sandbox)
    sandbox.set_faults(error_rate=1.0, max_faults=2, error_statuses=[503])
    first, second, third = (_get(s, sandbox) for _ in range(3))
    assert (first.status_code, second.status_code, third.status_code) == (503, 503, 200)
    assert first.json()["code"] == 503
    assert [e.fault for e in sandbox.request_log[-3:]] == ["error", "error", None]


def test_bare_429_has_no_rate_limit_headers(sandbox, api):
    s = api(sandbox)
    sandbox.set_faults(bare_429_rate=1.0, max_faults=1)
    r = _get(s, sandbox)
    assert r.status_code == 429
    assert not [h for h in r.headers if h.lower().startswith(("x-ratelimit", "retry-after"))]


def test_dropped_connection(sandbox, api):
    s = api(sandbox)
    sandbox.set_faults(drop_rate=1.0, max_faults=1)
    with pytest.raises(requests.ConnectionError):
        _get(s, sandbox)
    assert _get(s, sandbox).status_code == 200
    assert sandbox.request_log[-2].status == 0


@pytest.mark.parametrize("kind", ["truncate_rate", "malformed_rate"])
def test_broken_json_bodies(sandbox, api, kind):
    s = api(sandbox)
    sandbox.set_faults(**{kind: 1.0, "max_faults": 1})
    r = _get(s, sandbox)
    assert r.status_code == 200
    with pytest.raises(json.JSONDecodeError):
        json.loads(r.text)
    assert _get(s, sandbox).json()["activity_logs"] is not None


def test_slow_response_outlasts_a_client_timeout(sandbox, api):
    s = api(sandbox)
    sandbox.set_faults(slow_rate=1.0, slow_seconds=3, max_faults=1)
    with pytest.raises(requests.Timeout):
        s.get(sandbox.api_url + ACTIVITIES, params=window(sandbox, 1), timeout=0.3)
    sandbox.clear_faults()
    s2 = api(sandbox)  # a new connection: the slow one is still busy
    assert _get(s2, sandbox).status_code == 200


def test_early_page_token_expiry(sandbox_factory, api):
    sb = sandbox_factory(users=30, days=2)
    s = api(sb)
    token = _get(s, sb, page_size=5).json()["next_page_token"]
    sb.set_faults(page_token_expiry_rate=1.0)
    assert _get(s, sb, page_size=5).status_code == 200  # first pages are unaffected
    r = _get(s, sb, page_size=5, next_page_token=token)
    assert r.status_code == 400
    assert r.json() == {"code": 300, "message": "The next page token is invalid or expired."}


def test_token_revoked_mid_run(sandbox, api):
    s = api(sandbox)
    sandbox.set_faults(revoke_after=2)
    assert [_get(s, sandbox).status_code for _ in range(3)] == [200, 200, 401]
    assert _get(api(sandbox), sandbox).status_code == 200


def test_short_pages_still_page_through_everything(sandbox_factory, api):
    sb = sandbox_factory(users=30, days=2, rate_limits=False)
    sb.set_faults(endpoint=ACTIVITIES, short_page_rate=0.5)
    s = api(sb)
    params = {**window(sb, 2), "page_size": 40}
    got = fetch_all(s, sb.api_url + ACTIVITIES, params, "activity_logs")
    assert got == sb.ground_truth("activities")
    assert [e for e in sb.request_log if e.fault == "short_page"]


def test_faults_can_target_one_endpoint(sandbox, api):
    s = api(sandbox)
    sandbox.set_faults(endpoint="/users", error_rate=1.0)
    assert s.get(sandbox.api_url + "/users", timeout=10).status_code >= 500
    assert _get(s, sandbox).status_code == 200


def test_token_endpoint_faults(sandbox):
    sandbox.set_faults(endpoint="/oauth/token", error_rate=1.0, max_faults=1, error_statuses=[502])
    params = {"grant_type": "account_credentials", "account_id": sandbox.account_id}
    auth = (sandbox.client_id, sandbox.client_secret)
    assert requests.post(sandbox.oauth_url, params=params, auth=auth, timeout=10).status_code == 502
    assert requests.post(sandbox.oauth_url, params=params, auth=auth, timeout=10).status_code == 200


def test_unknown_fault_name_is_refused(sandbox):
    with pytest.raises(TypeError, match="explode_rate"):
        sandbox.set_faults(explode_rate=1.0)


def test_latency_beyond_a_client_timeout_then_none(sandbox, api):
    s = api(sandbox)
    sandbox.set_faults(endpoint=ACTIVITIES, latency=2.0, latency_jitter=0.5)
    with pytest.raises(requests.Timeout):
        s.get(sandbox.api_url + ACTIVITIES, params=window(sandbox, 1), timeout=0.2)
    sandbox.clear_faults()
    assert _get(api(sandbox), sandbox).status_code == 200
