"""Profile ``asim`` (default): Sentinel ASIM rows whose event time survives ingestion.

- ``activities``     -> ``ZoomAuthentication_CL`` (ASIM Authentication schema 0.1.4 columns)
- ``operation_logs`` -> ``ZoomAuditEvent_CL`` (ASIM Audit Event schema 0.1.2 columns)
- ``users``          -> ``ZoomIdentityInfo_CL`` (see identity.py)

Why custom tables and not the native ``ASimAuthenticationEventLogs``/``ASimAuditEventLogs``:
Azure Monitor replaces a ``TimeGenerated`` more than two days old on receipt with the receipt
time ("Standard columns in Azure Monitor Logs"), and Microsoft's native parsers set
``EventStartTime = TimeGenerated`` and filter on it (Azure-Sentinel,
``Parsers/ASimAuthentication/Parsers/ASimAuthenticationNative.yaml``). A 7-day first sync, late
arrivals and backlogs would show their receipt time in Sentinel. Here the event time is also
stored in ``EventStartTime``/``EventEndTime``, columns Azure keeps as sent, and the shipped ASIM
parsers (``kql/``: ``vimAuthenticationZoom``, ``vimAuditEventZoom``...) read it back as the
event's time, joined to Sentinel's unifying parsers through the documented custom-parser
functions. docs/sentinel.md has the whole route.

The tables use exactly the ASIM column names and types (those of the native tables, Azure
Monitor table reference), so the parsers only add the aliases and constants ASIM defines at
query time (``Dvc``, ``EventSchema``, ``User``, ``IpAddr``, ``Src``...), as the native parsers do.

Deliberate choices (each is what Sentinel's own Zoom parser gets wrong):
``EventResult`` is the outcome (``Success``: Zoom only reports completed sign-ins/outs and
operations), never the sign-in type; all times are the event's own time, not ingestion time;
``EventOriginalUid`` is the tap's stable ``event_id``, the key downstream dedupe should use.

Sign-ins: ``EventType`` may only be ``Logon``/``Logoff``/``Elevate``; a Zoom ``type`` other than
"Sign in"/"Sign out" (none is documented) stops the run with one error instead of inventing a
value. ``EventProductVersion`` is the version of the *reporting* product (Zoom's service, which
Zoom does not report), so the user's client goes where ASIM puts the application the user acted
through: ``ActingAppName``/``ActingAppType`` (from ``client_type``), ``SrcDvcOs``/
``SrcDeviceType`` for the device, and ``AdditionalFields.ClientVersion`` for its version (ASIM
has no column for a client application's version).

Operation logs: ``Object`` is the name of the object acted on and ``OldValue``/``NewValue`` the
values Zoom's ``operation_detail`` says changed (its ``Field: from OLD to NEW`` / ``set to NEW``
grammar, read by operation_detail.py); the sentence itself stays in
``AdditionalFields.OperationDetail``. (De)activations are ``Enable``/``Disable``;
``EventSeverity`` follows the rules in zoom.py (roles and security settings Medium, deletions
and deactivations Low, else Informational).

Of the device fields the schema recommends, ``DvcHostname`` is the one Zoom's cloud lets us
fill truthfully: ``Zoom``, the value ASIM gives ``Dvc`` for a cloud source with no apparent
device; Zoom reports no address or id of its service (no ``DvcIpAddr``/``DvcId``).
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
    original,
    required,
)
from tap_zoom_defender.defender.mapping.zoom import (
    PRODUCT,
    SIGN_IN_TYPE,
    VENDOR,
    audit_details,
    audit_event_type,
    audit_severity,
    audited_object,
    client_app_name,
    client_app_type,
    client_field,
    client_version,
    ip_address,
    new_value,
    object_type,
    old_value,
    operation,
    value_type,
)

AUTHENTICATION_TABLE = "ZoomAuthentication_CL"
AUDIT_TABLE = "ZoomAuditEvent_CL"


def _if_present(name: str, value: str) -> Any:
    """Emit a constant only next to a present field (e.g. a username's type)."""
    return lambda record, _ctx: value if record.get(name) else None


def _common(event_type: Column, version: str, severity: Column) -> tuple[Column, ...]:
    """Declare the stored ASIM columns every table shares (times: the event's own).

    ``EventStartTime``/``EventEndTime`` keep the event time whatever Azure does to
    ``TimeGenerated``. ``EventSchema`` and ``Dvc`` are mandatory in ASIM but constants and
    aliases: the shipped parsers add them at query time (see the module docstring).
    """
    return (
        Column("TimeGenerated", DATETIME, required("time")),
        Column("EventStartTime", DATETIME, required("time")),
        Column("EventEndTime", DATETIME, required("time")),
        Column("EventCount", INT, const(1)),
        event_type,
        Column("EventResult", STRING, const("Success")),
        severity,
        Column("EventProduct", STRING, const(PRODUCT)),
        Column("EventVendor", STRING, const(VENDOR)),
        Column("EventSchemaVersion", STRING, const(version)),
        Column("DvcHostname", STRING, const(PRODUCT)),
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
        "ClientVersion": client_version(record),
        "ZoomRecord": original(record, ctx),
    }


def _audit_extras(record: Mapping[str, Any], ctx: MappingContext) -> dict[str, Any]:
    return {
        "ZoomCategory": record.get("category_type"),
        "ZoomAction": record.get("action"),
        "OperationDetail": record.get("operation_detail"),
        **audit_details(record),
        "ZoomRecord": original(record, ctx),
    }


ACTIVITIES = Table(
    name=AUTHENTICATION_TABLE,
    default_stream=f"Custom-{AUTHENTICATION_TABLE}",
    key_column="EventOriginalUid",
    columns=(
        *_common(
            Column("EventType", STRING, _sign_in_event_type),
            "0.1.4",
            # Zoom reports completed sign-ins and sign-outs only: routine events.
            Column("EventSeverity", STRING, const("Informational")),
        ),
        Column("EventOriginalType", STRING, fld("type")),
        Column("TargetUsername", STRING, fld("email")),
        Column("TargetUsernameType", STRING, _if_present("email", "UPN")),
        Column("TargetAppName", STRING, const(PRODUCT)),
        Column("TargetAppType", STRING, const("SaaS application")),
        Column("SrcIpAddr", STRING, ip_address("ip_address")),
        Column("SrcDvcOs", STRING, client_field("os")),
        Column("SrcDeviceType", STRING, client_field("asim_device")),
        Column("ActingAppName", STRING, client_app_name),
        Column("ActingAppType", STRING, client_app_type),
        Column("AdditionalFields", DYNAMIC, _sign_in_extras),
    ),
)

OPERATION_LOGS = Table(
    name=AUDIT_TABLE,
    default_stream=f"Custom-{AUDIT_TABLE}",
    key_column="EventOriginalUid",
    columns=(
        *_common(
            Column("EventType", STRING, audit_event_type),
            "0.1.2",
            Column("EventSeverity", STRING, audit_severity),
        ),
        Column("EventSubType", STRING, fld("category_type")),
        Column("EventOriginalType", STRING, fld("action")),
        Column("Operation", STRING, operation),
        Column("Object", STRING, audited_object),
        Column("ObjectType", STRING, object_type),
        Column("OldValue", STRING, old_value),
        Column("NewValue", STRING, new_value),
        Column("ValueType", STRING, value_type),
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
