"""Run the real tap CLI in a subprocess and read what a user would read: messages, state, errors."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

TAP = str(Path(sys.executable).parent / "tap-zoom-defender")


@dataclass
class TapRun:
    """One finished tap process."""

    returncode: int
    stdout: str
    stderr: str
    messages: list[dict] = field(default_factory=list)

    def records(self, stream: str) -> list[dict]:
        """RECORD payloads of one stream, in emission order."""
        return [
            m["record"] for m in self.messages if m["type"] == "RECORD" and m["stream"] == stream
        ]

    @property
    def states(self) -> list[dict]:
        """Every STATE value, in order."""
        return [m["value"] for m in self.messages if m["type"] == "STATE"]

    @property
    def state(self) -> dict:
        """The last STATE value (what Meltano would store)."""
        assert self.states, f"no STATE message; stderr:\n{self.stderr[-2000:]}"
        return self.states[-1]

    def error_lines(self) -> list[str]:
        """Log lines at ERROR level."""
        return [line for line in self.stderr.splitlines() if "| ERROR" in line]

    def counts(self) -> Counter:
        """RECORD counts per stream."""
        return Counter(m["stream"] for m in self.messages if m["type"] == "RECORD")


def write_config(tmp_path: Path, config: dict[str, Any], name: str = "config.json") -> Path:
    """Write a config file; the quota file goes under tmp_path so tests never share a budget."""
    config = dict(config)
    config.setdefault("quota_state_path", str(tmp_path / "quota.sqlite"))
    path = tmp_path / name
    path.write_text(json.dumps(config))
    return path


def _env(tmp_path: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("TAP_ZOOM_DEFENDER_")}
    env["XDG_STATE_HOME"] = str(tmp_path / "xdg")
    return env


def run_tap(
    tmp_path: Path,
    config: dict[str, Any],
    *,
    state: dict | None = None,
    args: tuple[str, ...] = (),
    timeout: float = 120,
    via_env: bool = False,
) -> TapRun:
    """Run ``tap-zoom-defender --config ... [--state ...] [args]`` and parse its stdout."""
    env = _env(tmp_path)
    if via_env:  # the SDK way: TAP_ZOOM_DEFENDER_<SETTING> variables and --config=ENV
        config = {"quota_state_path": str(tmp_path / "quota.sqlite"), **config}
        for name, value in config.items():
            text = json.dumps(value) if isinstance(value, dict) else str(value)
            env[f"TAP_ZOOM_DEFENDER_{name.upper()}"] = text
        cmd = [TAP, "--config=ENV", *args]
    else:
        cmd = [TAP, "--config", str(write_config(tmp_path, config)), *args]
    if state is not None:
        state_path = tmp_path / "state.json"
        state_path.write_text(json.dumps(state))
        cmd += ["--state", str(state_path)]
    proc = subprocess.run(
        cmd,
        capture_output=True,
        text=True,
        timeout=timeout,
        env=env,
        cwd=tmp_path,
        check=False,
    )
    return TapRun(proc.returncode, proc.stdout, proc.stderr, parse_messages(proc.stdout))


def run_tap_watching(
    tmp_path: Path, config: dict[str, Any], on_message: Callable[[dict], None]
) -> TapRun:
    """Run the tap and call ``on_message`` for each Singer message as it is written.

    The tap flushes at every non-RECORD message (RECORDs arrive in ~8 KiB batches before it), so
    a test can react mid-sync at a STATE (e.g. inject a fault after the first window's) at a
    precise point instead of guessing request counts or timing.
    """
    config_path = write_config(tmp_path, config)
    stderr_path = tmp_path / "stderr.log"
    lines: list[str] = []
    with stderr_path.open("w") as stderr:
        proc = subprocess.Popen(
            [TAP, "--config", str(config_path)],
            stdout=subprocess.PIPE,
            stderr=stderr,
            text=True,
            env=_env(tmp_path),
            cwd=tmp_path,
        )
        assert proc.stdout is not None
        for line in proc.stdout:
            lines.append(line)
            if line.strip():
                on_message(json.loads(line))
        returncode = proc.wait(timeout=120)
    stdout = "".join(lines)
    return TapRun(returncode, stdout, stderr_path.read_text(), parse_messages(stdout))


def parse_messages(stdout: str) -> list[dict]:
    """Singer messages from stdout (every line must be JSON)."""
    return [json.loads(line) for line in stdout.splitlines() if line.strip()]


def assert_no_secrets(*texts: str, secrets: list[str]) -> None:
    """No secret value appears in any of the texts (stdout, stderr, state, files)."""
    for secret in secrets:
        assert secret
        for text in texts:
            assert secret not in text, "a secret leaked into the output"


def event_ids(records: list[dict]) -> list[str]:
    """The event_id of each record."""
    return [r["event_id"] for r in records]


def zoom_fields(record: dict, names: tuple[str, ...]) -> tuple:
    """The documented Zoom fields of a record, for comparing with the sandbox's ground truth."""
    return tuple(record.get(name) for name in names)


ACTIVITY_FIELDS = ("email", "time", "type", "ip_address", "client_type", "version")
OPERATION_FIELDS = ("time", "operator", "category_type", "action", "operation_detail")


Reply = tuple[int, dict, list[tuple[str, str]]]
EMPTY = {
    "/v2/users": {"next_page_token": "", "users": []},
    "/v2/report/activities": {"next_page_token": "", "activity_logs": []},
    "/v2/report/operationlogs": {"next_page_token": "", "operation_logs": []},
}


class StubZoom:
    """A real local HTTP server answering like Zoom, for answers the sandbox cannot give.

    ``routes`` maps an API path (``/v2/report/activities``) to a function of the request's query
    (dict of lists) returning ``(status, body, headers)``; other API paths answer an empty page
    and the token endpoint always grants ``token``. ``arrivals`` logs (path, monotonic time).
    """

    def __init__(self, routes: dict[str, Callable[[dict], Reply]], token: str) -> None:
        self.routes = routes
        self.token = token
        self.arrivals: list[tuple[str, float]] = []
        stub = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: object) -> None:
                pass

            def _reply(self, status: int, body: dict, headers: list) -> None:
                data = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                for name, value in headers:
                    self.send_header(name, value)
                self.end_headers()
                self.wfile.write(data)

            def do_POST(self) -> None:
                self.rfile.read(int(self.headers.get("Content-Length") or 0))
                self._reply(200, {"access_token": stub.token, "expires_in": 3600}, [])

            def do_GET(self) -> None:
                parts = urlsplit(self.path)
                stub.arrivals.append((parts.path, time.monotonic()))
                route = stub.routes.get(parts.path)
                if route is not None:
                    self._reply(*route(parse_qs(parts.query)))
                else:
                    self._reply(200, EMPTY.get(parts.path, {}), [])

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.base_url = f"http://127.0.0.1:{self._server.server_address[1]}"

    def __enter__(self) -> StubZoom:
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()

    def tap_config(self, **overrides: Any) -> dict[str, Any]:
        """Server-to-Server settings pointing at this stub."""
        return {
            "account_id": "stub-account",
            "client_id": "stub-client",
            "client_secret": "stub-client-secret",
            "api_url": f"{self.base_url}/v2",
            "oauth_url": f"{self.base_url}/oauth/token",
            **overrides,
        }


def seen_ids(stream_state: dict) -> dict[str, str]:
    """``id prefix -> chunk time`` of a stream's dedupe state (``seen`` and ``emitting``).

    Each list holds chunks ``"<newest time key> <id><id>..."`` of 16-hex-digit ``event_id``
    prefixes (see ``windows.IncrementalState``); test with ``event_id[:16]``.
    """
    ids: dict[str, str] = {}
    for key in ("seen", "emitting"):
        for chunk in stream_state.get(key) or []:
            newest, _, joined = chunk.partition(" ")
            for i in range(0, len(joined), 16):
                ids[joined[i : i + 16]] = newest
    return ids


def busy_hour() -> datetime:
    """The latest Tuesday to Thursday, 15:00 UTC, at least a day ago: the sandbox's busy hours.

    Sign-ins in the sandbox follow office hours and are rarer at weekends; a live account started
    there has enough events for a test at whatever time the suite runs. The tap follows the
    sandbox's clock (its Date header), as it follows Zoom's.
    """
    day = datetime.now(timezone.utc) - timedelta(days=1)
    while day.weekday() not in (1, 2, 3):
        day -= timedelta(days=1)
    return day.replace(hour=15, minute=0, second=0, microsecond=0)
