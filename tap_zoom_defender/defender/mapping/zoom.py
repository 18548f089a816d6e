"""Zoom vocabulary both profiles translate: client types, sign-in types, admin actions.

Tables, not branches: adding a Zoom value is one line here and one line in the tests.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from tap_zoom_defender.defender.mapping.table import MappingContext

VENDOR = "Zoom"
PRODUCT = "Zoom"
# Honest provenance for the AuditSource column: Zoom's report API read by this connector, not
# Defender for Cloud Apps' own Zoom connector.
AUDIT_SOURCE = {
    "activities": "tap-zoom-defender: Zoom API GET /report/activities",
    "operation_logs": "tap-zoom-defender: Zoom API GET /report/operationlogs",
}

# Zoom's activity `type` -> ASIM Authentication EventType. Zoom documents only these two values
# and the schema allows only Logon | Logoff | Elevate, so any other type is bad input (one clear
# error, see asim.py) rather than a row with an EventType the schema does not allow.
SIGN_IN_TYPE = {"Sign in": "Logon", "Sign out": "Logoff"}

# Zoom's operation-log `action` -> ASIM Audit EventType (Add->Create, Update->Set,
# Delete->Delete, everything else Other).
AUDIT_EVENT_TYPE = {"Add": "Create", "Update": "Set", "Delete": "Delete"}

# Zoom's `client_type` -> operating system (ASIM SrcDvcOs / CloudAppEvents OSPlatform) and
# device class. "Browser" says nothing about the OS, so it maps to neither.
CLIENT_OS = {
    "Windows": "Windows",
    "Mac": "MacOS",
    "Linux": "Linux",
    "iOS": "iOS",
    "iPad": "iOS",
    "Android": "Android",
    "ChromeOS": "ChromeOS",
}
CLIENT_DEVICE_ASIM = {
    "Windows": "Computer",
    "Mac": "Computer",
    "Linux": "Computer",
    "ChromeOS": "Computer",
    "iOS": "Mobile Device",
    "iPad": "Mobile Device",
    "Android": "Mobile Device",
}
# Zoom's `client_type` -> ASIM AppType of the acting application (the Zoom client the user
# signed in with): the native clients are processes on the device; "Browser" is Zoom's web
# client, which no other AppType value (Process/Service/Resource/URL/SaaS application/CSP)
# describes, so it (and any type Zoom adds later) is "Other".
CLIENT_APP_TYPE = {name: "Process" for name in CLIENT_OS}
CLIENT_DEVICE_CLOUDAPP = {
    "Windows": "Desktop",
    "Mac": "Desktop",
    "Linux": "Desktop",
    "ChromeOS": "Desktop",
    "iOS": "Mobile",
    "iPad": "Tablet",
    "Android": "Mobile",
}

# Zoom's operation-log `category_type` (normalised: lower case, spaces -> "_") -> ASIM Audit
# ObjectType. Settings-like categories are configuration; roles are policy; the rest Other.
CATEGORY_OBJECT_TYPE = {
    "user_settings": "Configuration Atom",
    "account": "Configuration Atom",
    "account_settings": "Configuration Atom",
    "im": "Configuration Atom",
    "recording": "Configuration Atom",
    "webinar": "Configuration Atom",
    "zoom_rooms": "Configuration Atom",
    "phone_contacts": "Configuration Atom",
    "role": "Policy Rule",
    "sub_account": "Cloud Resource",
}


def normalise_category(value: Any) -> str | None:
    """``"User Settings"`` and ``"user_settings"`` are the same Zoom category."""
    if not isinstance(value, str) or not value.strip():
        return None
    return "_".join(value.strip().casefold().replace("-", " ").split())


def object_type(record: Mapping[str, Any], _ctx: MappingContext) -> str:
    """ASIM ObjectType for an operation log's category (Other when unknown)."""
    return CATEGORY_OBJECT_TYPE.get(normalise_category(record.get("category_type")) or "", "Other")


def operation(record: Mapping[str, Any], _ctx: MappingContext) -> str:
    """Say what was done in Zoom's words: ``"Update User Settings"`` (action + category).

    Never empty (ASIM ``Operation`` is mandatory): ``"Other"`` when Zoom gave neither.
    """
    parts = [record.get("action"), record.get("category_type")]
    text = " ".join(str(p).strip() for p in parts if isinstance(p, str) and p.strip())
    return text or "Other"


def audited_object(record: Mapping[str, Any], _ctx: MappingContext) -> str:
    """Name the object acted on: Zoom only says it in ``operation_detail`` (free text).

    Falls back to the category so the mandatory ASIM ``Object`` is never empty.
    """
    detail = record.get("operation_detail")
    if isinstance(detail, str) and detail.strip():
        return detail.strip()
    category = record.get("category_type")
    return category if isinstance(category, str) and category.strip() else "Zoom"


def client_lookup(table: Mapping[str, str]) -> Any:
    """Column source translating ``client_type`` through one of the tables above."""
    folded = {k.casefold(): v for k, v in table.items()}

    def read(record: Mapping[str, Any], _ctx: MappingContext) -> str | None:
        value = record.get("client_type")
        return folded.get(value.strip().casefold()) if isinstance(value, str) else None

    return read


def client_app_name(record: Mapping[str, Any], _ctx: MappingContext) -> str | None:
    """Name the Zoom client used, from ``client_type``: ``"Zoom Windows client"``."""
    value = record.get("client_type")
    if isinstance(value, str) and value.strip():
        return f"{PRODUCT} {value.strip()} client"
    return None


def client_app_type(record: Mapping[str, Any], _ctx: MappingContext) -> str | None:
    """ASIM AppType of that client (only when Zoom named one)."""
    value = record.get("client_type")
    if not isinstance(value, str) or not value.strip():
        return None
    folded = {k.casefold(): v for k, v in CLIENT_APP_TYPE.items()}
    return folded.get(value.strip().casefold(), "Other")


def email_domain(value: Any) -> str | None:
    """``alice@example.com`` -> ``example.com`` (None for anything that is not an address)."""
    if isinstance(value, str) and "@" in value:
        return value.rsplit("@", 1)[1] or None
    return None


def email_local(value: Any) -> str | None:
    """``alice@example.com`` -> ``alice``."""
    if isinstance(value, str) and "@" in value:
        return value.rsplit("@", 1)[0] or None
    return value if isinstance(value, str) and value else None
