"""Plain helpers for the sandbox tests."""

from __future__ import annotations

from datetime import timedelta

import requests

from tap_zoom_defender.sandbox import Sandbox


def s2s_token(sb: Sandbox) -> str:
    r = requests.post(
        sb.oauth_url,
        params={"grant_type": "account_credentials", "account_id": sb.account_id},
        auth=(sb.client_id, sb.client_secret),
        timeout=10,
    )
    assert r.status_code == 200, r.text
    return r.json()["access_token"]


def window(sb: Sandbox, days: int) -> dict[str, str]:
    """from/to params covering the last ``days`` days up to sandbox today."""
    today = sb.now().date()
    return {"from": (today - timedelta(days=days)).isoformat(), "to": today.isoformat()}


def fetch_all(
    s: requests.Session,
    url: str,
    params: dict,
    key: str,
    max_pages: int = 1000,
    token: str = "",
) -> list[dict]:
    """Follow next_page_token (from ``token``) to the end, asserting every page succeeds."""
    out: list[dict] = []
    for _ in range(max_pages):
        r = s.get(url, params={**params, "next_page_token": token}, timeout=10)
        assert r.status_code == 200, r.text
        body = r.json()
        out.extend(body[key])
        token = body["next_page_token"]
        if not token:
            return out
    raise AssertionError("pagination did not end")
