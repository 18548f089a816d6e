"""Profile ``asim`` (default): Sentinel's normalized ASIM tables, written at ingest time.

- ``activities``     -> ``ASimAuthenticationEventLogs`` (Authentication schema 0.1.4)
- ``operation_logs`` -> ``ASimAuditEventLogs`` (Audit Event schema 0.1.2)
- ``users``          -> ``ZoomIdentityInfo_CL`` (see identity.py)

Deliberate choices (each is what Sentinel's own Zoom parser gets wrong):
``EventResult`` is the outcome (``Success``: Zoom only reports completed sign-ins/outs and
operations), never the sign-in type; all times are the event's own time, not ingestion time;
``EventOriginalUid`` is the tap's stable ``event_id``, the key downstream dedupe should use.

Sign-ins: ``EventType`` may only be ``Logon``/``Logoff``/``Elevate``; a Zoom ``type`` other than
"Sign in"/"Sign out" (none is documented) stops the run with one error instead of inventing a
value. ``EventProductVersion`` is the version of the *reporting* product (Zoom's service, which
Zoom does not report), so the user's client goes where ASIM puts the application the user acted
through: ``ActingAppName``/``ActingAppType`` (from ``client_type``), ``SrcDvcOs``/
``SrcDeviceType`` for the device, and ``AdditionalFields.ClientVersion`` for its version (the
ASimAuthenticationEventLogs table has no column for a client application's version).

Logs Ingestion only accepts data on streams a DCR declares, and declared streams are named
``Custom-...``: rows for the ASim tables go to ``Custom-ZoomASim...`` input streams whose DCR data
flow has ``outputStream: Microsoft-ASim...`` (see ``azure_setup.py``).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from tap_zoom_defender.defender.errors import InputError
from tap_zoom_defender.defender.mapping import identity
from tap_zoom_defender.defender.mapping.table import (
    DATETIME,
    DYNAMIC,
    INT,
    STRING,
    Column,
    MappingContext,
    Table,
    const,
    event_key,
    fld,
    lookup,
    original,
    required,
)
from tap_zoom_defender.defender.mapping.zoom import (
    AUDIT_EVENT_TYPE,
    CLIENT_DEVICE_ASIM,
    CLIENT_OS,
    PRODUCT,
    SIGN_IN_TYPE,
    VENDOR,
    audited_object,
    client_app_name,
    client_app_type,
    client_lookup,
    object_type,
    operation,
)

AUTHENTICATION_TABLE = "ASimAuthenticationEventLogs"
AUDIT_TABLE = "ASimAuditEventLogs"


def _if_present(name: str, value: str) -> Any:
    """Emit a constant only next to a present field (e.g. a username's type)."""
    return lambda record, _ctx: value if record.get(name) else None


def _common(event_type: Column, schema: str, version: str) -> tuple[Column, ...]:
    """Declare the mandatory ASIM columns every table shares (times: the event's own)."""
    return (
        Column("TimeGenerated", DATETIME, required("time")),
        Column("EventStartTime", DATETIME, required("time")),
        Column("EventEndTime", DATETIME, required("time")),
        Column("EventCount", INT, const(1)),
        event_type,
        Column("EventResult", STRING, const("Success")),
        Column("EventProduct", STRING, const(PRODUCT)),
        Column("EventVendor", STRING, const(VENDOR)),
        Column("EventSchema", STRING, const(schema)),
        Column("EventSchemaVersion", STRING, const(version)),
        Column("Dvc", STRING, const(PRODUCT)),
        Column("EventOriginalUid", STRING, event_key),
    )


_SIGN_IN_TYPES = {k.casefold(): v for k, v in SIGN_IN_TYPE.items()}


def _sign_in_event_type(record: Mapping[str, Any], ctx: MappingContext) -> str:
    """Logon/Logoff from Zoom's ``type``; anything else is input this schema cannot hold."""
    value = record.get("type")
    event_type = _SIGN_IN_TYPES.get(value.strip().casefold()) if isinstance(value, str) else None
    if event_type is None:
        known = ", ".join(f"'{k}' -> {v}" for k, v in SIGN_IN_TYPE.items())
        raise InputError(
            f"stream '{ctx.stream}': field 'type' is {str(value)[:60]!r}, not a Zoom sign-in "
            f"type the ASIM Authentication schema can record ({known}); fix the upstream tap "
            "or its stream maps, or set schema_profile=cloudappevents, which keeps any type"
        )
    return event_type


def _sign_in_extras(record: Mapping[str, Any], ctx: MappingContext) -> dict[str, Any]:
    return {
        "ClientType": record.get("client_type"),
        "ClientVersion": record.get("version"),
        "ZoomRecord": original(record, ctx),
    }


def _audit_extras(record: Mapping[str, Any], ctx: MappingContext) -> dict[str, Any]:
    return {
        "ZoomCategory": record.get("category_type"),
        "ZoomAction": record.get("action"),
        "ZoomRecord": original(record, ctx),
    }


ACTIVITIES = Table(
    name=AUTHENTICATION_TABLE,
    default_stream=f"Custom-Zoom{AUTHENTICATION_TABLE}",
    key_column="EventOriginalUid",
    custom=False,
    columns=(
        *_common(
            Column("EventType", STRING, _sign_in_event_type),
            "Authentication",
            "0.1.4",
        ),
        Column("EventOriginalType", STRING, fld("type")),
        Column("TargetUsername", STRING, fld("email")),
        Column("TargetUsernameType", STRING, _if_present("email", "UPN")),
        Column("TargetAppName", STRING, const(PRODUCT)),
        Column("TargetAppType", STRING, const("SaaS application")),
        Column("SrcIpAddr", STRING, fld("ip_address")),
        Column("SrcDvcOs", STRING, client_lookup(CLIENT_OS)),
        Column("SrcDeviceType", STRING, client_lookup(CLIENT_DEVICE_ASIM)),
        Column("ActingAppName", STRING, client_app_name),
        Column("ActingAppType", STRING, client_app_type),
        Column("AdditionalFields", DYNAMIC, _sign_in_extras),
    ),
)

OPERATION_LOGS = Table(
    name=AUDIT_TABLE,
    default_stream=f"Custom-Zoom{AUDIT_TABLE}",
    key_column="EventOriginalUid",
    custom=False,
    columns=(
        *_common(
            Column("EventType", STRING, lookup(AUDIT_EVENT_TYPE, "action", "Other")),
            "AuditEvent",
            "0.1.2",
        ),
        Column("EventSubType", STRING, fld("category_type")),
        Column("EventOriginalType", STRING, fld("action")),
        Column("Operation", STRING, operation),
        Column("Object", STRING, audited_object),
        Column("ObjectType", STRING, object_type),
        Column("ActorUsername", STRING, fld("operator")),
        Column("ActorUsernameType", STRING, _if_present("operator", "UPN")),
        Column("TargetAppName", STRING, const(PRODUCT)),
        Column("TargetAppType", STRING, const("SaaS application")),
        Column("AdditionalFields", DYNAMIC, _audit_extras),
    ),
)

TABLES: dict[str, Table] = {
    "activities": ACTIVITIES,
    "operation_logs": OPERATION_LOGS,
    "users": identity.USERS,
}
