"""SIGTERM / SIGINT to the real tap CLI: a clean stop at a safe point, exit 128 + signal.

What a scheduler and an operator check: the exit code, that every line on stdout is whole,
that the final STATE counts only records that really reached stdout, that a resumed run then
emits exactly the rest, and that an OAuth app's refresh-token chain survives the stop.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import threading
import time
from collections import Counter
from datetime import datetime, timedelta, timezone

import pytest
import requests

from tests.tap.helpers import busy_hour

from .helpers import TAP, as_counter, run_tap

ACCOUNT = {"users": 40, "days": 6, "late_fraction": 0.0}
SETTINGS = {"window_days": 1, "lookback_days": 7, "page_size": 100, "max_workers": 4}


def _env(tmp_path, *, unbuffered: bool) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("TAP_ZOOM_DEFENDER_")}
    env["XDG_STATE_HOME"] = str(tmp_path / "xdg")
    env.pop("PYTHONUNBUFFERED", None)
    if unbuffered:
        env["PYTHONUNBUFFERED"] = "1"
    return env


def _config_file(tmp_path, config: dict, name: str):
    path = tmp_path / f"{name}.json"
    path.write_text(json.dumps({"quota_state_path": str(tmp_path / "quota.sqlite"), **config}))
    return path


def _id_prefixes(entry: dict) -> set[str]:
    """The 16-hex id prefixes a stream's state counts as emitted (``seen`` + ``emitting``)."""
    out = set()
    for chunk in entry.get("seen", []) + entry.get("emitting", []):
        ids = chunk.partition(" ")[2]
        out.update(ids[i : i + 16] for i in range(0, len(ids), 16))
    return out


@pytest.mark.parametrize(
    ("signum", "unbuffered"),
    [(signal.SIGTERM, True), (signal.SIGTERM, False), (signal.SIGINT, True)],
    ids=["SIGTERM-PYTHONUNBUFFERED", "SIGTERM-buffered", "SIGINT-PYTHONUNBUFFERED"],
)
def test_signal_while_blocked_on_a_slow_reader_loses_nothing(
    tmp_path, sandbox_factory, signum, unbuffered
):
    # The target reads slowly, so the tap's writes block on a full pipe when the signal lands:
    # where a torn line or a dropped chunk would happen if anything were written from the
    # signal handler, or if a partial write were ignored (PYTHONUNBUFFERED's raw stdout).
    # A weekday afternoon: every day window holds sign-ins whenever the suite runs (on a Sunday
    # night the windows done before the signal can all be empty, and the STATE counts none).
    sb = sandbox_factory(**ACCOUNT, now=busy_hour())
    sb.set_faults("/report/activities", latency=0.01)
    proc = subprocess.Popen(
        [TAP, "--config", str(_config_file(tmp_path, sb.tap_config(**SETTINGS), "config"))],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=_env(tmp_path, unbuffered=unbuffered),
        cwd=tmp_path,
    )
    stderr: list[bytes] = []
    threading.Thread(target=lambda: stderr.extend(proc.stderr), daemon=True).start()
    data = b""
    signalled = False
    while True:
        chunk = proc.stdout.read1(4096)
        if not chunk:
            break
        data += chunk
        if not signalled and data.count(b'"type":"STATE"') >= 3:
            proc.send_signal(signum)  # mid-sync, with records after the last STATE in flight
            signalled = True
        time.sleep(0.002)
    returncode = proc.wait(timeout=60)
    err = b"".join(stderr).decode()

    assert signalled
    assert returncode == 128 + signum, err[-3000:]
    messages = [json.loads(line) for line in data.decode().splitlines()]  # no torn line
    emitted = [
        m["record"] for m in messages if m["type"] == "RECORD" and m["stream"] == "activities"
    ]
    final = [m["value"] for m in messages if m["type"] == "STATE"][-1]
    counted = _id_prefixes(final["bookmarks"]["activities"])
    written = {r["event_id"][:16] for r in emitted}
    assert counted, "the final STATE counts the records of the stopped sync"
    assert counted <= written, f"{len(counted - written)} counted records never reached stdout"
    assert f"Stopped by {signal.Signals(signum).name}" in err
    assert "Traceback" not in err

    run2 = run_tap(tmp_path, sb.tap_config(**SETTINGS), state=final, name="resume")
    assert run2.returncode == 0, run2.stderr[-3000:]
    activities = emitted + run2.records("activities")
    ids = Counter(r["event_id"] for r in activities)
    assert [i for i, n in ids.items() if n > 1] == [], "an event was emitted twice"
    assert as_counter(activities) == as_counter(sb.ground_truth("activities"))


def _refresh_config(sb, store):
    config = sb.tap_config(refresh_token=sb.issue_refresh_token(), token_store_path=str(store))
    del config["account_id"]
    return {**config, **SETTINGS}


def _token_posts(sb) -> int:
    return sum(1 for e in sb.request_log if e.path.startswith("/oauth/token"))


def test_sigterm_during_a_token_refresh_keeps_the_refresh_token_chain(tmp_path, sandbox_factory):
    # Zoom rotates the refresh token as soon as the request arrives: a process that dies
    # before storing the answer leaves only a dead token behind (the admin must consent again).
    sb = sandbox_factory(users=10, days=2, token_ttl=2)
    sb.set_faults("/oauth/token", latency=0.5)
    store = tmp_path / "zoom-token.json"
    config = _refresh_config(sb, store)
    proc = subprocess.Popen(
        [TAP, "--config", str(_config_file(tmp_path, config, "config"))],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
        env=_env(tmp_path, unbuffered=True),
        cwd=tmp_path,
    )
    lines = []
    for line in proc.stderr:
        lines.append(line)
        if "Requesting a Zoom access token" in line:
            time.sleep(0.15)  # the request is on its way: Zoom will rotate the token
            proc.send_signal(signal.SIGTERM)
            break
    lines.extend(proc.stderr)
    returncode = proc.wait(timeout=60)
    err = "".join(lines)
    assert returncode == 143, err[-3000:]
    assert "Saved the rotated refresh token" in err  # stored before the process ended
    assert "Traceback" not in err

    time.sleep(2)  # the stored access token (2 s tokens here) is due for renewal: run 2 refreshes
    sb.clear_faults()
    before = _token_posts(sb)
    run2 = run_tap(tmp_path, config, name="after")
    assert run2.returncode == 0, run2.stderr[-3000:]
    assert _token_posts(sb) > before  # it refreshed with the stored token
    assert len(run2.records("users")) == 10


def test_a_run_within_the_hour_reuses_the_stored_access_token(tmp_path, sandbox_factory):
    # Each refresh is a moment in which a SIGKILL can cut the chain: runs within the access
    # token's hour make none. Zoom's clock (3 h behind this machine's here) is still followed:
    # without a token answer, one small request tells it.
    sb = sandbox_factory(users=10, days=2, now=datetime.now(timezone.utc) - timedelta(hours=3))
    store = tmp_path / "zoom-token.json"
    config = _refresh_config(sb, store)
    run1 = run_tap(tmp_path, config, name="first")
    assert run1.returncode == 0, run1.stderr[-3000:]
    posts = _token_posts(sb)
    assert posts == 1
    stored = json.loads(store.read_text())
    assert oct(store.stat().st_mode & 0o777) == "0o600"

    run2 = run_tap(tmp_path, config, name="second")
    assert run2.returncode == 0, run2.stderr[-3000:]
    assert _token_posts(sb) == posts  # no refresh at all
    assert len(run2.records("users")) == 10
    bookmark = run2.state["bookmarks"]["activities"]["replication_key_value"]
    assert datetime.fromisoformat(bookmark.replace("Z", "+00:00")) <= sb.now()
    assert json.loads(store.read_text())["refresh_token"] == stored["refresh_token"]
    for text in (run1.stderr, run2.stderr, json.dumps([m for m in run2.messages])):
        assert stored["access_token"] not in text
        assert stored["refresh_token"] not in text
    # The stored refresh token is still the live one.
    response = requests.post(
        sb.oauth_url,
        data={"grant_type": "refresh_token", "refresh_token": stored["refresh_token"]},
        auth=(sb.client_id, sb.client_secret),
        timeout=10,
    )
    assert response.status_code == 200
