"""The sandbox's consent flow, over HTTP, as Zoom runs it; and the tap's exchange against it.

Codes live 5 minutes and work once, with the redirect URL and PKCE verifier of the consent that
issued them; the token response lists the scopes granted, and the API refuses an endpoint whose
scope was not granted (HTTP 400, code 4711).
"""

from __future__ import annotations

import re

import pytest
import requests

from tap_zoom_defender.errors import AuthError, ConfigError
from tap_zoom_defender.oauth_consent import Pkce, consent_url, exchange_code, new_state
from tap_zoom_defender.sandbox.cli import build_parser, config_from_args

from .helpers import FormBrowser, callback_url, query_of


def _approve(app, pkce: Pkce, state: str = "s-123456") -> str:
    url = consent_url(app.sb.authorize_url, app.sb.client_id, callback_url(app.port), state, pkce)
    return query_of(FormBrowser().decide(url, "approve"))["code"]


def _exchange(app, code: str, verifier: str, redirect_uri: str | None = None):
    return requests.post(
        app.sb.oauth_url,
        data={"grant_type": "authorization_code", "code": code, "code_verifier": verifier,
              "redirect_uri": redirect_uri or callback_url(app.port)},
        auth=(app.sb.client_id, app.sb.client_secret),
        timeout=10,
    )  # fmt: skip


def test_consent_page_approve_and_deny_redirect_with_state(zoom_app):
    pkce = Pkce.new()
    url = consent_url(
        zoom_app.sb.authorize_url, zoom_app.sb.client_id, callback_url(zoom_app.port), "st8-abc",
        pkce,
    )  # fmt: skip
    browser = FormBrowser()
    page = browser.open(url)
    assert page.status_code == 200 and page.headers["Content-Type"].startswith("text/html")
    assert "id='approve'" in page.text and "id='deny'" in page.text
    assert re.findall(r"<li>([^<]+)</li>", page.text) == ["user:read:admin", "report:read:admin"]
    approved = browser.decide(url, "approve")
    assert approved.startswith(callback_url(zoom_app.port) + "?")
    assert set(query_of(approved)) == {"code", "state"} and query_of(approved)["state"] == "st8-abc"
    denied = browser.decide(url, "deny")
    assert query_of(denied) == {"error": "access_denied", "state": "st8-abc"}


def test_a_code_works_once_with_its_verifier_and_lists_the_scopes(zoom_app):
    pkce = Pkce.new()
    code = _approve(zoom_app, pkce)
    first = _exchange(zoom_app, code, pkce.verifier)
    assert first.status_code == 200, first.text
    body = first.json()
    assert body["refresh_token"] and body["scope"] == "user:read:admin report:read:admin"
    again = _exchange(zoom_app, code, pkce.verifier)
    assert again.status_code == 400
    assert again.json() == {"reason": f"Invalid authorization code {code}",
                            "error": "invalid_request"}  # fmt: skip


def test_a_code_expires_after_five_minutes(zoom_app):
    pkce = Pkce.new()
    code = _approve(zoom_app, pkce)
    zoom_app.sb.advance_clock(301)
    assert _exchange(zoom_app, code, pkce.verifier).status_code == 400


def test_wrong_verifier_or_redirect_is_refused_as_zoom_does(zoom_app):
    pkce = Pkce.new()
    wrong_verifier = _exchange(zoom_app, _approve(zoom_app, pkce), Pkce.new().verifier)
    assert wrong_verifier.status_code == 400
    assert wrong_verifier.json()["error"] == "invalid_grant"
    wrong_redirect = _exchange(
        zoom_app, _approve(zoom_app, pkce), pkce.verifier, "http://127.0.0.1:1/oauth/callback"
    )
    assert wrong_redirect.json() == {"reason": "Redirect URI mismatch.", "error": "invalid_request"}


@pytest.mark.parametrize(
    ("field", "value", "says"),
    [
        ("redirect_uri", "http://127.0.0.1:1/oauth/callback", "Invalid redirect"),
        ("client_id", "someone-else", "Invalid client_id"),
        ("response_type", "token", "Unsupported response_type"),
        ("code_challenge_method", "MD5", "Invalid code_challenge_method"),
    ],
)
def test_the_consent_page_refuses_what_the_app_did_not_register(zoom_app, field, value, says):
    url = consent_url(
        zoom_app.sb.authorize_url, zoom_app.sb.client_id, callback_url(zoom_app.port), "s",
        Pkce.new(),
    )  # fmt: skip
    page = FormBrowser().open(re.sub(rf"([?&]){field}=[^&]*", rf"\g<1>{field}={value}", url))
    assert page.status_code == 400
    assert says in page.text and "id='approve'" not in page.text


def test_an_endpoint_without_its_scope_answers_4711(zoom_app_factory):
    app = zoom_app_factory(scopes=("user:read:list_users:admin",))
    pkce = Pkce.new()
    token = _exchange(app, _approve(app, pkce), pkce.verifier).json()["access_token"]
    headers = {"Authorization": f"Bearer {token}"}
    users = requests.get(app.sb.api_url + "/users", headers=headers, timeout=10)
    assert users.status_code == 200
    report = requests.get(
        app.sb.api_url + "/report/operationlogs",
        params={"from": "2026-01-01", "to": "2026-01-02"},
        headers=headers,
        timeout=10,
    )
    assert report.status_code == 400
    assert report.json()["code"] == 4711
    assert "report:read:admin" in report.json()["message"]


def test_the_tap_exchange_names_the_fix_for_each_refusal(zoom_app):
    sb = zoom_app.sb
    pkce = Pkce.new()

    def exchange(code: str, verifier: str, redirect_uri: str):
        return exchange_code(
            oauth_url=sb.oauth_url, client_id=sb.client_id, client_secret=sb.client_secret,
            code=code, redirect_uri=redirect_uri, verifier=verifier,
        )  # fmt: skip

    other = "http://127.0.0.1:1/oauth/callback"
    with pytest.raises(ConfigError) as redirect:
        exchange(_approve(zoom_app, pkce), pkce.verifier, other)
    assert f"Zoom refused the redirect URL {other}" in str(redirect.value)
    assert "OAuth Redirect URL" in str(redirect.value) and "allow list" in str(redirect.value)
    with pytest.raises(AuthError) as verifier:
        exchange(_approve(zoom_app, pkce), Pkce.new().verifier, callback_url(zoom_app.port))
    assert "PKCE code_verifier" in str(verifier.value)
    grant = exchange(_approve(zoom_app, pkce), pkce.verifier, callback_url(zoom_app.port))
    assert grant.scopes == ("user:read:admin", "report:read:admin")
    assert grant.api_url == sb.base_url


def test_zoom_sandbox_cli_registers_redirect_and_scopes():
    args = build_parser().parse_args(
        ["--redirect-uri", "http://127.0.0.1:9000/oauth/callback",
         "--scopes", "user:read:admin,report:read:user_activities:admin", "--auth-code-ttl", "60"]
    )  # fmt: skip
    cfg = config_from_args(args)
    assert cfg.redirect_uri == "http://127.0.0.1:9000/oauth/callback"
    assert cfg.scopes == ("user:read:admin", "report:read:user_activities:admin")
    assert cfg.auth_code_ttl == 60
    assert new_state() != new_state()
