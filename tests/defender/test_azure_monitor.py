"""azure_monitor destination: the real Azure clients against the Azure Monitor emulator.

``azure-monitor-sandbox`` (tap_zoom_defender/azure_monitor_sandbox) serves Entra ID and the Logs
Ingestion API over HTTPS, loaded with the DCRs and custom tables that azure_setup generates, so
the target's rows also go through the DCR and land in tables as Azure would store them.
"""

from __future__ import annotations

import copy
import itertools
import json
import os
import subprocess

import pytest

from tap_zoom_defender.azure_monitor_sandbox import AzureMonitorSandbox, DcrSource, SandboxConfig
from tap_zoom_defender.azure_monitor_sandbox.limits import MAX_CALL_BYTES
from tap_zoom_defender.azure_monitor_sandbox.setup_output import generated_dcr, generated_tables

from .singer_io import (
    TARGET,
    activity,
    encode,
    error_lines,
    read_rows,
    record,
    run_target,
    schema,
    state,
    states,
    write_config,
)
from .zoom_records import SIGN_IN, SIGN_OUT_IPV6, operation_log

AUTH_STREAM = "Custom-ZoomAuthentication_CL"
AUDIT_STREAM = "Custom-ZoomAuditEvent_CL"
SCOPE = "https://monitor.azure.com//.default"
# A second DCR: the cloudappevents set-up with its events stream renamed (azure_stream_names).
EVENTS_STREAM = "Custom-ZoomEvents"
EVENTS_DCR = "dcr-0000000000000000000000000000cae0"


def _renamed(dcr: dict, old: str, new: str) -> dict:
    dcr = copy.deepcopy(dcr)
    props = dcr["properties"]
    props["streamDeclarations"][new] = props["streamDeclarations"].pop(old)
    for flow in props["dataFlows"]:
        flow["streams"] = [new if s == old else s for s in flow["streams"]]
    return dcr


@pytest.fixture(scope="module")
def azure(tmp_path_factory):
    events = _renamed(
        generated_dcr("cloudappevents"), "Custom-ZoomCloudAppEvents_CL", EVENTS_STREAM
    )
    config = SandboxConfig(
        dcrs=[DcrSource(generated_dcr("asim"), label="asim"),
              DcrSource(events, immutable_id=EVENTS_DCR, label="cloudappevents-renamed")],
        table_definitions=[generated_tables("asim"), generated_tables("cloudappevents")],
        ca_dir=tmp_path_factory.mktemp("ca"),
    )  # fmt: skip
    with AzureMonitorSandbox(config) as sandbox:
        yield sandbox


@pytest.fixture
def api(azure):
    azure.reset()
    return azure


def _target_config(azure, output_dir, **extra) -> dict:
    return {
        "destination": "azure_monitor",
        "output_dir": str(output_dir),
        **azure.target_settings(),
        "azure_retry_backoff_factor": 0.05,
        "azure_retry_backoff_max": 0.2,
        **extra,
    }


def _run(azure, tmp_path, msgs, **settings):
    config = write_config(
        tmp_path / "config.json", _target_config(azure, tmp_path / "out", **settings)
    )
    return run_target(config, msgs, env=azure.env())


def _start_target(azure, tmp_path, stderr):
    """target-defender reading from a pipe the test writes to as a tap would."""
    config = write_config(tmp_path / "c.json", _target_config(azure, tmp_path / "out"))
    return subprocess.Popen(
        [TARGET, "--config", str(config)],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=stderr, text=True,
        env={**os.environ, **azure.env()},
    )  # fmt: skip


def _no_traceback(done):
    assert "Traceback" not in done.stderr, done.stderr[-2000:]


def _messages():
    return [
        schema("activities"),
        record("activities", SIGN_IN),
        record("activities", SIGN_OUT_IPV6),
        state({"bookmarks": {"activities": 2}}),
        schema("operation_logs"),
        record("operation_logs", operation_log("Update", category="Role")),
        state({"bookmarks": {"activities": 2, "operation_logs": 1}}),
    ]


def test_rows_arrive_as_the_jsonl_destination_writes_them(azure, api, tmp_path):
    done = _run(azure, tmp_path / "a", _messages())
    assert done.returncode == 0, done.stderr[-2000:]
    assert states(done.stdout)[-1] == {"bookmarks": {"activities": 2, "operation_logs": 1}}
    assert {c.stream for c in api.calls} == {AUTH_STREAM, AUDIT_STREAM}
    assert all(c.status == 204 and c.gzip for c in api.calls)
    assert SCOPE in [r["scope"] for r in azure.token_requests]  # the Azure Monitor audience
    logs = done.stderr + done.stdout
    assert azure.client_secret not in logs
    assert not [token for token in azure.issued_tokens if token in logs]

    # Same input to the jsonl destination: byte-for-byte the same rows.
    jsonl = write_config(tmp_path / "j.json", {"output_dir": str(tmp_path / "j")})
    assert run_target(jsonl, _messages()).returncode == 0
    assert api.received(AUTH_STREAM) == read_rows(tmp_path / "j" / "ZoomAuthentication_CL.jsonl")
    assert api.received(AUDIT_STREAM) == read_rows(tmp_path / "j" / "ZoomAuditEvent_CL.jsonl")
    # ... and stored: one table row per row sent, whatever columns the tables lack.
    assert api.stats("ZoomAuthentication_CL")["stored"] == 2
    assert [r["EventOriginalUid"] for r in api.rows("ZoomAuditEvent_CL")] == [
        operation_log("Update", category="Role")["event_id"]
    ]


def test_cloudappevents_and_stream_name_override(azure, api, tmp_path):
    done = _run(
        azure,
        tmp_path,
        _messages(),
        schema_profile="cloudappevents",
        azure_dcr_immutable_id=EVENTS_DCR,
        azure_stream_names={"ZoomCloudAppEvents_CL": EVENTS_STREAM},
    )
    assert done.returncode == 0, done.stderr[-2000:]
    expected = [
        SIGN_IN["event_id"],
        SIGN_OUT_IPV6["event_id"],
        operation_log("Update", "Role")["event_id"],
    ]
    assert [r["ReportId"] for r in api.received(EVENTS_STREAM)] == expected
    assert [r["ReportId"] for r in api.rows("ZoomCloudAppEvents_CL")] == expected


def test_more_than_one_megabyte_is_split_into_calls_under_the_limit(azure, api, tmp_path):
    big = "x" * 3000  # ~3.5 kB rows: ~900 rows is over 3 MB
    msgs = [schema("activities")]
    msgs += [record("activities", {**activity(i), "version": big}) for i in range(900)]
    msgs.append(state({"done": 900}))
    done = _run(azure, tmp_path, msgs, batch_size_rows=1000)
    assert done.returncode == 0, done.stderr[-2000:]
    ok = [c for c in api.calls if c.status == 204]
    assert len(ok) >= 3 and all(c.status == 204 for c in api.calls)
    assert [r["EventOriginalUid"] for r in api.received()] == [f"{i:064x}" for i in range(900)]
    assert all(len(json.dumps(c.rows).encode()) <= MAX_CALL_BYTES for c in ok)
    assert states(done.stdout) == [{"done": 900}]


def _gaps(calls) -> list[float]:
    """Seconds between consecutive arrivals at the emulator."""
    return [later.at - earlier.at for earlier, later in itertools.pairwise(calls)]


def test_429_with_retry_after_is_honoured_then_delivered(azure, api, tmp_path):
    # Retry-After (2 s) is well above the configured backoff (at most 0.2 s): a retry that
    # came sooner than Retry-After would prove the header was ignored.
    api.fail_next(429, times=2, headers={"Retry-After": "2"})
    done = _run(azure, tmp_path, _messages()[:4])
    assert done.returncode == 0, done.stderr[-2000:]
    assert [c.status for c in api.calls] == [429, 429, 204]
    assert all(gap >= 2.0 for gap in _gaps(api.calls)), _gaps(api.calls)  # lower bound only
    assert len(api.received(AUTH_STREAM)) == 2
    assert states(done.stdout) == [{"bookmarks": {"activities": 2}}]


def test_persistent_429_dead_letters_and_exits_tempfail(azure, api, tmp_path):
    api.fail_next(429, times=50, headers={"Retry-After": "1"})
    done = _run(azure, tmp_path, _messages()[:4], azure_max_retries=1)
    assert done.returncode == 75  # EX_TEMPFAIL: run again later
    _no_traceback(done)
    (line,) = error_lines(done.stderr)
    assert "429" in line and "azure_max_retries" in line and "written to" in line
    assert [c.status for c in api.calls] == [429, 429]  # the call and its one retry
    assert _gaps(api.calls)[0] >= 1.0  # even the last retry waited for Retry-After
    assert done.stdout == ""  # STATE withheld
    dead = read_rows(tmp_path / "out" / "dead-letter" / "ZoomAuthentication_CL.jsonl")
    assert [d["row"]["EventOriginalUid"] for d in dead] == [
        SIGN_IN["event_id"],
        SIGN_OUT_IPV6["event_id"],
    ]
    assert all("429" in d["reason"] for d in dead)


@pytest.mark.parametrize("status", [500, 502, 503])
def test_5xx_is_retried_with_backoff(azure, api, tmp_path, status):
    # 502 proves the POST is retried even where azure-core alone would not retry it.
    api.fail_next(status, times=2)
    done = _run(azure, tmp_path, _messages()[:4])
    assert done.returncode == 0, done.stderr[-2000:]
    assert [c.status for c in api.calls] == [status, status, 204]
    assert states(done.stdout) == [{"bookmarks": {"activities": 2}}]


def test_persistent_5xx_dead_letters_and_exits_tempfail(azure, api, tmp_path):
    api.fail_next(503, times=50)
    done = _run(azure, tmp_path, _messages()[:4], azure_max_retries=2)
    assert done.returncode == 75
    _no_traceback(done)
    (line,) = error_lines(done.stderr)
    assert "503" in line and "dead-letter" in line and "re-run" in line
    assert done.stdout == ""  # the STATE that would skip these rows is withheld
    dead = read_rows(tmp_path / "out" / "dead-letter" / "ZoomAuthentication_CL.jsonl")
    assert [d["row"]["EventOriginalUid"] for d in dead] == [
        SIGN_IN["event_id"],
        SIGN_OUT_IPV6["event_id"],
    ]
    assert all(d["stream"] == AUTH_STREAM and "503" in d["reason"] for d in dead)


def test_dead_letter_write_failure_says_the_rows_were_not_saved(azure, api, tmp_path):
    """When even the dead-letter file cannot be written, the error must not claim it was."""
    api.revoke_role(api.client_id)  # 403
    blocker = tmp_path / "out-is-a-file"
    blocker.write_text("not a directory")  # mkdir of out/dead-letter fails, even as root
    config = write_config(tmp_path / "c.json", _target_config(azure, blocker))
    done = run_target(config, _messages()[:4], env=azure.env())
    assert done.returncode != 0
    _no_traceback(done)
    (line,) = error_lines(done.stderr)
    assert "403" in line and "NOT saved anywhere" in line and "output_dir" in line
    assert "written to" not in line
    assert done.stdout == ""  # STATE withheld: a re-run sends the rows again
    assert blocker.read_text() == "not a directory"


@pytest.mark.usefixtures("api")
def test_413_for_a_row_over_one_megabyte(azure, tmp_path):
    huge = {**SIGN_IN, "event_id": "f" * 64, "version": "v" * (MAX_CALL_BYTES + 10)}
    msgs = [
        schema("activities"),
        record("activities", SIGN_IN),
        state({"n": 1}),
        record("activities", huge),
        state({"n": 2}),
    ]
    done = _run(azure, tmp_path, msgs)
    assert done.returncode == 1
    _no_traceback(done)
    (line,) = error_lines(done.stderr)
    assert "413" in line and "1 MB" in line
    assert states(done.stdout) == [{"n": 1}]  # acknowledged only up to the delivered row
    dead = read_rows(tmp_path / "out" / "dead-letter" / "ZoomAuthentication_CL.jsonl")
    assert [d["row"]["EventOriginalUid"] for d in dead] == ["f" * 64]


def test_403_explains_the_missing_role(azure, api, tmp_path):
    api.revoke_role(api.client_id)
    done = _run(azure, tmp_path, _messages())
    assert done.returncode == 1
    _no_traceback(done)
    (line,) = error_lines(done.stderr)
    assert "403" in line and "Monitoring Metrics Publisher" in line
    assert api.dcr_immutable_id in line
    assert done.stdout == ""


@pytest.mark.usefixtures("api")
def test_unknown_stream_name_is_a_clear_404(azure, tmp_path):
    done = _run(
        azure,
        tmp_path,
        _messages()[:4],
        azure_stream_names={"ZoomAuthentication_CL": "Custom-Typo_CL"},
    )
    assert done.returncode == 1
    (line,) = error_lines(done.stderr)
    assert "404" in line and "azure_stream_names" in line and "Custom-Typo_CL" in line


def test_wrong_client_secret_never_leaks(azure, api, tmp_path):
    wrong = "wrong-secret-" + "z" * 12
    done = _run(azure, tmp_path, _messages()[:4], azure_client_secret=wrong)
    assert done.returncode == 1
    _no_traceback(done)
    (line,) = error_lines(done.stderr)
    assert "azure_client_secret" in line
    assert wrong not in done.stderr + done.stdout
    assert azure.client_secret not in done.stderr + done.stdout
    assert api.calls == []  # nothing was sent without a token
    assert done.stdout == ""


def test_rejected_token_is_a_clear_401(azure, api, tmp_path):
    # Entra issues the token, the Logs Ingestion API refuses it: the wrong audience.
    done = _run(
        azure, tmp_path, _messages()[:4],
        azure_credential_scope="https://management.azure.com//.default",
    )  # fmt: skip
    assert [c.code for c in api.calls] == ["InvalidAudience"]
    assert done.returncode == 1
    (line,) = error_lines(done.stderr)
    assert "401" in line and "azure_tenant_id" in line
    assert done.stdout == ""


def test_state_is_acknowledged_only_after_azure_answered_204(azure, api, tmp_path):
    """With stdin still open, a STATE comes back only once its rows were accepted (204)."""
    proc = _start_target(azure, tmp_path, stderr=subprocess.DEVNULL)
    try:
        for n in (1, 2):
            msgs = [record("activities", activity(i)) for i in range(n * 10 - 10, n * 10)]
            msgs = ([schema("activities")] if n == 1 else []) + msgs + [state({"n": n})]
            proc.stdin.write(encode(msgs))
            proc.stdin.flush()
            assert json.loads(proc.stdout.readline()) == {"n": n}
            delivered = {r["EventOriginalUid"] for r in api.received(AUTH_STREAM)}
            assert {f"{i:064x}" for i in range(n * 10)} <= delivered
    finally:
        proc.stdin.close()
        proc.wait(timeout=30)
        proc.stdout.close()
    assert proc.returncode == 0


def test_a_failed_upload_stops_every_later_write_and_state(azure, api, tmp_path):
    """Uploads run beside the reader: once one fails, nothing after it is sent or acknowledged.

    The first batch is acknowledged; then the role is revoked, and two more batches with their
    STATEs arrive at once. The second batch's 403 must end the run with one line, the third
    batch must never be sent, and no STATE after the first may reach stdout.
    """
    proc = _start_target(azure, tmp_path, stderr=subprocess.PIPE)
    first = [record("activities", activity(i)) for i in range(10)]
    proc.stdin.write(encode([schema("activities"), *first, state({"n": 1})]))
    proc.stdin.flush()
    assert json.loads(proc.stdout.readline()) == {"n": 1}
    api.revoke_role(api.client_id)
    later = []
    for n in (2, 3):
        later += [record("activities", activity(i)) for i in range(n * 10 - 10, n * 10)]
        later.append(state({"n": n}))
    out, err = proc.communicate(encode(later), timeout=60)
    assert proc.returncode == 1
    assert out == ""
    assert "Traceback" not in err, err[-2000:]
    (line,) = error_lines(err)
    assert "403" in line and "STATE withheld" in line
    delivered = [r["EventOriginalUid"] for r in api.received(AUTH_STREAM)]
    assert sorted(delivered) == [f"{i:064x}" for i in range(10)]
    assert [call.status for call in api.calls] == [204, 403]  # the third batch never went
