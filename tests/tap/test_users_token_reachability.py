"""Users cover every status; one token serves the whole run; a dead API is one error line."""

from __future__ import annotations

from .helpers import run_tap


def test_users_snapshot_holds_every_status_zoom_has(sandbox_factory, tmp_path):
    sb = sandbox_factory(users=80, days=1, seed=11)
    truth = {user["id"]: user["status"] for user in sb.ground_truth("users")}
    assert set(truth.values()) == {"active", "inactive", "pending"}, "precondition: all statuses"

    run = run_tap(tmp_path, sb.tap_config(lookback_days=1))

    assert run.returncode == 0, run.stderr[-2000:]
    emitted = {user["id"]: user["status"] for user in run.records("users")}
    assert emitted == truth
    assert len(run.records("users")) == len(truth), "no user emitted twice"
    # custom_attributes are asked for (include_fields); the meeting host key never is.
    assert any(user.get("custom_attributes") for user in run.records("users"))
    assert all(user.get("host_key") is None for user in run.records("users"))


def test_one_access_token_serves_every_stream_and_worker(sandbox_factory, tmp_path):
    sb = sandbox_factory(users=40, days=4, token_ttl=3600)

    run = run_tap(tmp_path, sb.tap_config(lookback_days=3, window_days=1))

    assert run.returncode == 0, run.stderr[-2000:]
    assert set(run.counts()) == {"users", "activities", "operation_logs"}
    token_requests = [e for e in sb.request_log if e.path == "/oauth/token"]
    api_requests = [e for e in sb.request_log if e.path.startswith("/v2/")]
    assert len(api_requests) > 5
    assert len(token_requests) == 1


def test_unreachable_api_url_is_one_error_line_and_exit_69(sandbox, tmp_path):
    config = sandbox.tap_config(api_url="http://127.0.0.1:9/v2")

    run = run_tap(tmp_path, config)

    assert run.returncode == 69
    assert "Traceback" not in run.stderr
    errors = run.error_lines()
    assert len(errors) == 1, errors
    assert "api_url" in errors[0]
    assert sandbox.client_secret not in run.stderr
    assert not run.records("activities")
