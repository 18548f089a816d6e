"""Issue 13, end to end: what Azure stores + the ASIM parsers give each event its real time.

Rows go in through Microsoft's own client (LogsIngestionClient). Azure replaces a TimeGenerated
older than 2 days with the receipt time; the Zoom tables keep the event time in EventStartTime;
the fixture template's parsers, picked up by Sentinel's built-in ``_Im_Authentication`` /
``_Im_AuditEvent`` through the ``*Custom`` functions, give it back. Rows in the native table
come back through the Native parser with EventStartTime = TimeGenerated.
"""

from __future__ import annotations

import datetime as dt

import pytest
import requests

from tap_zoom_defender.azure_monitor_sandbox.values import parse_datetime

from .asim_template import AUDIT_STREAM, AUTH_STREAM, FUNCTIONS, NATIVE_STREAM, template

NOW = dt.datetime.now(dt.timezone.utc).replace(microsecond=0)


def _iso(when: dt.datetime) -> str:
    return when.strftime("%Y-%m-%dT%H:%M:%SZ")


def _kql(when: dt.datetime) -> str:
    return f"datetime({_iso(when)})"


def _sign_in(uid: str, when: dt.datetime, user: str, result: str = "Success") -> dict:
    return {"TimeGenerated": _iso(when), "EventStartTime": _iso(when), "EventEndTime": _iso(when),
            "EventOriginalUid": uid, "EventType": "Logon", "EventResult": result,
            "TargetUsername": user, "SrcIpAddr": "203.0.113.7", "EventVendor": "Zoom",
            "EventProduct": "Zoom", "EventCount": 1}  # fmt: skip


TEN_DAYS = NOW - dt.timedelta(days=10)
FIVE_DAYS = NOW - dt.timedelta(days=5)
ONE_HOUR = NOW - dt.timedelta(hours=1)
TWO_HOURS = NOW - dt.timedelta(hours=2)
ZOOM_SIGN_INS = [
    _sign_in("zoom-old", TEN_DAYS, "ada@example.com"),
    _sign_in("zoom-older-than-2d", FIVE_DAYS, "bob@example.com", "Failure"),
    _sign_in("zoom-recent", ONE_HOUR, "ada@example.com"),
]
# Its own EventStartTime (3 days back) is overwritten by the Native parser (= TimeGenerated).
NATIVE_SIGN_IN = {"TimeGenerated": _iso(TWO_HOURS), "EventOriginalUid": "native-1",
                  "EventStartTime": _iso(NOW - dt.timedelta(days=3)),
                  "EventType": "Logon", "EventResult": "Success",
                  "TargetUsername": "carol@example.com", "SrcIpAddr": "198.51.100.2",
                  "EventVendor": "Microsoft", "EventProduct": "Entra ID"}  # fmt: skip
ADMIN_OPERATION = {"TimeGenerated": _iso(TEN_DAYS), "EventStartTime": _iso(TEN_DAYS),
                   "EventOriginalUid": "audit-old", "EventType": "Set", "EventResult": "Success",
                   "Operation": "Update", "Object": "Role", "NewValue": "Admin",
                   "ActorUsername": "admin@example.com", "EventVendor": "Zoom",
                   "EventProduct": "Zoom"}  # fmt: skip


@pytest.fixture
def az(azure_monitor_sandbox_factory):
    az = azure_monitor_sandbox_factory(
        templates=[template()], template_parameters={"workspaceName": "ws"}
    )
    client = az.logs_ingestion_client()
    client.upload(rule_id=az.dcr_immutable_id, stream_name=AUTH_STREAM, logs=ZOOM_SIGN_INS)
    client.upload(rule_id=az.dcr_immutable_id, stream_name=NATIVE_STREAM, logs=[NATIVE_SIGN_IN])
    client.upload(rule_id=az.dcr_immutable_id, stream_name=AUDIT_STREAM, logs=[ADMIN_OPERATION])
    return az


def _by_uid(rows: list[dict]) -> dict[str, dict]:
    uids = [row["EventOriginalUid"] for row in rows]
    assert len(uids) == len(set(uids)), f"a row came back more than once: {uids}"
    return {row["EventOriginalUid"]: row for row in rows}


def test_stored_time_generated_is_the_receipt_time_but_event_start_time_is_kept(az):
    stored = _by_uid(az.rows("ZoomAuthentication_CL"))
    assert az.stats("ZoomAuthentication_CL")["time_generated_replaced"] == 2
    for uid, real in (("zoom-old", TEN_DAYS), ("zoom-older-than-2d", FIVE_DAYS)):
        assert parse_datetime(stored[uid]["TimeGenerated"]) >= NOW  # replaced at receipt
        assert parse_datetime(stored[uid]["EventStartTime"]) == real  # kept
    assert parse_datetime(stored["zoom-recent"]["TimeGenerated"]) == ONE_HOUR  # in the window
    # So a time filter on the stored TimeGenerated misses the old sign-ins entirely.
    assert az.query(f"ZoomAuthentication_CL | where TimeGenerated < {_kql(NOW)}") == [
        az.query("ZoomAuthentication_CL | where EventOriginalUid == 'zoom-recent'")[0]]  # fmt: skip


def test_im_authentication_returns_every_event_once_with_its_real_time(az):
    result = az.query_result(
        f"_Im_Authentication(starttime={_kql(NOW - dt.timedelta(days=11))}, endtime={_kql(NOW)})"
    )
    assert result.warnings == []  # every union leg resolved
    rows = _by_uid(result.rows)
    assert set(rows) == {"zoom-old", "zoom-older-than-2d", "zoom-recent", "native-1"}
    for uid, real in (("zoom-old", TEN_DAYS), ("zoom-older-than-2d", FIVE_DAYS),
                      ("zoom-recent", ONE_HOUR), ("native-1", TWO_HOURS)):  # fmt: skip
        row = rows[uid]
        assert parse_datetime(row["TimeGenerated"]) == real, uid
        assert row["EventStartTime"] == row["EventEndTime"] == row["TimeGenerated"], uid
        assert row["EventSchema"] == "Authentication", uid
    # Stored with its own EventStartTime; the Native parser reports TimeGenerated instead.
    (stored,) = az.rows("ASimAuthenticationEventLogs")
    assert parse_datetime(stored["EventStartTime"]) == NOW - dt.timedelta(days=3)
    # The Native parser's own aliases (from Microsoft's ASimAuthenticationNative text).
    assert rows["native-1"]["User"] == "carol@example.com"
    assert rows["native-1"]["Src"] == "198.51.100.2" and rows["native-1"]["Dvc"] == "Microsoft"
    assert rows["native-1"]["EventUid"]  # project-rename EventUid = _ItemId


def test_the_time_window_selects_on_event_time(az):
    window = f"starttime={_kql(TEN_DAYS - dt.timedelta(hours=1))}, endtime={_kql(TEN_DAYS)}"
    old = az.query(f"_Im_Authentication({window})")
    assert [r["EventOriginalUid"] for r in old] == ["zoom-old"]
    # The other filtering parameters reach the Zoom parser through Im_AuthenticationCustom.
    failures = az.query("_Im_Authentication(eventresult='Failure')")
    assert [r["EventOriginalUid"] for r in failures] == ["zoom-older-than-2d"]
    ada = az.query("_Im_Authentication(username_has_any=dynamic(['ADA@example.com']))")
    assert sorted(r["EventOriginalUid"] for r in ada) == ["zoom-old", "zoom-recent"]
    prefix = az.query("_Im_Authentication(srcipaddr_has_any_prefix=dynamic(['198.51.']))")
    assert [r["EventOriginalUid"] for r in prefix] == ["native-1"]


def test_parameter_less_unifier_and_audit_events(az):
    rows = _by_uid(az.query("_ASim_Authentication | where EventResult == 'Success'"))
    assert set(rows) == {"zoom-old", "zoom-recent", "native-1"}
    assert parse_datetime(rows["zoom-old"]["TimeGenerated"]) == TEN_DAYS
    # disabled reaches the Native parser; the custom unifier calls the Zoom parser with
    # disabled=false, as "Manage ASIM parsers" writes the line to add.
    disabled = az.query("_ASim_Authentication(disabled=true)")
    assert sorted(r["EventOriginalUid"] for r in disabled) == [
        "zoom-old", "zoom-older-than-2d", "zoom-recent"]  # fmt: skip
    (audit,) = az.query(
        f"_Im_AuditEvent(starttime={_kql(NOW - dt.timedelta(days=11))}, "
        "actorusername_has_any=dynamic(['admin@example.com']), "
        "operation_has_any=dynamic(['update']))"
    )
    assert parse_datetime(audit["TimeGenerated"]) == TEN_DAYS
    assert audit["EventSchema"] == "AuditEvent" and audit["Value"] == "Admin"
    assert [r["EventOriginalUid"] for r in az.query("_ASim_AuditEvent")] == ["audit-old"]


def test_without_the_custom_unifier_the_built_in_sees_only_the_native_table(
    azure_monitor_sandbox_factory,
):
    document = template()
    document["resources"] = [
        r for r in document["resources"]
        if r.get("properties", {}).get("FunctionAlias") != "Im_AuthenticationCustom"
    ]  # fmt: skip
    az = azure_monitor_sandbox_factory(templates=[document],
                                       template_parameters={"workspaceName": "ws"})  # fmt: skip
    client = az.logs_ingestion_client()
    client.upload(rule_id=az.dcr_immutable_id, stream_name=AUTH_STREAM, logs=ZOOM_SIGN_INS)
    client.upload(rule_id=az.dcr_immutable_id, stream_name=NATIVE_STREAM, logs=[NATIVE_SIGN_IN])
    result = az.query_result("_Im_Authentication")
    assert [r["EventOriginalUid"] for r in result.rows] == ["native-1"]
    (warning,) = result.warnings
    assert "Im_AuthenticationCustom" in warning
    # The Zoom parser itself still answers when called directly.
    assert len(az.query("vimAuthenticationZoom")) == 3


def test_query_and_functions_over_http(az):
    answer = requests.post(f"{az.url}/_sandbox/query", json={"query": "_ASim_Authentication"},
                           verify=az.ca_cert, timeout=10)  # fmt: skip
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert set(body) == {"columns", "rows", "warnings"}
    assert (
        len(body["rows"]) == 4 and {"name": "EventStartTime", "type": "datetime"} in body["columns"]
    )
    refused = requests.post(f"{az.url}/_sandbox/query",
                            json={"query": "ZoomAuthentication_CL | take 1"},
                            verify=az.ca_cert, timeout=10)  # fmt: skip
    assert refused.status_code == 400
    error = refused.json()["error"]
    assert error["code"] == "KQLError" and "operator 'take' is not supported" in error["message"]
    unknown = requests.post(f"{az.url}/_sandbox/query", json={"query": "Nope"},
                            verify=az.ca_cert, timeout=10)  # fmt: skip
    assert unknown.status_code == 400 and unknown.json()["error"]["code"] == "SemanticError"
    functions = requests.get(f"{az.url}/_sandbox/functions", verify=az.ca_cert, timeout=10).json()
    assert [f["alias"] for f in functions["functions"]] == FUNCTIONS
