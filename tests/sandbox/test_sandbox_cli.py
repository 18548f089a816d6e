"""The zoom-sandbox console script: help, a real server in a subprocess, clean shutdown."""

from __future__ import annotations

import json
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import requests

from tap_zoom_defender.sandbox.cli import build_parser

EXE = Path(sys.executable).with_name("zoom-sandbox")


def test_help_documents_every_option():
    out = subprocess.run([EXE, "--help"], capture_output=True, text=True, timeout=30)
    assert out.returncode == 0
    required = (
        "--plan --users --days --seed --host --port --token-ttl --page-token-ttl --daily-quota "
        "--no-rate-limits --live --latency --latency-jitter --error-rate --bare-429-rate "
        "--drop-rate --truncate-rate --malformed-rate --slow-rate --slow-seconds "
        "--short-page-rate --page-token-expiry-rate --revoke-after --url-file --late-fraction"
    ).split()
    for option in required:
        assert re.search(rf"^  {re.escape(option)}\b.*\n?.*\S", out.stdout, re.M), option
    undocumented = [a.dest for a in build_parser()._actions if not a.help]
    assert undocumented == []


def test_serves_until_sigterm_and_writes_the_url_file(tmp_path):
    url_file = tmp_path / "sandbox.json"
    proc = subprocess.Popen(
        [EXE, "--port", "0", "--users", "8", "--days", "1", "--url-file", str(url_file)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        deadline = time.monotonic() + 20
        while not url_file.exists():
            assert proc.poll() is None, proc.stderr.read()
            assert time.monotonic() < deadline, "no url file"
            time.sleep(0.05)
        info = json.loads(url_file.read_text())
        token = requests.post(
            info["oauth_url"],
            params={"grant_type": "refresh_token", "refresh_token": info["refresh_token"]},
            auth=(info["client_id"], info["client_secret"]),
            timeout=10,
        ).json()["access_token"]
        r = requests.get(
            info["api_url"] + "/users", headers={"Authorization": f"Bearer {token}"}, timeout=10
        )
        assert r.status_code == 200 and r.json()["users"]
    finally:
        proc.send_signal(signal.SIGTERM)
        out, err = proc.communicate(timeout=20)
    assert proc.returncode == 0, err
    assert info["base_url"] in out
    assert "Traceback" not in err


def test_bad_option_is_one_error_line():
    out = subprocess.run(
        [EXE, "--users", "0", "--port", "0"], capture_output=True, text=True, timeout=30
    )
    assert out.returncode == 2
    assert out.stderr.strip() == "zoom-sandbox: error: users must be at least 1"


def test_control_routes_drive_a_sandbox_in_another_process(tmp_path):
    url_file = tmp_path / "sandbox.json"
    proc = subprocess.Popen(
        [EXE, "--port", "0", "--users", "8", "--days", "2", "--url-file", str(url_file)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        deadline = time.monotonic() + 20
        while not url_file.exists():
            assert proc.poll() is None and time.monotonic() < deadline
            time.sleep(0.05)
        info = json.loads(url_file.read_text())
        control = info["base_url"] + "/_sandbox/"
        truth = requests.get(control + "ground_truth", params={"stream": "activities"}, timeout=10)
        assert truth.status_code == 200 and truth.json()["records"]
        assert requests.post(control + "faults", json={"error_rate": 1.0}, timeout=10).ok
        token = requests.post(
            info["oauth_url"],
            params={"grant_type": "account_credentials", "account_id": info["account_id"]},
            auth=(info["client_id"], info["client_secret"]),
            timeout=10,
        )
        assert token.status_code >= 500
        assert requests.delete(control + "faults", timeout=10).ok
        log = requests.get(control + "request_log", timeout=10).json()["entries"]
        assert [(e["path"], e["status"], e["fault"]) for e in log] == [
            ("/oauth/token", token.status_code, "error")
        ]
        before = requests.get(control + "status", timeout=10).json()["now"]
        after = requests.post(control + "advance_clock", params={"seconds": 86400}, timeout=10)
        assert after.json()["now"][:10] > before[:10]
        bad = requests.get(control + "ground_truth", params={"stream": "nope"}, timeout=10)
        assert bad.status_code == 400
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.communicate(timeout=20)
    assert proc.returncode == 0


def test_port_in_use_is_one_error_line_naming_the_option(sandbox):
    out = subprocess.run(
        [EXE, "--port", str(sandbox.port), "--users", "3", "--days", "1"],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert out.returncode == 2
    assert len(out.stderr.strip().splitlines()) == 1
    assert "--port" in out.stderr and "Traceback" not in out.stderr
