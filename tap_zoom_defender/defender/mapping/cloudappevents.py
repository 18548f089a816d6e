"""Profile ``cloudappevents``: Defender XDR's CloudAppEvents shape in ``ZoomCloudAppEvents_CL``.

The real ``CloudAppEvents`` table is filled only by Defender for Cloud Apps, whose Zoom connector
reports no sign-ins or admin activity. A custom table with the same column names and types lets
hunting queries written for CloudAppEvents run on Zoom's sign-ins and operation logs.

- ``activities`` and ``operation_logs`` -> ``ZoomCloudAppEvents_CL`` (one table, same columns)
- ``users`` -> ``ZoomIdentityInfo_CL`` (see identity.py)

``AccountDisplayName`` comes from the users stream: the tap emits ``users`` first, so the
target has learnt every account's name before the events of the same run arrive (the first
run included); the email -> name map it keeps in its output directory also serves runs that
deselect ``users`` and pipelines whose tap sends users after the events. ``ObjectName`` is the
name of the object an admin operation acted on (parsed from ``operation_detail``, like the ASIM
``Object``), the sentence itself is ``AdditionalFields.OperationDetail``. Nothing is invented:
columns Zoom gives no data for (``AccountObjectId``, ``CountryCode``, ``IsExternalUser``...) are
left out rather than guessed.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from tap_zoom_defender.defender.mapping import identity
from tap_zoom_defender.defender.mapping.table import (
    BOOL,
    DATETIME,
    DYNAMIC,
    STRING,
    Column,
    MappingContext,
    Source,
    Table,
    const,
    event_key,
    fld,
    lookup,
    original,
    required,
)
from tap_zoom_defender.defender.mapping.zoom import (
    AUDIT_SOURCE,
    PRODUCT,
    audited_object,
    client_field,
    client_version,
    ip_address,
    operation,
)

TABLE_NAME = "ZoomCloudAppEvents_CL"

# Defender for Cloud Apps' activity types for the Zoom values.
SIGN_IN_ACTIVITY = {"Sign in": "Login", "Sign out": "Logout"}
AUDIT_ACTIVITY = {"Add": "Create", "Update": "Edit", "Delete": "Delete"}

# Column order and types are the same for both streams: one table, one DCR stream declaration.
_LAYOUT: tuple[tuple[str, str], ...] = (
    ("TimeGenerated", DATETIME),
    ("Timestamp", DATETIME),
    ("ReportId", STRING),
    ("ActionType", STRING),
    ("ActivityType", STRING),
    ("Application", STRING),
    ("AccountId", STRING),
    ("AccountDisplayName", STRING),
    ("AccountType", STRING),
    ("IsAdminOperation", BOOL),
    ("IPAddress", STRING),
    ("DeviceType", STRING),
    ("OSPlatform", STRING),
    ("ObjectName", STRING),
    ("ObjectType", STRING),
    ("AuditSource", STRING),
    ("RawEventData", DYNAMIC),
    ("AdditionalFields", DYNAMIC),
)


def _name_of(field: str) -> Source:
    def read(record: Mapping[str, Any], ctx: MappingContext) -> str | None:
        return ctx.display_name(record.get(field))

    return read


def _extras(record: Mapping[str, Any], ctx: MappingContext) -> dict[str, Any]:
    extras: dict[str, Any] = {"ZoomStream": ctx.stream}
    if ctx.stream == "activities":
        extras.update(ClientType=record.get("client_type"), ClientVersion=client_version(record))
    else:
        extras.update(
            ZoomCategory=record.get("category_type"),
            OperationDetail=record.get("operation_detail"),
        )
    return extras


def _table(sources: Mapping[str, Source]) -> Table:
    return Table(
        name=TABLE_NAME,
        default_stream=f"Custom-{TABLE_NAME}",
        key_column="ReportId",
        columns=tuple(Column(name, kind, sources[name]) for name, kind in _LAYOUT),
    )


_SHARED: dict[str, Source] = {
    "TimeGenerated": required("time"),
    "Timestamp": required("time"),
    "ReportId": event_key,
    "Application": const(PRODUCT),
    "RawEventData": original,
    "AdditionalFields": _extras,
}

ACTIVITIES = _table(
    {
        **_SHARED,
        "ActionType": fld("type"),
        "ActivityType": lookup(SIGN_IN_ACTIVITY, "type", "Other"),
        "AccountId": fld("email"),
        "AccountDisplayName": _name_of("email"),
        "AccountType": const("Regular"),
        "IsAdminOperation": const(False),
        "IPAddress": ip_address("ip_address"),
        "DeviceType": client_field("cloudapp_device"),
        "OSPlatform": client_field("os"),
        "ObjectName": const(None),
        "ObjectType": const(None),
        "AuditSource": const(AUDIT_SOURCE["activities"]),
    }
)

OPERATION_LOGS = _table(
    {
        **_SHARED,
        "ActionType": operation,
        "ActivityType": lookup(AUDIT_ACTIVITY, "action", "Other"),
        "AccountId": fld("operator"),
        "AccountDisplayName": _name_of("operator"),
        "AccountType": const("Admin"),
        "IsAdminOperation": const(True),
        "IPAddress": const(None),
        "DeviceType": const(None),
        "OSPlatform": const(None),
        "ObjectName": audited_object,
        "ObjectType": fld("category_type"),
        "AuditSource": const(AUDIT_SOURCE["operation_logs"]),
    }
)

TABLES: dict[str, Table] = {
    "activities": ACTIVITIES,
    "operation_logs": OPERATION_LOGS,
    "users": identity.USERS,
}
