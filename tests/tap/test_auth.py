"""OAuth against the sandbox: early refresh, 401 code 124 mid-sync, refresh-token rotation."""

from __future__ import annotations

import json
import stat
from collections import Counter

import requests

from .helpers import ACTIVITY_FIELDS, assert_no_secrets, run_tap, zoom_fields


def _token_posts(sandbox) -> int:
    return sum(1 for e in sandbox.request_log if e.path.startswith("/oauth/token"))


def _complete(run, sandbox, stream: str, fields: tuple[str, ...]) -> bool:
    got = Counter(zoom_fields(r, fields) for r in run.records(stream))
    want = Counter(zoom_fields(r, fields) for r in sandbox.ground_truth(stream))
    return got == want


def test_token_refreshed_before_expiry_and_after_revocation(tmp_path, sandbox_factory):
    # 3-second tokens: the ~4 s sync outlives them; after the 3rd API call every token is revoked.
    sb = sandbox_factory(users=10, days=2, token_ttl=3)
    sb.set_faults(revoke_after=3)
    # One request at a time, so exactly one request meets the revoked token (concurrent
    # listings each meet it once: tests/concurrency covers that case).
    config = sb.tap_config(window_days=1, lookback_days=3, page_size=5, max_workers=1)
    run = run_tap(tmp_path, config)

    assert run.returncode == 0, run.stderr[-3000:]
    assert _complete(run, sb, "activities", ACTIVITY_FIELDS)
    assert len(run.records("users")) == 10
    log = sb.request_log
    unauthorized = [i for i, e in enumerate(log) if e.status == 401]
    assert len(unauthorized) == 1, "only the revocation may hit an invalid token"
    after = log[unauthorized[0] + 1]
    assert after.path.startswith("/oauth/token") and after.status == 200  # refreshed, then retried
    assert log[unauthorized[0] + 2].path == log[unauthorized[0]].path
    assert _token_posts(sb) >= 3, "short-lived tokens must be renewed during the sync"
    assert "sbx." not in run.stdout + run.stderr  # no sandbox access token in any output
    assert_no_secrets(run.stdout, run.stderr, secrets=[sb.client_secret])


def _refresh_config(sb, store_path, refresh_token):
    config = sb.tap_config(refresh_token=refresh_token, token_store_path=str(store_path))
    del config["account_id"]
    return config


def _token_works(sb, refresh_token: str) -> bool:
    response = requests.post(
        sb.oauth_url,
        data={"grant_type": "refresh_token", "refresh_token": refresh_token},
        auth=(sb.client_id, sb.client_secret),
        timeout=10,
    )
    return response.status_code == 200


def test_refresh_token_rotation_survives_runs(tmp_path, sandbox_factory):
    sb = sandbox_factory(users=5, days=2)
    store = tmp_path / "secrets" / "zoom-token.json"
    store.parent.mkdir()
    first = sb.issue_refresh_token()
    config = _refresh_config(sb, store, first)

    run1 = run_tap(tmp_path, config)
    assert run1.returncode == 0, run1.stderr[-3000:]
    assert stat.S_IMODE(store.stat().st_mode) == 0o600
    second = json.loads(store.read_text())["refresh_token"]
    assert second != first

    # Run 2 with the SAME settings: the store is newer than the setting and wins. A token
    # revocation mid-run forces one more rotation, which must be saved as well.
    sb.set_faults(revoke_after=2)
    run2 = run_tap(tmp_path, config)
    assert run2.returncode == 0, run2.stderr[-3000:]
    third = json.loads(store.read_text())["refresh_token"]
    assert third not in (first, second)
    assert len(run2.records("users")) == 5

    texts = [run.stdout + run.stderr for run in (run1, run2)]
    assert_no_secrets(*texts, secrets=[first, second, third, sb.client_secret])
    assert not _token_works(sb, first)  # Zoom killed the old ones ...
    assert not _token_works(sb, second)
    assert _token_works(sb, third)  # ... and the store holds the live one


def test_newly_consented_refresh_token_beats_the_store(tmp_path, sandbox_factory):
    sb = sandbox_factory(users=5, days=2)
    store = tmp_path / "zoom-token.json"
    assert run_tap(tmp_path, _refresh_config(sb, store, sb.issue_refresh_token())).returncode == 0
    stale_store = json.loads(store.read_text())["refresh_token"]
    assert _token_works(sb, stale_store)  # kills it: the store is now useless

    fresh = sb.issue_refresh_token()  # the admin consented again and pasted the new token
    run = run_tap(tmp_path, _refresh_config(sb, store, fresh))
    assert run.returncode == 0, run.stderr[-3000:]
    assert json.loads(store.read_text())["refresh_token"] not in (fresh, stale_store)


def test_dead_refresh_token_is_one_clear_error(tmp_path, sandbox_factory):
    sb = sandbox_factory(users=5, days=2)
    dead = sb.issue_refresh_token()
    assert _token_works(sb, dead)  # used once: now invalid
    run = run_tap(tmp_path, _refresh_config(sb, tmp_path / "store.json", dead))
    assert run.returncode == 77
    lines = run.error_lines()
    assert len(lines) == 1 and "refresh_token" in lines[0] and "Invalid Token!" in lines[0]
    assert "Traceback" not in run.stderr
    assert_no_secrets(run.stdout, run.stderr, secrets=[dead, sb.client_secret])


def test_api_url_comes_from_the_token_response(tmp_path, sandbox_factory):
    sb = sandbox_factory(users=5, days=2)
    config = sb.tap_config()
    del config["api_url"]  # only oauth_url points at the sandbox; its token names the API host
    run = run_tap(tmp_path, config)
    assert run.returncode == 0, run.stderr[-3000:]
    assert len(run.records("users")) == 5
    assert any(e.path == "/v2/report/activities" for e in sb.request_log)
