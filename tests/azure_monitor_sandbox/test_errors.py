"""The documented refusals: 401, 403, 404, 413, 429 and Entra ID's invalid client secret."""

from __future__ import annotations

import gzip
import json
import time

import pytest
import requests
from azure.core.exceptions import ClientAuthenticationError, HttpResponseError

from .conftest import TEST_STREAM, TEST_TABLE

SCOPE = "https://monitor.azure.com//.default"
ROW = {"TimeGenerated": "2026-01-01T00:00:00Z", "Message": "m"}


def _post(az, body: bytes, token: str | None, *, stream=TEST_STREAM, dcr=None, **headers):
    dcr = dcr or az.dcr_immutable_id
    return requests.post(
        f"{az.endpoint}/dataCollectionRules/{dcr}/streams/{stream}",
        params={"api-version": "2023-01-01"},
        data=body,
        headers={"Content-Type": "application/json", **headers}
        | ({"Authorization": f"Bearer {token}"} if token else {}),
        verify=az.ca_cert,
        timeout=10,
    )


def _error(answer) -> tuple[int, str]:
    """Status and Azure error code; the body has Azure's {"error": {"code", "message"}} shape."""
    body = answer.json()
    assert set(body) == {"error"} and set(body["error"]) == {"code", "message"}
    assert answer.headers["x-ms-error-code"] == body["error"]["code"]
    return answer.status_code, body["error"]["code"]


def test_401_bad_expired_and_wrong_audience_tokens(az):
    assert _error(_post(az, b"[]", None)) == (401, "MissingToken")
    assert _error(_post(az, b"[]", "not-a-token")) == (401, "InvalidToken")
    credential = az.credential()
    other = credential.get_token("https://management.azure.com//.default").token
    assert _error(_post(az, b"[]", other)) == (401, "InvalidAudience")

    client = az.logs_ingestion_client(credential)
    client.upload(rule_id=az.dcr_immutable_id, stream_name=TEST_STREAM, logs=[ROW])
    az.expire_tokens()  # the client still holds its (now expired) token
    with pytest.raises(HttpResponseError) as caught:
        client.upload(rule_id=az.dcr_immutable_id, stream_name=TEST_STREAM, logs=[ROW])
    assert caught.value.status_code == 401 and caught.value.error.code == "TokenExpired"
    token = credential.get_token(SCOPE).token
    assert _post(az, b"[]", token).status_code == 204
    az.revoke_tokens()
    assert _error(_post(az, b"[]", token)) == (401, "InvalidToken")
    assert [c.status for c in az.calls][-3:] == [401, 204, 401]
    assert len(az.rows(TEST_TABLE)) == 1


def test_403_app_without_monitoring_metrics_publisher(az):
    az.add_app("99999999-0000-4000-8000-000000000403", "no-role-secret")
    credential = az.credential(
        client_id="99999999-0000-4000-8000-000000000403", client_secret="no-role-secret"
    )
    client = az.logs_ingestion_client(credential)
    with pytest.raises(HttpResponseError) as caught:
        client.upload(rule_id=az.dcr_immutable_id, stream_name=TEST_STREAM, logs=[ROW])
    assert caught.value.status_code == 403
    assert caught.value.error.code == "OperationFailed"
    assert "does not have access to ingest data" in caught.value.error.message
    az.grant_role("99999999-0000-4000-8000-000000000403")
    client.upload(rule_id=az.dcr_immutable_id, stream_name=TEST_STREAM, logs=[ROW])
    az.revoke_role(az.client_id)  # the default app loses the role too
    token = az.credential().get_token(SCOPE).token
    assert _error(_post(az, json.dumps([ROW]).encode(), token)) == (403, "OperationFailed")


def test_404_unknown_dcr_or_stream(az):
    client = az.logs_ingestion_client()
    failures = []
    client.upload(rule_id="dcr-00000000000000000000000000000000", stream_name=TEST_STREAM,
                  logs=[ROW], on_error=failures.append)  # fmt: skip
    client.upload(rule_id=az.dcr_immutable_id, stream_name="Custom-Typo_CL", logs=[ROW],
                  on_error=failures.append)  # fmt: skip
    assert [(f.error.status_code, f.error.error.code) for f in failures] == [
        (404, "NotFound"),
        (404, "InvalidStream"),
    ]
    assert "Custom-Typo_CL" in failures[1].error.error.message


def test_413_over_one_megabyte_compressed_or_not(az):
    token = az.credential().get_token(SCOPE).token
    big = json.dumps([{"Message": "x" * 1_100_000}]).encode()
    assert _error(_post(az, big, token)) == (413, "ContentLengthLimitExceeded")
    # Small once gzipped, over the limit once inflated: "both compressed and uncompressed".
    assert len(gzip.compress(big)) < 10_000
    answer = _post(az, gzip.compress(big), token, **{"Content-Encoding": "gzip"})
    assert _error(answer) == (413, "ContentLengthLimitExceeded")
    assert "1048576 bytes (1 MB)" in answer.json()["error"]["message"]
    # The official client sends a single row over 1 MiB in a call of its own: 413 too.
    failures = []
    az.logs_ingestion_client().upload(
        rule_id=az.dcr_immutable_id, stream_name=TEST_STREAM,
        logs=[ROW, {"Message": "y" * 1_100_000}], on_error=failures.append,
    )  # fmt: skip
    assert [f.error.status_code for f in failures] == [413]
    assert [c.status for c in az.calls] == [413, 413, 204, 413]
    assert az.stats(TEST_TABLE)["stored"] == 1


def test_429_with_retry_after_past_the_request_rate(azure_monitor_sandbox_factory, setup_files):
    dcr, tables = setup_files
    az = azure_monitor_sandbox_factory(
        dcrs=[dcr], table_definitions=[tables], rate_limit_requests=2, rate_window_seconds=1.0
    )
    token = az.credential().get_token(SCOPE).token
    body = json.dumps([ROW]).encode()
    assert [_post(az, body, token).status_code for _ in range(2)] == [204, 204]
    throttled = _post(az, body, token)
    assert _error(throttled) == (429, "TooManyRequests")
    assert throttled.headers["Retry-After"] == "1"
    # The official client honours Retry-After and gets through once the window has moved.
    started = time.monotonic()
    az.logs_ingestion_client().upload(
        rule_id=az.dcr_immutable_id, stream_name=TEST_STREAM, logs=[ROW]
    )
    assert [c.status for c in az.calls][-2:] in ([429, 204], [204])
    assert time.monotonic() - started < 5
    assert az.stats(TEST_TABLE)["stored"] == 3


def test_scripted_faults(az):
    az.fail_next(503, times=1)
    failures = []
    az.logs_ingestion_client(retry_total=0).upload(
        rule_id=az.dcr_immutable_id, stream_name=TEST_STREAM, logs=[ROW], on_error=failures.append
    )
    assert [f.error.status_code for f in failures] == [503]
    assert az.stats(TEST_TABLE)["stored"] == 0


def test_entra_refuses_a_bad_client_secret(az):
    from azure.identity import ClientSecretCredential

    wrong = ClientSecretCredential(
        az.tenant_id, az.client_id, "wrong-secret", authority=az.authority,
        disable_instance_discovery=True, connection_verify=az.ca_cert,
    )  # fmt: skip
    with pytest.raises(ClientAuthenticationError) as caught:
        wrong.get_token(SCOPE)
    assert "AADSTS7000215" in str(caught.value)
    assert "wrong-secret" not in str(caught.value)

    answer = requests.post(
        az.token_url,
        data={"grant_type": "client_credentials", "client_id": az.client_id,
              "client_secret": "wrong-secret", "scope": SCOPE},
        verify=az.ca_cert, timeout=10,
    )  # fmt: skip
    body = answer.json()
    assert answer.status_code == 401 and body["error"] == "invalid_client"
    assert body["error_codes"] == [7000215]
    assert body["error_description"].startswith("AADSTS7000215: Invalid client secret provided.")
    unknown = requests.post(
        az.token_url,
        data={"grant_type": "client_credentials", "client_id": "nobody",
              "client_secret": "s", "scope": SCOPE},
        verify=az.ca_cert, timeout=10,
    )  # fmt: skip
    assert (unknown.status_code, unknown.json()["error_codes"]) == (400, [700016])
