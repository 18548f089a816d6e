"""``tap-zoom-defender authorize`` against the sandbox, every outcome an admin can meet.

The consent page is driven over plain HTTP here (quick); ``test_browser.py`` drives it in a real
headless browser. Each failure must be one error line naming the fix, a non-zero exit, no
traceback and no secret, and must leave no token store behind unless a token was issued.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import stat
import subprocess
import sys
from pathlib import Path

import pytest
import requests

from tap_zoom_defender.errors import EXIT_AUTH, EXIT_CONFIG, EXIT_QUOTA

from .helpers import (
    Authorize,
    FormBrowser,
    assert_no_secrets,
    authorize_config,
    callback_url,
    clean_env,
    free_port,
    query_of,
    records,
    run_sync,
    with_query,
)

EXIT_TIMEOUT = EXIT_QUOTA  # 75, EX_TEMPFAIL: nothing happened, run again
GRANULAR = (
    "user:read:list_users:admin",
    "report:read:user_activities:admin",
    "report:read:operation_logs:admin",
)


def _store(config: dict) -> Path:
    return Path(config["token_store_path"])


def _token_posts(sb) -> list:
    return [e for e in sb.request_log if e.path == "/oauth/token"]


def test_approve_stores_the_token_once_and_the_sync_runs_on_it(tmp_path, zoom_app):
    sb = zoom_app.sb
    config = authorize_config(tmp_path, sb, zoom_app.port)
    run = Authorize(tmp_path, config)
    browser = FormBrowser()
    location = browser.decide(run.consent_url(), "approve")
    code = query_of(location)["code"]
    page = browser.open(location)
    done = run.finish()

    assert done.returncode == 0, done.stderr[-3000:]
    assert done.connected and not done.error_lines()
    assert page.status_code == 200 and "Zoom is connected" in page.text
    for stream in ("users", "activities", "operation_logs"):
        assert any(line.split()[:1] == [stream] and "granted" in line and ": OK" in line
                   for line in done.stdout.splitlines()), done.stdout  # fmt: skip
    store = _store(config)
    assert stat.S_IMODE(store.stat().st_mode) == 0o600
    saved = json.loads(store.read_text())
    # One exchange, and the check ran on the issued access token (no refresh, so no rotation).
    assert [e.status for e in _token_posts(sb)] == [200]
    api = sorted(e.path for e in sb.request_log if e.path.startswith("/v2/"))
    assert api == ["/v2/report/activities", "/v2/report/operationlogs", "/v2/users"]
    assert_no_secrets(
        done.stdout,
        done.stderr,
        page.text,
        secrets=[sb.client_secret, code, saved["refresh_token"], saved["access_token"]],
    )

    # An hour later (the access token expired at Zoom) the scheduled sync refreshes with the
    # consent's refresh token, keeps the rotated one, and reads every stream.
    sb.advance_clock(3601)
    sync, messages = run_sync(tmp_path, config)
    assert sync.returncode == 0, sync.stderr[-3000:]
    assert len(records(messages, "users")) == 20
    assert records(messages, "activities") and records(messages, "operation_logs")
    assert json.loads(store.read_text())["refresh_token"] != saved["refresh_token"]


def test_granular_scopes_and_an_explicit_authorize_url_connect_too(tmp_path, zoom_app_factory):
    app = zoom_app_factory(scopes=GRANULAR)
    page_url = app.sb.authorize_url + "?lang=en"  # a consent page of its own, not derived
    config = authorize_config(tmp_path, app.sb, app.port, authorize_url=page_url)
    run = Authorize(tmp_path, config)
    url = run.consent_url()
    assert url.startswith(page_url + "&response_type=code&")
    browser = FormBrowser()
    browser.open(browser.decide(url, "approve"))
    done = run.finish()
    assert done.returncode == 0, done.stderr[-3000:]
    assert done.connected
    assert f"Scopes granted by the consent: {' '.join(sorted(GRANULAR))}" in done.stdout


def test_deny_is_one_clear_error_and_stores_nothing(tmp_path, zoom_app):
    config = authorize_config(tmp_path, zoom_app.sb, zoom_app.port)
    run = Authorize(tmp_path, config)
    browser = FormBrowser()
    location = browser.decide(run.consent_url(), "deny")
    assert query_of(location)["error"] == "access_denied"
    page = browser.open(location)
    done = run.finish()
    assert done.returncode == EXIT_AUTH
    line = done.one_error()
    assert "denied" in line and "run authorize again" in line and "Allow" in line
    assert "Zoom is not connected" in page.text and "denied" in page.text
    assert not done.connected
    assert not _store(config).exists()
    assert not _token_posts(zoom_app.sb)


def test_a_redirect_with_another_state_is_refused_unexchanged(tmp_path, zoom_app):
    config = authorize_config(tmp_path, zoom_app.sb, zoom_app.port)
    run = Authorize(tmp_path, config)
    browser = FormBrowser()
    location = browser.decide(run.consent_url(), "approve")
    browser.open(with_query(location, state="from-an-older-attempt"))
    done = run.finish()
    assert done.returncode == EXIT_AUTH
    line = done.one_error()
    assert "state does not match" in line and "nothing was exchanged" in line
    assert not _token_posts(zoom_app.sb), "a code from a foreign redirect must not be used"
    assert not _store(config).exists()
    assert query_of(location)["code"] not in done.stdout + done.stderr


@pytest.mark.parametrize("how", ["expired", "used"])
def test_an_expired_or_used_code_is_one_clear_error(tmp_path, zoom_app, how):
    sb = zoom_app.sb
    config = authorize_config(tmp_path, sb, zoom_app.port)
    run = Authorize(tmp_path, config)
    browser = FormBrowser()
    location = browser.decide(run.consent_url(), "approve")
    code = query_of(location)["code"]
    if how == "expired":
        sb.advance_clock(301)  # codes live 5 minutes
    else:  # someone (a proxy, a second tab) redeemed it first
        requests.post(
            sb.oauth_url,
            data={"grant_type": "authorization_code", "code": code,
                  "redirect_uri": callback_url(zoom_app.port), "code_verifier": "x" * 43},
            auth=(sb.client_id, sb.client_secret),
            timeout=10,
        )  # fmt: skip
    page = browser.open(location)
    done = run.finish()
    assert done.returncode == EXIT_AUTH
    line = done.one_error()
    assert "expired or was already used" in line and "within 5 minutes" in line
    # Zoom's answer echoes the code ("Invalid authorization code <code>"): masked.
    assert "Invalid authorization code ***" in line
    assert_no_secrets(done.stdout, done.stderr, page.text, secrets=[code, sb.client_secret])
    assert not _store(config).exists()


def test_an_unregistered_redirect_url_shows_zoom_error_then_one_line(tmp_path, zoom_app):
    other_port = free_port()
    config = authorize_config(tmp_path, zoom_app.sb, other_port, authorize_timeout_seconds=2)
    run = Authorize(tmp_path, config)
    page = FormBrowser().open(run.consent_url())
    # Zoom does not send the browser anywhere: its own page names the refused redirect.
    assert page.status_code == 400
    assert f"Invalid redirect: {callback_url(other_port)}" in page.text
    done = run.finish()
    assert done.returncode == EXIT_TIMEOUT
    line = done.one_error()
    assert "Invalid redirect" in line and callback_url(other_port) in line
    assert "redirect_port" in line
    assert not _store(config).exists()


def test_missing_scopes_are_named_per_stream_and_not_connected(tmp_path, zoom_app_factory):
    app = zoom_app_factory(scopes=("user:read:admin",))
    config = authorize_config(tmp_path, app.sb, app.port)
    run = Authorize(tmp_path, config)
    browser = FormBrowser()
    page = browser.open(browser.decide(run.consent_url(), "approve"))
    done = run.finish()
    assert done.returncode == EXIT_AUTH
    line = done.one_error()
    for scope in ("report:read:admin", "report:read:user_activities:admin",
                  "report:read:operation_logs:admin", "run authorize again"):  # fmt: skip
        assert scope in line
    assert "user:read" not in line
    table = {line.split()[0]: line for line in done.stdout.splitlines()[-4:]}
    assert "granted" in table["users"] and ": OK" in table["users"]
    for stream in ("activities", "operation_logs"):
        assert "MISSING" in table[stream] and "scope missing" in table[stream]
    assert not done.connected
    assert "Zoom is not connected" in page.text
    # The issued token is kept (it reads users); the sync names the same missing scope.
    assert stat.S_IMODE(_store(config).stat().st_mode) == 0o600


def test_a_redirect_port_in_use_fails_before_any_url(tmp_path, zoom_app):
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", zoom_app.port))
        busy.listen()
        run = Authorize(tmp_path, authorize_config(tmp_path, zoom_app.sb, zoom_app.port))
        done = run.finish()
    assert done.returncode == EXIT_CONFIG
    line = done.one_error()
    assert f"redirect_port={zoom_app.port}" in line and "in use" in line.lower()
    assert "oauth/authorize" not in done.stdout


def test_no_redirect_in_time_is_one_line(tmp_path, zoom_app):
    config = authorize_config(tmp_path, zoom_app.sb, zoom_app.port, authorize_timeout_seconds=1)
    done = Authorize(tmp_path, config).finish()
    assert done.returncode == EXIT_TIMEOUT
    line = done.one_error()
    assert "no redirect from Zoom within 1 s" in line and "authorize_timeout_seconds" in line
    assert not _store(config).exists()


def test_a_stop_signal_while_waiting_stores_nothing(tmp_path, zoom_app):
    config = authorize_config(tmp_path, zoom_app.sb, zoom_app.port)
    run = Authorize(tmp_path, config)
    run.consent_url()
    run.proc.send_signal(signal.SIGINT)
    done = run.finish()
    assert done.returncode == 128 + signal.SIGINT
    assert "Stopped by SIGINT: nothing was exchanged or stored" in done.one_error()
    assert not _store(config).exists()


@pytest.mark.parametrize(
    ("change", "expect"),
    [
        ({"token_store_path": None}, "token_store_path is not set"),
        ({"account_id": "acct"}, "account_id is set"),
        ({"oauth_url": "http://127.0.0.1:9/token-endpoint"}, "set authorize_url"),
        ({"redirect_port": 70000}, "redirect_port=70000 must be a whole number"),
        ({"page_size": 900}, "page_size=900"),  # a sync setting: checked before the consent
    ],
)
def test_settings_problems_are_found_before_the_consent(tmp_path, zoom_app, change, expect):
    config = authorize_config(tmp_path, zoom_app.sb, zoom_app.port, **change)
    config = {k: v for k, v in config.items() if v is not None}
    done = Authorize(tmp_path, config).finish()
    assert done.returncode == EXIT_CONFIG
    assert expect in done.one_error()
    assert "oauth/authorize" not in done.stdout


def test_meltano_invoke_tap_zoom_authorize(tmp_path, zoom_app):
    """``meltano invoke tap-zoom:authorize``: the command declared in meltano.yml connects."""
    project = Path(__file__).resolve().parents[2]
    meltano = str(Path(sys.executable).with_name("meltano"))
    if not (project / ".meltano/extractors/tap-zoom").is_dir():
        subprocess.run([meltano, "install"], cwd=project, check=True, capture_output=True,
                       timeout=600)  # fmt: skip
    sb = zoom_app.sb
    store = tmp_path / "zoom-token.json"
    env = {
        **clean_env(tmp_path),
        "TAP_ZOOM_ACCOUNT_ID": "",  # whatever a developer's .env holds
        "TAP_ZOOM_REFRESH_TOKEN": "",
        "TAP_ZOOM_CLIENT_ID": sb.client_id,
        "TAP_ZOOM_CLIENT_SECRET": sb.client_secret,
        "TAP_ZOOM_OAUTH_URL": sb.oauth_url,
        "TAP_ZOOM_TOKEN_STORE_PATH": str(store),
        "TAP_ZOOM_REDIRECT_PORT": str(zoom_app.port),
        "TAP_ZOOM_QUOTA_STATE_PATH": str(tmp_path / "quota.sqlite"),
        "MELTANO_DATABASE_URI": f"sqlite:///{tmp_path}/meltano.db",
    }
    log = tmp_path / "meltano.log"
    with log.open("w") as stderr:
        proc = subprocess.Popen(
            [meltano, "invoke", "tap-zoom:authorize", "--no-browser"],
            cwd=project, env=env, stdout=subprocess.PIPE, stderr=stderr, text=True,
        )  # fmt: skip
        assert proc.stdout is not None
        url = next((line.strip() for line in proc.stdout if "/oauth/authorize?" in line), None)
        assert url, log.read_text()[-3000:]
        browser = FormBrowser()
        browser.open(browser.decide(url, "approve"))
        out, _ = proc.communicate(timeout=60)
    assert proc.returncode == 0, log.read_text()[-3000:]
    assert any(line.startswith("Connected") for line in out.splitlines())
    assert stat.S_IMODE(os.stat(store).st_mode) == 0o600
