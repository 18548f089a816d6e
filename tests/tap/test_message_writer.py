"""The tap's Singer writer: the SDK's exact lines, RECORDs unflushed, nothing lost at exit.

In-process tests compare ``ZoomMessageWriter`` with the SDK's ``SingerWriter`` on the same
message objects; the CLI tests read the real tap's stdout (with and without
``PYTHONUNBUFFERED``) the way a target does.
"""

from __future__ import annotations

import io
import json
import math
import os
import subprocess
import sys
from collections import Counter
from datetime import datetime, timezone
from decimal import Decimal
from pathlib import Path

import pytest
from singer_sdk.io_base import SingerWriter
from singer_sdk.singerlib import (
    ActivateVersionMessage,
    RecordMessage,
    SchemaMessage,
    StateMessage,
)
from singer_sdk.singerlib.json import deserialize_json

from tap_zoom_defender.message_writer import ZoomMessageWriter

from .helpers import TAP, StubZoom, parse_messages, seen_ids, write_config

EXTRACTED = datetime(2026, 11, 27, 9, 30, 15, 123456, tzinfo=timezone.utc)
UNPACED = {"Light": 1000, "Medium": 1000, "Heavy": 1000, "Resource-intensive": 1000}
SDK = SingerWriter()
OURS = ZoomMessageWriter()

EDGE_RECORDS = {
    "non-ascii-names": {
        "email": "jürgen.müller@example.com",
        "first_name": "Zoë 李 \U0001f600",
        "operation_detail": 'quote " backslash \\ newline \n tab \t nul \x00 del \x7f \u2028',
    },
    "datetime-in-record": {"time": datetime(2026, 1, 2, 3, 4, 5, tzinfo=timezone.utc)},
    "naive-datetime": {"time": datetime(2026, 1, 2, 3, 4, 5, 6)},
    "decimal": {"amount": Decimal("1.10"), "big": Decimal("12345678901234567890.000001")},
    "nan": {"score": math.nan, "list": [1.5, math.nan]},
    "infinity": {"score": math.inf, "neg": -math.inf},
    "floats-ints-bools": {
        "f": 0.1,
        "e": 1e-07,
        "big_f": 1e300,
        "neg0": -0.0,
        "i": 2**70,
        "t": True,
        "n": None,
    },
    "nested": {"group_ids": ["g1", "g2"], "custom_attributes": [{"key": "k", "value": "v"}]},
    "non-string-keys": {"map": {1: "a", 1.5: "b", False: "c", None: "d"}},
    "date-and-other-types": {"day": datetime(2026, 1, 2).date(), "tuple": (1, 2)},
}


def _record(record: dict, **kwargs: object) -> RecordMessage:
    return RecordMessage(stream="activities", record=record, **kwargs)  # type: ignore[arg-type]


@pytest.mark.parametrize("name", list(EDGE_RECORDS))
def test_edge_case_records_are_byte_for_byte_the_sdks(name):
    for message in (
        _record(EDGE_RECORDS[name]),
        _record(EDGE_RECORDS[name], time_extracted=EXTRACTED, version=1764235815),
    ):
        line = OURS.format_message(message)
        assert line == SDK.format_message(message)
        assert "\n" not in line and line.isascii()
        assert json.loads(line)["type"] == "RECORD"


def test_sandbox_records_of_every_stream_are_byte_for_byte_the_sdks(session_sandbox):
    compared = Counter()
    for stream in ("users", "activities", "operation_logs"):
        for record in session_sandbox.ground_truth(stream):
            message = RecordMessage(stream=stream, record=record, time_extracted=EXTRACTED)
            assert OURS.format_message(message) == SDK.format_message(message)
            compared[stream] += 1
    assert all(compared[s] > 0 for s in ("users", "activities", "operation_logs")), compared


def test_other_messages_are_formatted_by_the_sdk():
    messages = [
        SchemaMessage(stream="users", schema={"type": "object"}, key_properties=["id"]),
        StateMessage(value={"bookmarks": {"activities": {"replication_key_value": "é"}}}),
        ActivateVersionMessage(stream="users", version=3),
    ]
    for message in messages:
        assert OURS.format_message(message) == SDK.format_message(message)


class _FlushCountingStdout(io.StringIO):
    """A stdout stand-in that counts flushes (what a target would see arrive)."""

    def __init__(self) -> None:
        super().__init__()
        self.flushes: list[int] = []  # number of lines written at each flush

    def flush(self) -> None:
        self.flushes.append(self.getvalue().count("\n"))
        super().flush()


def test_records_are_not_flushed_and_every_other_message_is(monkeypatch):
    out = _FlushCountingStdout()
    monkeypatch.setattr(sys, "stdout", out)
    writer = ZoomMessageWriter()
    writer.write_message(SchemaMessage(stream="activities", schema={"type": "object"}))
    for n in range(3):
        writer.write_message(_record({"n": n}, time_extracted=EXTRACTED))
    writer.write_message(StateMessage(value={"bookmarks": {}}))
    writer.write_message(_record({"n": 3}))
    writer.write_message(ActivateVersionMessage(stream="activities", version=1))

    types = [m["type"] for m in parse_messages(out.getvalue())]
    assert types == ["SCHEMA", "RECORD", "RECORD", "RECORD", "STATE", "RECORD", "ACTIVATE_VERSION"]
    assert out.flushes == [1, 5, 7]  # after SCHEMA, STATE and ACTIVATE_VERSION only


def test_lines_go_to_whatever_stdout_is_at_call_time(monkeypatch):
    writer = ZoomMessageWriter()
    first, second = io.StringIO(), io.StringIO()
    monkeypatch.setattr(sys, "stdout", first)
    writer.write_message(_record({"n": 1}))
    monkeypatch.setattr(sys, "stdout", second)
    writer.write_message(_record({"n": 2}))
    assert [m["record"] for m in parse_messages(first.getvalue())] == [{"n": 1}]
    assert [m["record"] for m in parse_messages(second.getvalue())] == [{"n": 2}]


def test_write_through_stdout_batches_records_until_the_next_state(monkeypatch):
    """PYTHONUNBUFFERED makes stdout write-through: records would cost a system call each."""
    read_fd, write_fd = os.pipe()
    os.set_blocking(read_fd, False)
    raw = io.FileIO(write_fd, "w")  # unbuffered, as under PYTHONUNBUFFERED=1
    out = io.TextIOWrapper(raw, encoding="utf-8", write_through=True)
    monkeypatch.setattr(sys, "stdout", out)
    monkeypatch.setattr(sys, "__stdout__", out)  # the process's own stdout, as in the CLI
    try:
        writer = ZoomMessageWriter()
        for n in range(3):
            writer.write_message(_record({"n": n}))
        with pytest.raises(BlockingIOError):
            os.read(read_fd, 65536)  # nothing reached the pipe yet
        writer.write_message(StateMessage(value={"done": True}))
        lines = os.read(read_fd, 65536).decode().splitlines()
    finally:
        monkeypatch.undo()
        out.close()
        os.close(read_fd)
    assert [json.loads(line)["type"] for line in lines] == ["RECORD"] * 3 + ["STATE"]


# ------------------------------------------------------------------------- the real CLI


def _run_cli(tmp_path: Path, config: dict, *, unbuffered: bool) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if not k.startswith("TAP_ZOOM_DEFENDER_")}
    env["XDG_STATE_HOME"] = str(tmp_path / "xdg")
    env.pop("PYTHONUNBUFFERED", None)
    if unbuffered:
        env["PYTHONUNBUFFERED"] = "1"
    return subprocess.run(
        [TAP, "--config", str(write_config(tmp_path, config))],
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
        cwd=tmp_path,
        check=False,
    )


def _sdk_line(line: str) -> str:
    """What the SDK's writer prints for the message this line carries."""
    data = deserialize_json(line)  # numbers as Decimal, as the SDK reads them
    data.pop("type")
    return SDK.format_message(RecordMessage.from_dict({"type": "RECORD", **data}))


@pytest.mark.parametrize("unbuffered", [False, True], ids=["buffered", "PYTHONUNBUFFERED"])
def test_cli_output_is_the_sdks_and_every_state_follows_its_records(
    tmp_path, session_sandbox, unbuffered
):
    config = session_sandbox.tap_config(window_days=1, rate_limit_share=1)
    proc = _run_cli(tmp_path, config, unbuffered=unbuffered)
    assert proc.returncode == 0, proc.stderr[-3000:]
    lines = proc.stdout.splitlines()
    messages = [json.loads(line) for line in lines]  # every line is one JSON message

    records = [(i, m) for i, m in enumerate(messages) if m["type"] == "RECORD"]
    for i, _ in records:
        assert lines[i] == _sdk_line(lines[i])

    # Nothing is missing at the end: every record of the account, and the final STATE last.
    counts = Counter(m["stream"] for _, m in records)
    for stream in ("users", "activities", "operation_logs"):
        assert counts[stream] == len(session_sandbox.ground_truth(stream)), stream
    assert messages[-1]["type"] == "STATE"

    # Every STATE covers only records already written above it.
    states = [(i, m["value"]) for i, m in enumerate(messages) if m["type"] == "STATE"]
    covered_somewhere = 0
    for i, state in states:
        written = {m["record"].get("event_id", "")[:16] for j, m in records if j < i}
        for stream in ("activities", "operation_logs"):
            ids = {key[:16] for key in seen_ids(state.get("bookmarks", {}).get(stream, {}))}
            assert ids <= written, f"STATE at line {i} covers {stream} records not yet written"
            covered_somewhere += len(ids)
    assert covered_somewhere > 0  # the check above saw real ids


def _user(n: int) -> dict:
    return {
        "id": f"user-{n}",
        "email": f"user{n}@example.com",
        "first_name": "Zoë",
        "last_name": "Müller",
        "type": 1,
        "status": "active",
        "created_at": "2026-01-02T03:04:05Z",
    }


def test_records_after_the_last_state_are_written_when_the_tap_fails(tmp_path):
    """Zoom fails on the 2nd users page: page 1's records have no STATE after them to flush them."""

    def users(query: dict) -> tuple[int, dict, list]:
        if query.get("status") != ["active"]:
            return 200, {"next_page_token": "", "users": []}, []
        if "next_page_token" not in query:
            page = [_user(n) for n in range(25)]
            return 200, {"next_page_token": "page-2", "users": page}, []
        return 400, {"code": 300, "message": "Invalid next_page_token"}, []

    with StubZoom({"/v2/users": users}, token="stub-token") as zoom:
        config = zoom.tap_config(max_workers=1, lookback_days=1, rate_limits_per_second=UNPACED)
        proc = _run_cli(tmp_path, config, unbuffered=False)

    assert proc.returncode == 76, proc.stderr[-3000:]
    assert "Traceback" not in proc.stderr
    messages = [json.loads(line) for line in proc.stdout.splitlines()]
    users_out = [m["record"]["id"] for m in messages if m["type"] == "RECORD"]
    assert users_out == [f"user-{n}" for n in range(25)]
    # Users come first: no STATE follows their records (nor, here, precedes them).
    states = [i for i, m in enumerate(messages) if m["type"] == "STATE"]
    assert messages[-1]["type"] == "RECORD" and max(states, default=-1) < len(messages) - 25
