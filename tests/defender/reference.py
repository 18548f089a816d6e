"""Reference shapes, written from Microsoft's documentation, independent of the mapping code.

Sources: ASIM Authentication schema 0.1.4 and Audit Event schema 0.1.2 (plus ASIM common
fields), the Defender XDR advanced hunting reference for CloudAppEvents and IdentityInfo, and
the Logs Ingestion reserved column names (summarised in shared/reference/microsoft-shapes.md).
Tests compare every column our profiles emit with these lists: name and type.
"""

from __future__ import annotations

S, D, N, B, X = "string", "datetime", "int", "bool", "dynamic"

ASIM_MANDATORY = {
    "TimeGenerated": D,
    "EventCount": N,
    "EventStartTime": D,
    "EventEndTime": D,
    "EventType": S,
    "EventResult": S,
    "EventProduct": S,
    "EventVendor": S,
    "EventSchema": S,
    "EventSchemaVersion": S,
    "Dvc": S,
}
# ASIM common optional fields used by either schema.
ASIM_COMMON_OPTIONAL = {
    "EventSubType": S,
    "EventResultDetails": S,
    "EventOriginalUid": S,
    "EventOriginalType": S,
    "EventProductVersion": S,
    "AdditionalFields": X,
}
AUTHENTICATION = {
    **ASIM_MANDATORY,
    **ASIM_COMMON_OPTIONAL,
    "LogonMethod": S,
    "TargetUserId": S,
    "TargetUsername": S,
    "TargetUsernameType": S,
    "TargetAppName": S,
    "TargetAppType": S,
    "HttpUserAgent": S,
    "ActingAppId": S,
    "ActingAppName": S,
    "ActingAppType": S,
    "SrcIpAddr": S,
    "SrcDvcOs": S,
    "SrcDeviceType": S,
    "SrcGeoCountry": S,
    "SrcGeoCity": S,
}
AUDIT = {
    **ASIM_MANDATORY,
    **ASIM_COMMON_OPTIONAL,
    "Operation": S,
    "Object": S,
    "ObjectType": S,
    "OldValue": S,
    "NewValue": S,
    "ActorUsername": S,
    "ActorUsernameType": S,
    "TargetAppName": S,
    "TargetAppType": S,
}
AUDIT_MANDATORY = {**ASIM_MANDATORY, "Operation": S, "Object": S}

CLOUD_APP_EVENTS = {
    "Timestamp": D,
    **dict.fromkeys(
        [
            "ActionType",
            "Application",
            "AccountObjectId",
            "AccountId",
            "AccountDisplayName",
            "DeviceType",
            "OSPlatform",
            "IPAddress",
            "CountryCode",
            "City",
            "Isp",
            "UserAgent",
            "ActivityType",
            "ObjectName",
            "ObjectType",
            "ObjectId",
            "ReportId",
            "AccountType",
            "IPCategory",
            "AuditSource",
            "OAuthAppId",
        ],
        S,
    ),
    "ApplicationId": N,
    "AppInstanceId": N,
    **dict.fromkeys(
        ["IsAdminOperation", "IsAnonymousProxy", "IsExternalUser", "IsImpersonated"], B
    ),
    **dict.fromkeys(
        [
            "ActivityObjects",
            "IPTags",
            "UserAgentTags",
            "RawEventData",
            "AdditionalFields",
            "LastSeenForUser",
            "UncommonForUser",
            "SessionData",
        ],
        X,
    ),
}
IDENTITY_INFO = {
    "Timestamp": D,
    "CreatedDateTime": D,
    **dict.fromkeys(
        [
            "ReportId",
            "AccountObjectId",
            "AccountUpn",
            "AccountDisplayName",
            "AccountName",
            "AccountDomain",
            "Type",
            "GivenName",
            "Surname",
            "Department",
            "JobTitle",
            "EmailAddress",
            "City",
            "Country",
            "Manager",
            "TenantId",
        ],
        S,
    ),
    "IsAccountEnabled": B,
    **dict.fromkeys(["Tags", "AssignedRoles", "SourceProviders", "GroupMembership"], X),
}
# Every Log Analytics table has TimeGenerated; custom tables must declare it.
CUSTOM_TABLE_EXTRA = {"TimeGenerated": D, "AdditionalFields": X}
RESERVED_IN_CUSTOM_TABLES = {"id", "TenantId", "Type", "_ResourceId", "_SubscriptionId"}

# Allowed values (ASIM enumerations).
EVENT_RESULTS = {"Success", "Partial", "Failure", "NA"}
AUTH_EVENT_TYPES = {"Logon", "Logoff", "Elevate"}
AUDIT_EVENT_TYPES = {
    "Set",
    "Read",
    "Create",
    "Delete",
    "Execute",
    "Install",
    "Clear",
    "Enable",
    "Disable",
    "Initialize",
    "Start",
    "Stop",
    "Other",
}
AUDIT_OBJECT_TYPES = {"Cloud Resource", "Configuration Atom", "Policy Rule", "Other"}
USERNAME_TYPES = {"UPN", "Windows", "DN", "Simple", "Other"}
APP_TYPES = {"Process", "Service", "Resource", "URL", "SaaS application", "CSP", "Other"}
DEVICE_TYPES = {"Computer", "Mobile Device", "IOT Device", "Other"}

# table name -> (allowed columns with types, columns that must be present)
TABLES = {
    "ASimAuthenticationEventLogs": (AUTHENTICATION, ASIM_MANDATORY),
    "ASimAuditEventLogs": (AUDIT, AUDIT_MANDATORY),
    "ZoomCloudAppEvents_CL": (
        {**CLOUD_APP_EVENTS, **CUSTOM_TABLE_EXTRA},
        {
            "TimeGenerated": D,
            "Timestamp": D,
            "ReportId": S,
            "ActionType": S,
            "Application": S,
            "RawEventData": X,
        },
    ),
    "ZoomIdentityInfo_CL": (
        {**IDENTITY_INFO, **CUSTOM_TABLE_EXTRA},
        {
            "TimeGenerated": D,
            "Timestamp": D,
            "AccountUpn": S,
            "ReportId": S,
            "AdditionalFields": X,
        },
    ),
}

# table name -> {column: the values ASIM allows in it}; checked for every row a test produces.
ALLOWED_VALUES = {
    "ASimAuthenticationEventLogs": {
        "EventType": AUTH_EVENT_TYPES,
        "EventResult": EVENT_RESULTS,
        "EventSchema": {"Authentication"},
        "EventSchemaVersion": {"0.1.4"},
        "TargetUsernameType": USERNAME_TYPES,
        "TargetAppType": APP_TYPES,
        "ActingAppType": APP_TYPES,
        "SrcDeviceType": DEVICE_TYPES,
    },
    "ASimAuditEventLogs": {
        "EventType": AUDIT_EVENT_TYPES,
        "EventResult": EVENT_RESULTS,
        "EventSchema": {"AuditEvent"},
        "EventSchemaVersion": {"0.1.2"},
        "ObjectType": AUDIT_OBJECT_TYPES,
        "ActorUsernameType": USERNAME_TYPES,
        "TargetAppType": APP_TYPES,
    },
}


def disallowed_values(table: str, row: dict) -> dict:
    """Columns of ``row`` whose (non-empty) value the schema does not allow, with the value."""
    allowed = ALLOWED_VALUES.get(table, {})
    return {
        column: row[column]
        for column, values in allowed.items()
        if row.get(column) is not None and row[column] not in values
    }
