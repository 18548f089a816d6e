"""One test per mapping rule, checked the way a SOC analyst reads the rows.

Only ASIM columns, typed as in Microsoft's native ASIM tables; Zoom's real ``client_type``
spellings; IPv4/IPv6 and junk addresses; every ``operation_detail`` pattern (Zoom's real samples
and the sandbox's templates) to ``Object``/``OldValue``/``NewValue``; ``EventSeverity``;
unicode; missing fields.
"""

from __future__ import annotations

import datetime as dt
import json
import random

import pytest

from tap_zoom_defender.defender.azure_setup import DCR_TYPES, dcr_template
from tap_zoom_defender.defender.mapping import PROFILES, MappingContext
from tap_zoom_defender.sandbox import SandboxConfig, datagen

from . import reference as ref
from .test_mapping import map_row
from .zoom_records import SIGN_IN, operation_log

ASIM_TABLES = {"activities": "ZoomAuthentication_CL", "operation_logs": "ZoomAuditEvent_CL"}


# --- only ASIM columns, typed as the native ASIM tables type them ------------------------------


@pytest.mark.parametrize("stream", sorted(ASIM_TABLES))
def test_asim_rows_hold_only_asim_columns_typed_as_the_native_tables(stream):
    """The custom tables keep ASIM's names and types, so the parsers pass columns through."""
    table = PROFILES["asim"][stream]
    allowed, _ = ref.TABLES[table.name]
    declared = table.column_types()
    assert not set(declared) - set(allowed), f"{table.name} lacks {set(declared) - set(allowed)}"
    assert {c: allowed[c] for c in declared} == declared, "a column's type differs from the table's"
    # Aliases and constants are the parsers' job (query time), as for the native tables.
    assert not set(declared) & ref.QUERY_TIME_ONLY
    # The recommended fields the table stores are filled.
    assert ref.ASIM_RECOMMENDED_STORED <= set(declared)


def test_dcr_asim_input_streams_declare_only_asim_columns_and_pass_them_through():
    dcr = dcr_template("asim", "/subscriptions/s/workspaces/w", "westeurope")["properties"]
    to_ours = {v: k for k, v in DCR_TYPES.items()}
    for table_name in ASIM_TABLES.values():
        stream = f"Custom-{table_name}"
        allowed, _ = ref.TABLES[table_name]
        for column in dcr["streamDeclarations"][stream]["columns"]:
            assert column["name"] in allowed, f"{stream} declares {column['name']}"
            assert to_ours[column["type"]] == allowed[column["name"]], column
        (flow,) = [f for f in dcr["dataFlows"] if f["streams"] == [stream]]
        assert flow["transformKql"] == "source"
        assert flow["outputStream"] == f"Custom-{table_name}"


# --- client_type: the spellings Zoom really sends --------------------------------------------

CLIENTS = [
    # (client_type, SrcDvcOs, SrcDeviceType, ActingAppName, ActingAppType, CloudApp DeviceType)
    ("win", "Windows", "Computer", "Zoom Windows client", "Process", "Desktop"),
    ("Windows", "Windows", "Computer", "Zoom Windows client", "Process", "Desktop"),
    ("WIN64", "Windows", "Computer", "Zoom Windows client", "Process", "Desktop"),
    ("mac", "MacOS", "Computer", "Zoom Mac client", "Process", "Desktop"),
    ("macOS", "MacOS", "Computer", "Zoom Mac client", "Process", "Desktop"),
    ("linux", "Linux", "Computer", "Zoom Linux client", "Process", "Desktop"),
    ("ChromeOS", "ChromeOS", "Computer", "Zoom ChromeOS client", "Process", "Desktop"),
    ("iphone", "iOS", "Mobile Device", "Zoom iOS client", "Process", "Mobile"),
    ("iOS", "iOS", "Mobile Device", "Zoom iOS client", "Process", "Mobile"),
    ("ipad", "iOS", "Mobile Device", "Zoom iPad client", "Process", "Tablet"),
    ("android", "Android", "Mobile Device", "Zoom Android client", "Process", "Mobile"),
    ("Browser", None, None, "Zoom web client", "Other", None),
    ("web", None, None, "Zoom web client", "Other", None),
    ("Zoom Rooms", None, "Other", "Zoom Rooms", "Process", None),
    ("zoom_rooms", None, "Other", "Zoom Rooms", "Process", None),
    # Free text: a client Zoom adds tomorrow is kept as spelt and claims no OS or device.
    ("Kiosk 3000", None, None, "Zoom Kiosk 3000 client", "Other", None),
    (
        "\uff37\uff49\uff4e \U0001f642",
        None,
        None,
        "Zoom \uff37\uff49\uff4e \U0001f642 client",
        "Other",
        None,
    ),
    ("", None, None, None, None, None),
    (None, None, None, None, None, None),
]


@pytest.mark.parametrize(
    ("client_type", "os", "device", "app", "app_type", "cloud_device"), CLIENTS
)
def test_client_type_spellings(client_type, os, device, app, app_type, cloud_device):
    record = {**SIGN_IN, "client_type": client_type}
    _, row = map_row("asim", "activities", record)
    assert (row["SrcDvcOs"], row["SrcDeviceType"]) == (os, device)
    assert (row["ActingAppName"], row["ActingAppType"]) == (app, app_type)
    assert row["AdditionalFields"]["ClientType"] == client_type
    _, cloud = map_row("cloudappevents", "activities", record)
    assert (cloud["OSPlatform"], cloud["DeviceType"]) == (os, cloud_device)


def test_a_non_text_client_type_or_version_never_fails():
    record = {**SIGN_IN, "client_type": 7, "version": 6.1}
    for profile in PROFILES:
        _, row = map_row(profile, "activities", record)
    _, row = map_row("asim", "activities", record)
    assert row["SrcDvcOs"] is row["ActingAppName"] is None
    assert row["AdditionalFields"]["ClientVersion"] == "6.1"


@pytest.mark.parametrize(
    ("version", "kept"), [("-", None), ("", None), ("6.3.1 (52884)", "6.3.1 (52884)")]
)
def test_client_version_dash_means_unknown(version, kept):
    _, row = map_row("asim", "activities", {**SIGN_IN, "version": version})
    assert row["AdditionalFields"]["ClientVersion"] == kept
    assert row["AdditionalFields"]["ZoomRecord"]["version"] == version
    _, cloud = map_row("cloudappevents", "activities", {**SIGN_IN, "version": version})
    assert cloud["AdditionalFields"]["ClientVersion"] == kept


# --- addresses --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("ip", "stored"),
    [
        ("203.0.113.7", "203.0.113.7"),
        ("2001:db8:85a3::8a2e:370:7334", "2001:db8:85a3::8a2e:370:7334"),
        ("2001:0DB8:0000:0000:0000:0000:0000:0001", "2001:0DB8:0000:0000:0000:0000:0000:0001"),
        ("::ffff:198.51.100.23", "::ffff:198.51.100.23"),
        (" 2001:db8::1 ", "2001:db8::1"),
        ("[2001:db8::1]", "2001:db8::1"),
        ("fe80::1%eth0", "fe80::1%eth0"),
        ("-", None),
        ("", None),
        ("unknown", None),
        ("999.1.1.1", None),
        (None, None),
    ],
)
def test_ip_addresses_v4_v6_and_junk_never_fail(ip, stored):
    record = {**SIGN_IN, "ip_address": ip}
    _, row = map_row("asim", "activities", record)
    assert row["SrcIpAddr"] == stored
    assert row["AdditionalFields"]["ZoomRecord"]["ip_address"] == ip  # Zoom's text is kept
    _, cloud = map_row("cloudappevents", "activities", record)
    assert cloud["IPAddress"] == stored


# --- operation_detail: object and values ------------------------------------------------------

DETAILS = [
    # (operation_detail, Object, OldValue, NewValue, Changes, Details)
    # Zoom's real samples (zoom-api.md, Zoom's API reference)
    (
        "Update a Channel TestGroupChannel1  - Cloud Storage Retention: set to  - Name: from "
        "TestGroup1 to TestGroupChannel1",
        "TestGroupChannel1",
        "Name: TestGroup1",
        "Cloud Storage Retention: ; Name: TestGroupChannel1",
        [("Cloud Storage Retention", None, ""), ("Name", "TestGroup1", "TestGroupChannel1")],
        None,
    ),
    (
        "Assign admin for channel TestChannel3  - test@test.com",
        "TestChannel3",
        None,
        None,
        None,
        ["test@test.com"],
    ),
    ("Activate User sjkfhdsf@jdfgkhgd.com ", "sjkfhdsf@jdfgkhgd.com", None, None, None, None),
    # the sandbox's templates (datagen.OPERATION_TEMPLATES)
    (
        "Update User ana.lee@example-corp.com - Department: from 'Sales' to 'Legal'",
        "ana.lee@example-corp.com",
        "Sales",
        "Legal",
        [("Department", "Sales", "Legal")],
        None,
    ),
    (
        "Update User Settings ana.lee@example-corp.com - Cloud recording: from On to Off",
        "ana.lee@example-corp.com",
        "On",
        "Off",
        [("Cloud recording", "On", "Off")],
        None,
    ),
    (
        "Account Settings - Meeting > Waiting room: from Off to On",
        "Meeting > Waiting room",
        "Off",
        "On",
        [("Meeting > Waiting room", "Off", "On")],
        None,
    ),
    ("Billing - Licenses: from 120 to 135", "Licenses", "120", "135",
     [("Licenses", "120", "135")], None),
    ("IM Group 'Support' - Add member ana.lee@example-corp.com", "Support", None, None, None,
     ["Add member ana.lee@example-corp.com"]),
    ("Delete cloud recording of meeting 12345677 hosted by ana.lee@example-corp.com",
     "cloud recording of meeting 12345677", None, None, None, None),
    ("Add external contact for Legal", "external contact for Legal", None, None, None, None),
    ("Delete external contact 451", "external contact 451", None, None, None, None),
    ("Update webinar settings of ana.lee@example-corp.com", "ana.lee@example-corp.com", None, None,
     None, None),
    ("Add sub account 'Legal EMEA'", "Legal EMEA", None, None, None, None),
    ("Role 'Admin' - Assign ana.lee@example-corp.com", "Admin", None, None, None,
     ["Assign ana.lee@example-corp.com"]),
    ("Role 'Admin' - Privileges: add 'Reports: View'", "Admin", None, "add 'Reports: View'",
     [("Privileges", None, "add 'Reports: View'")], None),
    ("Add Zoom Room 'IT Huddle 3'", "IT Huddle 3", None, None, None, None),
    ("Update Zoom Room settings", "Zoom Room settings", None, None, None, None),
    # edges of the grammar
    ("User Type: from  to Licensed", "User Type", "", "Licensed",
     [("User Type", "", "Licensed")], None),
    ("Update User a@example.com - Department: from Legal to", "a@example.com", "Legal", "",
     [("Department", "Legal", "")], None),
    ("Update User a@example.com - Sign-in IP: set to 2001:db8::1", "a@example.com", None,
     "2001:db8::1", [("Sign-in IP", None, "2001:db8::1")], None),
    ("Update User a@example.com - see https://zoom.us/account", "a@example.com", None, None, None,
     ["see https://zoom.us/account"]),
    # unicode
    ("Update User jörg.müller@example.de  - Abteilung: from Säkerhet to Försäljning",
     "jörg.müller@example.de", "Säkerhet", "Försäljning",
     [("Abteilung", "Säkerhet", "Försäljning")], None),
    ("Add Zoom Room '会議室 東京'", "会議室 東京", None, None, None, None),
    # no grammar at all: the sentence names nothing
    ("Frobnicate", "Frobnicate", None, None, None, None),
    (" - - ", "User", None, None, None, None),
]  # fmt: skip


@pytest.mark.parametrize(("detail", "obj", "old", "new", "changes", "notes"), DETAILS)
def test_operation_detail_patterns(detail, obj, old, new, changes, notes):
    record = operation_log("Update", operation_detail=detail)
    _, row = map_row("asim", "operation_logs", record)
    assert row["Object"] == obj
    assert (row["OldValue"], row["NewValue"]) == (old, new)
    assert row["ValueType"] == ("Other" if old is not None or new is not None else None)
    extra = row["AdditionalFields"]
    assert extra["OperationDetail"] == detail  # the sentence itself is kept
    got = [(c["Field"], c["OldValue"], c["NewValue"]) for c in extra.get("Changes", [])]
    assert got == (changes or [])
    assert extra.get("Details") == notes
    _, cloud = map_row("cloudappevents", "operation_logs", record)
    assert cloud["ObjectName"] == obj


def test_every_sandbox_operation_template_yields_an_object_not_the_sentence():
    """Run datagen's real generator for a few days: every row names an object, never the whole
    sentence, and every "from ... to ..." carries its values."""
    cfg = SandboxConfig(users=30, days=3, seed=5, operation_logs_per_day=200)
    account = datagen.generate_account(
        cfg, dt.datetime(2026, 3, 20, tzinfo=dt.timezone.utc).timestamp()
    )
    ctx = MappingContext(stream="operation_logs")
    seen = set()
    for day in (dt.date(2026, 3, 16), dt.date(2026, 3, 17), dt.date(2026, 3, 18)):
        for *_, body in datagen.generate_operation_logs(cfg, account, day):
            record = json.loads(body)
            row = PROFILES["asim"]["operation_logs"].map(record, ctx)
            detail = record["operation_detail"]
            seen.add(record["category_type"])
            assert row["Object"] and row["Object"] != detail.strip(), detail
            assert row["EventType"] in ref.AUDIT_EVENT_TYPES
            assert row["EventSeverity"] in ref.EVENT_SEVERITIES
            if " from " in detail:
                assert row["NewValue"] is not None and row["OldValue"] is not None, detail
    assert len(seen) >= 8, "most categories were exercised"


# --- EventSeverity ----------------------------------------------------------------------------

ACCOUNT = "Account Settings"


@pytest.mark.parametrize(
    ("action", "category", "detail", "severity"),
    [
        # role and privilege changes: who may administer the account
        ("Update", "Role", "Role 'Admin' - Assign a@example.com", "Medium"),
        ("Update", "Role", "Role 'Admin' - Privileges: add 'Reports: View'", "Medium"),
        ("Update", "Channels", "Assign admin for channel TestChannel3  - test@test.com", "Medium"),
        # sign-in and meeting security controls
        ("Update", "Account", f"{ACCOUNT} - Security > Require passcode: from On to Off", "Medium"),
        ("Update", "Account", f"{ACCOUNT} - Sign-in > Two-factor authentication: from On to Off",
         "Medium"),
        ("Update", "Account", f"{ACCOUNT} - Meeting > Waiting room: from Off to On", "Medium"),
        # deletions and deactivations
        ("Delete", "User", "Delete User a@example.com", "Low"),
        ("Deactivate", "User", "Deactivate User a@example.com", "Low"),
        ("Update", "User", "Deactivate User a@example.com", "Low"),
        ("Delete", "Recording", "Delete cloud recording of meeting 12345677", "Low"),
        # routine administration
        ("Add", "User", "Add User a@example.com", "Informational"),
        ("Activate", "User", "Activate User a@example.com", "Informational"),
        ("Update", "User Settings", "Update User Settings a@example.com - Cloud recording: from On "
         "to Off", "Informational"),
        ("Update", "Billing", "Billing - Licenses: from 120 to 135", "Informational"),
        # an address is no role: a user called admin@ or login@ is routine
        ("Add", "User", "Add User admin@example.com", "Informational"),
        ("Update", "User", "Update User login@example.com - Department: from A to B",
         "Informational"),
        (None, None, None, "Informational"),
    ],
)  # fmt: skip
def test_event_severity_rules(action, category, detail, severity):
    record = {
        "time": "2026-03-14T09:30:00Z",
        "operator": "admin@example.com",
        "action": action,
        "category_type": category,
        "operation_detail": detail,
    }
    _, row = map_row("asim", "operation_logs", record)
    assert row["EventSeverity"] == severity


def test_sign_ins_are_informational():
    for sign_in_type in ("Sign in", "Sign out"):
        _, row = map_row("asim", "activities", {**SIGN_IN, "type": sign_in_type})
        assert row["EventSeverity"] == "Informational"


# --- missing optional fields and unicode --------------------------------------------------------


def test_sign_in_with_only_the_required_fields():
    record = {"time": "2026-03-14T08:15:30Z", "type": "Sign in"}
    for profile in PROFILES:
        map_row(profile, "activities", record)
    _, row = map_row("asim", "activities", record)
    for column in ("TargetUsername", "TargetUsernameType", "SrcIpAddr", "SrcDvcOs",
                   "SrcDeviceType", "ActingAppName", "ActingAppType"):  # fmt: skip
        assert row[column] is None, column
    assert (row["EventType"], row["EventSeverity"], row["DvcHostname"]) == (
        "Logon",
        "Informational",
        "Zoom",
    )
    assert row["AdditionalFields"]["ClientVersion"] is None


def test_operation_log_with_only_a_time():
    record = {"time": "2026-03-14T09:30:00Z"}
    for profile in PROFILES:
        map_row(profile, "operation_logs", record)
    _, row = map_row("asim", "operation_logs", record)
    assert (row["EventType"], row["Operation"], row["Object"], row["ObjectType"]) == (
        "Other",
        "Other",
        "Zoom",
        "Other",
    )
    assert row["EventSeverity"] == "Informational"
    assert row["OldValue"] is row["NewValue"] is row["ValueType"] is None
    assert "Changes" not in row["AdditionalFields"]


def test_unicode_everywhere():
    record = {
        "email": "jörg.müller@例え.jp",
        "time": "2026-03-14T17:02:11Z",
        "type": "Sign in",
        "ip_address": "2001:db8::1",
        "client_type": "android",
        "version": "6.3.0.26011",
    }
    _, row = map_row("asim", "activities", record)
    assert row["TargetUsername"] == "jörg.müller@例え.jp"
    assert row["SrcDvcOs"] == "Android"
    detail = "Update User ñandú@example.com - Título: from 'Señor' to 'Señora'"
    op = operation_log("Update", operator="zoë@例え.jp", operation_detail=detail)
    _, row = map_row("asim", "operation_logs", op)
    assert (row["ActorUsername"], row["Object"]) == ("zoë@例え.jp", "ñandú@example.com")
    assert (row["OldValue"], row["NewValue"]) == ("Señor", "Señora")


def test_random_free_text_never_fails():
    """Any text Zoom might put in these free-form fields maps (no exception, valid shapes)."""
    rng = random.Random(12)
    alphabet = "aZ09 -:'\"@.>/%[]ä会🙂\t"
    for _ in range(500):
        text = "".join(rng.choice(alphabet) for _ in range(rng.randrange(0, 40)))
        op = operation_log(rng.choice(["Update", "Add", "x", ""]), operation_detail=text)
        map_row("asim", "operation_logs", op)
        map_row("cloudappevents", "operation_logs", op)
        sign_in = {**SIGN_IN, "client_type": text, "ip_address": text, "version": text}
        map_row("asim", "activities", sign_in)
        map_row("cloudappevents", "activities", sign_in)


def test_every_event_type_the_mapping_can_emit_is_in_the_schemas_list():
    from tap_zoom_defender.defender.mapping.zoom import AUDIT_EVENT_TYPE

    assert set(AUDIT_EVENT_TYPE.values()) | {"Other"} <= ref.AUDIT_EVENT_TYPES
    # and the ones the schema asks to prefer over Other for Zoom's (de)activations are used
    assert {"Enable", "Disable"} <= set(AUDIT_EVENT_TYPE.values())
