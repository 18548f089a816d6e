"""Malformed Singer input through the real target-defender CLI: one line, exit 65, nothing lost.

Every input below starts with a good record and its STATE, then breaks. The target must write
and acknowledge that first part, then stop with ONE error line naming the input line or the
stream and field, exit 65, no traceback, and acknowledge nothing after it (so the tap re-sends
it on the next run). Several of these used to end in a traceback (exit 1) or, worse, exit 0
after echoing a STATE that was not a state, or after dropping a record silently.
"""

from __future__ import annotations

import gzip
import json
import subprocess

import pytest

from .singer_io import (
    TARGET,
    encode,
    error_lines,
    read_rows,
    record,
    run_target,
    schema,
    state,
    states,
)
from .zoom_records import SIGN_IN, operation_log

AUTH = "ZoomAuthentication_CL.jsonl"
SECOND = {**SIGN_IN, "event_id": "f" * 64}
GOOD = [schema("activities"), record("activities", SIGN_IN), state({"b": 1})]
"""Lines 1-3: written and acknowledged before the bad line 4."""


def _bad(**fields: object) -> dict:
    return record("activities", {**SECOND, **fields})


CASES = [
    pytest.param(state("x"), ["input line 4", "STATE", "'value' is a string"], id="state-string"),
    pytest.param(state([1]), ["input line 4", "'value' is an array"], id="state-array"),
    pytest.param(state(None), ["input line 4", "'value' is null"], id="state-null"),
    pytest.param(
        {"type": "RECORD", "stream": "activities", "record": None},
        ["input line 4", "'record' is null"],
        id="record-null",
    ),
    pytest.param(
        {"type": "RECORD", "stream": "activities", "record": [1]},
        ["input line 4", "'record' is an array"],
        id="record-array",
    ),
    pytest.param(
        {"type": "SCHEMA", "stream": "x", "schema": {"properties": {}}, "key_properties": "id"},
        ["input line 4", "'key_properties' is a string"],
        id="key-properties-string",
    ),
    pytest.param(
        {"type": "ACTIVATE_VERSION", "version": 1},
        ["input line 4", "ACTIVATE_VERSION", "no 'stream'"],
        id="activate-version-no-stream",
    ),
    pytest.param(
        {"type": "ACTIVATE_VERSION", "stream": "meetings", "version": 1},
        ["input line 4", "'meetings'", "before its SCHEMA"],
        id="activate-version-before-schema",
    ),
    pytest.param(
        {"type": "BATCH", "stream": "activities", "manifest": []},
        ["input line 4", "BATCH", "no 'encoding'"],
        id="batch-no-encoding",
    ),
    pytest.param(
        {
            "type": "BATCH",
            "stream": "activities",
            "encoding": {"format": "jsonl"},
            "manifest": ["file:///nonexistent/batch-1.jsonl"],
        },
        ["input line 4", "BATCH files", "batch-1.jsonl"],
        id="batch-file-missing",
    ),
    pytest.param(_bad(time=12345), ["'activities'", "field 'time' is int 12345"], id="time-int"),
    pytest.param(_bad(time=[1]), ["field 'time' is list"], id="time-list"),
    pytest.param(_bad(time="yesterday"), ["field 'time' is 'yesterday'"], id="time-text"),
]


def _both_modes(cases: list) -> list:
    """Each case with validate_records false and true, except values the validator refuses."""
    out = []
    for case in cases:
        bad, needles = case.values
        refused = case.id in ("time-int", "time-list")  # a schema mismatch when validating
        for validate in (False,) if refused else (False, True):
            out.append(pytest.param(validate, bad, needles, id=f"{case.id}-validate-{validate}"))
    return out


@pytest.mark.parametrize(("validate", "bad", "needles"), _both_modes(CASES))
def test_bad_message_is_one_line_exit_65_and_keeps_what_was_acknowledged(
    tmp_path, validate, bad, needles
):
    out = tmp_path / "out"
    config = tmp_path / "config.json"
    config.write_text(json.dumps({"output_dir": str(out), "validate_records": validate}))
    after = [record("activities", {**SECOND, "event_id": "e" * 64}), state({"b": 2})]
    done = run_target(config, encode([*GOOD, bad, *after]))

    assert done.returncode == 65, done.stderr[-3000:]
    assert "Traceback" not in done.stderr
    errors = error_lines(done.stderr)
    assert len(errors) == 1, errors
    for needle in needles:
        assert needle in errors[0], errors[0]
    assert states(done.stdout) == [{"b": 1}]  # acknowledged before the bad line, nothing after
    rows = read_rows(out / AUTH)  # every line parses: nothing half-written
    assert [r["EventOriginalUid"] for r in rows] == [SIGN_IN["event_id"]]


def test_operation_log_time_of_the_wrong_type(tmp_path):
    config = tmp_path / "config.json"
    config.write_text(json.dumps({"output_dir": str(tmp_path / "out"), "validate_records": False}))
    msgs = [schema("operation_logs"), record("operation_logs", {**operation_log("Add"), "time": 5})]
    done = run_target(config, [*msgs, state({"b": 1})])
    assert done.returncode == 65, done.stderr[-3000:]
    assert "Traceback" not in done.stderr
    (line,) = error_lines(done.stderr)
    assert "'operation_logs'" in line and "field 'time' is int 5" in line
    assert done.stdout == ""
    assert read_rows(tmp_path / "out" / "ZoomAuditEvent_CL.jsonl") == []


def test_input_that_is_not_utf8(tmp_path):
    config = tmp_path / "config.json"
    config.write_text(json.dumps({"output_dir": str(tmp_path / "out")}))
    done = subprocess.run(
        [TARGET, "--config", str(config)],
        input=encode(GOOD).encode() + b"\xff\xfe\n",
        capture_output=True,
        timeout=60,
        check=False,
    )
    stderr = done.stderr.decode()
    assert done.returncode == 65, stderr[-3000:]
    assert "Traceback" not in stderr
    (line,) = error_lines(stderr)
    assert "not UTF-8" in line
    # The input is decoded in chunks: lines before the bad bytes in the same chunk may not be
    # processed, but whatever was acknowledged is on disk.
    acknowledged = states(done.stdout.decode())
    assert acknowledged in ([], [{"b": 1}])
    rows = read_rows(tmp_path / "out" / AUTH)
    assert len(rows) >= len(acknowledged)


def test_batch_messages_are_written_before_their_state_is_acknowledged(tmp_path):
    """A BATCH file's records are mapped and written like RECORDs (they used to be dropped)."""
    batch = tmp_path / "batch-1.jsonl.gz"
    with gzip.open(batch, "wt", encoding="utf-8") as f:
        for i, rec in enumerate([SIGN_IN, SECOND]):
            f.write(json.dumps({**rec, "event_id": f"{i:064x}"}) + "\n")
    message = {
        "type": "BATCH",
        "stream": "activities",
        "encoding": {"format": "jsonl", "compression": "gzip"},
        "manifest": [batch.as_uri()],
    }
    config = tmp_path / "config.json"
    config.write_text(json.dumps({"output_dir": str(tmp_path / "out")}))
    done = run_target(config, [schema("activities"), message, state({"b": 1})])
    assert done.returncode == 0, done.stderr[-3000:]
    assert states(done.stdout) == [{"b": 1}]
    rows = read_rows(tmp_path / "out" / AUTH)
    assert [r["EventOriginalUid"] for r in rows] == [f"{i:064x}" for i in range(2)]
    assert rows[1]["TimeGenerated"] == SECOND["time"]
