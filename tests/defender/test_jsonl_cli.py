"""The real target-defender CLI with the jsonl destination: durability, errors, streams."""

from __future__ import annotations

import contextlib
import json
import os
import queue
import signal
import subprocess
import threading

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
from .zoom_records import FULL_USER, SIGN_IN, operation_log

AUTH = "ZoomAuthentication_CL.jsonl"


def _config(tmp_path, **extra):
    return write_config(tmp_path / "config.json", {"output_dir": str(tmp_path / "out"), **extra})


def _no_traceback(stderr):
    assert "Traceback" not in stderr, stderr[-2000:]


def _stream_input(first: int, last: int, every: int) -> list[dict]:
    """Activities first..last-1 with a STATE (bookmark = count so far) after every ``every``."""
    msgs = [schema("activities")]
    for i in range(first, last):
        msgs.append(record("activities", activity(i)))
        if (i + 1) % every == 0 or i + 1 == last:
            msgs.append(state({"bookmarks": {"activities": {"done": i + 1}}}))
    return msgs


def test_all_profiles_write_one_file_per_table(tmp_path):
    msgs = [
        schema("activities"),
        record("activities", SIGN_IN),
        schema("operation_logs"),
        record("operation_logs", operation_log("Add")),
        schema("users"),
        record(
            "users",
            {
                k: FULL_USER[k]
                for k in (
                    "id",
                    "email",
                    "first_name",
                    "last_name",
                    "display_name",
                    "status",
                    "type",
                )
            },
        ),
        state({"bookmarks": {"x": 1}}),
    ]
    done = run_target(_config(tmp_path), msgs)
    assert done.returncode == 0, done.stderr[-2000:]
    out = tmp_path / "out"
    assert sorted(p.name for p in out.glob("*.jsonl")) == [
        "ZoomAuditEvent_CL.jsonl",
        AUTH,
        "ZoomIdentityInfo_CL.jsonl",
    ]
    assert read_rows(out / AUTH)[0]["EventOriginalUid"] == SIGN_IN["event_id"]
    # UTF-8 on disk, not \u escapes: what an analyst greps for is in the file.
    assert "Zoë Ångström" in (out / "ZoomIdentityInfo_CL.jsonl").read_text(encoding="utf-8")
    assert states(done.stdout) == [{"bookmarks": {"x": 1}}]

    cae = write_config(
        tmp_path / "cae.json",
        {"output_dir": str(tmp_path / "cae"), "schema_profile": "cloudappevents"},
    )
    done = run_target(cae, msgs)
    assert done.returncode == 0, done.stderr[-2000:]
    rows = read_rows(tmp_path / "cae" / "ZoomCloudAppEvents_CL.jsonl")
    assert [r["IsAdminOperation"] for r in rows] == [False, True]


def test_state_is_acknowledged_as_soon_as_its_rows_are_on_disk(tmp_path):
    """With stdin still open, each STATE comes back only after its rows are in the file."""
    proc = subprocess.Popen(
        [TARGET, "--config", str(_config(tmp_path))],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    lines: queue.Queue[str] = queue.Queue()
    threading.Thread(target=lambda: [lines.put(x) for x in proc.stdout], daemon=True).start()
    try:
        for batch in range(3):
            first, last = batch * 50, (batch + 1) * 50
            msgs = _stream_input(first, last, every=50)
            proc.stdin.write(encode(msgs if batch == 0 else msgs[1:]))
            proc.stdin.flush()
            acked = json.loads(lines.get(timeout=30))
            assert acked == {"bookmarks": {"activities": {"done": last}}}
            on_disk = {r["EventOriginalUid"] for r in read_rows(tmp_path / "out" / AUTH)}
            assert {f"{i:064x}" for i in range(last)} <= on_disk
    finally:
        proc.stdin.close()
        proc.wait(timeout=30)
        proc.stdout.close()
    assert proc.returncode == 0


def test_kill_at_any_point_then_resume_loses_nothing(tmp_path):
    """SIGKILL mid-stream, resume from the last acknowledged STATE: every row arrives, and
    rows sent twice carry the same key."""
    total, every = 6000, 500
    config = _config(tmp_path, batch_size_rows=200)
    proc = subprocess.Popen(
        [TARGET, "--config", str(config)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    acked: queue.Queue[str] = queue.Queue()
    reader = threading.Thread(target=lambda: [acked.put(x) for x in proc.stdout], daemon=True)
    reader.start()
    # The first half is streamed in; the kill lands while the target works through it (the
    # second half is only what the tap would have sent had the target lived).
    messages = _stream_input(0, total, every)
    writer = threading.Thread(
        target=_feed_quietly, args=(proc, encode(messages[: len(messages) // 2])), daemon=True
    )
    writer.start()
    first_ack = json.loads(acked.get(timeout=60))
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=30)
    writer.join(timeout=30)
    reader.join(timeout=30)  # every STATE line the target printed before it died
    with contextlib.suppress(OSError):
        proc.stdin.close()
    proc.stdout.close()
    last_done = first_ack["bookmarks"]["activities"]["done"]
    while not acked.empty():
        last_done = json.loads(acked.get())["bookmarks"]["activities"]["done"]
    assert last_done < total, "killed too late to prove anything"

    # Everything acknowledged is on disk (possibly more, never less).
    keys_before = _keys_prefix(tmp_path / "out" / AUTH)
    assert {f"{i:064x}" for i in range(last_done)} <= keys_before

    # Resume like a tap would: from the acknowledged bookmark.
    done = run_target(config, _stream_input(last_done, total, every))
    assert done.returncode == 0, done.stderr[-2000:]
    assert states(done.stdout)[-1] == {"bookmarks": {"activities": {"done": total}}}
    rows = read_rows(tmp_path / "out" / AUTH)  # every line parses: no torn row survived
    keys = [r["EventOriginalUid"] for r in rows]
    assert set(keys) == {f"{i:064x}" for i in range(total)}
    by_key: dict[str, dict] = {}
    for row in rows:  # duplicates are the same row, so dedupe on the key is exact
        assert by_key.setdefault(row["EventOriginalUid"], row) == row


def _feed_quietly(proc, data):
    try:
        proc.stdin.write(data)
        proc.stdin.flush()
    except (BrokenPipeError, ValueError, OSError):
        pass


def _keys_prefix(path):
    """Keys of the complete lines in a file a killed process may have left torn."""
    keys = set()
    for line in path.read_bytes().split(b"\n"):
        try:
            keys.add(json.loads(line)["EventOriginalUid"])
        except ValueError:
            continue
    return keys


def test_torn_last_line_from_a_killed_run_is_repaired(tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    good = json.dumps({"EventOriginalUid": "old"}) + "\n"
    (out / AUTH).write_text(good + '{"EventOriginalUid": "half-wri', encoding="utf-8")
    done = run_target(_config(tmp_path), [schema("activities"), record("activities", SIGN_IN)])
    assert done.returncode == 0, done.stderr[-2000:]
    rows = read_rows(out / AUTH)
    assert [r["EventOriginalUid"] for r in rows] == ["old", SIGN_IN["event_id"]]
    assert "partly written row" in done.stderr


def test_display_names_learnt_from_users_fill_later_runs(tmp_path):
    config = _config(tmp_path, schema_profile="cloudappevents")
    user = {"id": "u1", "email": SIGN_IN["email"], "display_name": "Amélie Dupont"}
    msgs = [
        schema("activities"),
        record("activities", SIGN_IN),
        schema("users"),
        record("users", user),
    ]
    assert run_target(config, msgs).returncode == 0
    assert run_target(config, msgs).returncode == 0
    rows = read_rows(tmp_path / "out" / "ZoomCloudAppEvents_CL.jsonl")
    # users arrive after activities: the first run cannot know the name, the next one does.
    assert [r["AccountDisplayName"] for r in rows] == [None, "Amélie Dupont"]
    assert rows[0]["ReportId"] == rows[1]["ReportId"]


def test_unknown_stream_passthrough_and_reject(tmp_path):
    other = {
        "type": "object",
        "properties": {"id": {"type": "integer"}, "created_at": {"type": "string"}},
    }
    msgs = [
        schema("meetings", other, ["id"]),
        record("meetings", {"id": 7, "created_at": "2026-03-01T10:00:00Z"}),
        state({"bookmarks": {"meetings": {}}}),
    ]
    done = run_target(_config(tmp_path), msgs)
    assert done.returncode == 0, done.stderr[-2000:]
    (row,) = read_rows(tmp_path / "out" / "ZoomPassthrough_CL.jsonl")
    assert row["SourceStream"] == "meetings" and row["RawData"] == {
        "id": 7,
        "created_at": "2026-03-01T10:00:00Z",
    }
    assert row["TimeGenerated"] == "2026-03-01T10:00:00Z"

    strict = write_config(
        tmp_path / "strict.json",
        {"output_dir": str(tmp_path / "strict"), "unknown_streams": "reject"},
    )
    done = run_target(strict, msgs)
    assert done.returncode == 65
    _no_traceback(done.stderr)
    (line,) = error_lines(done.stderr)
    assert "'meetings'" in line and "unknown_streams" in line
    assert done.stdout == ""


def test_bad_singer_input_is_one_error_line_and_withholds_state(tmp_path):
    cases = {
        "not json": encode([schema("activities"), record("activities", SIGN_IN)])
        + "this is not json\n"
        + encode([state({"b": 1})]),
        "record before schema": encode([record("activities", SIGN_IN), state({"b": 1})]),
        "missing time": encode(
            [schema("activities"), record("activities", {**SIGN_IN, "time": None}), state({"b": 1})]
        ),
        "schema mismatch": encode(
            [schema("activities"), record("activities", {**SIGN_IN, "email": 42}), state({"b": 1})]
        ),
    }
    cases["invalid schema"] = encode(
        [schema("activities", {"type": "object", "properties": {"time": {"type": "nope"}}})]
    )
    expected = {
        "not json": "line 3",
        "record before schema": "before a corresponding schema",
        "missing time": "'time'",
        "schema mismatch": "SCHEMA",
        "invalid schema": "Schema",
    }
    for name, data in cases.items():
        out = str(tmp_path / name.replace(" ", "_"))
        done = run_target(write_config(tmp_path / f"{name[:4]}.json", {"output_dir": out}), data)
        assert done.returncode == 65, (name, done.stderr[-1500:])
        _no_traceback(done.stderr)
        errors = error_lines(done.stderr)
        assert len(errors) == 1 and expected[name] in errors[0], (name, errors)
        assert done.stdout == "", name  # nothing acknowledged


def test_bad_settings_are_one_configuration_error_line_each_and_exit_78(tmp_path):
    secret = "sup3r-s3cret-value"
    https = {"azure_endpoint": "https://dce.example.com", "azure_dcr_immutable_id": "dcr-1"}
    cases = [
        ({"schema_profile": "sentinel"}, ["schema_profile"]),
        ({"destination": "ftp"}, ["destination"]),
        ({"azure_timeout_seconds": "soon"}, ["azure_timeout_seconds"]),
        ({"azure_client_secret": 12345678}, ["azure_client_secret"]),
        ({"destination": "azure_monitor"}, ["azure_endpoint", "azure_dcr_immutable_id"]),
        (
            {"destination": "azure_monitor", "azure_client_secret": secret},
            ["azure_endpoint", "azure_dcr_immutable_id", "azure_tenant_id", "azure_client_id"],
        ),
        (
            {
                "destination": "azure_monitor",
                "azure_endpoint": "http://dce.example.com",
                "azure_dcr_immutable_id": "dcr-1",
                "azure_tenant_id": "t",
                "azure_client_id": "c",
                "azure_client_secret": secret,
            },
            ["https://"],
        ),
        (
            {"destination": "azure_monitor", **https, "azure_stream_names": {"Nope_CL": "x"}},
            ["azure_stream_names"],
        ),
    ]
    for i, (config, needles) in enumerate(cases):
        done = run_target(write_config(tmp_path / f"c{i}.json", config), [])
        assert done.returncode == 78, (config, done.stderr[-1500:])
        _no_traceback(done.stderr)
        errors = error_lines(done.stderr)
        # exactly one line per problem, each naming its setting; no generic extra line
        assert len(errors) == len(needles), (config, errors)
        for line, needle in zip(errors, needles, strict=True):
            assert "Configuration error: " in line and needle in line, (config, line)
        assert "Config validation failed" not in done.stderr
        assert secret not in done.stderr + done.stdout
        assert "12345678" not in done.stderr


def test_unknown_sign_in_type_stops_with_nothing_half_written(tmp_path):
    odd = {**SIGN_IN, "type": "Sign in (SSO)", "event_id": "e" * 64}
    msgs = [
        schema("activities"),
        record("activities", SIGN_IN),
        state({"b": 1}),
        record("activities", {**SIGN_IN, "type": "Sign out", "event_id": "d" * 64}),
        record("activities", odd),
        state({"b": 2}),
    ]
    done = run_target(_config(tmp_path), msgs)
    assert done.returncode == 65
    _no_traceback(done.stderr)
    (line,) = error_lines(done.stderr)
    assert "'type'" in line and "Sign in (SSO)" in line and "schema_profile" in line
    assert states(done.stdout) == [{"b": 1}]  # the STATE after the bad record is withheld
    rows = read_rows(tmp_path / "out" / AUTH)  # every line parses, only acknowledged rows
    assert [r["EventOriginalUid"] for r in rows] == [SIGN_IN["event_id"]]


def test_unwritable_output_dir_fails_without_acknowledging(tmp_path):
    blocker = tmp_path / "not-a-dir"
    blocker.write_text("x")
    config = write_config(tmp_path / "c.json", {"output_dir": str(blocker)})
    done = run_target(
        config, [schema("activities"), record("activities", SIGN_IN), state({"b": 1})]
    )
    assert done.returncode == 1
    _no_traceback(done.stderr)
    (line,) = error_lines(done.stderr)
    assert "output_dir" in line
    assert done.stdout == ""
    assert os.path.isfile(blocker)
