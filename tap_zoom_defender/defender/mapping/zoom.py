"""Zoom vocabulary both profiles translate: client types, sign-in types, admin actions.

Tables, not branches: adding a Zoom value is one line here and one line in the tests.
"""

from __future__ import annotations

import functools
import ipaddress
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from tap_zoom_defender.defender.mapping import operation_detail
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


# --- client_type -----------------------------------------------------------------------------


@dataclass(frozen=True)
class Client:
    """What a Zoom client family says about the sign-in's device and acting application."""

    app_name: str  # ASIM ActingAppName
    app_type: str  # ASIM ActingAppType (AppType list)
    os: str | None  # ASIM SrcDvcOs / CloudAppEvents OSPlatform
    asim_device: str | None  # ASIM SrcDeviceType (Computer | Mobile Device | IOT Device | Other)
    cloudapp_device: str | None  # CloudAppEvents DeviceType


# The native clients are processes on the device. "Browser" is Zoom's web client, which no
# AppType value other than Other describes, and says nothing about the OS. A Zoom Rooms
# appliance is a room system (ASIM DeviceType Other) whose OS Zoom does not report.
CLIENTS = {
    "windows": Client("Zoom Windows client", "Process", "Windows", "Computer", "Desktop"),
    "mac": Client("Zoom Mac client", "Process", "MacOS", "Computer", "Desktop"),
    "linux": Client("Zoom Linux client", "Process", "Linux", "Computer", "Desktop"),
    "chromeos": Client("Zoom ChromeOS client", "Process", "ChromeOS", "Computer", "Desktop"),
    "ios": Client("Zoom iOS client", "Process", "iOS", "Mobile Device", "Mobile"),
    "ipad": Client("Zoom iPad client", "Process", "iOS", "Mobile Device", "Tablet"),
    "android": Client("Zoom Android client", "Process", "Android", "Mobile Device", "Mobile"),
    "browser": Client("Zoom web client", "Other", None, None, None),
    "zoom_rooms": Client("Zoom Rooms", "Process", None, "Other", None),
}
# Zoom's `client_type` is free text. Public samples of real responses show "Browser" and "win";
# Zoom's own user records end client versions in "(win)", "(mac)", "(android)"; other Zoom
# integrations' fixtures show "mac" and "windows". These spellings (compared without case,
# spaces, dots, "-" or "_") name a family above; any other value is kept as Zoom sent it and
# claims no OS or device (never an error: Zoom adds clients without notice).
CLIENT_SPELLINGS = {
    "windows": ("win", "windows", "win32", "win64", "pc"),
    "mac": ("mac", "macos", "osx", "macintosh"),
    "linux": ("linux",),
    "chromeos": ("chromeos", "chromebook", "chrome"),
    "ios": ("iphone", "ios", "ipod"),
    "ipad": ("ipad", "ipados"),
    "android": ("android",),
    "browser": ("browser", "web", "webclient", "pwa"),
    "zoom_rooms": ("zoomrooms", "zoomroom", "zr", "rooms"),
}
_SPELLING = {spelling: family for family, names in CLIENT_SPELLINGS.items() for spelling in names}


@functools.lru_cache(maxsize=1024)
def _client_key(value: str) -> str | None:
    key = _LOOSE.sub("", value.casefold())
    return key or None


def client_key(value: Any) -> str | None:
    """Zoom's ``client_type`` compared loosely: ``"Zoom Rooms"`` -> ``"zoomrooms"``.

    Cached: an account has a handful of spellings and every sign-in row asks four times.
    """
    return _client_key(value) if isinstance(value, str) else None


_LOOSE = re.compile(r"[\s._-]+")


def client(record: Mapping[str, Any]) -> Client | None:
    """Return the known client family of ``client_type`` (None when unknown or absent)."""
    family = _SPELLING.get(client_key(record.get("client_type")) or "")
    return CLIENTS[family] if family else None


def client_field(name: str) -> Any:
    """Column source: one attribute of the sign-in's known client family (else None)."""

    def read(record: Mapping[str, Any], _ctx: MappingContext) -> str | None:
        known = client(record)
        return getattr(known, name) if known else None

    return read


def client_app_name(record: Mapping[str, Any], _ctx: MappingContext) -> str | None:
    """Name the Zoom client used: ``"Zoom Windows client"``; unknown types as Zoom spelt them."""
    known = client(record)
    if known:
        return known.app_name
    value = record.get("client_type")
    if isinstance(value, str) and value.strip():
        return f"{PRODUCT} {value.strip()} client"
    return None


def client_app_type(record: Mapping[str, Any], _ctx: MappingContext) -> str | None:
    """ASIM AppType of that client (only when Zoom named one; unknown ones are Other)."""
    known = client(record)
    if known:
        return known.app_type
    return "Other" if client_key(record.get("client_type")) else None


def client_version(record: Mapping[str, Any]) -> str | None:
    """Zoom's client ``version``; None for its "unknown" (``-``) or an empty value."""
    value = record.get("version")
    if value is None:
        return None
    text = str(value).strip()
    return None if text in ("", "-") else text


_IPV4 = re.compile(
    r"(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)(?:\.(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)){3}"
)


@functools.lru_cache(maxsize=65536)
def _is_address(text: str) -> bool:
    """Tell whether ``text`` is an IPv4 or IPv6 address (cached: users sign in from few)."""
    if _IPV4.fullmatch(text):
        return True
    try:
        ipaddress.ip_address(text)
    except ValueError:
        return False
    return True


def ip_address(name: str) -> Any:
    """Column source: an IPv4/IPv6 address field, or None when it holds no valid address.

    The text is kept as Zoom wrote it (``::ffff:198.51.100.23`` stays); brackets and an IPv6
    zone are tolerated. Anything else (``-``, a host name, garbage) is left out of the
    address column rather than failing the run; the original is kept with the record.
    """

    def read(record: Mapping[str, Any], _ctx: MappingContext) -> str | None:
        value = record.get(name)
        if not isinstance(value, str):
            return None
        text = value.strip()
        candidate = text[1:-1] if text.startswith("[") and text.endswith("]") else text
        return candidate if _is_address(candidate.split("%", 1)[0]) else None

    read.zoom_field = name  # type: ignore[attr-defined]
    return read


# --- operation logs --------------------------------------------------------------------------

# Zoom's operation-log `action` -> ASIM Audit EventType. Zoom documents Add/Update/Delete; the
# others are verbs Zoom (and the sandbox) use for the same kinds of operation. Activating or
# deactivating a user is Enable/Disable, not Other (the schema asks to avoid Other). Anything
# else is Other: an honest "not one of the schema's types"; the action itself stays in
# EventOriginalType.
AUDIT_EVENT_TYPE = {
    "Add": "Create",
    "Create": "Create",
    "Update": "Set",
    "Edit": "Set",
    "Change": "Set",
    "Modify": "Set",
    "Delete": "Delete",
    "Remove": "Delete",
    "Activate": "Enable",
    "Enable": "Enable",
    "Deactivate": "Disable",
    "Disable": "Disable",
}
_EVENT_TYPE = {k.casefold(): v for k, v in AUDIT_EVENT_TYPE.items()}

# ASIM EventSeverity (Informational | Low | Medium | High). The schema recommends the field but
# gives no rule for audit events, so these are ours: changes to roles and privileges (who may
# administer the account) and to sign-in or meeting security controls are Medium, the changes
# an account takeover or insider makes to keep or widen access; deletions and deactivations are
# Low (irreversible or access-removing, worth a look in bulk); the rest is routine
# administration, Informational. Nothing is High: one admin operation Zoom reports as done is
# no evidence of compromise on its own.
SECURITY_TERMS = (
    "security", "password", "passcode", "two-factor", "2fa", "sso", "single sign-on", "saml",
    "sign-in", "sign in", "login", "authentication", "waiting room", "encryption", "privilege",
    "role", "admin", "owner", "oauth", "marketplace", "domain",
)  # fmt: skip
_SECURITY = re.compile(r"\b(?:" + "|".join(map(re.escape, SECURITY_TERMS)) + r")s?\b", re.I)
LOW_EVENT_TYPES = frozenset({"Delete", "Disable"})

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


def detail(record: Mapping[str, Any]) -> operation_detail.Detail | None:
    """Parse ``operation_detail`` (cached per text: several columns read it)."""
    return operation_detail.parse(record.get("operation_detail"))


def audit_event_type(record: Mapping[str, Any], _ctx: MappingContext) -> str:
    """ASIM Audit EventType from Zoom's ``action``, refined by the detail's leading verb.

    Zoom files a user's (de)activation under action ``Update`` ("Activate User x"), so when the
    action says no more than Set (or nothing the schema knows) the verb decides: Enable, Disable,
    or, for an unknown action, whatever the verb names. Always one of the schema's types.
    """
    action = record.get("action")
    key = action.strip().casefold() if isinstance(action, str) else ""
    by_action = _EVENT_TYPE.get(key, "Other")
    parsed = detail(record)
    by_verb = _EVENT_TYPE.get(parsed.verb) if parsed and parsed.verb else None
    if by_verb in ("Enable", "Disable") and by_action in ("Set", "Other"):
        return by_verb
    if by_action == "Other" and by_verb:
        return by_verb
    return by_action


def audited_object(record: Mapping[str, Any], _ctx: MappingContext) -> str:
    """Name the object acted on (ASIM ``Object``, mandatory), from ``operation_detail``.

    In order: the name the detail gives its object ("Update a Channel NAME", "User x@y.com",
    quoted names, "meeting 123..."), else the one field it changed ("Account Settings -
    Meeting > Waiting room: from Off to On" -> "Meeting > Waiting room"), else the rest of its
    first segment, else the category, else "Zoom". Never the whole sentence (that stays in
    ``AdditionalFields.OperationDetail``).
    """
    parsed = detail(record)
    if parsed:
        if parsed.name:
            return parsed.name
        if len(parsed.changes) == 1:
            return parsed.changes[0].field
        if parsed.subject:
            return parsed.subject
        if parsed.changes:
            return ", ".join(c.field for c in parsed.changes)
    category = record.get("category_type")
    return category.strip() if isinstance(category, str) and category.strip() else PRODUCT


def old_value(record: Mapping[str, Any], _ctx: MappingContext) -> str | None:
    """ASIM ``OldValue``: what ``Field: from OLD to NEW`` says was there before."""
    parsed = detail(record)
    return operation_detail.join_values(parsed.changes, "old") if parsed else None


def new_value(record: Mapping[str, Any], _ctx: MappingContext) -> str | None:
    """ASIM ``NewValue``: ``NEW`` of ``from OLD to NEW`` / ``set to NEW``."""
    parsed = detail(record)
    return operation_detail.join_values(parsed.changes, "new") if parsed else None


def value_type(record: Mapping[str, Any], ctx: MappingContext) -> str | None:
    """ASIM ``ValueType`` (conditional on Old/NewValue; its only allowed value is Other)."""
    changed = old_value(record, ctx) is not None or new_value(record, ctx) is not None
    return "Other" if changed else None


def audit_severity(record: Mapping[str, Any], ctx: MappingContext) -> str:
    """ASIM ``EventSeverity`` by the rules above ``SECURITY_TERMS``."""
    parsed = detail(record)
    text = [record.get("category_type")]
    if parsed:  # what was acted on and which fields changed; not addresses ("admin@...")
        text += [
            operation_detail.without_emails(parsed.subject),
            *(c.field for c in parsed.changes),
        ]
    if object_type(record, ctx) == "Policy Rule" or any(
        isinstance(t, str) and _SECURITY.search(t) for t in text
    ):
        return "Medium"
    if audit_event_type(record, ctx) in LOW_EVENT_TYPES:
        return "Low"
    return "Informational"


def audit_details(record: Mapping[str, Any]) -> dict[str, Any]:
    """Return what the parser read from ``operation_detail``, for ``AdditionalFields``."""
    parsed = detail(record)
    if not parsed:
        return {}
    extras: dict[str, Any] = {}
    if parsed.changes:
        extras["Changes"] = [
            {"Field": c.field, "OldValue": c.old, "NewValue": c.new} for c in parsed.changes
        ]
    if parsed.notes:
        extras["Details"] = list(parsed.notes)
    return extras


# --- users -----------------------------------------------------------------------------------


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
