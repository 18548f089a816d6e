"""Bad input through the real CLI: one clear error line naming the setting, no traceback."""

from __future__ import annotations

import json
import socket
import subprocess
from datetime import datetime, timedelta, timezone

import pytest

from .helpers import TAP, StubZoom, assert_no_secrets, run_tap, write_config

EXIT_DATA, EXIT_UNAVAILABLE, EXIT_API, EXIT_AUTH, EXIT_CONFIG = 65, 69, 76, 77, 78

S2S = {
    "account_id": "acct-1",
    "client_id": "client-1",
    "client_secret": "a-client-secret-value",
    "api_url": "http://127.0.0.1:9/v2",
    "oauth_url": "http://127.0.0.1:9/oauth/token",
}


def _expect_one_error(run, exit_code: int, *needles: str, emitted: tuple[str, ...] = ()) -> str:
    """Exit code, no traceback, one ERROR line with every needle; RECORDs only of ``emitted``."""
    assert run.returncode == exit_code, run.stderr[-3000:]
    assert "Traceback" not in run.stderr
    lines = run.error_lines()
    assert len(lines) == 1, lines
    for needle in needles:
        assert needle in lines[0], lines[0]
    assert not [m for m in run.messages if m["type"] == "RECORD" and m["stream"] not in emitted]
    return lines[0]


def _days_ago(days: int) -> str:
    return (datetime.now(timezone.utc) - timedelta(days=days)).strftime("%Y-%m-%dT%H:%M:%SZ")


@pytest.mark.parametrize(
    ("change", "needles"),
    [
        pytest.param({"account_id": None}, ["no credentials", "account_id"], id="no-credentials"),
        pytest.param(
            {"refresh_token": "rt-value-123"}, ["contradictory", "refresh_token"], id="both-modes"
        ),
        pytest.param(
            {"account_id": None, "refresh_token": "rt-value-123"},
            ["token_store_path"],
            id="refresh-without-store",
        ),
        pytest.param({"client_secret": None}, ["client_secret is not set"], id="no-secret"),
        pytest.param({"plan": "gold"}, ["plan='gold'", "enterprise"], id="unknown-plan"),
        pytest.param({"start_date": "last tuesday"}, ["start_date="], id="bad-date"),
        pytest.param({"start_date": _days_ago(-3)}, ["start_date=", "future"], id="future-date"),
        pytest.param(
            {"start_date": _days_ago(200)}, ["start_date=", "retention"], id="start-too-old"
        ),
        pytest.param({"lookback_days": 200}, ["lookback_days=200", "183"], id="lookback-too-far"),
        pytest.param({"page_size": 1000}, ["page_size=1000"], id="page-size"),
        pytest.param({"rate_limit_share": 2}, ["rate_limit_share"], id="rate-share"),
        pytest.param(
            {"operation_log_category": "nope"}, ["operation_log_category='nope'"], id="category"
        ),
    ],
)
def test_bad_settings_give_one_line_and_exit_78(tmp_path, change, needles):
    config = {k: v for k, v in {**S2S, **change}.items() if v is not None}
    run = run_tap(tmp_path, config)
    line = _expect_one_error(run, EXIT_CONFIG, "Configuration error", *needles)
    assert_no_secrets(line, run.stdout, secrets=["a-client-secret-value"])


def test_several_problems_give_one_line_each(tmp_path):
    run = run_tap(tmp_path, {**S2S, "plan": "gold", "lookback_days": 500})
    assert run.returncode == EXIT_CONFIG
    lines = run.error_lines()
    assert len(lines) == 2
    assert any("plan=" in line for line in lines)
    assert any("lookback_days=500" in line for line in lines)


def test_unreachable_host(tmp_path):
    with socket.socket() as probe:  # a port nobody listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    config = {**S2S, "oauth_url": f"http://127.0.0.1:{port}/oauth/token"}
    run = run_tap(tmp_path, config)
    _expect_one_error(run, EXIT_UNAVAILABLE, "oauth_url", f"127.0.0.1:{port}")


def test_wrong_credentials(tmp_path, sandbox):
    config = sandbox.tap_config(client_secret="wrong-secret-value")
    run = run_tap(tmp_path, config)
    line = _expect_one_error(run, EXIT_AUTH, "client_secret", "Invalid client_id or client_secret")
    assert_no_secrets(run.stdout, run.stderr, line, secrets=["wrong-secret-value"])


def test_zoom_4xx_shows_code_and_message(tmp_path, sandbox_factory):
    free = sandbox_factory(plan="free", users=5, days=2)
    run = run_tap(tmp_path, free.tap_config())
    # Users come first (a snapshot the Free plan serves); the reports are refused.
    line = _expect_one_error(
        run, EXIT_API, "/report/activities", "code 200", "Paid account", emitted=("users",)
    )
    assert len(run.records("users")) == 5
    assert_no_secrets(run.stderr, line, secrets=[free.client_secret])


def test_malformed_json_from_the_api(tmp_path, sandbox):
    sandbox.set_faults("/report/activities", truncate_rate=1.0)
    run = run_tap(tmp_path, sandbox.tap_config())
    _expect_one_error(run, EXIT_DATA, "not valid JSON", "api_url", emitted=("users",))


def _run_with_state_file(tmp_path, sandbox, text: str) -> subprocess.CompletedProcess:
    """Run the tap CLI with ``--state`` pointing at a file holding ``text``."""
    state_path = tmp_path / "state.json"
    state_path.write_text(text)
    config_path = write_config(tmp_path, sandbox.tap_config())
    return subprocess.run(
        [TAP, "--config", str(config_path), "--state", str(state_path)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_bad_state_file(tmp_path, sandbox):
    proc = _run_with_state_file(tmp_path, sandbox, "{not json")
    assert proc.returncode == EXIT_DATA
    errors = [line for line in proc.stderr.splitlines() if "| ERROR" in line]
    assert len(errors) == 1 and "--state" in errors[0]
    assert "Traceback" not in proc.stderr


def test_connection_test_passes_against_the_sandbox(tmp_path, sandbox):
    run = run_tap(tmp_path, sandbox.tap_config(), args=("--test",))
    assert run.returncode == 0, run.stderr[-2000:]
    assert "Connection test passed" in run.stderr
    assert not run.error_lines()
    api_calls = sorted(e.endpoint for e in sandbox.request_log if e.path.startswith("/v2/"))
    assert api_calls == ["/report/activities", "/report/operationlogs", "/users"]


def test_connection_test_names_the_missing_scope(tmp_path):
    no_scope = (
        400,
        {
            "code": 4711,
            "message": "Invalid access token, does not contain scopes:[report:read:admin]",
        },
        [],
    )
    routes = {
        "/v2/report/activities": lambda query: no_scope,
        "/v2/report/operationlogs": lambda query: no_scope,
    }
    with StubZoom(routes, "tok-abcdef-123456") as zoom:
        run = run_tap(tmp_path, zoom.tap_config(), args=("--test",))
    line = _expect_one_error(
        run,
        EXIT_AUTH,
        "report:read:admin",
        "report:read:user_activities:admin",
        "report:read:operation_logs:admin",
    )
    assert "user:read" not in line  # the users scope is granted
    assert_no_secrets(run.stderr, secrets=["tok-abcdef-123456", "stub-client-secret"])


def test_settings_from_environment_variables(tmp_path, sandbox_factory):
    sb = sandbox_factory(users=5, days=2)
    settings = sb.tap_config(
        lookback_days=3,
        late_arrival_hours=0.5,
        rate_limit_share=1,
        rate_limits_per_second={"Heavy": 8},
        operation_log_category="user",
    )
    run = run_tap(tmp_path, settings, via_env=True)
    assert run.returncode == 0, run.stderr[-3000:]
    assert len(run.records("users")) == 5
    operations = run.records("operation_logs")
    assert operations and {r["category_type"] for r in operations} == {"User"}

    bad = run_tap(tmp_path, {**settings, "late_arrival_hours": "soon"}, via_env=True)
    _expect_one_error(bad, EXIT_CONFIG, "late_arrival_hours='soon'")


@pytest.mark.parametrize(
    "seen",
    [
        ["2026-01-31T04:12:09.000000Z not-hex-ids"],
        ["2026-01-31T04:12:09.000000Z 0123456789abcde"],  # not whole 16-digit ids
        [{"nested": "object"}],
        {"9f2c41d07a3be611c08e5d2f9a71b3e0": 5},
    ],
)
def test_malformed_dedupe_ids_in_state_name_the_stream(tmp_path, sandbox, seen):
    state = {"bookmarks": {"activities": {"replication_key_value": "2026-01-31T00:00:00Z"}}}
    state["bookmarks"]["activities"]["seen"] = seen
    proc = _run_with_state_file(tmp_path, sandbox, json.dumps(state))
    assert proc.returncode == EXIT_DATA, proc.stderr[-2000:]
    errors = [line for line in proc.stderr.splitlines() if "| ERROR" in line]
    assert len(errors) == 1 and "activities" in errors[0] and "'seen'" in errors[0]
    assert "Traceback" not in proc.stderr
    assert '"type":"RECORD","stream":"activities"' not in proc.stdout.replace(" ", "")
