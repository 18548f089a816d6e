"""target-defender under SIGTERM/SIGINT: read the tap's output to its end, then exit 128 + signal.

The real CLI in a subprocess, real signals. What the user checks: rows on disk, the STATE lines
acknowledged on stdout, the exit code a scheduler records.
"""

from __future__ import annotations

import json
import queue
import signal
import subprocess
import threading
import time

import pytest

from .singer_io import TARGET, activity, encode, read_rows, record, schema, state, states
from .test_jsonl_cli import AUTH, _config, _no_traceback, _stream_input


def _start(tmp_path):
    proc = subprocess.Popen(
        [TARGET, "--config", str(_config(tmp_path, batch_size_rows=100000))],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    acks: queue.Queue[str] = queue.Queue()
    threading.Thread(target=lambda: [acks.put(x) for x in proc.stdout], daemon=True).start()
    return proc, acks


def _uids(tmp_path) -> list[str]:
    path = tmp_path / "out" / AUTH
    return [r["EventOriginalUid"] for r in read_rows(path)] if path.exists() else []


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
def test_after_a_signal_the_rest_of_the_input_is_written_and_acknowledged(tmp_path, signum):
    # The whole pipeline got the signal: the tap still sends its last records and final STATE.
    proc, acks = _start(tmp_path)
    proc.stdin.write(encode(_stream_input(0, 30, every=30)))
    proc.stdin.flush()
    assert json.loads(acks.get(timeout=30)) == {"bookmarks": {"activities": {"done": 30}}}

    proc.send_signal(signum)
    tail = [record("activities", activity(i)) for i in range(30, 45)]
    proc.stdin.write(encode([*tail, state({"bookmarks": {"activities": {"done": 45}}})]))
    proc.stdin.close()
    proc.wait(timeout=30)
    err = proc.stderr.read()

    assert proc.returncode == 128 + signum  # a cut run, not a success
    assert json.loads(acks.get(timeout=5)) == {"bookmarks": {"activities": {"done": 45}}}
    assert acks.empty()  # each STATE acknowledged once
    assert _uids(tmp_path) == [f"{i:064x}" for i in range(45)]
    assert f"Stopped by {signal.Signals(signum).name}" in err
    _no_traceback(err)


def test_a_second_signal_stops_reading_and_writes_nothing_unacknowledged(tmp_path):
    # Only the target was stopped and the tap keeps its pipe open: a second SIGTERM (or the
    # grace period) ends the read. Rows after the last STATE are not written: no acknowledged
    # STATE covers them, so the tap sends them again; writing them would duplicate them.
    proc, acks = _start(tmp_path)
    msgs = _stream_input(0, 20, every=20)
    msgs += [record("activities", activity(i)) for i in range(20, 27)]  # no STATE after these
    proc.stdin.write(encode(msgs))
    proc.stdin.flush()
    assert json.loads(acks.get(timeout=30)) == {"bookmarks": {"activities": {"done": 20}}}

    proc.send_signal(signal.SIGTERM)
    time.sleep(0.5)  # two signals sent at once are delivered as one
    proc.send_signal(signal.SIGTERM)
    # stdin still open: it did not wait for the end of input, nor the 10 s grace period (9 s:
    # a loaded CI machine can take seconds to schedule the exit)
    proc.wait(timeout=9)
    err = proc.stderr.read()
    proc.stdin.close()

    assert proc.returncode == 143
    assert acks.empty()  # nothing new acknowledged ...
    assert _uids(tmp_path) == [f"{i:064x}" for i in range(20)]  # ... and nothing unacknowledged
    assert "were not written" in err
    _no_traceback(err)


def test_sigterm_with_nothing_pending_exits_143_and_repeats_no_state(tmp_path):
    proc, acks = _start(tmp_path)
    proc.stdin.write(encode([schema("activities"), *_stream_input(0, 5, every=5)[1:]]))
    proc.stdin.flush()
    first = acks.get(timeout=30)
    proc.send_signal(signal.SIGTERM)
    proc.stdin.close()
    proc.wait(timeout=30)
    err = proc.stderr.read()
    assert states(first) == [{"bookmarks": {"activities": {"done": 5}}}]
    assert acks.empty()
    assert len(_uids(tmp_path)) == 5
    assert proc.returncode == 143
    _no_traceback(err)
