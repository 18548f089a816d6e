"""Every profile's rows against the reference shapes: names, types, values, nothing dropped."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import re

import pytest

from tap_zoom_defender.defender.errors import InputError
from tap_zoom_defender.defender.mapping import (
    PROFILES,
    RESERVED_COLUMNS,
    MappingContext,
    all_tables,
)

from . import reference as ref
from .zoom_records import (
    BROWSER_SIGN_IN,
    FULL_USER,
    MINIMAL_USER,
    SIGN_IN,
    SIGN_OUT_IPV6,
    operation_log,
)

ISO_Z = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d{1,6})?Z$")
SNAPSHOT = "2026-03-20T00:00:00Z"


def ctx(stream, names=None):
    names = names or {}
    return MappingContext(stream=stream, display_name=names.get, snapshot_time=SNAPSHOT)


def check_value(kind, value):
    if value is None:
        return True
    if kind == "datetime":
        return isinstance(value, str) and bool(ISO_Z.match(value))
    if kind == "string":
        return isinstance(value, str)
    if kind == "int":
        return isinstance(value, int) and not isinstance(value, bool)
    if kind == "real":
        return isinstance(value, int | float) and not isinstance(value, bool)
    if kind == "bool":
        return isinstance(value, bool)
    if kind == "dynamic":
        return isinstance(value, dict | list)
    raise AssertionError(kind)


def assert_shape(table_name, row):
    allowed, mandatory = ref.TABLES[table_name]
    unknown = set(row) - set(allowed)
    assert not unknown, f"{table_name}: columns not in the reference shape: {unknown}"
    missing = [c for c in mandatory if row.get(c) in (None, "")]
    assert not missing, f"{table_name}: mandatory columns empty: {missing}"
    for column, value in row.items():
        assert check_value(allowed[column], value), (table_name, column, value)
    if table_name.endswith("_CL"):
        assert not set(row) & ref.RESERVED_IN_CUSTOM_TABLES
    bad = ref.disallowed_values(table_name, row)
    assert not bad, f"{table_name}: values the schema does not allow: {bad}"


def map_row(profile, stream, record, names=None):
    table = PROFILES[profile][stream]
    row = table.map(dict(record), ctx(stream, names))
    assert_shape(table.name, row)
    # the declared column types are the reference types too (used for DCR declarations)
    allowed, _ = ref.TABLES[table.name]
    assert {c: allowed[c] for c in table.column_types()} == table.column_types()
    return table.name, row


# --- asim: activities -> ZoomAuthentication_CL --------------------------------------


def test_logon_row():
    table, row = map_row("asim", "activities", SIGN_IN)
    assert table == "ZoomAuthentication_CL"
    assert row["EventType"] == "Logon"
    assert row["EventResult"] == "Success"  # the outcome, not the sign-in type
    assert row["EventSchemaVersion"] == "0.1.4"
    # EventSchema and Dvc are added by the native parser at query time: the table stores neither
    assert "EventSchema" not in row and "Dvc" not in row
    assert row["EventProduct"] == row["EventVendor"] == row["DvcHostname"] == "Zoom"
    assert row["EventSeverity"] == "Informational"
    assert row["TimeGenerated"] == row["EventStartTime"] == row["EventEndTime"] == SIGN_IN["time"]
    assert row["EventOriginalUid"] == SIGN_IN["event_id"]
    assert row["EventOriginalType"] == "Sign in"
    assert row["TargetUsername"] == SIGN_IN["email"] and row["TargetUsernameType"] == "UPN"
    assert row["SrcIpAddr"] == "203.0.113.7"
    assert (row["SrcDvcOs"], row["SrcDeviceType"]) == ("Windows", "Computer")
    # The user's Zoom client is the acting application, not the reporting product.
    assert (row["ActingAppName"], row["ActingAppType"]) == ("Zoom Windows client", "Process")
    assert "EventProductVersion" not in row
    assert row["AdditionalFields"]["ClientVersion"] == SIGN_IN["version"]
    assert row["TargetAppType"] in ref.APP_TYPES
    assert row["AdditionalFields"]["ZoomRecord"] == SIGN_IN
    assert row["AdditionalFields"]["ClientType"] == "win"  # as Zoom spelt it


def test_logoff_row_with_ipv6_and_unicode_user():
    _, row = map_row("asim", "activities", SIGN_OUT_IPV6)
    assert row["EventType"] == "Logoff"
    assert row["EventResult"] == "Success"
    assert row["SrcIpAddr"] == "2001:db8:85a3::8a2e:370:7334"
    assert row["TargetUsername"] == "jörg.müller@example.de"
    assert (row["SrcDvcOs"], row["SrcDeviceType"]) == ("iOS", "Mobile Device")
    assert row["ActingAppName"] == "Zoom iOS client"


def test_browser_sign_in_claims_no_operating_system():
    _, row = map_row("asim", "activities", BROWSER_SIGN_IN)
    assert row["SrcDvcOs"] is None and row["SrcDeviceType"] is None
    assert (row["ActingAppName"], row["ActingAppType"]) == ("Zoom web client", "Other")
    assert row["SrcIpAddr"] == "::ffff:198.51.100.23"
    assert row["AdditionalFields"]["ClientType"] == "Browser"
    # Zoom's "-" means it does not know the version: no version, the original keeps the "-"
    assert row["AdditionalFields"]["ClientVersion"] is None
    assert row["AdditionalFields"]["ZoomRecord"]["version"] == "-"


def test_sign_in_without_client_type_names_no_acting_app():
    record = {k: v for k, v in SIGN_IN.items() if k not in ("client_type", "version")}
    _, row = map_row("asim", "activities", record)
    assert row["ActingAppName"] is row["ActingAppType"] is row["SrcDeviceType"] is None


@pytest.mark.parametrize("sign_in_type", ["Sign in (SSO)", "Other", "", None])
def test_unknown_sign_in_type_is_one_clear_error_not_an_invented_event_type(sign_in_type):
    with pytest.raises(InputError) as raised:
        PROFILES["asim"]["activities"].map({**SIGN_IN, "type": sign_in_type}, ctx("activities"))
    message = str(raised.value)
    assert "stream 'activities'" in message and "field 'type'" in message
    assert repr(str(sign_in_type)) in message and "schema_profile=cloudappevents" in message


def test_every_zoom_sign_in_type_maps_into_the_allowed_event_types():
    for sign_in_type in ("Sign in", "Sign out", "sign in", " SIGN OUT "):
        _, row = map_row("asim", "activities", {**SIGN_IN, "type": sign_in_type})
        assert row["EventType"] in ref.AUTH_EVENT_TYPES
        assert row["EventOriginalType"] == sign_in_type


def test_cloudappevents_keeps_a_sign_in_type_asim_cannot_hold():
    _, row = map_row("cloudappevents", "activities", {**SIGN_IN, "type": "Sign in (SSO)"})
    assert row["ActionType"] == "Sign in (SSO)" and row["ActivityType"] == "Other"


def test_sdk_parsed_datetimes_map_like_zoom_strings():
    parsed = {**SIGN_IN, "time": dt.datetime(2026, 3, 14, 8, 15, 30, tzinfo=dt.timezone.utc)}
    assert map_row("asim", "activities", parsed) == map_row("asim", "activities", SIGN_IN)


def test_missing_event_time_is_one_clear_error():
    record = {k: v for k, v in SIGN_IN.items() if k != "time"}
    with pytest.raises(InputError, match=r"stream 'activities'.*'time'"):
        PROFILES["asim"]["activities"].map(record, ctx("activities"))


def test_unparseable_time_is_one_clear_error():
    with pytest.raises(InputError, match="'time' is 'yesterday'"):
        PROFILES["asim"]["activities"].map({**SIGN_IN, "time": "yesterday"}, ctx("activities"))


def test_missing_event_id_falls_back_to_a_stable_content_key():
    record = {k: v for k, v in SIGN_IN.items() if k != "event_id"}
    _, first = map_row("asim", "activities", record)
    _, again = map_row("asim", "activities", dict(record))
    _, other = map_row("asim", "activities", {**record, "ip_address": "198.51.100.1"})
    assert re.fullmatch(r"[0-9a-f]{64}", first["EventOriginalUid"])
    assert first["EventOriginalUid"] == again["EventOriginalUid"] != other["EventOriginalUid"]


# --- asim: operation_logs -> ZoomAuditEvent_CL -------------------------------------------


@pytest.mark.parametrize(
    ("action", "event_type"),
    [
        ("Add", "Create"),
        ("Update", "Set"),
        ("Delete", "Delete"),
        ("add", "Create"),
        ("Activate", "Enable"),
        ("Deactivate", "Disable"),
        ("Enable", "Enable"),
        ("Disable", "Disable"),
        ("Remove", "Delete"),
        ("Create", "Create"),
        ("Edit", "Set"),
        ("Sign in as", "Other"),
        ("Unlink", "Other"),
        ("Recover", "Other"),
    ],
)
def test_each_action_maps_to_its_audit_event_type(action, event_type):
    record = operation_log(action)
    table, row = map_row("asim", "operation_logs", record)
    assert table == "ZoomAuditEvent_CL"
    assert row["EventType"] == event_type
    assert row["EventType"] in ref.AUDIT_EVENT_TYPES
    assert row["EventOriginalType"] == action
    assert row["Operation"] == f"{action} User"
    assert row["EventSchemaVersion"] == "0.1.2" and "EventSchema" not in row
    assert row["EventOriginalUid"] == record["event_id"]
    assert row["AdditionalFields"]["ZoomRecord"] == record


@pytest.mark.parametrize(
    ("detail", "event_type"),
    [
        # Zoom's own sample: (de)activations are filed under action "Update"
        ("Activate User sjkfhdsf@jdfgkhgd.com ", "Enable"),
        ("Deactivate User mynewemail@jdfkdshfhjdsf.ffasdm ", "Disable"),
        ("Update User a@example.com  - Department: from A to B", "Set"),
        ("Delete User a@example.com", "Set"),  # the action is specific enough: it wins
    ],
)
def test_update_action_refined_by_the_details_verb(detail, event_type):
    record = operation_log("Update", operation_detail=detail)
    _, row = map_row("asim", "operation_logs", record)
    assert row["EventType"] == event_type
    assert row["EventOriginalType"] == "Update"


@pytest.mark.parametrize(
    ("action", "detail", "event_type"),
    [
        (None, "Delete User a@example.com", "Delete"),
        ("Something new", "Activate User a@example.com", "Enable"),
        ("Something new", "Frobnicate the widget", "Other"),
        (None, None, "Other"),
    ],
)
def test_unknown_or_missing_action_falls_back_to_the_verb_then_other(action, detail, event_type):
    record = {"time": "2026-03-14T09:30:00Z", "action": action, "operation_detail": detail}
    _, row = map_row("asim", "operation_logs", record)
    assert row["EventType"] == event_type


def test_audit_row_fields():
    record = operation_log("Update", category="User Settings")
    _, row = map_row("asim", "operation_logs", record)
    assert row["ActorUsername"] == "admin@example.com" and row["ActorUsernameType"] == "UPN"
    # Object is the object's name, the values are the ones Zoom says changed
    assert row["Object"] == "zoë@example.com"
    assert (row["OldValue"], row["NewValue"], row["ValueType"]) == ("Sales", "Ventes", "Other")
    assert row["AdditionalFields"]["OperationDetail"] == record["operation_detail"]
    assert row["AdditionalFields"]["Changes"] == [
        {"Field": "Department", "OldValue": "Sales", "NewValue": "Ventes"}
    ]
    assert row["EventSeverity"] == "Informational"
    assert row["ObjectType"] == "Configuration Atom"
    assert row["EventSubType"] == "User Settings"
    assert row["TimeGenerated"] == row["EventStartTime"] == record["time"]
    assert row["EventResult"] in ref.EVENT_RESULTS


@pytest.mark.parametrize(
    ("category", "object_type"),
    [
        ("role", "Policy Rule"),
        ("account", "Configuration Atom"),
        ("billing", "Other"),
        ("Sub Account", "Cloud Resource"),
        ("something_new", "Other"),
    ],
)
def test_category_object_types_are_asim_values(category, object_type):
    _, row = map_row("asim", "operation_logs", operation_log("Add", category=category))
    assert row["ObjectType"] == object_type in ref.AUDIT_OBJECT_TYPES


def test_audit_row_without_detail_or_operator_keeps_mandatory_fields():
    record = {
        "time": "2026-03-14T09:30:00Z",
        "action": "Delete",
        "category_type": "Recording",
        "event_id": "c" * 64,
    }
    _, row = map_row("asim", "operation_logs", record)
    assert row["Object"] == "Recording"
    assert row["ActorUsername"] is None and row["ActorUsernameType"] is None
    assert row["OldValue"] is row["NewValue"] is row["ValueType"] is None
    assert (row["EventType"], row["EventSeverity"]) == ("Delete", "Low")


# --- users -> ZoomIdentityInfo_CL (both profiles) ----------------------------------------


@pytest.mark.parametrize("profile", sorted(PROFILES))
def test_full_user(profile):
    table, row = map_row(profile, "users", FULL_USER)
    assert table == "ZoomIdentityInfo_CL"
    # AccountObjectId is an Entra ID object id, which Zoom does not have: not filled with Zoom's.
    assert "AccountObjectId" not in row
    assert row["AdditionalFields"]["ZoomUserId"] == FULL_USER["id"]
    assert row["AccountUpn"] == row["EmailAddress"] == FULL_USER["email"]
    assert (row["GivenName"], row["Surname"]) == ("Zoë", "Ångström")
    assert row["AccountDisplayName"] == "Zoë Ångström"
    assert row["Department"] == "Säkerhet"
    assert row["IsAccountEnabled"] is True
    assert row["CreatedDateTime"] == FULL_USER["user_created_at"]
    assert (row["AccountName"], row["AccountDomain"]) == ("zoe.angstrom", "example.se")
    assert row["TimeGenerated"] == row["Timestamp"] == SNAPSHOT
    extra = row["AdditionalFields"]
    assert extra["ZoomRoleId"] == "1" and extra["ZoomUserType"] == 2
    assert extra["ZoomUserTypeName"] == "Licensed"
    assert extra["LastLoginTime"] == FULL_USER["last_login_time"]
    assert extra["ZoomRecord"] == FULL_USER


def test_user_with_missing_optional_fields():
    _, row = map_row("asim", "users", MINIMAL_USER)
    assert row["AccountUpn"] == MINIMAL_USER["email"]
    assert row["IsAccountEnabled"] is False  # pending (invited) users cannot sign in
    for column in ("GivenName", "Surname", "AccountDisplayName", "Department", "CreatedDateTime"):
        assert row[column] is None
    assert row["AdditionalFields"]["ZoomRecord"] == MINIMAL_USER


def test_user_name_falls_back_to_first_and_last():
    user = {**FULL_USER, "display_name": ""}
    _, row = map_row("asim", "users", user)
    assert row["AccountDisplayName"] == "Zoë Ångström"


def test_user_report_id_is_stable_and_content_derived():
    _, a = map_row("asim", "users", FULL_USER)
    _, b = map_row("cloudappevents", "users", dict(FULL_USER))
    _, c = map_row("asim", "users", {**FULL_USER, "dept": "IT"})
    # Singer metadata differs on every run and must not change the key
    _, d = map_row("asim", "users", {**FULL_USER, "_sdc_extracted_at": "2026-03-20T01:02:03Z"})
    assert a["ReportId"] == b["ReportId"] == d["ReportId"] != c["ReportId"]


def test_user_report_id_does_not_depend_on_the_columns():
    """ReportId hashes the Zoom record itself, so moving the Zoom id out of AccountObjectId (or
    any other column change) keeps the keys earlier runs wrote: dedupe keeps working."""
    canonical = json.dumps(
        {"stream": "users", "record": FULL_USER},
        ensure_ascii=False,
        separators=(",", ":"),
        sort_keys=True,
    )
    _, row = map_row("asim", "users", FULL_USER)
    assert row["ReportId"] == hashlib.sha256(canonical.encode("utf-8")).hexdigest()


# --- cloudappevents ----------------------------------------------------------------------


def test_sign_in_as_cloud_app_event():
    names = {"amelie.dupont@example.com": "Amélie Dupont"}
    table, row = map_row("cloudappevents", "activities", SIGN_IN, names)
    assert table == "ZoomCloudAppEvents_CL"
    assert row["Timestamp"] == row["TimeGenerated"] == SIGN_IN["time"]
    assert row["ReportId"] == SIGN_IN["event_id"]
    assert row["ActionType"] == "Sign in" and row["ActivityType"] == "Login"
    assert row["Application"] == "Zoom"
    assert row["AccountId"] == SIGN_IN["email"]
    assert row["AccountDisplayName"] == "Amélie Dupont"
    assert row["IPAddress"] == "203.0.113.7"
    assert row["IsAdminOperation"] is False
    assert (row["OSPlatform"], row["DeviceType"]) == ("Windows", "Desktop")
    assert row["RawEventData"] == SIGN_IN
    assert "tap-zoom-defender" in row["AuditSource"]


def test_sign_out_ipv6_without_known_name():
    _, row = map_row("cloudappevents", "activities", SIGN_OUT_IPV6)
    assert row["ActivityType"] == "Logout"
    assert row["IPAddress"] == SIGN_OUT_IPV6["ip_address"]
    assert row["AccountDisplayName"] is None


@pytest.mark.parametrize("action", ["Add", "Update", "Delete", "Sign in as"])
def test_operation_log_as_cloud_app_event(action):
    record = operation_log(action, category="Role")
    names = {"admin@example.com": "Ädmin Ünicode"}
    _, row = map_row("cloudappevents", "operation_logs", record, names)
    assert row["IsAdminOperation"] is True
    assert row["AccountId"] == "admin@example.com"
    assert row["AccountDisplayName"] == "Ädmin Ünicode"
    assert row["ActionType"] == f"{action} Role"
    assert row["ObjectName"] == "zoë@example.com"  # the object's name, not the sentence
    assert row["AdditionalFields"]["OperationDetail"] == record["operation_detail"]
    assert row["ObjectType"] == "Role"
    assert row["ReportId"] == record["event_id"]
    assert row["RawEventData"] == record


def test_both_event_streams_share_one_table_layout():
    acts = PROFILES["cloudappevents"]["activities"]
    ops = PROFILES["cloudappevents"]["operation_logs"]
    assert acts.name == ops.name
    assert list(acts.column_types().items()) == list(ops.column_types().items())


# --- every table -------------------------------------------------------------------------


def test_every_table_declares_time_generated_and_no_reserved_names():
    for name, table in all_tables().items():
        types = table.column_types()
        assert types.get("TimeGenerated") == "datetime", name
        if name.endswith("_CL"):
            assert not set(types) & RESERVED_COLUMNS, name
            assert not set(types) & ref.RESERVED_IN_CUSTOM_TABLES, name
            assert table.default_stream == table.output_stream == f"Custom-{name}"
        else:  # built-in table: a declared Custom- input stream flows into Microsoft-<table>
            assert table.default_stream == f"Custom-Zoom{name}"
            assert table.output_stream == f"Microsoft-{name}"


def test_no_zoom_field_is_dropped():
    """Every field of every fixed record is somewhere in its row (kept original)."""
    cases = [
        ("activities", SIGN_IN),
        ("operation_logs", operation_log("Add")),
        ("users", FULL_USER),
    ]
    for profile in PROFILES:
        for stream, record in cases:
            row = PROFILES[profile][stream].map(dict(record), ctx(stream))
            kept = row.get("RawEventData") or row["AdditionalFields"].get("ZoomRecord")
            assert kept == record, (profile, stream)


def test_generated_dcr_declares_exactly_what_the_target_sends():
    from tap_zoom_defender.defender.azure_setup import dcr_template
    from tap_zoom_defender.defender.target import default_stream_names

    for profile, tables in PROFILES.items():
        dcr = dcr_template(profile, "/subscriptions/s/workspaces/w", "westeurope")["properties"]
        for table in tables.values():
            stream = default_stream_names()[table.name]
            declared = dcr["streamDeclarations"][stream]["columns"]
            assert [c["name"] for c in declared] == list(table.column_types())
            assert {c["type"] for c in declared} <= {
                "string",
                "int",
                "boolean",
                "datetime",
                "dynamic",
            }
            (flow,) = [f for f in dcr["dataFlows"] if f["streams"] == [stream]]
            prefix = "Custom" if table.name.endswith("_CL") else "Microsoft"
            assert flow["outputStream"] == f"{prefix}-{table.name}"
