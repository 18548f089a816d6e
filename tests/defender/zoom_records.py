"""Fixed Zoom records (shapes from Zoom's API reference) plus the tap's added ``event_id``.

``client_type`` is spelt as Zoom's real responses spell it ("win", "Browser"...), and
``operation_detail`` follows the grammar of Zoom's real samples (zoom-api.md).
"""

from __future__ import annotations

SIGN_IN = {
    "email": "amelie.dupont@example.com",
    "time": "2026-03-14T08:15:30Z",
    "type": "Sign in",
    "ip_address": "203.0.113.7",
    "client_type": "win",
    "version": "6.1.5.12345",
    "event_id": "5f2b6c0d9e8a7b6c5d4e3f2a1b0c9d8e7f6a5b4c3d2e1f0a9b8c7d6e5f4a3b2c",
}
SIGN_OUT_IPV6 = {
    "email": "jörg.müller@example.de",
    "time": "2026-03-14T17:02:11Z",
    "type": "Sign out",
    "ip_address": "2001:db8:85a3::8a2e:370:7334",
    "client_type": "iphone",
    "version": "6.0.2",
    "event_id": "a" * 64,
}
BROWSER_SIGN_IN = {
    "email": "li.wei@example.cn",
    "time": "2026-03-15T01:00:00Z",
    "type": "Sign in",
    "ip_address": "::ffff:198.51.100.23",
    "client_type": "Browser",
    "version": "-",
    "event_id": "b" * 64,
}


def operation_log(action: str, category: str = "User", **extra: str) -> dict:
    """An admin operation-log record with the given Zoom action."""
    record = {
        "time": "2026-03-14T09:30:00Z",
        "operator": "admin@example.com",
        "category_type": category,
        "action": action,
        "operation_detail": f"{action} User zoë@example.com  - Department: from Sales to Ventes",
        "event_id": f"{action.casefold().replace(' ', '-')}-{category}".ljust(16, "0"),
    }
    record.update(extra)
    return record


FULL_USER = {
    "id": "KDcuGIm1QgePTO8WbOqwIQ",
    "first_name": "Zoë",
    "last_name": "Ångström",
    "display_name": "Zoë Ångström",
    "email": "zoe.angstrom@example.se",
    "type": 2,
    "pmi": 3542471135,
    "timezone": "Europe/Stockholm",
    "verified": 1,
    "dept": "Säkerhet",
    "created_at": "2021-05-04T10:00:00Z",
    "user_created_at": "2021-05-04T09:59:58Z",
    "last_login_time": "2026-03-14T08:15:30Z",
    "last_client_version": "6.1.5.12345(win)",
    "language": "sv-SE",
    "status": "active",
    "role_id": "1",
    "employee_unique_id": "E-0042",
    "group_ids": ["g1", "g2"],
    "custom_attributes": [{"key": "cbf", "name": "Badge", "value": "42"}],
}
MINIMAL_USER = {"id": "u-min-1", "email": "pending.person@example.com", "status": "pending"}
