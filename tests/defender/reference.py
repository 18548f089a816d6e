"""Reference shapes, written from Microsoft's documentation, independent of the mapping code.

Sources: the Azure Monitor table reference of ASimAuthenticationEventLogs and ASimAuditEventLogs
(every column the native tables store, with its type), ASIM Authentication schema 0.1.4 and
Audit Event schema 0.1.2 (plus ASIM common fields) for mandatory fields and allowed values,
Sentinel's native ASIM parsers (ASimAuthenticationNative / ASimAuditEventNative, which add
aliases and EventSchema at query time), the Defender XDR advanced hunting reference for
CloudAppEvents and IdentityInfo, and the Logs Ingestion reserved column names (summarised in
shared/reference/microsoft-shapes.md). Tests compare every column our profiles emit with these
lists: name and type.
"""

from __future__ import annotations

S, D, N, B, X, R = "string", "datetime", "int", "bool", "dynamic", "real"


def _columns(**by_type: str) -> dict[str, str]:
    return {name: kind for kind, names in by_type.items() for name in names.split()}


# Columns the native tables store, by type (Azure Monitor Logs table reference), minus the ones
# Log Analytics fills itself (TenantId, Type, SourceSystem, _ResourceId, _SubscriptionId,
# _BilledSize, _IsBillable), which an ingested row must not carry.
_SHARED_NATIVE = """
    ActingAppId ActingAppName ActingAppType ActingOriginalAppType ActorOriginalUserType
    ActorScope ActorScopeId ActorSessionId ActorUserId ActorUserIdType ActorUsername
    ActorUsernameType ActorUserType DvcAction DvcDescription DvcDomain DvcDomainType DvcFQDN
    DvcHostname DvcId DvcIdType DvcInterface DvcIpAddr DvcMacAddr DvcOriginalAction DvcOs
    DvcOsVersion DvcScope DvcScopeId DvcZone EventMessage EventOriginalResultDetails
    EventOriginalSeverity EventOriginalSubType EventOriginalType EventOriginalUid EventOwner
    EventProduct EventProductVersion EventReportUrl EventResult EventResultDetails
    EventSchemaVersion EventSeverity EventSubType EventType EventVendor HttpUserAgent RuleName
    SrcDescription SrcDeviceType SrcDomain SrcDomainType SrcDvcId SrcDvcIdType SrcDvcScope
    SrcDvcScopeId SrcFQDN SrcGeoCity SrcGeoCountry SrcGeoRegion SrcHostname SrcIpAddr
    SrcOriginalRiskLevel TargetAppId TargetAppName TargetAppType TargetDescription
    TargetDeviceType TargetDomain TargetDomainType TargetDvcId TargetDvcIdType TargetDvcOs
    TargetDvcScope TargetDvcScopeId TargetFQDN TargetGeoCity TargetGeoCountry TargetGeoRegion
    TargetHostname TargetIpAddr TargetOriginalAppType TargetOriginalRiskLevel TargetUrl
    ThreatCategory ThreatField ThreatId ThreatIpAddr ThreatName ThreatOriginalConfidence
    ThreatOriginalRiskLevel
"""
_SHARED_TYPED = {
    "int": "EventCount RuleNumber SrcPortNumber SrcRiskLevel TargetPortNumber TargetRiskLevel "
    "ThreatConfidence ThreatRiskLevel",
    "datetime": "EventEndTime EventStartTime ThreatFirstReportedTime ThreatLastReportedTime "
    "TimeGenerated",
    "real": "SrcGeoLatitude SrcGeoLongitude TargetGeoLatitude TargetGeoLongitude",
    "bool": "ThreatIsActive",
    "dynamic": "AdditionalFields",
}
AUTHENTICATION = _columns(
    string=_SHARED_NATIVE
    + """LogonMethod LogonProtocol SrcDvcOs SrcIsp TargetOriginalUserType TargetSessionId
    TargetUserId TargetUserIdType TargetUsername TargetUsernameType TargetUserScope
    TargetUserScopeId TargetUserType""",
    **_SHARED_TYPED,
)
AUDIT = _columns(
    string=_SHARED_NATIVE
    + """ActorUserAadId ActorUserSid NewValue Object ObjectId ObjectType OldValue Operation
    OriginalObjectType ValueType""",
    **_SHARED_TYPED,
)
# ASIM fields the native tables do NOT store: aliases and constants the native parsers (or the
# schema's alias rules) supply at query time. A row carrying one sends a column the table lacks.
QUERY_TIME_ONLY = {
    "EventSchema", "Dvc", "User", "Src", "IpAddr", "LogonTarget", "Dst", "Value", "Application",
    "Rule", "EventUid",
}  # fmt: skip
assert not QUERY_TIME_ONLY & (set(AUTHENTICATION) | set(AUDIT))

# ASIM's mandatory fields that the native tables store (EventSchema and Dvc are mandatory in
# ASIM too, but the native parsers add them: see QUERY_TIME_ONLY).
ASIM_MANDATORY_STORED = {
    name: AUTHENTICATION[name]
    for name in (
        "TimeGenerated EventCount EventStartTime EventEndTime EventType EventResult "
        "EventProduct EventVendor EventSchemaVersion"
    ).split()
}
AUDIT_MANDATORY = {**ASIM_MANDATORY_STORED, "Operation": S, "Object": S, "ObjectType": S}
# Recommended in every ASIM schema and stored by both native tables.
ASIM_RECOMMENDED_STORED = {"EventSeverity", "DvcHostname"}

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
EVENT_SEVERITIES = {"Informational", "Low", "Medium", "High"}
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

# table name -> (allowed columns with types, columns that must be present). The Zoom ASIM
# tables are custom tables with the native ASIM tables' column names and types.
TABLES = {
    "ZoomAuthentication_CL": (AUTHENTICATION, ASIM_MANDATORY_STORED),
    "ZoomAuditEvent_CL": (AUDIT, AUDIT_MANDATORY),
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
    "ZoomAuthentication_CL": {
        "EventType": AUTH_EVENT_TYPES,
        "EventResult": EVENT_RESULTS,
        "EventSeverity": EVENT_SEVERITIES,
        "EventSchemaVersion": {"0.1.4"},
        "TargetUsernameType": USERNAME_TYPES,
        "TargetAppType": APP_TYPES,
        "ActingAppType": APP_TYPES,
        "SrcDeviceType": DEVICE_TYPES,
    },
    "ZoomAuditEvent_CL": {
        "EventType": AUDIT_EVENT_TYPES,
        "EventResult": EVENT_RESULTS,
        "EventSeverity": EVENT_SEVERITIES,
        "EventSchemaVersion": {"0.1.2"},
        "ObjectType": AUDIT_OBJECT_TYPES,
        "ValueType": {"Other"},
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
