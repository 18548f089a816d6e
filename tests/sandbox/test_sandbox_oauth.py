"""The token endpoint: Server-to-Server grant, refresh rotation, expiry and revocation."""

from __future__ import annotations

import requests

from .helpers import s2s_token


def _post(sb, auth=None, **params):
    return requests.post(
        sb.oauth_url,
        data=params,
        auth=auth or (sb.client_id, sb.client_secret),
        timeout=10,
    )


def test_s2s_token_in_form_body_opens_the_api(sandbox):
    r = _post(sandbox, grant_type="account_credentials", account_id=sandbox.account_id)
    assert r.status_code == 200
    body = r.json()
    assert body["token_type"] == "bearer"
    assert body["expires_in"] == 3600
    assert "refresh_token" not in body
    users = requests.get(
        sandbox.api_url + "/users",
        headers={"Authorization": f"Bearer {body['access_token']}"},
        timeout=10,
    )
    assert users.status_code == 200


def test_wrong_secret_and_wrong_account_are_rejected_zoom_style(sandbox):
    r = _post(
        sandbox,
        auth=(sandbox.client_id, "nope"),
        grant_type="account_credentials",
        account_id=sandbox.account_id,
    )
    assert r.status_code == 401
    assert r.json() == {"reason": "Invalid client_id or client_secret", "error": "invalid_client"}
    r = _post(sandbox, grant_type="account_credentials", account_id="someone-else")
    assert r.status_code == 400
    assert r.json()["reason"] == "Invalid account_id"


def test_each_refresh_returns_a_new_refresh_token_and_kills_the_old_one(sandbox):
    first = sandbox.issue_refresh_token()
    r = _post(sandbox, grant_type="refresh_token", refresh_token=first)
    assert r.status_code == 200
    second = r.json()["refresh_token"]
    assert second != first
    again = _post(sandbox, grant_type="refresh_token", refresh_token=first)
    assert again.status_code == 400
    assert again.json()["reason"] == "Invalid Token!"
    r = _post(sandbox, grant_type="refresh_token", refresh_token=second)
    assert r.status_code == 200


def test_authorization_code_works_once(sandbox):
    code = sandbox.issue_authorization_code()
    r = _post(sandbox, grant_type="authorization_code", code=code, redirect_uri="http://x")
    assert r.status_code == 200
    assert r.json()["refresh_token"]
    assert _post(sandbox, grant_type="authorization_code", code=code).status_code == 400


def test_expired_unknown_missing_and_revoked_tokens_get_401_code_124(sandbox_factory):
    sb = sandbox_factory(users=5, days=1, token_ttl=60)
    token = s2s_token(sb)
    url = sb.api_url + "/users"

    def get(tok):
        headers = {"Authorization": f"Bearer {tok}"} if tok else {}
        return requests.get(url, headers=headers, timeout=10)

    assert get(token).status_code == 200
    for bad in ("made-up", None):
        r = get(bad)
        assert r.status_code == 401
        assert r.json() == {"code": 124, "message": "Invalid access token."}
    sb.advance_clock(61)
    r = get(token)
    assert r.status_code == 401
    assert r.json() == {"code": 124, "message": "Access token is expired."}
    fresh = s2s_token(sb)
    assert get(fresh).status_code == 200
    sb.revoke_access_tokens()
    assert get(fresh).json()["code"] == 124
    assert get(s2s_token(sb)).status_code == 200


def test_query_string_credentials_and_unsupported_grant(sandbox):
    r = requests.post(
        sandbox.oauth_url,
        params={"grant_type": "account_credentials", "account_id": sandbox.account_id},
        auth=(sandbox.client_id, sandbox.client_secret),
        timeout=10,
    )
    assert r.status_code == 200
    assert _post(sandbox, grant_type="password").json()["error"] == "unsupported_grant_type"
