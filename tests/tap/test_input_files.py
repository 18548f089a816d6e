"""Malformed --state and --catalog files through the real tap CLI: one line, exit 65, no data.

Each file below once ended in a traceback (exit 1), or worse, was taken as "no state" and
re-sent every event (exit 0), or froze a stream (exit 0, nothing loaded, the bad bookmark
saved again). Now each is one ERROR line naming the file, the problem and the fix, exit 65,
and nothing is emitted: no RECORD, no STATE that could overwrite the stored state.
"""

from __future__ import annotations

import copy
import json
import subprocess
from collections.abc import Callable
from datetime import datetime, timedelta, timezone

import pytest

from .helpers import TAP, parse_messages, write_config

EXIT_DATA = 65
GOOD_BOOKMARK = (datetime.now(timezone.utc) - timedelta(days=1)).strftime("%Y-%m-%dT%H:%M:%SZ")
_AHEAD = (datetime.now(timezone.utc) + timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M:%SZ")


def _run(tmp_path, sandbox, option: str, text: str) -> subprocess.CompletedProcess:
    path = tmp_path / f"{option.strip('-')}.json"
    path.write_text(text)
    config = write_config(tmp_path, sandbox.tap_config(lookback_days=2))
    return subprocess.run(
        [TAP, "--config", str(config), option, str(path)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        cwd=tmp_path,
    )


def _expect_refused(done: subprocess.CompletedProcess, option: str, *needles: str) -> str:
    assert done.returncode == EXIT_DATA, done.stderr[-3000:]
    assert "Traceback" not in done.stderr
    errors = [line for line in done.stderr.splitlines() if "| ERROR" in line]
    assert len(errors) == 1, errors
    line = errors[0]
    assert f"{option} " in line and f"{option.strip('-')}.json" in line, line
    for needle in needles:
        assert needle in line, line
    kinds = {m["type"] for m in parse_messages(done.stdout)}
    assert not kinds & {"RECORD", "STATE"}, kinds
    return line


def _entry(**entry: object) -> str:
    return json.dumps({"bookmarks": {"activities": entry}})


@pytest.mark.parametrize(
    ("text", "needles"),
    [
        pytest.param("[]", ["holds an array", "drop --state"], id="top-level-array"),
        pytest.param("null", ["holds null"], id="top-level-null"),
        pytest.param('"state.json"', ["holds a string"], id="top-level-string"),
        pytest.param("42", ["holds a number"], id="top-level-number"),
        pytest.param('{"bookmarks": []}', ["'bookmarks' is an array"], id="bookmarks-array"),
        pytest.param('{"bookmarks": null}', ["'bookmarks' is null"], id="bookmarks-null"),
        pytest.param(
            '{"bookmarks": {"activities": []}}',
            ["stream activities is an array", "remove the stream's entry"],
            id="entry-array",
        ),
        pytest.param(
            '{"bookmarks": {"users": "done"}}', ["stream users is a string"], id="users-entry"
        ),
        pytest.param(
            _entry(replication_key_value=5),
            ["replication_key_value is a number", "2026-01-31T00:00:00Z"],
            id="bookmark-number",
        ),
        pytest.param(_entry(replication_key_value=""), ["an empty string"], id="bookmark-empty"),
        pytest.param(_entry(replication_key_value=None), ["is null"], id="bookmark-null"),
        pytest.param(
            _entry(replication_key_value="yesterday"), ["'yesterday' is not"], id="bookmark-text"
        ),
        pytest.param(
            _entry(replication_key_value="2099-01-01T00:00:00Z"),
            ["activities", "2099-01-01T00:00:00Z", "later than now", "replication_key_value"],
            id="bookmark-2099",
        ),
        pytest.param(
            _entry(replication_key_value=_AHEAD), ["later than now", _AHEAD], id="bookmark-1h"
        ),
        pytest.param(
            json.dumps(
                {"bookmarks": {"operation_logs": {"replication_key_value": "2099-01-01T00:00:00Z"}}}
            ),
            ["operation_logs", "2099-01-01T00:00:00Z"],
            id="operation-logs-2099",
        ),
        pytest.param(
            _entry(replication_key_value=GOOD_BOOKMARK, emitting="abc"),
            ["'emitting' must be a list"],
            id="emitting-string",
        ),
        pytest.param(
            _entry(replication_key_value=GOOD_BOOKMARK, partitions=5),
            ["'partitions'"],
            id="partitions",
        ),
        pytest.param(
            _entry(replication_key_value=GOOD_BOOKMARK, progress_markers=[]),
            ["'progress_markers' is an array"],
            id="progress-markers",
        ),
    ],
)
def test_malformed_state_is_one_line_exit_65_and_nothing_emitted(tmp_path, sandbox, text, needles):
    _expect_refused(_run(tmp_path, sandbox, "--state", text), "--state", *needles)


def test_a_bookmark_up_to_now_is_accepted(tmp_path, sandbox):
    """The tolerance: a bookmark a minute ahead (clocks differ a little) still syncs."""
    ahead = (datetime.now(timezone.utc) + timedelta(minutes=1)).strftime("%Y-%m-%dT%H:%M:%SZ")
    done = _run(tmp_path, sandbox, "--state", _entry(replication_key_value=ahead))
    assert done.returncode == 0, done.stderr[-3000:]
    assert not [line for line in done.stderr.splitlines() if "| ERROR" in line]


Edit = Callable[[dict], object]


def _stream(catalog: dict, name: str = "activities") -> dict:
    return next(s for s in catalog["streams"] if s["tap_stream_id"] == name)


def _metadata(catalog: dict) -> dict:
    return next(m for m in _stream(catalog)["metadata"] if m["breadcrumb"] == [])["metadata"]


CATALOG_EDITS: list = [
    pytest.param(lambda c: [], ["holds an array", "--discover"], id="top-level-array"),
    pytest.param(lambda c: None, ["holds null"], id="top-level-null"),
    pytest.param(lambda c: {}, ["'streams' is missing"], id="no-streams"),
    pytest.param(lambda c: {"streams": {}}, ["'streams' is an object"], id="streams-object"),
    pytest.param(lambda c: {"streams": [5]}, ["streams[0] is a number"], id="stream-number"),
    pytest.param(
        lambda c: _stream(c).pop("tap_stream_id") and c, ["no tap_stream_id"], id="no-stream-id"
    ),
    pytest.param(
        lambda c: _stream(c).pop("schema") and c,
        ["stream activities", "'schema'"],
        id="no-schema",
    ),
    pytest.param(
        lambda c: _stream(c)["schema"].update(properties=5) or c,
        ["stream activities", "'schema'"],
        id="properties-number",
    ),
    pytest.param(
        lambda c: _stream(c)["schema"]["properties"].pop("time") and c,
        ["lacks 'time'", "deselect"],
        id="schema-without-time",
    ),
    pytest.param(
        lambda c: _stream(c)["schema"]["properties"].pop("email") and c,
        ["lacks 'email'"],
        id="schema-without-email",
    ),
    pytest.param(
        lambda c: _stream(c).update(metadata=5) or c, ["'metadata' is a number"], id="md-number"
    ),
    pytest.param(
        lambda c: _stream(c).update(metadata=[5]) or c, ["'metadata' entry"], id="md-entry"
    ),
    pytest.param(
        lambda c: _metadata(c).update(selected="false") or c,
        ["'selected' is a string"],
        id="selected-string",
    ),
    pytest.param(
        lambda c: _stream(c).update(key_properties="event_id") or c,
        ["key_properties"],
        id="key-properties-string",
    ),
]


@pytest.fixture(scope="module")
def discovered(tmp_path_factory, session_sandbox) -> dict:
    tmp = tmp_path_factory.mktemp("discover")
    config = write_config(tmp, session_sandbox.tap_config())
    done = subprocess.run(
        [TAP, "--config", str(config), "--discover"],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    return json.loads(done.stdout)


@pytest.mark.parametrize(("edit", "needles"), CATALOG_EDITS)
def test_malformed_catalog_is_one_line_exit_65_and_nothing_emitted(
    tmp_path, sandbox, discovered, edit, needles
):
    catalog = json.dumps(edit(copy.deepcopy(discovered)))
    _expect_refused(_run(tmp_path, sandbox, "--catalog", catalog), "--catalog", *needles)


def test_the_discovered_catalog_is_accepted(tmp_path, sandbox, discovered):
    done = _run(tmp_path, sandbox, "--catalog", json.dumps(discovered))
    assert done.returncode == 0, done.stderr[-3000:]
    assert any(m["type"] == "RECORD" for m in parse_messages(done.stdout))
