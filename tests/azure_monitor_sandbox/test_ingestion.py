"""Rows sent by Microsoft's own clients, stored as Azure would store them."""

from __future__ import annotations

import datetime as dt
import gzip
import json

import requests

from tap_zoom_defender.azure_monitor_sandbox.values import parse_datetime

from .conftest import AUTH_STREAM, AUTH_TABLE, TEST_STREAM, TEST_TABLE, query

SCOPE = "https://monitor.azure.com//.default"


def _iso(when: dt.datetime) -> str:
    return when.isoformat().replace("+00:00", "Z")


def test_real_clients_rows_stored_as_azure_would(az):
    now = dt.datetime.now(dt.timezone.utc)
    one_day_old = now - dt.timedelta(days=1)
    rows = [
        {"TimeGenerated": _iso(now - dt.timedelta(days=3)), "Message": "three days old",
         "Extra": "declared, not in the table", "Unknown": "not declared"},
        {"TimeGenerated": _iso(now + dt.timedelta(days=2)), "Message": "two days ahead"},
        {"TimeGenerated": _iso(one_day_old), "Message": "one day old", "Count": "7",
         "Ratio": 0.5, "Flag": True, "Details": {"a": [1, 2]}},
        {"Message": "no TimeGenerated"},
        {"TimeGenerated": _iso(now), "Message": "wrong types", "Count": "seven", "Flag": "maybe"},
    ]  # fmt: skip
    before = dt.datetime.now(dt.timezone.utc).replace(microsecond=0)
    client = az.logs_ingestion_client()  # LogsIngestionClient + ClientSecretCredential
    client.upload(rule_id=az.dcr_immutable_id, stream_name=TEST_STREAM, logs=rows)
    after = dt.datetime.now(dt.timezone.utc)

    answer = query(az, TEST_TABLE)
    stored = {row["Message"]: row for row in answer["rows"]}
    assert list(stored) == [r["Message"] for r in rows]
    assert answer["counts"] == {
        "received": 5,
        "stored": 5,
        "time_generated_replaced": 2,
        "time_generated_missing": 1,
        "columns_dropped": {"Extra": 1},
        "properties_undeclared": {"Unknown": 1},
        "values_nulled": {"Count": 1, "Flag": 1},
        "values_truncated": {},
    }
    # Kept: within [received - 2 days, received + 1 day].
    assert parse_datetime(stored["one day old"]["TimeGenerated"]) == one_day_old
    # Replaced (3 days old, 2 days ahead) or missing: the received time.
    for message in ("three days old", "two days ahead", "no TimeGenerated"):
        assert before <= parse_datetime(stored[message]["TimeGenerated"]) <= after, message
    # Dropped: a column the table lacks, a property the stream does not declare.
    assert "Extra" not in stored["three days old"] and "Unknown" not in stored["three days old"]
    # Read as the declared types; the transformation's constant; unreadable values null.
    assert stored["one day old"] | {"TimeGenerated": None} == {
        "TimeGenerated": None, "Message": "one day old", "Count": 7, "Ratio": 0.5, "Flag": True,
        "Details": {"a": [1, 2]}, "Source": "sandbox-test",
    }  # fmt: skip
    assert "Count" not in stored["wrong types"] and "Flag" not in stored["wrong types"]
    # What was sent, as sent (gzip, by the official client).
    (call,) = az.calls
    assert (call.status, call.gzip, call.stream, call.client_id) == (
        204, True, TEST_STREAM, az.client_id)  # fmt: skip
    assert call.rows == rows
    # The client's default scope, for the Azure Monitor audience.
    assert az.token_requests[-1]["scope"].rstrip("/.default") == "https://monitor.azure.com"


def test_native_table_gets_only_its_columns_through_the_transformation(az):
    client = az.logs_ingestion_client()
    row = {"TimeGenerated": _iso(dt.datetime.now(dt.timezone.utc)), "EventOriginalUid": "e1",
           "TargetUsername": "ada@example.com", "Dvc": "Zoom", "EventSchema": "Authentication",
           "EventCount": 1}  # fmt: skip
    client.upload(rule_id=az.dcr_immutable_id, stream_name=AUTH_STREAM, logs=[row])
    answer = query(az, AUTH_TABLE)
    (stored,) = answer["rows"]
    # project-away Dvc; EventSchema is not a column of ASimAuthenticationEventLogs;
    # extend adds constants and a copy of a column.
    assert stored | {"TimeGenerated": None} == {
        "TimeGenerated": None, "EventCount": 1, "EventOriginalUid": "e1", "EventProduct": "Zoom",
        "EventVendor": "Zoom", "TargetUserId": "ada@example.com",
        "TargetUsername": "ada@example.com",
    }  # fmt: skip
    assert answer["counts"]["columns_dropped"] == {"EventSchema": 1}
    assert {"name": "SrcIpAddr", "type": "string"} in answer["columns"]


def test_plain_json_body_and_64kb_truncation(az):
    token = az.credential().get_token(SCOPE).token
    url = f"{az.endpoint}/dataCollectionRules/{az.dcr_immutable_id}/streams/{TEST_STREAM}"
    long = "é" * 40_000  # 80,000 UTF-8 bytes
    body = [{"Message": long, "Details": {"blob": "x" * 70_000}}]
    answer = requests.post(
        url, params={"api-version": "2023-01-01"}, data=json.dumps(body),
        headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
        verify=az.ca_cert, timeout=10,
    )  # fmt: skip
    assert answer.status_code == 204, answer.text
    assert answer.content == b""
    (stored,) = az.rows(TEST_TABLE)
    assert len(stored["Message"].encode()) <= 64 * 1024 and stored["Message"] == long[:32768]
    assert len(stored["Details"].encode()) == 64 * 1024  # dynamic over 64 KB: cut JSON text
    assert az.stats(TEST_TABLE)["values_truncated"] == {"Message": 1, "Details": 1}
    assert [c.gzip for c in az.calls] == [False]

    gz = requests.post(
        url, params={"api-version": "2023-01-01"}, data=gzip.compress(b'[{"Message": "gz"}]'),
        headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json",
                 "Content-Encoding": "gzip"},
        verify=az.ca_cert, timeout=10,
    )  # fmt: skip
    assert gz.status_code == 204
    assert az.rows(TEST_TABLE)[-1]["Message"] == "gz"


def test_project_setup_loads_and_routes_streams(azure_monitor_sandbox_factory):
    """The project's generated set-up (both profiles) loads; each stream reaches its table."""
    az = azure_monitor_sandbox_factory(azure_setup_profiles=["asim", "cloudappevents"])
    routes = {
        stream: [flow["table"] for flow in flows]
        for dcr in az.info()["dcrs"]
        for stream, flows in dcr["streams"].items()
    }
    assert routes["Custom-ZoomAuthentication_CL"] == ["ZoomAuthentication_CL"]
    assert routes["Custom-ZoomAuditEvent_CL"] == ["ZoomAuditEvent_CL"]
    assert routes["Custom-ZoomCloudAppEvents_CL"] == ["ZoomCloudAppEvents_CL"]
    assert routes["Custom-ZoomIdentityInfo_CL"] == ["ZoomIdentityInfo_CL"]
    assert routes["Custom-ZoomPassthrough_CL"] == ["ZoomPassthrough_CL"]
    assert len(az.dcrs) == 2
