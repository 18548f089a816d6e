"""GET /v2/users and /v2/users/{id}: status filter, paging limits, Zoom-style errors."""

from __future__ import annotations

from datetime import datetime, timezone

from .helpers import fetch_all


def test_paging_every_status_returns_exactly_the_ground_truth(sandbox_factory, api):
    sb = sandbox_factory(users=120, days=1, rate_limits=False)
    s = api(sb)
    got = []
    for status in ("active", "inactive", "pending"):
        got += fetch_all(s, sb.api_url + "/users", {"status": status, "page_size": 7}, "users")
    truth = sb.ground_truth("users")
    assert len(truth) == 120
    assert sorted(u["id"] for u in got) == sorted(u["id"] for u in truth)
    assert {u["status"] for u in truth} == {"active", "inactive", "pending"}
    assert all(u["email"] and u["id"] for u in got)


def test_default_status_is_active_and_default_page_size_is_30(sandbox_factory, api):
    sb = sandbox_factory(users=100, days=1)
    body = api(sb).get(sb.api_url + "/users", timeout=10).json()
    active = [u for u in sb.ground_truth("users") if u["status"] == "active"]
    assert body["page_size"] == 30
    assert len(body["users"]) == 30
    assert body["total_records"] == len(active)
    assert {u["status"] for u in body["users"]} == {"active"}
    assert body["next_page_token"]


def test_page_size_over_300_and_bad_status_are_400_code_300(sandbox, api):
    s = api(sandbox)
    r = s.get(sandbox.api_url + "/users", params={"page_size": 301}, timeout=10)
    assert r.status_code == 400
    assert r.json()["code"] == 300
    assert "page_size" in r.json()["message"]
    r = s.get(sandbox.api_url + "/users", params={"status": "deleted"}, timeout=10)
    assert r.status_code == 400
    assert "status" in r.json()["message"]


def test_single_user_by_id_and_unknown_user(sandbox, api):
    s = api(sandbox)
    user = sandbox.ground_truth("users")[3]
    r = s.get(f"{sandbox.api_url}/users/{user['id']}", timeout=10)
    assert r.status_code == 200
    assert r.json() == user
    assert r.headers["X-RateLimit-Category"] == "Light"
    r = s.get(f"{sandbox.api_url}/users/nobody", timeout=10)
    assert r.status_code == 404
    assert r.json()["code"] == 1001


def test_same_seed_same_users_other_seed_other_users(sandbox_factory):
    now = datetime(2026, 3, 4, 12, 0, tzinfo=timezone.utc)
    a = sandbox_factory(users=30, days=1, seed=11, now=now).ground_truth("users")
    b = sandbox_factory(users=30, days=1, seed=11, now=now).ground_truth("users")
    c = sandbox_factory(users=30, days=1, seed=12, now=now).ground_truth("users")
    assert a == b
    assert a != c


def test_include_fields_adds_host_key_and_custom_attributes(sandbox, api):
    s = api(sandbox)
    plain = s.get(sandbox.api_url + "/users", timeout=10).json()["users"][0]
    assert "host_key" not in plain and "custom_attributes" not in plain
    params = {"include_fields": "custom_attributes,host_key"}
    full = s.get(sandbox.api_url + "/users", params=params, timeout=10).json()["users"][0]
    assert full["id"] == plain["id"]
    assert len(full["host_key"]) == 6
    assert set(full["custom_attributes"][0]) == {"key", "name", "value"}
